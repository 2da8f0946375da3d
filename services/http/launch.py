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
from contextlib import contextmanager
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


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@contextmanager
def served(
    home: Path, api_key: str, *, env: dict[str, str] | None = None, timeout: float = 180.0
) -> Iterator[str]:
    """The gateway served over ``home`` on a free loopback port, until the block ends.

    Yields:
        The base URL, once ``/readyz`` answers 200.

    Raises:
        ButlerError: the server exited or was not ready within ``timeout`` seconds (with
            the end of its log).
    """
    port = free_port()
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
        env=os.environ
        | {"BUTLER_HOME": str(home.resolve()), "BUTLER_API_KEY": api_key}
        | (env or {}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while not _ready(url):
            if server.poll() is not None:
                log = server.stderr.read().decode("utf-8", "replace") if server.stderr else ""
                raise ButlerError(f"The services exited at start-up:\n{log[-2000:]}")
            if time.monotonic() > deadline:
                raise ButlerError(
                    f"The services were not ready within {timeout:.0f} s; `butler serve` "
                    "over the same home says why (a model missing, or trained by another "
                    "Butler version)."
                )
            time.sleep(0.5)
        yield url
    finally:
        _stop(server)
