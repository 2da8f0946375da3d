"""Start and stop `bentoml serve` of the gateway as a child process (demo and tests).

`butler serve` runs BentoML in the foreground instead; this is for callers that start the
services, talk to them and stop them again.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from features.errors import ButlerError

SERVICE = "services.http.gateway:Butler"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def server_env(home: Path) -> dict[str, str]:
    """The environment `bentoml serve` runs in for the Butler home ``home``: BentoML keeps
    its own files (the request metrics of every worker) under the home too, unless
    ``BENTOML_HOME`` says where."""
    home = home.resolve()
    return {"BENTOML_HOME": str(home / "bentoml")} | os.environ | {"BUTLER_HOME": str(home)}


def stop_server(server: subprocess.Popen, *, grace: float = 30.0) -> None:
    """Stop a server started in its own session, with every process it started: its
    workers too when the server itself has already exited (a failed start leaves them)."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:  # nothing of the session is left
        server.wait()
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if server.poll() is not None and not _group_alive(server.pid):
            return
        time.sleep(0.1)
    with suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)
    server.wait()


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group ``pgid`` still runs (a zombie counts as gone)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    if not Path("/proc/self/stat").exists():  # no /proc to tell zombies by: alive
        return True
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@contextmanager
def served(
    home: Path,
    api_key: str,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 180.0,
    log: Path | None = None,
) -> Iterator[str]:
    """The gateway served over ``home`` on a free loopback port, until the block ends.

    The server's output goes to ``log`` (default ``serve.log`` in ``home``), a file rather
    than a pipe nobody reads while it runs: a pipe fills after some 64 KiB of log and then
    stops the server mid-write.

    Yields:
        The base URL, once ``/readyz`` answers 200.

    Raises:
        ButlerError: the server exited or was not ready within ``timeout`` seconds (with
            the end of its log).
    """
    port = free_port()
    log = log or Path(home) / "serve.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bentoml",
                "serve",
                SERVICE,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],  # fmt: skip
            env=server_env(Path(home)) | {"BUTLER_API_KEY": api_key} | (env or {}),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _ready(url):
            if server.poll() is not None:
                tail = log.read_bytes()[-2000:].decode("utf-8", "replace")
                raise ButlerError(f"The services exited at start-up (log: {log}):\n{tail}")
            if time.monotonic() > deadline:
                raise ButlerError(
                    f"The services were not ready within {timeout:.0f} s; their log ({log}) "
                    "or `butler serve` over the same home says why (a model missing, or "
                    "trained by another Butler version)."
                )
            time.sleep(0.5)
        yield url
    finally:
        stop_server(server)
