"""`butler serve`: every registered model over HTTP on localhost, behind one entry point."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Annotated

import typer
from pydantic import SecretStr

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

    Needs BUTLER_API_KEY (clients send `Authorization: Bearer <key>`) and four models
    registered (`butler train forecast`, `butler train identity`, `butler train risk` and
    `butler train planner`; `butler demo` does it all on a sample world, in its own home).
    /readyz, /livez, /healthz, /metrics and /docs.json need no key.

    Examples:
        BUTLER_API_KEY=secret butler serve --port 3000
    """
    from services.http.gateway import check_ready_to_serve
    from services.http.launch import server_env, stop_server

    settings = _settings(ctx)
    try:
        versions = check_ready_to_serve(settings)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    problem = _cannot_listen(host, port)
    if problem:
        raise _fail(f"Cannot serve on {host}:{port}: {problem}. Pick another with --port.")
    for name, version in versions.items():
        console.print(f"{name} version {version['version']} (@{version['alias']})")
    console.print(f"Serving on http://{host}:{port} (OpenAPI: /docs.json). Ctrl-C stops.")
    env = server_env(settings.home)
    command = [sys.executable, "-m", "bentoml", "serve", "services.http.gateway:Butler",
               "--host", host, "--port", str(port)]  # fmt: skip
    # its own session, so that stopping it stops its workers too: on Ctrl-C, and on a
    # SIGTERM or SIGINT sent to this process (a supervisor's or a script's stop), which
    # otherwise left them serving (a shell starts a background job with SIGINT ignored)
    server = subprocess.Popen(command, env=env, start_new_session=True)
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = server.wait()
    except KeyboardInterrupt:
        code = 0
    finally:
        stop_server(server)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    raise typer.Exit(code=code)


def _interrupt(_signum: int, _frame: object) -> None:
    """A SIGTERM or SIGINT handled as Ctrl-C is: the server is stopped on the way out."""
    raise KeyboardInterrupt


def _cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (in use, not this machine's), or None."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def demo_calls(ctx: typer.Context) -> None:
    """Start the services, call each model family once over HTTP, print the answers, stop.

    Uses BUTLER_API_KEY when set, else a one-off key for this run only.
    """
    import json
    import secrets
    import time

    import httpx

    from features.chats import store_conversations
    from features.members import store_members
    from features.store import Store
    from services.http.gateway import check_ready_to_serve
    from services.http.launch import served

    settings = _settings(ctx)
    key = settings.api_key.get_secret_value() if settings.api_key else secrets.token_hex(16)
    try:
        check_ready_to_serve(settings.model_copy(update={"api_key": SecretStr(key)}))
        with Store.open(settings, read_only=True) as store:
            conversation = next(c for c in store_conversations(store) if len(c.buyer_turns()) >= 2)
            member = store_members(store).iloc[0]
            sku = store.sql("SELECT min(sku_id) FROM inventory_snapshots").fetchall()[0][0]
    except (ButlerError, StopIteration) as exc:
        raise _fail(f"Cannot call the services: {exc}") from exc
    record = {"record_id": "demo-signup"} | {
        f: str(member[f]) for f in ("full_name", "phone", "email") if member.get(f) is not None
    }
    calls = {
        "info": {},
        "forecast": {"skus": [sku], "horizon": 4},
        "match_member": {"record": record, "top": 3},
        # why the sign-up scores as it does against the account it was copied from
        "explain_match": {"record": record, "account": str(member["unique_id"])},
        "classify": {"conversations": [conversation.model_dump(mode="json")]},
        "ask": {"question": "上周天猫卖得最好的是哪个？"},
    }
    started = time.monotonic()
    try:
        with served(settings.home, key) as base:
            console.print(f"Services ready on {base} in {time.monotonic() - started:.1f} s.")
            headers = {"Authorization": f"Bearer {key}"}
            for endpoint, body in calls.items():
                t0 = time.perf_counter()
                response = httpx.post(f"{base}/{endpoint}", json=body, headers=headers, timeout=60)
                ms = (time.perf_counter() - t0) * 1000
                console.print(f"[bold]POST /{endpoint}[/] → {response.status_code} in {ms:.0f} ms")
                console.print(_short(json.dumps(response.json(), ensure_ascii=False)), markup=False)
    except ButlerError as exc:
        raise _fail(str(exc)) from exc
    console.print("Services stopped.")


def _short(text: str, width: int = 400) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
