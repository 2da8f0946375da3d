"""The forecasting commands of the `butler` CLI: eval forecast and replenish."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from evaluation import forecast_backtest
from models.forecast import BASELINES
from services import cli
from services.cli import app

pytestmark = [
    pytest.mark.filterwarnings("ignore:Found null values:UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mlflow"),
]

runner = CliRunner()
SMALL = {"n_estimators": 20, "n_jobs": 1, "calibration_weeks": 4, "min_child_samples": 10}


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """Rich wraps to the terminal's width; give the tables room so messages stay whole."""
    for console in (cli.console, cli.err_console):
        monkeypatch.setattr(console, "width", 250)


@pytest.fixture
def small_models(monkeypatch):
    """The dataset's own forecaster settings with a tiny LightGBM (the CPU is shared)."""
    original = forecast_backtest.config_for
    monkeypatch.setattr(
        forecast_backtest, "config_for", lambda ds, **kw: original(ds, **(SMALL | kw))
    )


def test_eval_forecast_prints_every_model_and_writes_the_files(
    tmp_path, weekly_folder, small_models
):
    folder = weekly_folder("online_retail", n_weeks=30)
    figures, forecasts = tmp_path / "figures.json", tmp_path / "fc.csv"
    result = runner.invoke(
        app,
        [
            "--home", str(tmp_path / "home"),
            "eval", "forecast",
            "--data", str(folder),
            "--horizon", "4",
            "--windows", "1",
            "--json", str(figures),
            "--forecasts", str(forecasts),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    for model in ["butler", *BASELINES]:
        assert model in result.output
    assert f"Figures written to {figures}" in result.output
    doc = json.loads(figures.read_text("utf-8"))
    assert doc["dataset"] == "online_retail_weekly" and doc["horizon"] == 4
    assert {m["model"] for m in doc["metrics"]} == {"butler", *BASELINES}
    frame = pd.read_csv(forecasts)
    assert list(frame.columns) == ["unique_id", "week", "model", "mean", "p50", "p80", "p90", "p95"]
    assert set(frame["model"]) == {"butler", *BASELINES}


def test_eval_forecast_on_a_folder_without_sales_fails_with_the_fix(tmp_path):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["eval", "forecast", "--data", str(tmp_path / "empty")])
    assert result.exit_code == 1
    assert "holds no sales.parquet or sales.csv" in result.output


def test_replenish_without_a_trained_model_says_to_train(tmp_path):
    out = tmp_path / "plan.csv"
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "replenish", "--out", str(out)])
    assert result.exit_code == 1
    assert "butler train forecast" in result.output
    assert not out.exists()


def test_replenish_takes_either_spelling_of_a_service_measure_and_names_them(tmp_path):
    out = tmp_path / "plan.csv"
    args = ["--home", str(tmp_path / "home"), "replenish", "--out", str(out)]
    result = runner.invoke(app, [*args, "--service-measure", "alpha"])
    assert result.exit_code == 2
    assert "fill-rate" in result.output and "cycle" in result.output
    # a valid measure, spelled either way, gets as far as the model
    for measure in ("cycle", "fill-rate", "fill_rate", "Fill-Rate"):
        result = runner.invoke(app, [*args, "--service-measure", measure])
        assert result.exit_code == 1 and "butler train forecast" in result.output


def test_replenish_invoked_by_another_command_takes_its_defaults(tmp_path):
    # `butler demo` invokes replenish; an invoked command's defaults skip option callbacks
    import click
    import typer

    from features.settings import Settings
    from services import cli
    from services.registry import ModelNotRegisteredError

    command = typer.main.get_command(app)
    with click.Context(command, obj=Settings(home=tmp_path / "home")) as ctx:
        with pytest.raises(typer.Exit) as stopped:
            ctx.invoke(cli.replenish, ctx=ctx, out=tmp_path / "plan.xlsx")
    # past the settings, as far as the model: here, none is registered
    assert isinstance(stopped.value.__cause__, ModelNotRegisteredError)


def test_replenish_with_a_missing_or_thin_supply_file_says_what_is_wrong(tmp_path):
    out = tmp_path / "plan.csv"
    args = ["--home", str(tmp_path / "home"), "replenish", "--out", str(out), "--supply"]
    result = runner.invoke(app, [*args, str(tmp_path / "nowhere.csv")])
    assert result.exit_code == 1
    assert "nowhere.csv: it does not exist" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, OSError)
    thin = tmp_path / "thin.csv"
    thin.write_text("sku,qty\nSKU01,5\n", encoding="utf-8")
    result = runner.invoke(app, [*args, str(thin)])
    assert result.exit_code == 1
    assert "lacks the columns supply" in result.output  # `sku` is read as sku_id
    assert "Got the columns sku_id, qty" in result.output
    header = tmp_path / "header.csv"
    header.write_text("sku_id,supply\n", encoding="utf-8")
    result = runner.invoke(app, [*args, str(header)])
    assert result.exit_code == 1 and "has a header but no rows" in result.output
    assert not out.exists()


def test_replenish_with_a_bad_as_of_names_the_formats_without_a_traceback(tmp_path):
    args = ["--home", str(tmp_path / "home"), "replenish", "--out", str(tmp_path / "p.csv")]
    for bad in ("2025年12月32日", "yesterday"):
        result = runner.invoke(app, [*args, "--as-of", bad])
        said = " ".join(result.output.split())
        assert result.exit_code == 1 and "Traceback" not in said, said
        assert "The `--as-of` parameter of `butler replenish` must be a date such as" in said
        assert "2024/06/18 or 2024年6月18日" in said and repr(bad) in said
    # a day written out in Chinese is read: the command gets as far as the model
    result = runner.invoke(app, [*args, "--as-of", "2025年12月30日"])
    assert result.exit_code == 1 and "butler train forecast" in result.output


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [("--review-weeks", "0", "give more than 0"), ("--service-level", "1", "not in (0.5, 0.999]")],
)
def test_replenish_options_out_of_range_name_the_option(tmp_path, option, value, said):
    result = runner.invoke(
        app, ["--home", str(tmp_path / "home"), "replenish", "--out", "p.csv", option, value]
    )
    assert result.exit_code == 2 and option in result.output and said in result.output


def test_replenish_passes_the_skus_and_warehouses_asked_and_counts_held_lines(
    tmp_path, monkeypatch
):
    import datetime as dt

    from models.replenishment import ERROR_COLUMNS, PLAN_COLUMNS
    from services import forecasting

    asked = {}
    line = dict.fromkeys(PLAN_COLUMNS, 0.0) | {"sku_id": "SKU01", "warehouse_id": "WH-GZ"}

    def plan(settings, **kwargs):
        asked.update(kwargs)
        rows = [line | {"reason": "not ordered: delisted: …"}, line | {"reason": "no order: …"}]
        return forecasting.PlanResult(
            plan=pd.DataFrame(rows, columns=list(PLAN_COLUMNS)),
            errors=pd.DataFrame(columns=list(ERROR_COLUMNS)),
            as_of=dt.date(2025, 12, 30),
            forecast_start=dt.date(2025, 12, 29),
        )

    monkeypatch.setattr(forecasting, "replenishment_plan", plan)
    out = tmp_path / "plan.csv"
    args = ["--home", str(tmp_path / "home"), "replenish", "--out", str(out)]
    result = runner.invoke(
        app, [*args, "--sku", " SKU01 ", "--sku", "SKU02", "--warehouse", "WH-GZ"]
    )
    assert result.exit_code == 0, result.output
    assert asked["skus"] == ["SKU01", "SKU02"] and asked["warehouses"] == ["WH-GZ"]
    assert "2 SKU × warehouse lines planned, 0 with an order (0 units), 1 line held" in (
        " ".join(result.output.split())
    )
    result = runner.invoke(app, args)
    assert asked["skus"] is None and asked["warehouses"] is None
    assert asked["config"].moq_scope == "warehouse"
    result = runner.invoke(app, [*args, "--moq-per", "sku"])
    assert result.exit_code == 0 and asked["config"].moq_scope == "sku"
    assert runner.invoke(app, [*args, "--moq-per", "order"]).exit_code == 2
    assert len(pd.read_csv(out)) == 2


@pytest.fixture
def champion(settings, sales_store, monkeypatch):
    """A small SKU × warehouse forecaster fitted on the store, served as the champion."""
    from features.forecast import store_panel
    from features.store import Store
    from models.forecast import ForecastConfig, WeeklyDemandForecaster
    from services import forecasting

    with Store.open(settings, read_only=True) as store:
        panel = store_panel(store)
    model = WeeklyDemandForecaster(ForecastConfig(**SMALL)).fit(panel)
    monkeypatch.setattr(forecasting, "load_forecaster", lambda settings, level: model)
    return model


def test_replenish_with_short_supply_prints_the_shortfall_and_the_allocated_totals(
    settings, champion, tmp_path
):
    from services.forecasting import read_positions, replenishment_plan

    positions = tmp_path / "positions.csv"
    positions.write_text(
        "sku_id,warehouse_id,on_hand,in_transit,lead_time_weeks\n"
        "SKU08,WH-GZ,0,0,3\nSKU08,WH-SH,0,0,3\n",
        encoding="utf-8",
    )
    wanted = replenishment_plan(settings, positions=read_positions(positions)).plan
    wanted = wanted["order_qty"].sum()
    supply = tmp_path / "supply.csv"
    supply.write_text(f"sku_id,supply\nSKU08,{wanted // 2:.0f}\n", encoding="utf-8")
    out = tmp_path / "plan.csv"
    args = ["--home", str(settings.home), "replenish", "--out", str(out)]
    result = runner.invoke(app, [*args, "--positions", str(positions), "--supply", str(supply)])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert f"supply {wanted // 2:,.0f} of {wanted:,.0f} ordered for 1 SKU (SKU08)" in said
    assert f"with an order ({wanted // 2:,.0f} units)" in said
    plan = pd.read_csv(out)
    assert plan["order_qty"].sum() == wanted // 2 and plan["unconstrained_qty"].sum() == wanted
    assert plan["reason"].str.contains("supply short").all()


def test_forecast_command_prints_and_writes_the_weeks_of_the_asked_pairs(
    settings, sales_store, monkeypatch, tmp_path
):
    from features.store import Store
    from models.forecast import ForecastConfig, WeeklyDemandForecaster
    from services import forecasting

    with Store.open(settings, read_only=True) as store:
        from features.forecast import store_panel

        panel = store_panel(store)
    model = WeeklyDemandForecaster(
        ForecastConfig(n_estimators=20, n_jobs=1, calibration_weeks=4, min_child_samples=10)
    ).fit(panel)
    monkeypatch.setattr(forecasting, "load_forecaster", lambda settings, level: model)
    home = ["--home", str(settings.home)]
    out = tmp_path / "fc.csv"
    args = [*home, "forecast", "--sku", "SKU03", "--horizon", "3", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    written = pd.read_csv(out)
    assert sorted(set(written["warehouse_id"])) == ["WH-GZ", "WH-SH"] and len(written) == 6
    assert {"mean", "expected", "p50", "p95", "p99_9"} <= set(written.columns)
    assert (written["p99_9"] >= written["p95"]).all()
    assert "WH-GZ" in result.output and "p99_9" in result.output
    one = runner.invoke(app, [*home, "forecast", "--sku", "SKU03", "--warehouse", "WH-SH"])
    assert one.exit_code == 0 and "WH-GZ" not in one.output
    unknown = runner.invoke(app, [*home, "forecast", "--sku", "SKU99"])
    assert unknown.exit_code == 1 and "no series of SKU99" in " ".join(unknown.output.split())
    nowhere = runner.invoke(app, [*home, "forecast", "--sku", "SKU03", "--warehouse", "WH-XX"])
    assert nowhere.exit_code == 1 and "no sales of SKU03 × WH-XX" in nowhere.output
    # what can be forecast is, and the rest is named
    some = runner.invoke(
        app, [*home, "forecast", "--sku", "SKU03", "--sku", "sku04", "--warehouse", "WH-GZ",
              "--warehouse", "WH-XX"]
    )  # fmt: skip
    said = " ".join(some.output.split())
    assert some.exit_code == 0 and "SKU03" in said
    assert "sku04 (did you mean SKU04?)" in said and "SKU03 × WH-XX" in said
