"""`butler eval forecast`: backtest the forecasters on a weekly-sales folder and report.

Loads the folder (:mod:`evaluation.datasets`), runs the rolling-origin backtest of
:mod:`models.backtest` — or, with actuals, fits on the whole folder and scores the weeks that
follow — and writes the figures (JSON), the forecasts (long form) and the plots.

Examples:
    python -m evaluation.forecast_backtest --data ../shared/data/walmart_weekly --horizon 8
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.datasets import WeeklyDataset, load_weekly_dataset, read_actuals
from features.errors import InvalidParameterError
from models.backtest import (
    FORECAST_COLUMNS,
    BacktestResult,
    backtest,
    backtest_figures,
    score_actuals,
)
from models.forecast import ForecastConfig

logger = logging.getLogger(__name__)


def config_for(dataset: WeeklyDataset, **overrides: object) -> ForecastConfig:
    """The forecaster's config for a dataset: its frequency, calendar and week offset."""
    base = ForecastConfig(
        freq=dataset.freq, calendar=dataset.calendar, week_offset_days=dataset.week_offset_days
    )
    return replace(base, **{**dataset.model_overrides, **overrides})


def evaluate(
    data: str | Path,
    horizon: int,
    *,
    n_windows: int = 2,
    actuals: str | Path | None = None,
    until: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> BacktestResult:
    """Backtest (or score against ``actuals``) every model on a weekly-sales folder.

    Args:
        data: the folder.
        horizon: weeks ahead, 1–13.
        n_windows: backtest origins (ignored with ``actuals``).
        actuals: a file of the weeks after the folder's, same columns as its sales file.
        until: use only the weeks up to this date, as if the folder ended there (to
            backtest a past season).
        on_progress: called with (done, total) model fits.

    Returns:
        The figures and forecasts.

    Raises:
        InvalidParameterError: ``until`` is not a date or comes before the folder's weeks
            (and what :func:`load_weekly_dataset` and the backtest raise).
    """
    dataset = load_weekly_dataset(data)
    if until is not None:
        first, last = dataset.panel["ds"].min().date(), dataset.panel["ds"].max().date()
        try:
            cut = pd.Timestamp(until)
        except ValueError as exc:
            raise InvalidParameterError(
                f"--until {until!r} is not a date; give one as YYYY-MM-DD, between {first} "
                f"and {last} (the weeks of {dataset.name})."
            ) from exc
        dataset.panel = dataset.panel[dataset.panel["ds"] <= cut].reset_index(drop=True)
        if dataset.panel.empty:
            raise InvalidParameterError(
                f"--until {cut.date()} is before the first week of {dataset.name} ({first}); "
                f"give a date between {first} and {last}."
            )
    cfg = config_for(dataset)
    common = {
        "name": dataset.name
        if dataset.known_as in ("", dataset.name)
        else f"{dataset.name} (as {dataset.known_as})",
        "static_features": dataset.static_features,
        "config": cfg,
        "on_progress": on_progress,
    }
    if actuals is not None:
        later = read_actuals(dataset, actuals)
        return score_actuals(dataset.panel, later, horizon, **common)
    return backtest(dataset.panel, horizon, n_windows=n_windows, **common)


def write_json(result: BacktestResult, path: str | Path) -> None:
    """Write the result's figures as JSON."""
    Path(path).write_text(json.dumps(result.to_json(), indent=2, default=str), "utf-8")


def write_forecasts(result: BacktestResult, path: str | Path) -> None:
    """Write the forecasts in long form, CSV or Parquet by the file's suffix.

    Columns ``unique_id, week, model, mean, p50, p80, p90, p95``: one row per series × week ×
    model; the model Butler serves is ``butler``; the baselines' quantiles are statsforecast's
    conformal intervals (:func:`models.forecast.baseline_forecasts`).
    """
    frame = result.forecasts[FORECAST_COLUMNS].copy()
    frame["week"] = pd.to_datetime(frame["week"]).dt.date
    path = Path(path)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def write_plots(result: BacktestResult, folder: str | Path) -> list[Path]:
    """Save :func:`models.backtest.backtest_figures` as PNG files; returns their paths."""
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, figure in backtest_figures(result).items():
        path = folder / f"{result.dataset}_{name}.png"
        figure.savefig(path, dpi=90)
        plt.close(figure)
        paths.append(path)
    return paths


def summary_table(result: BacktestResult) -> pd.DataFrame:
    """One row per model (all series): the figures the command prints."""
    cols = [
        "wape",
        "mase",
        "bias",
        "pinball",
        "coverage_p50",
        "coverage_p80",
        "coverage_p90",
        "coverage_p95",
        "fit_seconds",
        "predict_seconds",
        "series_per_second",
    ]
    table = result.overall()
    return table[[c for c in cols if c in table.columns]].replace({np.nan: None})


def main(argv: list[str] | None = None) -> None:
    """Command-line entry (the same as `butler eval forecast`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--horizon", type=int, default=8)
    parser.add_argument("--windows", type=int, default=2)
    parser.add_argument("--actuals")
    parser.add_argument("--until")
    parser.add_argument("--json")
    parser.add_argument("--forecasts")
    parser.add_argument("--plots")
    args = parser.parse_args(argv)
    result = evaluate(
        args.data, args.horizon, n_windows=args.windows, actuals=args.actuals, until=args.until
    )
    print(summary_table(result).to_string())  # noqa: T201
    print(json.dumps(result.targets(), indent=2))  # noqa: T201
    if args.json:
        write_json(result, args.json)
    if args.forecasts:
        write_forecasts(result, args.forecasts)
    if args.plots:
        write_plots(result, args.plots)


if __name__ == "__main__":
    main()
