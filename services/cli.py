"""The `butler` command line: an adapter over features/models/services, with rich output.

This is the only module that configures logging handlers and prints.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from features.errors import ButlerError
from features.settings import Settings

app = typer.Typer(
    name="butler",
    help="Butler: one store for every sales channel, and the models procurement, marketing "
    "and customer service ask for.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console()
err_console = Console(stderr=True)
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
    ctx.obj = Settings(home=home) if home else Settings()


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=1)


def _progress(transient: bool = False, *, as_bytes: bool = False) -> Progress:
    columns = [
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        DownloadColumn() if as_bytes else TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    return Progress(*columns, console=err_console, transient=transient)


# -- generate ------------------------------------------------------------------------------


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the export files into.")],
    scale: Annotated[Scale, typer.Option(help="small ≈ 300 SKUs, large ≈ 30k SKUs.")] = (
        Scale.small
    ),
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same world.")] = 0,
    days: Annotated[int, typer.Option(min=28, help="Days of history.")] = 730,
) -> None:
    """Write a realistic sample world: every channel's exports plus the brand ERP's.

    Examples:
        butler generate --out exports --scale small --seed 0
    """
    from features.sample_world import generate as generate_world

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
    table = Table(title=f"Sample world written to {out}")
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
    Exits with status 1 when a file cannot be read at all (the other files are still loaded).

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
            err_console.print(f"[bold red]error:[/] {f.error}")
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
        table.add_row(
            f.path.name,
            f.platform,
            f.kind,
            f"{f.rows_read:,}",
            f"{f.rows_accepted:,}",
            f"[yellow]{f.rows_quarantined:,}[/]" if f.rows_quarantined else "0",
            result,
        )
    table.caption = (
        f"{len(report.files)} files, {report.rows_accepted:,} rows accepted, "
        f"{report.rows_quarantined:,} quarantined, {len(report.failed)} failed, "
        f"{report.seconds:.1f} s"
    )
    console.print(table)


# -- demo ----------------------------------------------------------------------------------


@app.command()
def demo(
    ctx: typer.Context,
    scale: Annotated[Scale, typer.Option(help="Size of the sample world.")] = Scale.small,
    seed: Annotated[int, typer.Option(help="Random seed of the sample world.")] = 0,
    fresh: Annotated[bool, typer.Option(help="Start from an empty Butler home.")] = False,
) -> None:
    """The main job end to end on the embedded default: sample world → ingest → status.

    Examples:
        butler demo
        butler --home /tmp/butler demo --fresh
    """
    settings = _settings(ctx)
    if fresh and settings.home.exists():
        shutil.rmtree(settings.home)
    exports = settings.home / "sample_world" / f"{scale.value}-seed{seed}"
    if not (exports / "_truth" / "world.json").exists():
        console.rule("1. Generate the sample world")
        ctx.invoke(generate, out=exports, scale=scale, seed=seed)
    else:
        console.print(f"Sample world already at {exports}.")
    console.rule("2. Ingest every channel's exports")
    ctx.invoke(ingest, ctx=ctx, paths=[exports], platform=None)
    console.rule("3. Status")
    ctx.invoke(status, ctx=ctx)


if __name__ == "__main__":
    app()
