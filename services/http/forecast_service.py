"""The forecasting service: weekly quantile forecasts and the replenishment plan over HTTP.

Loads ``butler-forecast-sku-warehouse`` from the registry by alias at start-up (a server
started with nothing registered fails at once, naming ``butler train forecast``), predicts
every series :data:`CACHED_WEEKS` weeks ahead once, and answers from that: the model and its
training panel do not change while the service runs, and a forecaster is recursive, so the
first ``h`` weeks of a 13-week forecast are the ``h``-week forecast.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import bentoml
import numpy as np
import pandas as pd
from bentoml.exceptions import ServiceUnavailable
from pydantic import BaseModel, BeforeValidator, Field

from features.errors import InvalidParameterError, StoreError
from features.forecast import ID_SEP
from features.settings import Settings
from features.store import Store
from models.forecast import registered_name
from models.replenishment import ReplenishmentConfig, ServiceMeasure
from services.forecasting import (
    load_forecaster,
    planned_covariates,
    replenishment_plan,
    store_positions,
)
from services.http import behind_gateway, prepare_to_serve
from services.http.errors import bad_request, check_batch, client_error, forbid_unknown_fields
from services.http.media import JSON
from services.registry import registered_version

logger = logging.getLogger(__name__)

#: Weeks predicted for every series at start-up; the forecast API's horizon is at most this.
CACHED_WEEKS = 13
LEVEL = "sku_warehouse"
#: Largest forecast request (SKUs × warehouses) answered on the server's event loop; a larger
#: one goes to a worker thread (the whole demo catalogue, 660 series, takes about 35 ms).
INLINE_SERIES = 64


class ModelVersion(BaseModel):
    """The registered model an answer comes from."""

    name: str
    alias: str
    version: str
    run_id: str


class WeekForecast(BaseModel):
    """Demand of one SKU × warehouse in one week, in units."""

    week: dt.date = Field(description="First day of the week (Monday).")
    mean: float = Field(description="Point forecast (what the model is scored on).")
    p50: float
    p80: float
    p90: float
    p95: float
    expected: float = Field(description="Expected demand; sum this over weeks for a total.")
    p98: float | None = Field(None, description="The upper tail a fill-rate plan reads.")
    p99: float | None = None
    p99_5: float | None = None
    p99_8: float | None = None
    p99_9: float | None = Field(None, description="None from a model without a tail.")


class SeriesForecast(BaseModel):
    """The weekly forecasts of one SKU × warehouse, earliest week first."""

    sku_id: str
    warehouse_id: str
    weeks: list[WeekForecast]


class Pair(BaseModel):
    """One SKU × warehouse."""

    sku_id: str
    warehouse_id: str


class ForecastResult(BaseModel):
    """What :meth:`Forecasting.forecast` answers."""

    model: ModelVersion
    horizon: int
    series: list[SeriesForecast]
    missing: list[Pair] = Field(
        description="Pairs asked for that the model has no series of (no sales history there)."
    )


class PlanRow(BaseModel):
    """The order proposed for one SKU × warehouse (units, weeks)."""

    sku_id: str
    warehouse_id: str
    on_hand: float = Field(description="Stock available to sell (on hand minus reserved).")
    in_transit: float = Field(description="Units on open purchase orders.")
    lead_time_weeks: float
    review_period_weeks: float
    service_level: float
    demand_mean_lr: float = Field(description="Mean demand over lead time + review period.")
    demand_q_lr: float = Field(
        description="The demand level the service target asks for: for a fill rate, the "
        "lowest whose expected shortage is at most 1 - service_level of the review period's "
        "demand; for a cycle target, that quantile of demand over lead time + review."
    )
    order_up_to: float
    order_qty: float = Field(description="Units to order now (whole cases, MOQ applied).")
    moq: float = Field(description="The minimum order quantity the order was raised to.")
    case_pack: int = Field(description="Units per case the order was rounded up to.")
    cases: int
    weeks_of_cover: float | None = Field(
        description="Weeks stock + in transit lasts; null when no demand is forecast."
    )
    stockout_probability: float = Field(description="P(running out before this order lands).")
    reason: str


class PlanError(BaseModel):
    """A position that could not be planned, and what to fix."""

    sku_id: str | None
    warehouse_id: str | None
    field: str
    reason: str


def _measure(value: object) -> object:
    return value.strip().lower().replace("-", "_") if isinstance(value, str) else value


#: A service measure as a client may spell it: ``fill-rate`` (as the CLI and README write it)
#: is ``fill_rate``.
RequestedMeasure = Annotated[ServiceMeasure, BeforeValidator(_measure)]


class PlanAnswer(BaseModel):
    """What :meth:`Forecasting.replenishment` answers."""

    model: ModelVersion
    as_of: dt.date | None = Field(description="Day of the stock snapshot planned from.")
    forecast_start: dt.date | None = Field(description="First forecast week (Monday).")
    service_level: float
    service_measure: ServiceMeasure
    plan: list[PlanRow]
    errors: list[PlanError]
    warnings: list[str] = Field(
        default_factory=list,
        description="What to read the plan with, e.g. a forecaster trained before the newest "
        "sales, whose first forecast weeks have passed.",
    )


@forbid_unknown_fields
@bentoml.service(name="forecasting", traffic={"timeout": 60}, **behind_gateway())
class Forecasting:
    """The registered SKU × warehouse forecaster and the replenishment policy over HTTP."""

    def __init__(self, settings: Settings | None = None) -> None:
        # BentoML starts a service without arguments (settings from the environment); the
        # butler's CLI runs the same class in process with its own settings
        self.settings = settings or Settings()
        model = load_forecaster(self.settings, LEVEL)
        self.version = registered_version(self.settings, registered_name(LEVEL))
        with Store.open(self.settings, read_only=True) as store:
            self.known_skus = _column(store, "SELECT sku_id FROM skus")
            self.known_warehouses = _column(store, "SELECT warehouse_id FROM warehouses")
            # the promotions planned as the store holds them at start-up
            future = planned_covariates(store, model, LEVEL)
        self.cache = _CachedForecaster(model, CACHED_WEEKS, future)
        logger.info(
            "forecasting: %s v%s, %d series cached %d weeks ahead",
            self.version["name"],
            self.version["version"],
            len(self.cache.rows),
            CACHED_WEEKS,
        )

    # served only: the CLI's in-process use of the class keeps its collector
    _prepare_to_serve = bentoml.on_startup(prepare_to_serve)

    @bentoml.api
    async def forecast(
        self,
        skus: list[str],
        warehouses: list[str] | None = None,
        horizon: int = Field(default=8, ge=1, le=CACHED_WEEKS),
    ) -> ForecastResult:
        """Weekly quantile forecasts per SKU × warehouse (all warehouses when None)."""
        # a few series are a lookup in the cache (about a millisecond): answered on the event
        # loop, which is cheaper than BentoML's hop to its worker thread for a sync API; a
        # large request is computed on a thread, so that the loop keeps serving meanwhile
        series = len(skus) * (len(warehouses) if warehouses else len(self.known_warehouses))
        if series <= INLINE_SERIES:
            return self.forecast_now(skus, warehouses, horizon)
        return await asyncio.to_thread(self.forecast_now, skus, warehouses, horizon)

    def forecast_now(
        self, skus: list[str], warehouses: list[str] | None = None, horizon: int = 8
    ) -> ForecastResult:
        """:meth:`forecast`, computed in the caller's thread (the CLI's in-process models)."""
        if not 1 <= horizon <= CACHED_WEEKS:  # callers that skip the input model (depends)
            raise bad_request("horizon", f"must be in [1, {CACHED_WEEKS}] weeks; got {horizon}")
        sku_ids, wh_ids = self._ids(skus, warehouses, skus_required=True)
        asked = [s + ID_SEP + w for s in sku_ids for w in wh_ids]
        have = [uid for uid in asked if uid in self.cache.rows]
        return ForecastResult(
            model=ModelVersion(**self.version),
            horizon=horizon,
            series=self.cache.series(have, horizon),
            missing=[Pair(**_pair(uid)) for uid in asked if uid not in self.cache.rows],
        )

    @bentoml.api
    def replenishment(
        self,
        skus: list[str] | None = None,
        warehouses: list[str] | None = None,
        service_level: float = Field(default=0.95, gt=0.5, lt=1.0),
        service_measure: RequestedMeasure = "fill_rate",
        moq_scope: Literal["warehouse", "sku"] = "warehouse",
    ) -> PlanAnswer:
        """The order plan per SKU × warehouse from the store's newest stock, with errors.

        ``service_measure``: ``fill_rate`` (share of demand served from stock) or ``cycle``
        (share of order cycles without a stock-out). ``moq_scope``: the MOQ is met by each
        warehouse's order (``warehouse``) or by the SKU's orders to the warehouses asked
        together (``sku``).
        """
        sku_ids, wh_ids = self._ids(skus, warehouses, skus_required=False)
        try:
            config = ReplenishmentConfig(
                service_level=service_level, service_measure=service_measure, moq_scope=moq_scope
            )
            return self._plan(config, None if skus is None else sku_ids, wh_ids)
        except InvalidParameterError as exc:
            raise client_error(exc, "service_level") from exc
        except StoreError as exc:  # no snapshot yet, or locked by a running ingest
            raise ServiceUnavailable(f"store: {exc}") from exc

    @bentoml.api
    def info(self) -> JSON[dict]:
        """The registered model version this service answers with."""
        return self.version

    # -- helpers ----------------------------------------------------------------------------

    def _ids(
        self, skus: list[str] | None, warehouses: list[str] | None, *, skus_required: bool
    ) -> tuple[list[str], list[str]]:
        """The asked SKU and warehouse ids (None = all), checked against the store (400)."""
        limit = self.settings.max_batch
        if skus is not None or skus_required:
            check_batch(skus or [], "skus", limit)
        if warehouses is not None:
            check_batch(warehouses, "warehouses", limit)
        sku_ids = _known(skus, self.known_skus, "skus", "SKU")
        wh_ids = _known(warehouses, self.known_warehouses, "warehouses", "warehouse")
        return sku_ids, wh_ids

    def _plan(
        self, config: ReplenishmentConfig, skus: list[str] | None, warehouses: list[str]
    ) -> PlanAnswer:
        """The plan of the store's positions of ``skus`` (None = all) in ``warehouses``."""
        with Store.open(self.settings, read_only=True) as store:
            positions = store_positions(store)
        keep = positions["warehouse_id"].isin(warehouses)
        if skus is not None:
            keep &= positions["sku_id"].isin(skus)
        positions = positions[keep].reset_index(drop=True)
        result = None
        if len(positions):  # the policy sizes its horizon from the rows: it needs one
            result = replenishment_plan(
                self.settings,
                config=config,
                positions=positions,
                model=self.cache,
                future=self.cache.future,
            )
        unplaced = sorted(set(skus or ()) - set(positions["sku_id"]))
        errors = [PlanError(**row) for row in _records(result.errors, PlanError)] if result else []
        return PlanAnswer(
            model=ModelVersion(**self.version),
            as_of=result.as_of if result else None,
            forecast_start=result.forecast_start if result else None,
            service_level=config.service_level,
            service_measure=config.service_measure,
            plan=[PlanRow(**row) for row in _records(result.plan, PlanRow)] if result else [],
            errors=errors + [_no_position(sku) for sku in unplaced],
            warnings=list(result.warnings) if result else [],
        )


class _CachedForecaster:
    """A fitted forecaster's ``predict`` answered from one prediction of every series.

    ``predict(h, ids)`` slices the start-up prediction for ``h`` up to ``weeks``; a longer
    horizon, or an id the model was not fitted on (it raises the model's error), goes to
    the model itself. Both read ``future``, the known-ahead covariates of the weeks ahead
    (None: the model's own); ``predict`` with other covariates goes to the model too.
    """

    def __init__(self, model: Any, weeks: int, future: pd.DataFrame | None = None) -> None:
        self.model = model
        self.future = future
        self.known_ahead = {"future": future} if future is not None else {}
        frame = model.predict(weeks, **self.known_ahead)
        frame = frame.sort_values(["unique_id", "ds"], kind="stable")
        self.frame = frame.reset_index(drop=True)
        self.weeks = weeks
        ids = self.frame["unique_id"].to_numpy()
        first = np.r_[True, ids[1:] != ids[:-1]] if len(ids) else np.zeros(0, dtype=bool)
        starts = np.flatnonzero(first)
        #: row of each series' first week in ``frame`` (each series has ``weeks`` rows)
        self.rows: dict[str, int] = dict(zip(ids[starts].tolist(), starts.tolist(), strict=True))
        self.step = np.arange(len(ids)) - np.repeat(starts, np.diff(np.r_[starts, len(ids)]))
        # what an answer reads, as arrays: a request slices them (pandas' per-call cost was
        # most of a one-SKU request)
        self._weeks = pd.to_datetime(self.frame["ds"]).to_numpy(dtype="datetime64[D]")
        # a model without the upper tail (a stand-in) gives NaN there, answered as null
        self._values = {
            c: self.frame[c].to_numpy(dtype=float) if c in self.frame else np.full(len(ids), np.nan)
            for c in _WEEK_VALUES
        }

    def predict(
        self, h: int, ids: Sequence[str] | None = None, future: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        if future is not None and future is not self.future:  # other covariates: the model
            return self.model.predict(h, ids=ids, future=future)
        if h > self.weeks or (ids is not None and any(i not in self.rows for i in ids)):
            return self.model.predict(h, ids=ids, **self.known_ahead)
        if ids is None:
            return self.frame[self.step < h].reset_index(drop=True)
        index = (np.array([self.rows[i] for i in ids], dtype=int)[:, None] + np.arange(h)).ravel()
        return self.frame.iloc[index].reset_index(drop=True)

    def series(self, ids: Sequence[str], h: int) -> list[SeriesForecast]:
        """The first ``h`` cached weeks of each of ``ids`` (cached series, ``h`` ≤
        ``weeks``), as :func:`services.forecasting.forecast` gives them, in the API's
        shape."""
        if h > self.weeks:
            raise ValueError(f"{h} weeks asked of a cache of {self.weeks}")
        out = []
        for uid in ids:
            at = slice(self.rows[uid], self.rows[uid] + h)
            values = [
                [None if v != v else v for v in self._values[c][at].tolist()]  # NaN → null
                for c in _WEEK_VALUES
            ]
            weeks = [
                WeekForecast(week=week, **dict(zip(_WEEK_VALUES, row, strict=True)))
                for week, row in zip(
                    self._weeks[at].tolist(), zip(*values, strict=True), strict=True
                )
            ]
            out.append(SeriesForecast(**_pair(uid), weeks=weeks))
        return out


#: The columns of a :class:`WeekForecast` besides its week.
_WEEK_VALUES = tuple(c for c in WeekForecast.model_fields if c != "week")


def _column(store: Store, query: str) -> frozenset[str]:
    return frozenset(str(v) for (v,) in store.sql(query).fetchall())


def _known(asked: list[str] | None, known: frozenset[str], field: str, kind: str) -> list[str]:
    """``asked`` stripped and deduplicated in order (None = all known); unknown ids → 400."""
    if asked is None:
        return sorted(known)
    ids = list(dict.fromkeys(str(a).strip() for a in asked))
    unknown = [i for i in ids if i not in known]
    if unknown:
        shown = ", ".join(f"'{u}'" for u in unknown[:10]) + (" …" if len(unknown) > 10 else "")
        plural = "s" if len(unknown) > 1 else ""
        raise bad_request(field, f"unknown {kind}{plural} {shown} (not in the store)")
    return ids


def _pair(uid: str) -> dict[str, str]:
    sku, wh = uid.split(ID_SEP, 1)
    return {"sku_id": sku, "warehouse_id": wh}


def _records(frame: pd.DataFrame, schema: type[BaseModel]) -> list[dict[str, Any]]:
    """The rows of ``frame`` in ``schema``'s columns as plain Python values (NaN → None)."""
    columns = [c for c in schema.model_fields if c in frame.columns]
    numbers = frame[columns].select_dtypes("float").columns
    plain = frame[columns].assign(**{c: frame[c] + 0.0 for c in numbers}).astype(object)  # -0 → 0
    return plain.where(plain.notna(), None).to_dict("records")


def _no_position(sku: str) -> PlanError:
    return PlanError(
        sku_id=sku,
        warehouse_id=None,
        field="sku_id",
        reason="no stock position in the store for this SKU in the warehouses asked; "
        "ingest a stock snapshot (or a purchase order) that names it",
    )
