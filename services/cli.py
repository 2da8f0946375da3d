"""The `butler` command line: an adapter over features/models/services, with rich output.

This is the only module that configures logging handlers and prints.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import shutil
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from pydantic import ValidationError
from pydantic_settings import SettingsError
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from features.errors import ButlerError
from features.settings import Settings
from features.text import counted
from models.replenishment import ServiceMeasure as ReplenishmentMeasure
from services._console import (
    Promote,
    _fail,
    _output_file,
    _output_folder,
    _probability,
    _progress,
    _registered,
    _settings,
    console,
    err_console,
)
from services.cli_agent import ask, chat, demo_ask, eval_agent, train_planner
from services.cli_models import models_app
from services.cli_risk import eval_risk, risk_app, risk_patrol, train_risk
from services.cli_serve import demo_calls, serve

app = typer.Typer(
    name="butler",
    help="Butler: one store for every sales channel, and the models procurement, marketing "
    "and customer service ask for.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
logger = logging.getLogger("butler")


class Scale(StrEnum):
    small = "small"
    medium = "medium"
    large = "large"


@app.callback()
def main(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option(help="Butler home folder (default: $BUTLER_HOME or ./.butler)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log more.")] = False,
) -> None:
    """Butler's commands read and write under the Butler home."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, rich_tracebacks=True)],
        force=True,
    )
    # MLflow configures its own INFO handler on import unless told not to; let ours decide
    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.getLogger("mlflow").setLevel(logging.INFO if verbose else logging.ERROR)
    # splink warns on every predict about levels EM could not train (they keep defaults);
    # --verbose shows them, Butler's own warnings (a dropped EM round) always show
    logging.getLogger("splink").setLevel(logging.INFO if verbose else logging.ERROR)
    try:
        ctx.obj = Settings(home=home) if home else Settings()
    except ValidationError as exc:
        problems = "; ".join(_setting_problem(e) for e in exc.errors())
        raise _fail(f"A Butler setting is wrong — {problems}. Fix that variable.") from None
    except SettingsError as exc:  # a value that is not even JSON, for a dict or list setting
        raise _fail(f"A Butler setting cannot be read — {exc}. Give it as JSON.") from None
    if ctx.obj.home.exists() and not ctx.obj.home.is_dir():
        raise _fail(f"The Butler home {ctx.obj.home} is a file; give a folder with --home.")
    if os.environ.get("MLFLOW_TRACKING_URI") and not ctx.obj.mlflow_tracking_uri:
        logging.getLogger(__name__).warning(
            "MLFLOW_TRACKING_URI is set, but Butler reads BUTLER_MLFLOW_TRACKING_URI: the "
            "registry is %s. Set BUTLER_MLFLOW_TRACKING_URI to use that server.",
            ctx.obj.tracking_uri,
        )


def _setting_problem(error: Any) -> str:
    """``BUTLER_RECRUITMENT_COST (key tmall): …`` from one pydantic error of the settings."""
    variable, *inside = error["loc"]
    where = f" (key {'.'.join(map(str, inside))})" if inside else ""
    message = error["msg"].removeprefix("Value error, ").rstrip(".")
    return f"BUTLER_{str(variable).upper()}{where}: {message}"


# -- generate ------------------------------------------------------------------------------


def _days_up_to_today(days: int) -> int:
    """A sample world ends by today: ingest quarantines orders dated after it."""
    from features.sample_world import DEFAULT_START as start

    today = dt.date.today()
    if start + dt.timedelta(days=days - 1) > today:
        most = (today - start).days + 1
        raise typer.BadParameter(
            f"{days} days from {start} would end on {start + dt.timedelta(days=days - 1)}, "
            f"after today; ingest would quarantine every order dated after today. Give at "
            f"most {most}."
        )
    return days


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the export files into.")],
    scale: Annotated[Scale, typer.Option(help="small ≈ 300 SKUs, large ≈ 30k SKUs.")] = (
        Scale.small
    ),
    seed: Annotated[
        int,
        typer.Option(
            min=0,
            help="Random seed; the same seed, scale and --days give the same world (another "
            "--days is another world, not the same one made longer).",
        ),
    ] = 0,
    days: Annotated[
        int,
        typer.Option(
            min=28,
            help="Days of history from 2024-01-01, up to today.",
            callback=_days_up_to_today,
        ),
    ] = 730,
) -> None:
    """Write a realistic sample world: every channel's exports plus the brand ERP's.

    Examples:
        butler generate --out exports --scale small --seed 0
    """
    from features.sample_world import generate as generate_world

    _output_folder(out, "--out")
    with _progress() as progress:
        task = progress.add_task(f"Generating the {scale.value} world", total=None)
        summary = generate_world(
            out,
            scale=scale.value,
            seed=seed,
            days=days,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    _print_world_summary(summary, out)


def _print_world_summary(summary: object, out: Path) -> None:
    table = Table(title=f"Sample world written to {escape(str(out))}")
    table.add_column("what")
    table.add_column("count", justify="right")
    for f in dataclasses.fields(summary):  # type: ignore[arg-type]
        value = getattr(summary, f.name)
        if isinstance(value, int):
            table.add_row(f.name.replace("_", " "), f"{value:,}")
    console.print(table)


# -- ingest --------------------------------------------------------------------------------


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Export files and folders.")],
    platform: Annotated[
        str | None,
        typer.Option(help="Platform of every file (default: detected from each file)."),
    ] = None,
) -> None:
    """Load export files into the unified store; rejected rows go to quarantine with reasons.

    Re-ingesting a file changes nothing; an overlapping later export updates rows by key.
    Exits with status 1 when a file cannot be read at all, or a folder holds no file Butler
    can read (the other files are still loaded). A CSV row with the wrong number of fields
    is quarantined with its line; the rest of its file loads.

    Examples:
        butler ingest exports/
        butler ingest 订单报表_202411.csv --platform tmall
    """
    from features.ingest import ingest as run_ingest
    from features.store import Store

    settings = _settings(ctx)
    try:
        with Store.open(settings) as store, _progress(as_bytes=True) as progress:
            task = progress.add_task("Ingesting", total=None)
            report = run_ingest(
                paths,
                store,
                settings,
                platform=platform,
                on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    _print_ingest_report(report)
    if report.failed:
        for f in report.failed:
            err_console.print(f"[bold red]error:[/] {escape(str(f.error))}")
        raise typer.Exit(code=1)


def _print_ingest_report(report: object) -> None:
    from features.ingest import IngestReport

    assert isinstance(report, IngestReport)
    table = Table(title="Ingest")
    for col, justify in [
        ("file", "left"),
        ("platform", "left"),
        ("kind", "left"),
        ("read", "right"),
        ("accepted", "right"),
        ("quarantined", "right"),
        ("result", "left"),
    ]:
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for f in report.files:
        result = "[red]failed[/]" if not f.ok else "[dim]already ingested[/]" if f.skipped else "ok"
        if f.rows_older:
            older = counted(f.rows_older, "line")
            result += f" [yellow]({older} older than the store's, quarantined)[/]"
        table.add_row(
            escape(f.path.name),
            f.platform,
            f.kind,
            f"{f.rows_read:,}",
            f"{f.rows_accepted:,}",
            _quarantined(f.rows_quarantined, f.rows_known_bad),
            result,
        )
    known = (
        f" ({report.rows_known_bad:,} of them already in quarantine from an earlier export, "
        "kept once)"
        if report.rows_known_bad
        else ""
    )
    table.caption = (
        f"{len(report.files)} files, {report.rows_accepted:,} rows accepted, "
        f"{report.rows_quarantined:,} quarantined{known}, {len(report.failed)} failed, "
        f"{report.seconds:.1f} s"
    )
    if report.unsupported:
        table.caption += f"; {len(report.unsupported)} file(s) skipped (not .csv or .xlsx)"
    console.print(table)


def _quarantined(rows: int, known: int) -> str:
    """A file's quarantined rows, and how many of them an earlier file had quarantined."""
    if not rows:
        return "0"
    return f"[yellow]{rows:,}[/]" + (f" ({known:,} known)" if known else "")


# -- status --------------------------------------------------------------------------------


@app.command()
def status(ctx: typer.Context) -> None:
    """What is loaded per platform and shop, how fresh, what was rejected and why.

    Ends with the per-channel touchpoint scorecard: coverage, freshness, data quality and
    a grade. Ages are measured from the newest record in the store.

    Examples:
        butler status
    """
    from features.status import status_report
    from features.store import Store
    from services.risk import older_queue
    from services.risk_patrol import alert_counts

    settings = _settings(ctx)
    try:
        with Store.open(settings, read_only=True) as store:
            report = status_report(store)
            alerts = alert_counts(store)
            older = older_queue(settings, store) if alerts["open"] else 0
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    if report.empty:
        console.print("The store is empty. Load exports with `butler ingest PATH`.")
        return
    _print_status(report)
    if any(alerts.values()):
        counts = ", ".join(
            f"{n:,} {status}" for status, n in alerts.items() if n or status != "withdrawn"
        )
        console.print(f"Chat risk alerts: {counts}. List the open ones with `butler risk alerts`.")
        if older:
            console.print(
                f"{counted(older, 'open alert')} were raised by an earlier chat-risk "
                "classifier: `butler risk patrol --rescan` reads every conversation again "
                "with the registered one."
            )
    elif report.rows_per_table().get("chat_messages"):
        console.print(
            "Chat risk alerts: none raised. `butler risk patrol` scans the chats for them."
        )


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _age(days: float | None) -> str:
    if days is None:
        return "–"
    if days < 0:  # scheduled ahead (a promotion's start)
        return f"{_age(-days)} ahead"
    return f"{days:.1f} d" if days < 60 else f"{days / 30.4:.0f} mo"


def _print_status(report: object) -> None:
    from features.status import CHANNEL_TABLES, StatusReport

    assert isinstance(report, StatusReport)
    loads = Table(title=f"Loaded per platform and shop (ages as of {report.now:%Y-%m-%d %H:%M})")
    for name in ("platform", "shop", "expected"):
        loads.add_column(name)
    for table in CHANNEL_TABLES:
        loads.add_column(table.replace("_", " "), justify="right")
    loads.add_column("newest")
    loads.add_column("age", justify="right")
    for shop in report.shops:
        style = "red" if shop.silent and shop.expected else None
        loads.add_row(
            shop.platform,
            shop.shop_name or shop.shop_id,
            "yes" if shop.expected else "no",
            *(f"{shop.rows.get(t, 0):,}" for t in CHANNEL_TABLES),
            f"{shop.newest_at:%Y-%m-%d}" if shop.newest_at else "[red]nothing[/]",
            _age(shop.age_days),
            style=style,
        )
    console.print(loads)

    if report.freshness:
        tables = list(dict.fromkeys(f.table for f in report.freshness))
        ages: dict[str, dict[str, str]] = {}
        for f in report.freshness:
            ages.setdefault(f.platform, {})[f.table] = (
                f"{_age(f.age_days)} ({f.rows:,})" if f.rows else "[red]nothing[/]"
            )
        fresh = Table(title="Freshness: age of the newest record per channel and table (rows)")
        fresh.add_column("platform")
        for table in tables:
            fresh.add_column(table.replace("_", " "), justify="right")
        for platform, by_table in ages.items():
            fresh.add_row(platform, *(by_table.get(t, "–") for t in tables))
        console.print(fresh)

    files = Table(title="Files ingested and rows rejected")
    for name, justify in [("platform", "left"), ("kind", "left"), ("files", "right"),
                          ("read", "right"), ("accepted", "right"), ("quarantined", "right"),
                          ("kept in quarantine", "right"), ("quarantine rate", "right"),
                          ("duplicate rate", "right")]:  # fmt: skip
        files.add_column(name, justify=justify)  # type: ignore[arg-type]
    for f in report.files:
        files.add_row(
            f.platform, f.kind, f"{f.files:,}", f"{f.rows_read:,}", f"{f.rows_accepted:,}",
            f"{f.rows_quarantined:,}", f"{f.rows_kept_in_quarantine:,}",
            _pct(f.quarantine_rate), _pct(f.duplicate_rate),
        )  # fmt: skip
    if any(f.rows_kept_in_quarantine < f.rows_quarantined for f in report.files):
        files.caption = (
            "Read, accepted and quarantined count every file; a row an overlapping export "
            "sent again counts in each, and is kept once (in the store, or in quarantine)."
        )
    console.print(files)

    if report.quarantine_reasons:
        reasons = Table(title="Why rows were quarantined (table quarantine_rows)")
        for name in ("platform", "kind", "field", "reason", "rows", "first (file:line value)"):
            reasons.add_column(name, justify="right" if name == "rows" else "left")
        for r in report.quarantine_reasons:
            reasons.add_row(r.platform, r.kind, r.field, r.reason, f"{r.rows:,}", escape(r.example))
        console.print(reasons)

    card = Table(title="Touchpoint scorecard")
    for name in ("channel", "grade", "shops delivering", "silent shops", "freshness",
                 "quarantine", "missing fields", "duplicates", "why not A"):  # fmt: skip
        card.add_column(name)
    colour = {"A": "green", "B": "cyan", "C": "yellow", "D": "red"}
    for line in report.scorecard:
        grade = line.grade.value
        card.add_row(
            line.platform,
            f"[bold {colour.get(grade, 'white')}]{grade}[/]",
            str(len(line.shops_delivering)),
            ", ".join(line.shops_silent) or "–",
            _age(line.age_days),
            _pct(line.quarantine_rate),
            _pct(line.missing_rate),
            _pct(line.duplicate_rate),
            "; ".join(line.notes) or "–",
        )
    console.print(card)


# -- demo ----------------------------------------------------------------------------------


# -- train / eval / replenish ----------------------------------------------------------------

train_app = typer.Typer(help="Train models on the store and register them in MLflow.")
eval_app = typer.Typer(help="Evaluate models on real data folders.")
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.add_typer(risk_app, name="risk")
app.add_typer(models_app, name="models")
app.command("serve")(serve)
train_app.command("risk")(train_risk)
eval_app.command("risk")(eval_risk)
train_app.command("planner")(train_planner)
eval_app.command("agent")(eval_agent)
app.command()(ask)
app.command()(chat)


class Level(StrEnum):
    sku_warehouse = "sku_warehouse"
    sku_platform = "sku_platform"
    sku = "sku"


def _service_measure(value: str) -> str:
    """The replenishment model's service measure: ``fill-rate`` on the command line, and
    ``fill_rate`` as HTTP and the model spell it, are the same."""
    measure = value.strip().lower().replace("-", "_")
    known = get_args(ReplenishmentMeasure)
    if measure not in known:
        spelled = " or ".join(m.replace("_", "-") for m in known)
        raise typer.BadParameter(f"{value!r} is not a service measure; use {spelled}.")
    return measure


def _lower(reduction: float) -> str:
    """A WAPE reduction as words: ``12.5% lower than`` or ``10.2% higher than``."""
    return f"{abs(reduction):.1%} {'lower' if reduction >= 0 else 'higher'} than"


def _fmt(value: object, pct: bool = False) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, float):
        return f"{value:.1%}" if pct else f"{value:,.3f}"
    return str(value)


def _print_backtest(result: object, title: str) -> None:
    from models.backtest import BacktestResult

    assert isinstance(result, BacktestResult)
    table = Table(title=title, title_justify="left")
    heads = ["model", "WAPE", "MASE", "bias", "pinball", "P50 cov", "P80 cov", "P90 cov"]
    heads += ["P95 cov", "fit s", "predict s", "series/s"]
    for head in heads:
        table.add_column(head, justify="left" if head == "model" else "right")
    for model, row in result.overall().iterrows():
        covs = [row.get(f"coverage_p{q}") for q in (50, 80, 90, 95)]
        table.add_row(
            f"[bold]{model}[/]" if model == "butler" else str(model),
            _fmt(row["wape"], pct=True),
            _fmt(row.get("mase")),
            _fmt(row["bias"], pct=True),
            _fmt(row.get("pinball")),
            *[_fmt(c, pct=True) for c in covs],
            f"{row['fit_seconds']:.1f}",
            f"{row['predict_seconds']:.2f}",
            f"{row['series_per_second']:,.0f}",
        )
    console.print(table)
    targets = result.targets()
    if "reduction_vs_best_naive" in targets:
        console.print(
            f"butler WAPE {targets['butler_wape']:.1%}: "
            f"{_lower(targets['reduction_vs_best_naive'])} the best naive "
            f"({targets['best_naive']}), {_lower(targets['reduction_vs_best_baseline'])} the "
            f"best statsforecast model ({targets['best_baseline']}); P90 coverage "
            f"{_fmt(targets.get('coverage_p90'), pct=True)}. "
            f"Cutoffs: {', '.join(str(c.date()) for c in result.cutoffs)}; "
            f"{result.seconds:.0f} s in all."
        )


@train_app.command("forecast")
def train_forecast(
    ctx: typer.Context,
    level: Annotated[
        list[Level] | None,
        typer.Option(help="Series level(s) to train (default: all three)."),
    ] = None,
    horizon: Annotated[
        int, typer.Option(min=1, max=13, help="Weeks of each backtest window (1–13).")
    ] = 8,
    windows: Annotated[int, typer.Option(min=1, help="Backtest origins.")] = 2,
    promote: Promote = True,
) -> None:
    """Backtest, fit and register the weekly demand forecaster of each series level.

    Logs parameters, metrics per model and segment, plots and the model to MLflow, and
    points the alias the services load (champion) at the new version (not with --no-promote).

    Examples:
        butler train forecast
        butler train forecast --level sku_warehouse --horizon 8
        butler train forecast --no-promote
    """
    from training.forecast import train

    settings = _settings(ctx)
    levels = level or list(Level)
    for lvl in levels:
        try:
            with _progress() as progress:
                task = progress.add_task(f"Training {lvl.value}", total=None)
                run = train(
                    settings,
                    level=lvl.value,
                    horizon=horizon,
                    n_windows=windows,
                    on_progress=lambda d, t, task=task: progress.update(task, completed=d, total=t),
                    promote=promote,
                )
        except ButlerError as exc:
            raise _fail(str(exc)) from exc
        _print_backtest(run.backtest, f"{lvl.value}: {run.n_series:,} series × {run.n_weeks} weeks")
        targets = run.backtest.targets()
        if float(targets.get("reduction_vs_best_baseline", 0.0)) < 0:
            console.print(
                f"[yellow]{targets['best_baseline']} did better than Butler on this store's "
                "backtest[/]; Butler's model is registered all the same (the replenishment plan "
                "needs its quantiles). A short or very sparse history often does this: check "
                "`butler status`, or forecast at a coarser --level."
            )
        console.print(_registered(run.registered))


@eval_app.command("forecast")
def eval_forecast(
    data: Annotated[
        Path, typer.Option(help="Weekly-sales folder (e.g. ../shared/data/walmart_weekly).")
    ],
    horizon: Annotated[int, typer.Option(min=1, max=13, help="Weeks ahead (1–13).")] = 8,
    windows: Annotated[int, typer.Option(min=1, help="Backtest origins, h weeks apart.")] = 2,
    actuals: Annotated[
        Path | None,
        typer.Option(help="Later weeks to score instead (same columns as the sales file)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Use only the weeks up to this date (backtest a past season)."),
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the figures.")] = None,
    forecasts: Annotated[
        Path | None, typer.Option(help="Write the forecasts in long form (.csv or .parquet).")
    ] = None,
    plots: Annotated[Path | None, typer.Option(help="Folder for the plots.")] = None,
) -> None:
    """Backtest every model on a weekly-sales folder; print WAPE, MASE, bias, pinball loss,
    coverage and timings per model.

    With --actuals, fit on all of DATA and score the H weeks that follow against the file
    (a week the file leaves out for a series it lists sold nothing, as in the sales files).
    A folder of another name whose sales file has the columns of walmart_weekly or
    online_retail_weekly is read with that dataset's settings.

    Examples:
        butler eval forecast --data ../shared/data/online_retail_weekly --horizon 8
        butler eval forecast --data DIR --horizon 8 --actuals later.parquet --json out.json
    """
    from evaluation.forecast_backtest import evaluate, write_forecasts, write_json, write_plots

    _output_file(json_path, "--json")
    _output_file(forecasts, "--forecasts", (".csv", ".parquet"))
    _output_folder(plots, "--plots")
    try:
        with _progress() as progress:
            task = progress.add_task(f"Backtesting {data.name}", total=None)
            result = evaluate(
                data,
                horizon,
                n_windows=windows,
                actuals=actuals,
                until=until,
                on_progress=lambda d, t: progress.update(task, completed=d, total=t),
            )
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    mode = "against actuals" if actuals else f"{len(result.cutoffs)}-window backtest"
    _print_backtest(result, f"{result.dataset}: h={horizon}, {mode}")
    if json_path:
        write_json(result, json_path)
        console.print(f"Figures written to {escape(str(json_path))}.")
    if forecasts:
        write_forecasts(result, forecasts)
        console.print(f"Forecasts written to {escape(str(forecasts))}.")
    if plots:
        for path in write_plots(result, plots):
            console.print(f"Plot written to {escape(str(path))}.")


@train_app.command("identity")
def train_identity(
    ctx: typer.Context,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Match probability at which two accounts are one person (default: chosen "
            "for each list resolved, from the model's own probabilities).",
            callback=_probability,
        ),
    ] = None,
    promote: Promote = True,
) -> None:
    """Fit the member identity model (splink) on the store's member accounts and register it.

    No labels are needed: u is estimated from random pairs, m by EM over several blocking
    passes. Logs the settings and the trained model (no member data) to MLflow.

    Examples:
        butler train identity
    """
    from models.identity import IdentityConfig
    from training.identity import train

    settings = _settings(ctx)
    try:
        with _progress() as progress:
            progress.add_task("Training the identity model", total=None)
            config = IdentityConfig(threshold="auto" if threshold is None else threshold)
            run = train(settings, config, promote=promote)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    _print_member_summary(run.summary, costs=settings.recruitment_cost)
    console.print(_registered(run.registered, fitted_seconds=run.fit_seconds))


def _print_member_summary(summary: dict[str, float], *, costs: dict[str, float]) -> None:
    spend = (
        "of recruitment spend (at BUTLER_RECRUITMENT_COST's costs per platform)"
        if costs
        else "of recruited accounts (each counted alike: BUTLER_RECRUITMENT_COST sets the "
        "cost per platform)"
    )
    console.print(
        f"{summary['accounts']:,.0f} accounts → {summary['persons']:,.0f} persons "
        f"({summary['accounts_per_person']:.2f} accounts per person); "
        f"{summary['persons_on_2plus_platforms']:,.0f} persons on 2+ platforms; "
        f"{summary['duplicate_recruitment_share']:.1%} {spend} went to people already "
        "recruited elsewhere."
    )


members_app = typer.Typer(help="Deduplicate member lists: who is really one person.")
app.add_typer(members_app, name="members")


@members_app.command("resolve")
def members_resolve(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Output file: .parquet, .csv or .xlsx.")],
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Match probability to merge at (default: the model's).", callback=_probability
        ),
    ] = None,
) -> None:
    """Resolve the store's member accounts into persons with golden records.

    Writes one row per person: person id, golden fields, source accounts, cluster size and
    match probability; prints accounts, persons and the duplicated recruitment share. The
    store keeps each account's person (``member_persons``) for the butler's member questions.

    Examples:
        butler members resolve --out members.parquet
    """
    from models.identity import REGISTERED_NAME
    from services.identity import TABLE_SUFFIXES, resolve_store, save_persons, write_table
    from services.registry import registered_version

    _output_file(out, "--out", TABLE_SUFFIXES)
    settings = _settings(ctx)
    try:
        with _progress() as progress:
            progress.add_task("Resolving members", total=None)
            result = resolve_store(settings, threshold)
            path = write_table(result.persons, out)
            version = registered_version(settings, REGISTERED_NAME)["version"]
            save_persons(
                settings, result.accounts, f"{REGISTERED_NAME}/{version}", result.id_history
            )
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    _print_member_summary(result.summary, costs=settings.recruitment_cost)
    ids = result.person_ids
    if ids.get("kept") or ids.get("merged"):  # a resolution before this one gave ids
        console.print(
            f"{len(result.persons):,} persons: {ids['kept']:,} kept their id, "
            f"{ids['new']:,} new, {ids['merged']:,} ids merged into others (listed in "
            "former_person_ids)."
        )
    console.print(f"{len(result.persons):,} persons written to {escape(str(path))}.")


@members_app.command("explain")
def members_explain(
    ctx: typer.Context,
    left: Annotated[str, typer.Argument(help="An account: <platform>:<platform_user_id>.")],
    right: Annotated[str, typer.Argument(help="The other account.")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the waterfall data as JSON.")
    ] = None,
) -> None:
    """Why two member accounts are (or are not) one person: the match weight each
    comparison adds, from the prior to the pair's match probability.

    Accounts are named as `butler members resolve` lists them in source_accounts. Names,
    phones and e-mails are shown masked.

    Examples:
        butler members explain tmall:tb2324604460 jd:jd_584759956293
    """
    import json

    from services.identity import SHOWN_FIELDS, explain_accounts

    _output_file(json_out, "--json")
    settings = _settings(ctx)
    try:
        with _progress() as progress:
            progress.add_task("Scoring the pair", total=None)
            result = explain_accounts(settings, left, right)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    accounts = Table(title="The two accounts (masked)")
    accounts.add_column("field")
    accounts.add_column(left)
    accounts.add_column(right)
    for col in SHOWN_FIELDS:
        accounts.add_row(col, result.left[col] or "–", result.right[col] or "–")
    console.print(accounts)
    steps = Table(title="Match weight, comparison by comparison (bits; + for one person)")
    for col in ("comparison", "level", "weight", "running total"):
        steps.add_column(col, justify="right" if col in ("weight", "running total") else "left")
    for row in result.steps.itertuples(index=False):
        colour = "green" if row.match_weight > 0 else "red" if row.match_weight < 0 else "dim"
        steps.add_row(
            str(row.step), str(row.level), f"[{colour}]{row.match_weight:+.2f}[/]",
            f"{row.cumulative:+.2f}",
        )  # fmt: skip
    console.print(steps)
    verdict = {
        True: f"The last resolution put both in person {result.persons[0]}.",
        False: f"The last resolution put them in different persons ({result.persons[0]}, "
        f"{result.persons[1]}).",
        None: "Run `butler members resolve` to see which persons they were put in.",
    }[result.same_person]
    console.print(f"Match probability [bold]{result.match_probability:.4f}[/]. {verdict}")
    if json_out is not None:
        payload = {
            "left": result.left,
            "right": result.right,
            "match_probability": result.match_probability,
            "persons": list(result.persons),
            "steps": result.steps.astype(object)
            .where(result.steps.notna(), None)
            .to_dict(orient="records"),
        }
        json_out.write_text(json.dumps(payload, ensure_ascii=False, indent=2), "utf-8")
        console.print(f"Waterfall data written to {escape(str(json_out))}.")


@members_app.command("dedupe")
def members_dedupe(
    file: Annotated[Path, typer.Argument(help="Member list: .csv, .xlsx or .parquet.")],
    map_path: Annotated[Path, typer.Option("--map", help="Flat YAML: Butler field → column.")],
    out: Annotated[Path, typer.Option(help="Output file: .parquet, .csv or .xlsx.")],
    threshold: Annotated[
        float | None, typer.Option(help="Match probability to merge at.", callback=_probability)
    ] = None,
    phone_region: Annotated[
        str, typer.Option(help="Region of phone numbers without a country code (CN, HK …).")
    ] = "CN",
) -> None:
    """Deduplicate any member list: every input row comes back with a person id.

    Adds person_id, match_probability, cluster_size and rejected_reason to every row and
    column of FILE (as butler_<name> where FILE already has a column of that name); rows that
    cannot be used keep their place with the reason.

    Examples:
        butler members dedupe list.xlsx --map list.yaml --out list_deduped.xlsx
    """
    from services.identity import TABLE_SUFFIXES, dedupe_list, write_table

    _output_file(out, "--out", TABLE_SUFFIXES)
    try:
        with _progress() as progress:
            progress.add_task(f"Deduplicating {file.name}", total=None)
            result = dedupe_list(file, map_path, threshold=threshold, phone_region=phone_region)
            path = write_table(result.rows, out)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    _print_member_summary(result.summary, costs={})
    for col, name in result.renamed_columns.items():
        console.print(
            f"[yellow]{file.name} already has a column {col}[/]: it is kept as it was, and "
            f"Butler's {col} is the column {name}."
        )
    if len(result.rejected):
        console.print(
            f"[yellow]{counted(len(result.rejected), 'row')} could not be used[/] (their "
            "reasons are in "
            f"the {result.added_columns['rejected_reason']} column)."
        )
    console.print(f"{len(result.rows):,} rows written to {escape(str(path))}.")


@eval_app.command("identity")
def eval_identity(
    ctx: typer.Context,
    data: Annotated[
        Path | None, typer.Option(help="Labelled member list (.parquet, .csv, .xlsx).")
    ] = None,
    map_path: Annotated[
        Path | None, typer.Option("--map", help="Flat YAML: Butler field → column.")
    ] = None,
    truth_col: Annotated[str | None, typer.Option(help="Column with the true person id.")] = None,
    store_truth: Annotated[
        Path | None,
        typer.Option(help="Score the store's members against this truth file instead."),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help="Match probability to merge at (default: chosen without labels).",
            callback=_probability,
        ),
    ] = None,
    phone_region: Annotated[
        str, typer.Option(help="Region of phone numbers without a country code.")
    ] = "CN",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the figures.")] = None,
) -> None:
    """Score identity resolution on a labelled list against the phone-or-email rule.

    Either a list (--data, --map, --truth-col) or the store's members (--store-truth, a
    CSV of platform, platform_user_id, person_id such as the sample world's
    _truth/members_truth.csv).

    Examples:
        butler eval identity --data ../shared/data/linkage/febrl3.parquet \\
            --map evaluation/identity_maps/febrl.yaml --truth-col entity_id
        butler eval identity --store-truth .butler/sample_world/small-seed0/_truth/members_truth.csv
    """
    import json

    from evaluation.identity import evaluate, evaluate_store
    from models.identity import IdentityConfig

    given = {"--data": data, "--map": map_path, "--truth-col": truth_col}
    named = [flag for flag, value in given.items() if value is not None]
    if store_truth is not None and named:
        raise _fail(
            f"--store-truth scores the store's members; {', '.join(named)} name a list. Give "
            "either --data, --map and --truth-col, or --store-truth."
        )
    if store_truth is None and len(named) < len(given):
        missing = ", ".join(flag for flag in given if flag not in named)
        raise _fail(
            f"Give either --data, --map and --truth-col, or --store-truth (missing: {missing})."
        )
    _output_file(json_path, "--json")
    try:
        config = IdentityConfig(threshold="auto" if threshold is None else threshold)
        with _progress() as progress:
            progress.add_task("Resolving members", total=None)
            if store_truth is not None:
                result = evaluate_store(_settings(ctx), store_truth, config=config)
            else:
                result = evaluate(
                    data, map_path, truth_col, config=config, phone_region=phone_region
                )
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    table = Table(title=f"{result.data}: {result.n_records:,} records", title_justify="left")
    for head in ("method", "pair precision", "pair recall", "pair F1", "B³ F1", "clusters"):
        table.add_column(head, justify="left" if head == "method" else "right")
    chosen = " (chosen without labels)" if threshold is None else ""
    rows = [(f"butler @ {result.threshold:g}{chosen}", result.model)]
    rows += [("same phone or email", result.rule)]
    rows += [(f"  butler @ {r['threshold']:g}", r) for r in result.sweep.to_dict("records")]
    for name, s in rows:
        table.add_row(
            name,
            f"{s['pair_precision']:.4f}",
            f"{s['pair_recall']:.4f}",
            f"{s['pair_f1']:.4f}",
            f"{s['bcubed_f1']:.4f}",
            f"{s['n_predicted_clusters']:,.0f}",
        )
    console.print(table)
    console.print(
        f"{result.n_rejected:,} rows rejected; {result.seconds:.1f} s "
        f"({result.n_records / result.seconds:,.0f} records/s): "
        + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    )
    if json_path:
        json_path.write_text(json.dumps(result.to_json(), indent=2, default=str))
        console.print(f"Figures written to {escape(str(json_path))}.")


def _service_level(value: float) -> float:
    from models.replenishment import SERVICE_LEVEL_RANGE

    low, high = SERVICE_LEVEL_RANGE
    if not low < value <= high:  # NaN fails too
        raise typer.BadParameter(f"{value:g} is not in ({low}, {high}], e.g. 0.95.")
    return value


class MoqScope(StrEnum):
    """What `butler replenish --moq-per` takes."""

    warehouse = "warehouse"
    sku = "sku"


def _positive_weeks(value: float) -> float:
    if not value > 0:
        raise typer.BadParameter(f"{value:g} weeks: give more than 0, e.g. 1 for weekly orders.")
    return value


@app.command("forecast")
def forecast_command(
    ctx: typer.Context,
    sku: Annotated[list[str], typer.Option("--sku", help="A SKU to forecast (repeat for more).")],
    warehouse: Annotated[
        list[str] | None,
        typer.Option("--warehouse", help="Only this warehouse (repeat; default: every one)."),
    ] = None,
    horizon: Annotated[int, typer.Option(min=1, max=13, help="Weeks ahead (1–13).")] = 8,
    out: Annotated[
        Path | None, typer.Option(help="Also write the weeks to this CSV or XLSX file.")
    ] = None,
) -> None:
    """Weekly demand forecast of some SKUs per warehouse, from the champion forecaster:
    the point forecast, expected demand and quantiles up to P99.9.

    Examples:
        butler forecast --sku SYSK01003-04
        butler forecast --sku SYSK01003-04 --warehouse WH-EC01 --horizon 13 --out fc.csv
    """
    import pandas as pd

    from features.forecast import ID_SEP
    from services.forecasting import forecast, load_forecaster, same_but_case

    _output_file(out, "--out", (".csv", ".xlsx"))
    settings = _settings(ctx)
    skus, houses = _ids_given(sku) or [], _ids_given(warehouse)
    try:
        model = load_forecaster(settings, "sku_warehouse")
        pairs = [uid.split(ID_SEP, 1) for uid in model.series_]
        ids = [f"{s}{ID_SEP}{w}" for s, w in pairs if s in skus and (houses is None or w in houses)]
        known = {s for s, _ in pairs}
        absent = [s for s in skus if s not in known]
        unknown = [
            s + (f" (did you mean {m}?)" if m else "")
            for s, m in zip(absent, same_but_case(absent, known), strict=True)
        ]
        had = {tuple(uid.split(ID_SEP, 1)) for uid in ids}
        missing = [
            f"{s} × {w}" for s in skus if s in known for w in houses or () if (s, w) not in had
        ]
        if not ids:
            raise _fail(
                "Nothing to forecast: "
                + "; ".join(
                    [f"no series of {', '.join(unknown)}"] * bool(unknown)
                    + [f"no sales of {', '.join(missing)}"] * bool(missing)
                )
                + ". A SKU has a series where it sold before the forecaster was trained "
                "(`butler train forecast` after new sales); without --warehouse every "
                "warehouse it has is listed."
            )
        frame = forecast(settings, horizon=horizon, level="sku_warehouse", ids=ids, model=model)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    for what, names in (("SKUs the forecaster has no series of", unknown),
                        ("pairs without sales there", missing)):  # fmt: skip
        if names:
            err_console.print(f"[yellow]warning:[/] {what}, left out: {escape(', '.join(names))}")
    columns = [
        c for c in ("mean", "expected", "p50", "p80", "p90", "p95", "p99", "p99_9") if c in frame
    ]  # fmt: skip  (--out writes p98, p99_5 and p99_8 too)
    table = Table(title=f"Weekly forecast, {horizon} weeks (units)", title_justify="left")
    for head in ("SKU", "warehouse", "week", *columns):
        table.add_column(head, justify="left" if head in ("SKU", "warehouse", "week") else "right")
    for _, row in frame.iterrows():
        table.add_row(
            str(row["sku_id"]),
            str(row["warehouse_id"]),
            f"{pd.Timestamp(row['ds']):%Y-%m-%d}",
            *(f"{row[c]:,.1f}" for c in columns),
        )
    console.print(table)
    console.print(
        "mean: the point forecast; expected: the expected demand (sum it over weeks); pNN: "
        "the demand a week stays under with that probability (--out also writes p98, p99_5 "
        "and p99_8)."
    )
    if out is not None:
        keep = frame[["sku_id", "warehouse_id", "ds", *[c for c in frame if c.startswith("p")],
                      *[c for c in ("mean", "expected") if c in frame]]]  # fmt: skip
        keep = keep.rename(columns={"ds": "week"})
        if out.suffix.lower() == ".xlsx":
            keep.to_excel(out, index=False)
        else:
            keep.to_csv(out, index=False)
        console.print(f"Written to {escape(str(out))}.")


@app.command()
def replenish(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Plan file to write: plan.csv or plan.xlsx.")],
    service_level: Annotated[
        float, typer.Option(help="Target service level, in (0.5, 0.999].", callback=_service_level)
    ] = 0.95,
    service_measure: Annotated[
        str,
        typer.Option(
            help="What the service level targets: fill-rate (share of demand served from "
            "stock) or cycle (share of order cycles without a stock-out); fill_rate works too.",
            callback=_service_measure,
        ),
    ] = "fill-rate",
    review_weeks: Annotated[
        float, typer.Option(help="Weeks between orders (> 0).", callback=_positive_weeks)
    ] = 1.0,
    moq_per: Annotated[
        MoqScope,
        typer.Option(
            help="What the SKU master's MOQ is a minimum of: each warehouse's order, or the "
            "SKU's orders across its warehouses together (one purchase order for all)."
        ),
    ] = MoqScope.warehouse,
    positions: Annotated[
        Path | None,
        typer.Option(help="Stock per SKU × warehouse to plan from (default: the store)."),
    ] = None,
    supply: Annotated[
        Path | None,
        typer.Option(help="CSV or XLSX of sku_id, supply: units available to split (分仓补仓)."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Day of the stock position: 2025-12-30, 2025/12/30 or 2025年12月30日 "
            "(default: newest)."
        ),
    ] = None,
    sku: Annotated[
        list[str] | None,
        typer.Option("--sku", help="Plan only this SKU (repeat for more; default: all)."),
    ] = None,
    warehouse: Annotated[
        list[str] | None,
        typer.Option(
            "--warehouse", help="Plan only this warehouse (repeat for more; default: all)."
        ),
    ] = None,
) -> None:
    """Write the replenishment plan per SKU × warehouse, with a reason per line.

    Rows that cannot be planned (unknown SKU or warehouse, negative stock, missing lead
    time, no forecast) are listed with their reason; the rest of the plan is still written.

    Examples:
        butler replenish --out plan.xlsx
        butler replenish --out plan.csv --service-level 0.98 --supply supply.csv
        butler replenish --out plan.csv --service-measure cycle
        butler replenish --out plan.csv --sku SYSK01003-04 --warehouse WH-EC01
        butler replenish --out plan.csv --moq-per sku
    """
    import pandas as pd

    from features.views._params import check_date
    from models.replenishment import ReplenishmentConfig
    from services.forecasting import read_positions, read_supply, replenishment_plan, write_plan

    _output_file(out, "--out", (".csv", ".xlsx"))
    settings = _settings(ctx)
    try:
        day = check_date(as_of, param="--as-of", func="butler replenish")
        config = ReplenishmentConfig(
            service_level=service_level,
            # the callback's spelling again: `butler demo` invokes this command, and an
            # invoked command's defaults do not pass through option callbacks
            service_measure=_service_measure(service_measure),
            review_period_weeks=review_weeks,
            moq_scope=MoqScope(moq_per).value,
        )
        pos = read_positions(positions) if positions else None
        sup = read_supply(supply) if supply else None
        with _progress(transient=True) as progress:
            progress.add_task("Planning", total=None)
            result = replenishment_plan(
                settings,
                config=config,
                positions=pos,
                supply=sup,
                as_of=day,
                skus=_ids_given(sku),
                warehouses=_ids_given(warehouse),
            )
        files = write_plan(result, out)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}")
    plan = result.plan
    ordering = plan[plan["order_qty"] > 0].sort_values("stockout_probability", ascending=False)
    start = f"forecast from {result.forecast_start}" if result.forecast_start else "no forecast"
    table = Table(
        title=f"Replenishment plan, stock as of {result.as_of}, {start} "
        "(top orders by stock-out risk)",
        title_justify="left",
    )
    for head in ("SKU", "warehouse", "order", "P(stock-out)", "reason"):
        table.add_column(head, justify="right" if head in ("order", "P(stock-out)") else "left")
    for _, row in ordering.head(15).iterrows():
        table.add_row(
            str(row["sku_id"]),
            str(row["warehouse_id"]),
            f"{row['order_qty']:,.0f}",
            f"{row['stockout_probability']:.0%}",
            str(row["reason"]),
        )
    console.print(table)
    held = int(plan["reason"].str.startswith("not ordered: ").sum()) if len(plan) else 0
    console.print(
        f"{len(plan):,} SKU × warehouse lines planned, {len(ordering):,} with an order "
        f"({ordering['order_qty'].sum():,.0f} units)"
        + (f", {counted(held, 'line')} held (delisted SKUs)" if held else "")
        + f"; {counted(len(result.errors), 'row')} could not be planned. "
        f"Written to {', '.join(str(f) for f in files)}."
    )
    if len(result.errors):
        err = Table(title="Rows not planned (first 10)", title_justify="left")
        for head in ("SKU", "warehouse", "field", "reason"):
            err.add_column(head)
        for _, row in result.errors.head(10).iterrows():
            # blank, not "None": a supply row has no warehouse
            cells = (row[c] for c in ("sku_id", "warehouse_id", "field", "reason"))
            err.add_row(*("" if pd.isna(c) else str(c) for c in cells))
        console.print(err)
    if plan.empty and len(result.errors):
        raise _fail("No SKU × warehouse line could be planned; the reasons are above.")


def _ids_given(values: list[str] | None) -> list[str] | None:
    """Repeated id options as a list of stripped ids; None when none was given."""
    ids = [v.strip() for v in values or () if v.strip()]
    return ids or None


def _own_exports(settings: Settings) -> list[str]:
    """Files the home's store ingested from anywhere but a generated sample world."""
    from features.store import Store

    if not settings.duckdb_path.exists():
        return []
    try:
        with Store.open(settings, read_only=True) as store:
            paths = store.sql("SELECT path FROM ingested_files ORDER BY ingested_at").fetchall()
    except ButlerError:
        return []  # a damaged or locked store: the demo's own steps say so
    return [p for (p,) in paths if "sample_world" not in Path(p).parts]


@app.command()
def demo(
    ctx: typer.Context,
    scale: Annotated[Scale, typer.Option(help="Size of the sample world.")] = Scale.small,
    seed: Annotated[int, typer.Option(min=0, help="Random seed of the sample world.")] = 0,
    fresh: Annotated[bool, typer.Option(help="Start from an empty Butler home.")] = False,
) -> None:
    """The main job end to end on the embedded default: sample world → ingest → status →
    train the forecaster → replenishment plan → train the identity model → resolve members →
    train the chat risk classifier → patrol the chats → train the butler's planner → serve
    every model over HTTP, call each once and stop → ask the business butler.

    Examples:
        butler demo
        butler --home /tmp/butler demo --fresh
    """
    settings = _settings(ctx)
    own = _own_exports(settings)
    if own:
        raise _fail(
            f"{settings.home} holds your own data ({len(own):,} export file(s) ingested "
            f"from outside a sample world, e.g. {own[0]}): the demo would "
            f"{'delete it' if fresh else 'add a fictional sample world to it'} and replace "
            "its models. Run the demo in a home of its own: butler --home /tmp/butler-demo demo"
        )
    if fresh and settings.home.exists():
        shutil.rmtree(settings.home)
    exports = settings.home / "sample_world" / f"{scale.value}-seed{seed}"
    if not (exports / "_truth" / "world.json").exists():
        console.rule("1. Generate the sample world")
        ctx.invoke(generate, out=exports, scale=scale, seed=seed)
    else:
        console.print(f"Sample world already at {escape(str(exports))}.")
    console.rule("2. Ingest every channel's exports")
    ctx.invoke(ingest, ctx=ctx, paths=[exports], platform=None)
    console.rule("3. Status")
    ctx.invoke(status, ctx=ctx)
    console.rule("4. Train the SKU × warehouse forecaster and register it")
    ctx.invoke(train_forecast, ctx=ctx, level=[Level.sku_warehouse], horizon=8, windows=2)
    console.rule("5. Replenishment plan")
    ctx.invoke(replenish, ctx=ctx, out=settings.home / "plan.xlsx")
    console.rule("6. Train the member identity model and register it")
    ctx.invoke(train_identity, ctx=ctx, threshold=None)
    console.rule("7. Resolve the members into persons")
    ctx.invoke(members_resolve, ctx=ctx, out=settings.home / "members.parquet", threshold=None)
    console.rule("8. Check the persons against the sample world's truth")
    ctx.invoke(
        eval_identity,
        ctx=ctx,
        store_truth=exports / "_truth" / "members_truth.csv",
        threshold=None,
        phone_region="CN",
        json_path=None,
    )
    console.rule("9. Train the chat risk classifier and register it")
    ctx.invoke(train_risk, ctx=ctx, pool=None)
    console.rule("10. Patrol the chats: the supervisor's queue")
    ctx.invoke(risk_patrol, ctx=ctx, limit=10)
    console.rule("11. Check the classifier against the sample world's truth")
    ctx.invoke(
        eval_risk,
        ctx=ctx,
        pool=None,
        store_truth=exports / "_truth" / "chats_truth.csv",
        json_path=None,
    )
    console.rule("12. Train the business butler's offline planner and register it")
    ctx.invoke(train_planner, ctx=ctx)
    console.rule("13. Serve the models over HTTP, call each once, stop")
    demo_calls(ctx)
    console.rule("14. Ask the business butler")
    demo_ask(ctx)


if __name__ == "__main__":
    app()
