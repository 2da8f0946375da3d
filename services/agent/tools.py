"""The butler's tools: thin typed wrappers over the unified data and the served models.

Each tool has a name that says what it does, a pydantic argument model (its JSON schema is
what an LLM sees) and a description read from ``prompts/tools.v*.yaml``. A tool never
raises for anything a caller can send: a bad argument or a missing model comes back as
``ok=False`` with a message that says what to change, so the agent can correct itself or
tell the operator. Every result names its source (the table or model version it came from).

Store reads go through a read-only connection. Model calls go to ``models``: the BentoML
services themselves when the agent runs inside ``butler serve`` (``bentoml.depends``
handles), or the same service classes in process for the CLI (:class:`LocalModels`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from features.errors import ButlerError
from features.settings import Settings
from features.store import Store

logger = logging.getLogger(__name__)

Metric = Literal[
    "units", "net_units", "returned_units", "return_rate", "revenue_yuan", "refund_yuan",
    "orders", "avg_price_yuan",
]  # fmt: skip
Dimension = Literal[
    "sku_id", "product", "category", "platform", "shop_id", "shop", "warehouse_id", "week",
    "month", "day",
]  # fmt: skip


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SalesMetricsArgs(_Args):
    metrics: list[Metric] = Field(
        default_factory=lambda: ["units", "revenue_yuan"],
        min_length=1,
        description="Figures to compute; rows are ranked by the first.",
    )
    by: list[Dimension] = Field(
        default_factory=list, description="Group by these dimensions; empty = one total."
    )
    platforms: list[str] | None = Field(
        None, description="Sales channels, e.g. ['tmall'] or ['天猫', 'JD']; null = all."
    )
    skus: list[str] | None = Field(None, description="Internal SKU ids; null = all.")
    categories: list[str] | None = Field(None, description="Product categories; null = all.")
    warehouses: list[str] | None = Field(None, description="Warehouse ids; null = all.")
    shops: list[str] | None = Field(
        None, description="Shop ids (give platforms too: one id can be a shop on two)."
    )
    start: dt.date | None = Field(None, description="First day, inclusive (YYYY-MM-DD).")
    end: dt.date | None = Field(None, description="Last day, inclusive (YYYY-MM-DD).")
    compare: Literal["none", "previous_period", "previous_year"] = Field(
        "none", description="Also compute each figure for an earlier period and the change."
    )
    top: int = Field(10, ge=1, le=100, description="Rows returned after ranking.")
    ascending: bool = Field(False, description="Rank worst first (slowest sellers).")


class HotItemsArgs(_Args):
    week: dt.date | None = Field(
        None, description="Any day of the week to examine; null = the latest complete week."
    )
    platforms: list[str] | None = Field(None, description="Sales channels; null = all.")
    limit: int = Field(10, ge=1, le=100)


class OversellRiskArgs(_Args):
    as_of: dt.date | None = Field(None, description="Day to look from; null = newest data.")
    min_cover_days: float = Field(
        3.0, ge=0, le=60, description="Days of cover below which stock is low."
    )
    platforms: list[str] | None = Field(
        None, description="Only SKUs these sales channels list; null = any."
    )
    warehouses: list[str] | None = Field(
        None, description="Only these warehouses' stock, against sales shipped from them."
    )
    skus: list[str] | None = Field(None, max_length=200, description="Internal SKU ids.")
    limit: int = Field(20, ge=1, le=200)


class ForecastSkuArgs(_Args):
    skus: list[str] = Field(min_length=1, max_length=50, description="Internal SKU ids.")
    warehouses: list[str] | None = Field(None, description="Warehouse ids; null = all.")
    horizon: int = Field(4, ge=1, le=13, description="Weeks ahead, 1–13.")


class ReplenishmentPlanArgs(_Args):
    skus: list[str] | None = Field(
        None, max_length=200, description="Internal SKU ids; null = all."
    )
    warehouses: list[str] | None = Field(None, description="Warehouse ids; null = all.")
    service_level: float = Field(0.95, gt=0.5, lt=1.0, description="Target service level.")
    limit: int = Field(20, ge=1, le=200, description="Plan lines returned (largest first).")


class MemberStatsArgs(_Args):
    platforms: list[str] | None = Field(
        None,
        description="Platforms to count; with two or more, also how many persons are on "
        "each pair of them. Null = every platform.",
    )
    since: dt.date | None = Field(
        None, description="Also count the accounts registered from this day (new members)."
    )
    until: dt.date | None = Field(
        None, description="… up to this day, inclusive; null = the newest registration."
    )


class MatchMemberArgs(_Args):
    full_name: str | None = Field(None, max_length=100)
    phone: str | None = Field(None, max_length=40, description="Any form, masked allowed.")
    email: str | None = Field(None, max_length=200)
    birth_date: str | None = Field(None, max_length=20)
    city: str | None = Field(None, max_length=50)
    platform: str | None = Field(
        None,
        max_length=40,
        description="The platform the record signed up on (e.g. douyin, 天猫). A person holds "
        "one account per platform: a match there is flagged, not taken.",
    )
    top: int = Field(3, ge=1, le=10)


class RiskAlertsArgs(_Args):
    status: Literal["open", "acknowledged", "withdrawn", "all"] = Field(
        "open", description="all = open and acknowledged (withdrawn ones only when asked)."
    )
    severity: Literal["high", "medium"] | None = Field(None, description="null = both.")
    scenarios: list[str] | None = Field(
        None, description="Risk scenarios, e.g. ['complaint_threat']; null = all."
    )
    platforms: list[str] | None = Field(None, description="Sales channels; null = all.")
    shops: list[str] | None = Field(
        None, description="Shop ids (give platforms too: one id can be a shop on two)."
    )
    since: dt.date | None = Field(
        None, description="Only conversations whose last message is on or after this day."
    )
    until: dt.date | None = Field(
        None,
        description="Only conversations whose last message is on or before this day; "
        "null = to now.",
    )
    limit: int = Field(10, ge=1, le=100)


class ClassifyConversationArgs(_Args):
    text: str = Field(
        min_length=1,
        max_length=4_000,
        description="The pasted conversation, one message per line; lines may start with "
        "'买家:'/'客服:' or 'buyer:'/'agent:'.",
    )


class DataCoverageArgs(_Args):
    pass


class QueryStoreArgs(_Args):
    sql: str = Field(
        min_length=1,
        max_length=4_000,
        description="One read-only SELECT over the unified store's tables.",
    )


class ToolResult(BaseModel):
    """What a tool answered: its data, or why it could not."""

    name: str
    args: dict[str, Any]
    ok: bool
    data: Any = None
    error: str | None = None
    source: str = ""
    ms: float = 0.0

    def for_model(self) -> str:
        """The result as the JSON text fed back to an LLM."""
        body = {"ok": self.ok, "source": self.source}
        body |= {"data": self.data} if self.ok else {"error": self.error}
        return json.dumps(body, ensure_ascii=False, default=str)


class ModelClients(Protocol):
    """The served models the tools call; BentoML handles or :class:`LocalModels`."""

    def forecast(self, *, skus: list[str], warehouses: list[str] | None, horizon: int) -> Any: ...

    def replenishment(
        self, *, skus: list[str] | None, warehouses: list[str] | None, service_level: float
    ) -> Any: ...

    def match_member(self, *, record: Any, top: int) -> Any: ...

    def classify(self, conversations: list[Any]) -> Any: ...


class ServiceClients:
    """:class:`ModelClients` over the three model services (``forecasting``, ``identity``,
    ``risk``) as BentoML dependency handles, inside ``butler serve``; the service instances
    themselves, in process, are :class:`LocalModels`."""

    def __init__(self, **services: Any) -> None:
        self._services: dict[str, Any] = dict(services)

    def _service(self, name: str) -> Any:
        return self._services[name]

    def forecast(self, *, skus: list[str], warehouses: list[str] | None, horizon: int) -> Any:
        # async APIs (forecast, match_member): the handle's own call would hand back a coroutine
        return self._service("forecasting").to_sync.forecast(
            skus=skus, warehouses=warehouses, horizon=horizon
        )

    def replenishment(
        self, *, skus: list[str] | None, warehouses: list[str] | None, service_level: float
    ) -> Any:
        return self._service("forecasting").replenishment(
            skus=skus, warehouses=warehouses, service_level=service_level
        )

    def match_member(self, *, record: Any, top: int) -> Any:
        return self._service("identity").to_sync.match_member(record=record, top=top)

    def classify(self, conversations: list[Any]) -> Any:
        return self._service("risk").classify_batch(conversations)


class LocalModels(ServiceClients):
    """The model services, run in this process (the CLI): loaded on first use, then kept.

    The same service classes ``butler serve`` runs, so the CLI and HTTP answers agree.
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.settings = settings

    def _service(self, name: str) -> Any:
        if name not in self._services:
            from services.http.forecast_service import Forecasting
            from services.http.identity_service import Identity
            from services.http.risk_service import ChatRisk

            kind = {"forecasting": Forecasting, "identity": Identity, "risk": ChatRisk}[name]
            self._services[name] = kind.inner(self.settings)
        return self._services[name]

    def forecast(self, *, skus: list[str], warehouses: list[str] | None, horizon: int) -> Any:
        return self._service("forecasting").forecast_now(skus, warehouses, horizon)

    def match_member(self, *, record: Any, top: int) -> Any:
        return self._service("identity").match_now(record, top)

    def warm_up(self) -> None:
        """Load every model service now rather than on its first question."""
        for name in ("forecasting", "identity", "risk"):
            self._service(name)


@dataclass(frozen=True, slots=True)
class Tool:
    """One tool: name, argument model, description, and the function that runs it."""

    name: str
    args: type[BaseModel]
    description: str
    run: Callable[[Any], tuple[Any, str]]


class Toolbox:
    """Every tool of the butler over one store and one set of model clients.

    Args:
        settings: runtime settings (store, limits).
        models: the model services; None = :class:`LocalModels` over ``settings``.
    """

    def __init__(self, settings: Settings, models: ModelClients | None = None) -> None:
        from prompts import load

        self.settings = settings
        self.models = models if models is not None else LocalModels(settings)
        descriptions = load("tools").data()
        self.prompt_id = load("tools").id
        runs: dict[str, tuple[type[BaseModel], Callable[[Any], tuple[Any, str]]]] = {
            "sales_metrics": (SalesMetricsArgs, self._sales_metrics),
            "hot_items": (HotItemsArgs, self._hot_items),
            "oversell_risk": (OversellRiskArgs, self._oversell_risk),
            "forecast_sku": (ForecastSkuArgs, self._forecast_sku),
            "replenishment_plan": (ReplenishmentPlanArgs, self._replenishment_plan),
            "member_stats": (MemberStatsArgs, self._member_stats),
            "match_member": (MatchMemberArgs, self._match_member),
            "risk_alerts": (RiskAlertsArgs, self._risk_alerts),
            "classify_conversation": (ClassifyConversationArgs, self._classify_conversation),
            "data_coverage": (DataCoverageArgs, self._data_coverage),
            "query_store": (QueryStoreArgs, self._query_store),
        }
        missing = sorted(set(runs) - set(descriptions))
        if missing:
            raise ButlerError(f"{self.prompt_id} describes no tool {missing}; add them.")
        self.tools = {
            name: Tool(name, args, descriptions[name].strip(), run)
            for name, (args, run) in runs.items()
        }

    def call(self, name: str, args: dict[str, Any] | None) -> ToolResult:
        """Run a tool; never raises for a bad name or bad arguments."""
        args = dict(args or {})
        started = time.perf_counter()
        tool = self.tools.get(name)
        if tool is None:
            return ToolResult(
                name=name, args=args, ok=False,
                error=f"No tool named {name!r}; use one of {', '.join(self.tools)}.",
            )  # fmt: skip
        try:
            parsed = tool.args.model_validate(args)
        except ValidationError as exc:
            return ToolResult(name=name, args=args, ok=False, error=_validation_message(exc))
        try:
            data, source = tool.run(parsed)
        except ButlerError as exc:
            return self._failed(name, args, str(exc), started)
        except Exception as exc:  # a model service's 4xx/5xx, a dependency's lost connection
            message = _service_message(exc)
            if message is None:
                logger.exception("tool %s failed", name)
                message = f"{type(exc).__name__}: the tool failed inside; see the server log."
            return self._failed(name, args, message, started)
        ms = (time.perf_counter() - started) * 1000
        logger.info("tool %s(%s) ok in %.0f ms", name, args, ms)
        return ToolResult(name=name, args=args, ok=True, data=data, source=source, ms=ms)

    @staticmethod
    def _failed(name: str, args: dict[str, Any], error: str, started: float) -> ToolResult:
        ms = (time.perf_counter() - started) * 1000
        logger.info("tool %s(%s) failed: %s", name, args, error)
        return ToolResult(name=name, args=args, ok=False, error=error, ms=ms)

    # -- the store ------------------------------------------------------------------------

    def _read(self, read: Callable[[Store], Any]) -> Any:
        with Store.open(self.settings, read_only=True) as store:
            return read(store)

    def _data_coverage(self, _: DataCoverageArgs) -> tuple[Any, str]:
        from features.views import data_coverage

        c = self._read(data_coverage)
        data = {
            "sales_first_day": _iso(c.sales[0]) if c.sales else None,
            "sales_last_day": _iso(c.sales[1]) if c.sales else None,
            "sales_last_day_by_platform": {p: _iso(d) for p, d in c.sales_by_platform.items()},
            "stock_last_day": _iso(c.stock),
            "chats_last_at": _minute(c.chats),
            "members_last_registered_at": _minute(c.members),
            "last_ingested_at_utc": _minute(c.last_ingest),
        }
        return data, (
            "store: sales_daily, inventory_snapshots, chat_messages, members, ingested_files"
        )

    def _sales_metrics(self, a: SalesMetricsArgs) -> tuple[Any, str]:
        from features.views import data_period, sales_metrics, unsold_listed

        def read(store: Store) -> tuple[Any, Any, list[str] | None]:
            result = sales_metrics(
                store, metrics=a.metrics, by=a.by, platforms=a.platforms, skus=a.skus,
                categories=a.categories, warehouses=a.warehouses, shops=a.shops, start=a.start,
                end=a.end, compare=a.compare, top=a.top, ascending=a.ascending,
            )  # fmt: skip
            unsold = None
            if a.ascending and "sku_id" in a.by and a.skus is None and a.warehouses is None:
                # the slowest sellers of all sold nothing, and a ranking of sales omits them
                unsold = unsold_listed(store, result.start, result.end, platforms=a.platforms,
                                       categories=a.categories)  # fmt: skip
            return result, data_period(store), unsold

        result, covered, unsold = self._read(read)
        data = {
            "start": result.start.isoformat(),
            "end": result.end.isoformat(),
            "data_period": [d.isoformat() for d in covered] if covered else None,
            "previous": [d.isoformat() for d in result.previous] if result.previous else None,
            "platforms": result.platforms,
            "rows": records(result.rows),
            "total_rows": result.total_rows,
        }
        if unsold is not None:
            data["unsold_listed"] = {"skus": len(unsold), "examples": unsold[:10]}
        return data, "store: sales_daily (paid order lines), semantic layer sales_metrics"

    def _hot_items(self, a: HotItemsArgs) -> tuple[Any, str]:
        from features.views import hot_items, hot_items_week

        frame, week, newest = self._read(
            lambda store: (
                hot_items(store, week=a.week, platforms=a.platforms),
                hot_items_week(store, a.week),
                store.sql("SELECT max(day) FROM sales_daily").fetchall()[0][0],
            )
        )
        data = {
            "week": _iso(week),
            "week_complete": bool(week + dt.timedelta(days=6) <= newest),
            "newest_day": _iso(newest),
            "platforms": a.platforms,
            "rows": records(frame.head(a.limit)),
            "total_rows": len(frame),
        }
        return data, "store: sales_daily, hot-item detector (week vs its 8-week baseline)"

    def _oversell_risk(self, a: OversellRiskArgs) -> tuple[Any, str]:
        from features.views import oversell_risk

        def read(store: Store) -> tuple[pd.DataFrame, Any]:
            frame = oversell_risk(
                store, as_of=a.as_of, min_cover_days=a.min_cover_days, platforms=a.platforms,
                warehouses=a.warehouses, skus=a.skus,
            )  # fmt: skip
            day = (
                a.as_of
                or store.sql(
                    "SELECT greatest((SELECT max(day) FROM sales_daily), "
                    "(SELECT max(snapshot_date) FROM inventory_snapshots))"
                ).fetchall()[0][0]
            )
            return frame, day

        frame, day = self._read(read)
        data = {
            "as_of": _iso(day),
            "min_cover_days": a.min_cover_days,
            "platforms": a.platforms,
            "warehouses": a.warehouses,
            "skus": a.skus,
            "rows": records(frame.head(a.limit)),
            "total_rows": len(frame),
            "out_of_stock": int((frame["risk"] == "out_of_stock").sum()) if len(frame) else 0,
        }
        return data, "store: listings, inventory_snapshots, sales_daily (oversell detector)"

    def _member_stats(self, a: MemberStatsArgs) -> tuple[Any, str]:
        from features.views._params import check_platforms

        platforms = check_platforms(a.platforms, func="member_stats")

        def read(store: Store) -> dict[str, Any]:
            store.require_rows("members", "member accounts (the platforms' member exports)")
            accounts = store.sql(
                "SELECT platform, count(*) AS accounts FROM members GROUP BY 1 ORDER BY 1"
            ).df()
            has_persons = store.sql(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'member_persons'"
            ).fetchall()[0][0] and store.count("member_persons")
            out: dict[str, Any] = {
                "accounts_by_platform": dict(
                    zip(accounts["platform"], accounts["accounts"].astype(int), strict=True)
                ),
                "accounts": int(accounts["accounts"].sum()),
            }
            if platforms is not None:
                out["accounts_by_platform"] = {
                    p: out["accounts_by_platform"].get(p, 0) for p in platforms
                }
                out["accounts"] = sum(out["accounts_by_platform"].values())
            if a.since is not None or a.until is not None:
                # registration days in Beijing time, as every business day here
                new = store.sql(
                    "SELECT platform, count(*) FROM members WHERE registered_at IS NOT NULL "
                    "AND ($1::DATE IS NULL OR CAST(registered_at + INTERVAL 8 HOUR AS DATE) >= $1) "
                    "AND ($2::DATE IS NULL OR CAST(registered_at + INTERVAL 8 HOUR AS DATE) <= $2) "
                    "GROUP BY 1 ORDER BY 2 DESC, 1",
                    [a.since, a.until],
                ).fetchall()
                by = {p: int(n) for p, n in new if platforms is None or p in platforms}
                out["registered"] = {"since": _iso(a.since), "until": _iso(a.until),
                                     "accounts": sum(by.values()), "by_platform": by}  # fmt: skip
            if not has_persons:
                out["persons"] = None
                out["note"] = (
                    "Members are not resolved into persons yet: run `butler members resolve`."
                )
                return out
            persons = store.sql(
                "SELECT person_id, list(DISTINCT platform) AS platforms FROM member_persons "
                "GROUP BY 1"
            ).df()
            everywhere = persons["platforms"].map(set)
            on = everywhere
            if platforms is not None:
                on = everywhere.map(lambda s: s & set(platforms))
                everywhere, on = everywhere[on.map(len) > 0], on[on.map(len) > 0]
            out["persons"] = len(on)
            # on two or more platforms of all, not only of those asked: "抖音有多少会员" asks
            # how many of Douyin's persons are on another platform too
            out["persons_on_2plus_platforms"] = int((everywhere.map(len) >= 2).sum())
            out["accounts_per_person"] = round(out["accounts"] / len(on), 3) if len(on) else None
            if platforms is not None and len(platforms) >= 2:
                persons_on = {p: int(on.map(lambda s, p=p: p in s).sum()) for p in platforms}
                out["persons_by_platform"] = persons_on
                out["overlap"] = [
                    {"platforms": [x, y], "persons_on_both": int(on.map({x, y}.issubset).sum()),
                     "persons_on": [persons_on[x], persons_on[y]]}
                    for i, x in enumerate(platforms) for y in platforms[i + 1:]
                ]  # fmt: skip
            if platforms is not None and len(platforms) >= 3:
                out["persons_on_all"] = int(on.map(set(platforms).issubset).sum())
            version = store.sql(
                "SELECT any_value(model_version), max(resolved_at) FROM member_persons"
            ).fetchall()[0]
            out["resolved_by"] = f"{version[0]} at {version[1]:%Y-%m-%d %H:%M} UTC"
            return out

        data = self._read(read)
        return data, "store: members, member_persons (the latest `butler members resolve`)"

    def _risk_alerts(self, a: RiskAlertsArgs) -> tuple[Any, str]:
        from features.schema.vocab import RiskLabel
        from features.views._params import check_platforms
        from services.risk_patrol import alert_queue

        known = {label.value for label in RiskLabel}
        unknown = [s for s in a.scenarios or () if s not in known]
        if unknown:
            raise ButlerError(
                f"Unknown risk scenarios {unknown}; use any of {', '.join(sorted(known))}."
            )
        platforms = check_platforms(a.platforms, func="risk_alerts")

        def read(store: Store) -> pd.DataFrame:
            # the days are those of each conversation's last message (Beijing): a threat
            # written today in a session opened last year is today's
            queue = alert_queue(
                store,
                status=None if a.status == "all" else a.status,
                limit=None,
                platforms=platforms,
                shops=a.shops,
                scenarios=a.scenarios or None,
                severity=a.severity,
                since=a.since,
                until=a.until,
            )
            # "all" is every alert a supervisor deals with: a withdrawn one only when asked
            return queue[queue["status"] != "withdrawn"] if a.status == "all" else queue

        found = self._read(read)
        # when each conversation last spoke, as Beijing's wall clock (records keep only days)
        last = pd.to_datetime(found["last_message_at"]) + pd.Timedelta(hours=8)
        found = found.drop(columns=["last_message_at"]).assign(
            last_message=last.dt.strftime("%Y-%m-%d %H:%M").where(last.notna(), None)
        )
        sessions_found = found[["platform", "session_id"]].drop_duplicates()
        data = {
            "status": a.status,
            "severity": a.severity,
            "since": _iso(a.since),
            "until": _iso(a.until),
            "alerts": int(len(found)),
            "conversations": int(len(sessions_found)),
            "by_scenario": found["scenario"].value_counts().astype(int).to_dict(),
            "by_platform": found["platform"].value_counts().astype(int).to_dict(),
            "rows": records(found.head(a.limit)),
        }
        return data, "store: risk_alerts (the chat patrol's queue), chat_messages"

    def _query_store(self, a: QueryStoreArgs) -> tuple[Any, str]:
        from services.agent.sql_guard import run_readonly_sql

        frame = run_readonly_sql(self.settings, a.sql)
        data = {"rows": records(frame), "returned_rows": len(frame),
                "truncated": bool(frame.attrs.get("truncated"))}  # fmt: skip
        return data, "store: read-only SQL"

    # -- the models -----------------------------------------------------------------------

    def _forecast_sku(self, a: ForecastSkuArgs) -> tuple[Any, str]:
        answer = plain(
            self.models.forecast(skus=a.skus, warehouses=a.warehouses, horizon=a.horizon)
        )
        totals = []
        for series in answer["series"]:
            weeks = series["weeks"]
            totals.append(
                {
                    "sku_id": series["sku_id"],
                    "warehouse_id": series["warehouse_id"],
                    "first_week": weeks[0]["week"] if weeks else None,
                    "next_week_p50": round(weeks[0]["p50"], 1) if weeks else None,
                    "next_week_p90": round(weeks[0]["p90"], 1) if weeks else None,
                    "expected_total": round(sum(w["expected"] for w in weeks), 1),
                }
            )
        data = {
            "horizon": answer["horizon"],
            "series": totals,
            "missing": answer["missing"],
            "weeks": {f"{s['sku_id']}@{s['warehouse_id']}": s["weeks"] for s in answer["series"]},
        }
        return data, _model_source(answer)

    def _replenishment_plan(self, a: ReplenishmentPlanArgs) -> tuple[Any, str]:
        answer = plain(
            self.models.replenishment(
                skus=a.skus, warehouses=a.warehouses, service_level=a.service_level
            )
        )
        plan = sorted(answer["plan"], key=lambda r: (-r["order_qty"], r["sku_id"]))
        keep = ("sku_id", "warehouse_id", "on_hand", "in_transit", "order_qty", "cases",
                "weeks_of_cover", "stockout_probability", "reason")  # fmt: skip
        data = {
            "as_of": answer["as_of"],
            "forecast_start": answer["forecast_start"],
            "service_level": answer["service_level"],
            "lines": len(plan),
            "lines_with_order": sum(r["order_qty"] > 0 for r in plan),
            "total_order_qty": round(sum(r["order_qty"] for r in plan), 1),
            "rows": [{k: r[k] for k in keep} for r in plan[: a.limit]],
            "errors": answer["errors"][:20],
        }
        if answer.get("warnings"):
            data["warnings"] = answer["warnings"]
        return data, _model_source(answer)

    def _match_member(self, a: MatchMemberArgs) -> tuple[Any, str]:
        from features.views._params import check_platforms
        from services.http.identity_service import MemberRecord

        fields = a.model_dump(exclude={"top", "platform"}, exclude_none=True)
        if not fields:
            raise ButlerError(
                "match_member needs at least one of full_name, phone, email, birth_date, city."
            )
        platform = None
        if a.platform is not None:
            (platform,) = check_platforms([a.platform], func="match_member")
        record = MemberRecord(record_id="butler-ask", platform=platform, **fields)
        answer = plain(self.models.match_member(record=record, top=a.top))
        data = {
            "known": answer["person_id"] is not None,
            "person_id": answer["person_id"],
            "threshold": answer["threshold"],
            "min_group_probability": answer.get("min_group_probability", 0.0),
            "platform": platform,
            "candidates": answer["candidates"],
        }
        return data, "model: butler-identity (registered, served)"

    def _classify_conversation(self, a: ClassifyConversationArgs) -> tuple[Any, str]:
        conversation = pasted_conversation(a.text)
        (result,) = plain(self.models.classify([conversation]))
        messages = [m.text for m in conversation.messages]
        risks = [
            {
                "scenario": r["scenario"],
                "severity": r["severity"],
                "probability": round(r["probability"], 3),
                "evidence": [messages[i] for i in r["evidence"] if i < len(messages)],
            }
            for r in result["risks"]
        ]
        data = {
            "messages": len(messages),
            "buyer_messages": len(conversation.buyer_turns()),
            "risk_score": round(result["risk_score"], 3),
            "risks": risks,
        }
        return data, "model: butler-chat-risk (registered, served)"


# -- helpers shared by the tools, the planner and the LLM loop -----------------------------------

_ROLE_PREFIX = re.compile(
    r"^\s*(?P<role>买家|顾客|客户|用户|我|buyer|customer|客服|商家|卖家|agent|seller|support)"
    r"\s*[:：]\s*",
    re.IGNORECASE,
)
_AGENT_ROLES = {"客服", "商家", "卖家", "agent", "seller", "support"}


def pasted_conversation(text: str) -> Any:
    """A conversation pasted as text: one message per line, roles from prefixes or guessed."""
    from features.chats import ChatMessage, Conversation, guess_roles
    from features.schema.vocab import ChatRole

    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ButlerError("The conversation is empty: paste at least one message.")
    roles, texts = [], []
    for line in lines:
        found = _ROLE_PREFIX.match(line)
        if found:
            agent = found["role"].lower() in _AGENT_ROLES
            roles.append(ChatRole.AGENT if agent else ChatRole.BUYER)
            texts.append(line[found.end() :])
        else:
            roles.append(None)
            texts.append(line)
    guessed = guess_roles(texts)
    messages = [
        ChatMessage(role=role or guess, text=body)
        for role, guess, body in zip(roles, guessed, texts, strict=True)
    ]
    return Conversation(session_id="pasted", messages=messages)


def plain(answer: Any) -> Any:
    """A service's answer as plain JSON data (pydantic models become dicts)."""
    if isinstance(answer, BaseModel):
        return answer.model_dump(mode="json")
    if isinstance(answer, list):
        return [plain(a) for a in answer]
    return answer


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe rows: dates as ISO strings, NaN as null, floats rounded to 4 places."""
    rows = []
    for row in frame.to_dict("records"):
        out = {}
        for key, value in row.items():
            if isinstance(value, np.generic):
                value = value.item()
            if isinstance(value, pd.Timestamp | dt.date):
                value = value.isoformat()[:10]
            elif isinstance(value, float):
                value = None if math.isnan(value) else round(value, 4)
            elif value is pd.NA or value is pd.NaT:
                value = None
            elif isinstance(value, list | np.ndarray):
                value = [v.item() if isinstance(v, np.generic) else v for v in value]
            out[str(key)] = value
        rows.append(out)
    return rows


def _iso(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return pd.Timestamp(value).date().isoformat()


def _minute(value: Any) -> str | None:
    return None if value is None else f"{pd.Timestamp(value):%Y-%m-%d %H:%M}"


def _model_source(answer: dict[str, Any]) -> str:
    model = answer.get("model") or {}
    return f"model: {model.get('name')} v{model.get('version')} (@{model.get('alias')})"


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        parts.append(f"`{where}`: {err['msg']}")
    return "Bad arguments: " + "; ".join(parts) + "."


def _service_message(exc: Exception) -> str | None:
    """A model service's own error text (4xx: the caller's fault; 5xx: the service's)."""
    from bentoml.exceptions import BentoMLException

    if isinstance(exc, BentoMLException):
        return f"{exc.message} (the model service answered {int(exc.error_code)})"
    try:
        import aiohttp
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, aiohttp.ClientError):
        return f"The model service could not be reached ({type(exc).__name__}); try again."
    return None
