"""`butler models …`: the registered versions of each model, and which one the services load."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from features.errors import ButlerError
from services._console import _fail, _settings, console

models_app = typer.Typer(
    help="The registered models: list their versions, promote one (or roll back) for serving."
)


@models_app.command("list")
def models_list(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="One model, e.g. butler-chat-risk (default: all).")
    ] = None,
) -> None:
    """Every registered version, newest first: which one the services load (the alias),
    when it was trained and on which data, and the figures of its training run to compare
    versions by.

    Examples:
        butler models list
        butler models list butler-forecast-sku-warehouse
    """
    from services.registry import model_versions

    settings = _settings(ctx)
    try:
        rows = model_versions(settings, name)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    if not rows:
        console.print("No model is registered yet: `butler train …` registers them.")
        return
    table = Table(title=f"Registered models (tracking {escape(settings.tracking_uri)})")
    for column in ("model", "version", "alias", "trained (UTC)", "trained on", "run", "figures"):
        table.add_column(column, justify="right" if column == "version" else "left")
    for row in rows:
        served = settings.model_alias in row.aliases
        table.add_row(
            row.name,
            str(row.version),
            ("[bold green]" if served else "") + escape(", ".join(f"@{a}" for a in row.aliases)),
            row.created.strftime("%Y-%m-%d %H:%M"),
            escape(row.trained_on) or "–",
            row.run_id[:8],
            " · ".join(f"{k.removeprefix('target.')} {v:.4g}" for k, v in row.metrics.items()),
        )
    console.print(table)
    console.print(
        f"The services load the version marked @{settings.model_alias}; "
        "`butler models promote <model> <version>` moves it."
    )


@models_app.command("promote")
def models_promote(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The model, e.g. butler-chat-risk.")],
    version: Annotated[int, typer.Argument(min=1, help="The version to serve.")],
) -> None:
    """Point the alias the services load at a version: one trained with --no-promote, or an
    earlier one to roll back to. The version is loaded once first, as the services will
    load it, and refused if it cannot be served.

    A running `butler serve` keeps the version it loaded until it is restarted.

    Examples:
        butler models promote butler-chat-risk 3
    """
    from services.registry import promote

    settings = _settings(ctx)
    try:
        done = promote(settings, name, version)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    if done.previous == done.version:
        console.print(f"{name} version {version} already is @{done.alias}; nothing changed.")
        return
    said = f"{escape(name)} @{done.alias} is now version {done.version}"
    if done.previous is not None:
        said += (
            f"; it was version {done.previous} (`butler models promote {escape(name)} "
            f"{done.previous}` undoes it)"
        )
    console.print(said + ".")
    console.print("A running `butler serve` keeps the version it loaded until it is restarted.")
