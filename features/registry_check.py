"""Whether the MLflow registry the settings name can be used, asked before any work needs it.

MLflow itself retries an unreachable server for minutes and then reports no model at all,
and a locked, read-only or damaged SQLite registry fails a training run only after the fit.
:func:`registry_problem` asks first, in seconds, and says what is wrong and what to do.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from features.errors import ButlerError
from features.settings import Settings

#: Seconds to wait for a tracking server's first answer, or for a SQLite registry's lock.
PROBE_SECONDS = 5.0

#: The run tag that says, in a few words, which data a model was trained on: written by the
#: training pipelines, shown by `butler models list`.
TRAINED_ON_TAG = "data.trained_on"


class RegistryUnavailableError(ButlerError):
    """The MLflow registry cannot be reached, read or written."""


def check_registry(settings: Settings, *, write: bool = False) -> None:
    """Raise :class:`RegistryUnavailableError` with :func:`registry_problem`'s message."""
    problem = registry_problem(settings, write=write)
    if problem:
        raise RegistryUnavailableError(problem)


def registry_problem(settings: Settings, *, write: bool = False) -> str | None:
    """What keeps the registry of ``settings`` from being read (or written, with
    ``write``), as a message that names the fix; None when nothing does.

    A SQLite registry that does not exist yet is no problem: MLflow creates it.
    """
    uri = settings.tracking_uri
    if uri.startswith(("http://", "https://")):
        return _server_problem(uri)
    if uri.startswith("sqlite:///"):
        return _sqlite_problem(Path(uri.removeprefix("sqlite:///")), write=write)
    return None


def _server_problem(uri: str) -> str | None:
    import httpx

    try:
        httpx.get(f"{uri.rstrip('/')}/health", timeout=PROBE_SECONDS)
    except httpx.HTTPError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return (
            f"Cannot reach the MLflow registry at {uri} ({reason}). Start that server, or set "
            "BUTLER_MLFLOW_TRACKING_URI to one that runs (unset, the registry is mlflow.db in "
            "the Butler home)."
        )
    return None


def _sqlite_problem(path: Path, *, write: bool) -> str | None:
    if not path.exists():
        return None
    mode = "rw" if write else "ro"
    try:
        con = sqlite3.connect(f"file:{path}?mode={mode}", uri=True, timeout=PROBE_SECONDS)
        try:
            con.execute("SELECT count(*) FROM sqlite_master").fetchall()
            if write:
                con.execute("BEGIN IMMEDIATE")
                con.rollback()
        finally:
            con.close()
    except sqlite3.OperationalError as exc:
        message = str(exc)
        if "locked" in message:
            return (
                f"The model registry {path} is locked by another process (a training run?). "
                "Wait for it to finish and try again."
            )
        if "readonly" in message or "read-only" in message or "unable to open" in message:
            return (
                f"The model registry {path} cannot be written ({message}). Give Butler write "
                "access to the Butler home, or use another home."
            )
        return f"The model registry {path} cannot be used: {message}."
    except sqlite3.DatabaseError as exc:
        return (
            f"The model registry {path} is damaged ({exc}). Move it aside, with the "
            "mlartifacts folder beside it, and train the models again."
        )
    return None
