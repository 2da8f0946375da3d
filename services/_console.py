"""What every `butler` command shares: the consoles, the settings, failures and progress bars."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Protocol

import typer
from rich.console import Console
from rich.markup import escape
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


class _Registration(Protocol):
    """What a training run registered (``training.tracking.RegisteredModel``)."""

    name: str
    version: str
    alias: str | None
    run_id: str
    previous: str | None


# Piped or captured output (CI logs, `| less`) gets room for the wide tables instead of 80 columns.
_PIPED_WIDTH = 160
console = Console(width=None if sys.stdout.isatty() else _PIPED_WIDTH)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else _PIPED_WIDTH)


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings)
    return settings


#: The ``--promote/--no-promote`` option of every `butler train …` command.
Promote = Annotated[
    bool,
    typer.Option(
        "--promote/--no-promote",
        help="Point the alias the services load (champion) at the new version. "
        "--no-promote registers it only: compare it in `butler models list`, then "
        "`butler models promote` it.",
    ),
]


def _registered(reg: _Registration, *, fitted_seconds: float | None = None) -> str:
    """The line a `butler train …` command ends with: what was registered, and whether the
    services will load it."""
    fitted = f"Fitted in {fitted_seconds:.1f} s. " if fitted_seconds is not None else ""
    said = f"{fitted}Registered [bold]{escape(reg.name)}[/] version {reg.version}"
    if reg.alias is not None:
        return f"{said} as @{reg.alias} (run {reg.run_id})."
    kept = f"stays on version {reg.previous}" if reg.previous else "is on no version yet"
    return (
        f"{said}, not promoted (run {reg.run_id}): the alias the services load {kept}. "
        f"`butler models promote {reg.name} {reg.version}` serves it."
    )


def _fail(message: str) -> typer.Exit:
    """Print ``message`` as the command's error (as text: brackets in a path stay) and exit 1."""
    err_console.print(f"[bold red]error:[/] {escape(message)}")
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


def _output_file(path: Path | None, option: str, suffixes: tuple[str, ...] = ()) -> Path | None:
    """Check where a command will write, before its work: a run's results must not be lost
    to a bad path at the end. The file's folder is made if missing.

    Raises:
        typer.Exit: the path is a folder, lies under a file, or has a suffix not in
            ``suffixes`` (when given).
    """
    if path is None:
        return None
    if suffixes and path.suffix.lower() not in suffixes:
        *others, last = suffixes
        kinds = f"{', '.join(others)} or {last}" if others else last
        raise _fail(f"{option} {path}: write to a {kinds} file.")
    if path.is_dir():
        raise _fail(f"{option} {path} is a folder; give a file name in it.")
    _make_folder(path.parent, option, path)
    return path


def _output_folder(path: Path | None, option: str) -> Path | None:
    """Check (and make) a folder a command will write into, before its work."""
    if path is not None:
        _make_folder(path, option, path)
    return path


def _make_folder(folder: Path, option: str, path: Path) -> None:
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise _fail(f"{option} {path}: {blocker} is a file, not a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _fail(f"{option} {path}: cannot make the folder {folder} ({exc.strerror}).") from exc


def _probability(value: float | None) -> float | None:
    """Typer callback of a probability option (a match threshold): strictly between 0 and 1."""
    if value is not None and not 0 < value < 1:
        raise typer.BadParameter(f"{value:g} is not a probability between 0 and 1 (e.g. 0.9).")
    return value
