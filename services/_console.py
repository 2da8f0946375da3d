"""What every `butler` command shares: the consoles, the settings, failures and progress bars."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from features.settings import Settings

# Piped or captured output (CI logs, `| less`) gets room for the wide tables instead of 80 columns.
_PIPED_WIDTH = 160
console = Console(width=None if sys.stdout.isatty() else _PIPED_WIDTH)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else _PIPED_WIDTH)


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
