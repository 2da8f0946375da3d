"""The forecasting HTTP service, in process: start-up, forecasts, the replenishment plan.

One small forecaster is fitted and registered for the whole module (the CPU is shared); the
service is then started against that home the way BentoML starts it, with ``BUTLER_HOME``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bentoml.exceptions import InvalidArgument
from pydantic import ValidationError

from features.forecast import COVARIATES, ID_SEP, future_covariates, store_panel
from features.settings import Settings
from features.store import Store
from models.forecast import ForecastConfig, WeeklyDemandForecaster, registered_name
from services.http.forecast_service import Forecasting
from services.registry import ModelNotRegisteredError
from training import tracking

pytestmark = [
    pytest.mark.filterwarnings("ignore:Found null values:UserWarning"),
    pytest.mark.filterwarnings("ignore:Downcasting object dtype:FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning:mlflow"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow"),
]

CFG = ForecastConfig(n_estimators=20, n_jobs=1, calibration_weeks=4, min_child_samples=10)
#: a warehouse in the store's master that never sold anything: it has no forecast series
EMPTY_WH = "WH-BJ"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, sales_world) -> Path:
    """A Butler home with the sales world, one empty warehouse and a registered forecaster."""
    settings = Settings(home=tmp_path_factory.mktemp("forecast_http") / "home")
    with Store.open(settings) as store:
        sales_world.write(store)
        store.upsert("warehouses", pd.DataFrame({"warehouse_id": [EMPTY_WH], "name": ["北京"]}))
    with Store.open(settings, read_only=True) as store:
        panel = store_panel(store)
    model = WeeklyDemandForecaster(CFG).fit(panel)
    with tracking.run(settings, "forecast", run_name="test-http-forecast"):
        tracking.log_and_register(
            settings, model, name=registered_name("sku_warehouse"), alias=settings.model_alias
        )
    return settings.home


@pytest.fixture(scope="module")
def service(home: Path) -> Forecasting:
    """The service started on ``home`` (module scope: start-up predicts every series)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BUTLER_HOME", str(home))
        yield Forecasting()


@pytest.fixture
def settings_of(home: Path) -> Settings:
    return Settings(home=home)


def test_start_with_nothing_registered_names_the_train_command(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_HOME", str(tmp_path / "empty"))
    with pytest.raises(ModelNotRegisteredError, match="butler train forecast"):
        Forecasting()


def test_info_is_the_registered_version(service):
    info = service.info()
    assert info["name"] == "butler-forecast-sku-warehouse"
    assert info["alias"] == "champion" and info["version"] == "1"


def test_forecast_of_one_sku_in_every_warehouse(service, sales_world):
    answer = service.forecast_now(skus=["SKU03"], horizon=5)

    assert answer.model.version == "1" and answer.horizon == 5
    assert [(s.sku_id, s.warehouse_id) for s in answer.series] == [
        ("SKU03", "WH-GZ"),
        ("SKU03", "WH-SH"),
    ]
    # the warehouse that never sold anything is a known pair without a series: not an error
    assert [(p.sku_id, p.warehouse_id) for p in answer.missing] == [("SKU03", EMPTY_WH)]
    for series in answer.series:
        weeks = [w.week for w in series.weeks]
        assert len(weeks) == 5 and weeks == sorted(weeks)
        assert all(w.weekday() == 0 for w in weeks)
        assert [(b - a).days for a, b in pairwise(weeks)] == [7] * 4
        for w in series.weeks:
            assert 0 <= w.p50 <= w.p80 <= w.p90 <= w.p95 <= w.p98 <= w.p99 <= w.p99_9
    assert answer.series[0].weeks[0].week == (sales_world.START + pd.Timedelta(weeks=70)).date()


def test_forecast_of_pairs_without_series_lists_them_as_missing(service):
    answer = service.forecast_now(skus=["SKU01", "SKU02"], warehouses=[EMPTY_WH])
    assert answer.series == []
    assert [(p.sku_id, p.warehouse_id) for p in answer.missing] == [
        ("SKU01", EMPTY_WH),
        ("SKU02", EMPTY_WH),
    ]


def test_forecast_is_the_models_own_prediction(service, settings_of):
    """The start-up cache, sliced, gives what the registered model predicts for that h."""
    from services.forecasting import load_forecaster

    model = load_forecaster(settings_of)
    answer = service.forecast_now(skus=["SKU02", "SKU08"], warehouses=["WH-SH"], horizon=3)
    direct = model.predict(3, ids=["SKU02|WH-SH", "SKU08|WH-SH"])
    got = pd.DataFrame(
        [
            {"unique_id": s.sku_id + ID_SEP + s.warehouse_id} | w.model_dump()
            for s in answer.series
            for w in s.weeks
        ]
    )
    assert got["unique_id"].tolist() == direct["unique_id"].tolist()
    assert got["week"].tolist() == pd.to_datetime(direct["ds"]).dt.date.tolist()
    # the upper tail a fill-rate plan reads is answered too
    for column in ("mean", "p50", "p80", "p90", "p95", "expected", "p98", "p99", "p99_9"):
        np.testing.assert_allclose(got[column], direct[column], rtol=1e-9)
    assert (got["p99_9"] >= got["p95"]).all()
    assert answer.missing == []


def test_forecast_of_one_sku_is_fast(service):
    """p99 under 50 ms; `model.predict` of one id alone takes several times that."""
    service.forecast_now(skus=["SKU01"], warehouses=["WH-GZ"])  # warm up
    took = []
    for _ in range(200):
        # CPU time, not wall time: the test machine's CPU is shared with other jobs
        start = time.process_time()
        service.forecast_now(skus=["SKU01"], warehouses=["WH-GZ"], horizon=8)
        took.append(time.process_time() - start)
    assert np.quantile(took, 0.99) < 0.05


def test_the_api_answers_a_few_series_on_the_loop_and_many_on_a_thread(service, monkeypatch):
    from services.http import forecast_service

    where: list[str] = []
    inner = type(service)  # the class BentoML's service wraps
    answer_now = inner.forecast_now

    def spy(self, *args, **kwargs):
        where.append(threading.current_thread().name)
        return answer_now(self, *args, **kwargs)

    monkeypatch.setattr(inner, "forecast_now", spy)
    few = asyncio.run(service.forecast(skus=["SKU01"], warehouses=["WH-GZ"], horizon=5))
    monkeypatch.setattr(forecast_service, "INLINE_SERIES", 1)
    many = asyncio.run(service.forecast(skus=["SKU01", "SKU02"], horizon=5))
    assert where == [threading.main_thread().name, where[1]] and where[1] != where[0]
    assert few == answer_now(service, ["SKU01"], ["WH-GZ"], 5)
    assert many == answer_now(service, ["SKU01", "SKU02"], None, 5)
    with pytest.raises(InvalidArgument, match="skus: unknown SKU 'X1'"):
        asyncio.run(service.forecast(skus=["SKU01", "X1"]))  # on the thread, raised the same


def test_forecast_names_unknown_skus_and_warehouses(service):
    with pytest.raises(InvalidArgument, match=r"^skus: unknown SKU 'X1' \(not in the store\)$"):
        service.forecast_now(skus=["SKU01", "X1"])
    with pytest.raises(InvalidArgument, match="skus: unknown SKUs 'X1', 'X2'"):
        service.forecast_now(skus=["X1", "X2"])
    with pytest.raises(InvalidArgument, match="warehouses: unknown warehouse 'WH-XX'"):
        service.forecast_now(skus=["SKU01"], warehouses=["WH-XX"])


def test_forecast_rejects_an_empty_or_oversized_batch(service):
    with pytest.raises(InvalidArgument, match="skus: the batch is empty"):
        service.forecast_now(skus=[])
    too_many = ["SKU01"] * (service.settings.max_batch + 1)
    with pytest.raises(InvalidArgument, match="skus: 1001 items is over the limit of 1000"):
        service.forecast_now(skus=too_many)


@pytest.mark.parametrize("horizon", [0, 14])
def test_forecast_horizon_outside_1_to_13_is_rejected(service, horizon):
    spec = Forecasting.apis["forecast"].input_spec
    with pytest.raises(ValidationError, match="horizon"):
        spec.model_validate({"skus": ["SKU01"], "horizon": horizon})
    assert spec.model_validate({"skus": ["SKU01"]}).horizon == 8
    # a caller that skips the input model (an in-process dependency) is refused too
    with pytest.raises(InvalidArgument, match="horizon: must be in"):
        service.forecast_now(skus=["SKU01"], horizon=horizon)


def test_replenishment_plans_the_asked_skus_with_buyer_columns(service, sales_world):
    answer = service.replenishment(skus=["SKU01", "SKU05", "SKU07"], service_level=0.9)

    assert answer.model.version == "1" and answer.service_level == 0.9
    newest_snapshot = sales_world.START + pd.Timedelta(days=sales_world.WEEKS * 7 + 2)
    assert answer.as_of == newest_snapshot.date()
    assert {(r.sku_id, r.warehouse_id) for r in answer.plan} == {
        ("SKU01", "WH-GZ"),
        ("SKU01", "WH-SH"),
        ("SKU07", "WH-GZ"),
        ("SKU07", "WH-SH"),
    }
    for row in answer.plan:
        assert row.service_level == 0.9
        assert row.order_qty >= 0 and row.order_qty % 6 == 0  # whole case packs of 6
        assert row.order_qty == 0 or row.order_qty >= 12  # the MOQ
        assert row.order_up_to >= 0 and 0 <= row.stockout_probability <= 1
        assert row.reason
    # SKU05 has no lead time in the master: one error row per warehouse, with the fix
    assert {(e.sku_id, e.warehouse_id, e.field) for e in answer.errors} == {
        ("SKU05", "WH-GZ", "lead_time_weeks"),
        ("SKU05", "WH-SH", "lead_time_weeks"),
    }
    # the answer is plain JSON
    doc = answer.model_dump(mode="json")
    assert isinstance(doc["plan"][0]["order_qty"], float) and isinstance(doc["as_of"], str)
    assert "-0.0" not in answer.model_dump_json()  # "no order" is 0, not a negative zero


def test_replenishment_filters_by_warehouse_and_raises_the_service_level(service):
    low = service.replenishment(skus=["SKU08"], warehouses=["WH-SH"], service_level=0.6)
    high = service.replenishment(skus=["SKU08"], warehouses=["WH-SH"], service_level=0.99)
    assert [(r.sku_id, r.warehouse_id) for r in high.plan] == [("SKU08", "WH-SH")]
    assert high.plan[0].order_up_to > low.plan[0].order_up_to
    everything = service.replenishment()
    assert len(everything.plan) == 14 and len(everything.errors) == 2  # 16 pairs, SKU05 × 2
    # the MOQ (12 in the master) met by a SKU's warehouses together never orders more
    pooled = service.replenishment(moq_scope="sku")
    assert sum(r.order_qty for r in pooled.plan) <= sum(r.order_qty for r in everything.plan)


def test_replenishment_targets_a_fill_rate_unless_asked_for_a_cycle_target(service):
    fill = service.replenishment(skus=["SKU08"], warehouses=["WH-SH"])
    cycle = service.replenishment(skus=["SKU08"], warehouses=["WH-SH"], service_measure="cycle")
    assert (fill.service_measure, cycle.service_measure) == ("fill_rate", "cycle")
    assert "for a 95% fill rate" in fill.plan[0].reason
    assert cycle.plan[0].reason.startswith(("P95 demand", "no order: stock + in transit"))


def test_replenishment_of_a_warehouse_without_stock_reports_the_skus(service):
    answer = service.replenishment(skus=["SKU01"], warehouses=[EMPTY_WH])
    assert answer.plan == [] and answer.as_of is None
    assert [(e.sku_id, e.field) for e in answer.errors] == [("SKU01", "sku_id")]
    assert "no stock position" in answer.errors[0].reason


def test_replenishment_names_unknown_ids(service):
    with pytest.raises(InvalidArgument, match="warehouses: unknown warehouse 'WH-XX'"):
        service.replenishment(warehouses=["WH-XX"])
    with pytest.raises(InvalidArgument, match="skus: unknown SKU 'NOPE'"):
        service.replenishment(skus=["NOPE"])
    with pytest.raises(InvalidArgument, match="skus: the batch is empty"):
        service.replenishment(skus=[])


def test_replenishment_service_level_bounds(service):
    spec = Forecasting.apis["replenishment"].input_spec
    for bad in (0.5, 1.0):
        with pytest.raises(ValidationError, match="service_level"):
            spec.model_validate({"service_level": bad})
    # inside the HTTP bounds but above what the policy plans for: a 400 naming the field
    with pytest.raises(InvalidArgument, match="service_level: .* must be in"):
        service.replenishment(skus=["SKU01"], service_level=0.9999)


def test_the_cache_forecasts_with_the_covariates_planned_at_start_up(settings, sales_store):
    from services.http.forecast_service import _CachedForecaster

    with Store.open(settings, read_only=True) as store:
        panel = store_panel(store)
        ahead = future_covariates(store, level="sku_warehouse", after=panel["ds"].max(), weeks=8)
    model = WeeklyDemandForecaster(CFG).fit(panel, dynamic_features=COVARIATES)
    read = []
    predict = model.predict
    model.predict = lambda h, ids=None, future=None: (
        read.append(future) or predict(h, ids, future=future)
    )
    cache = _CachedForecaster(model, 4, ahead)
    assert read == [ahead] and cache.future is ahead
    uid = panel["unique_id"].iloc[0]
    cache.predict(2, ids=[uid])  # from the start-up prediction
    cache.predict(2, ids=[uid], future=ahead)  # as a plan asks, with the cache's own
    assert len(read) == 1
    other = ahead.assign(promo_days=7.0)
    cache.predict(2, ids=[uid], future=other)  # other covariates: the model
    assert len(read) == 2 and read[-1] is other
    read.pop()
    cache.predict(6, ids=[uid])  # longer than cached: the model, with the same covariates
    assert len(read) == 2 and read[-1] is ahead
