"""`butler serve`: every registered model over HTTP on localhost, behind one entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Annotated

import typer

from features.errors import ButlerError
from services._console import _fail, _settings, console


def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 3000,
    host: Annotated[str, typer.Option(help="Interface to bind (localhost by default).")] = (
        "127.0.0.1"
    ),
) -> None:
    """Serve the models registered under the Butler home (BentoML), until Ctrl-C.

    Needs BUTLER_API_KEY (clients send `Authorization: Bearer <key>`) and the three model
    families registered (`butler train forecast`, `butler train identity`, `butler train
    risk`, or `butler demo`). /readyz, /livez, /metrics and /docs.json need no key.

    Examples:
        BUTLER_API_KEY=secret butler serve --port 3000
    """
    from services.http.gateway import check_ready_to_serve

    settings = _settings(ctx)
    try:
        versions = check_ready_to_serve(settings)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    for name, version in versions.items():
        console.print(f"{name} version {version['version']} (@{version['alias']})")
    console.print(f"Serving on http://{host}:{port} (OpenAPI: /docs.json). Ctrl-C stops.")
    env = os.environ | {"BUTLER_HOME": str(settings.home.resolve())}
    command = [sys.executable, "-m", "bentoml", "serve", "services.http.gateway:Butler",
               "--host", host, "--port", str(port)]  # fmt: skip
    try:
        code = subprocess.call(command, env=env)
    except KeyboardInterrupt:
        code = 0
    raise typer.Exit(code=code)
