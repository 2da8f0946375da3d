"""Models the services serve, loaded from the MLflow registry by alias, and the alias moved.

Training registers each model with ``model.joblib`` (the fitted object with its feature
pipeline) and points the alias of the settings (``champion``) at the new version, unless told
not to; services load that file and nothing else, so serving never re-derives what training
learnt. :func:`promote` points the alias at another version: a model registered without
promotion, or an earlier one to roll back to.

Each Butler model's settings carry a version (``config.version``); a model whose version is
not this code's is refused with the command that retrains it, not unpickled into a service
that then fails on its first request.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from features.errors import ButlerError
from features.registry_check import TRAINED_ON_TAG, check_registry
from features.settings import Settings

logger = logging.getLogger(__name__)

#: File name of the model object inside a registered version's artifacts.
MODEL_FILE = "model.joblib"
#: Registered names of Butler's models start so (a shared MLflow server may hold others).
PREFIX = "butler-"
#: Folder under the Butler home where the default registry keeps artifacts.
ARTIFACTS = "mlartifacts"


@dataclass(frozen=True, slots=True)
class _Family:
    """What Butler knows of the models registered under a name prefix: the command that
    trains them, the settings class whose ``version`` they must carry (``module:Class``,
    imported only when asked), and the run metrics `butler models list` shows."""

    command: str
    config: str
    headline: tuple[str, ...]


_FAMILIES = {
    "butler-forecast-": _Family(
        "butler train forecast",
        "models.forecast:ForecastConfig",
        ("target.butler_wape", "target.reduction_vs_best_baseline"),
    ),
    "butler-identity": _Family(
        "butler train identity", "models.identity:IdentityConfig", ("accounts", "persons")
    ),
    "butler-chat-risk": _Family(
        "butler train risk",
        "models.chat_risk:RiskConfig",
        ("dev_macro_f1", "dev_micro_f1", "undetected_scenarios"),
    ),
    "butler-planner": _Family(
        "butler train planner", "models.intent:IntentConfig", ("cv_accuracy",)
    ),
}


def _family(name: str) -> _Family | None:
    return next((f for prefix, f in _FAMILIES.items() if name.startswith(prefix)), None)


class ModelNotRegisteredError(ButlerError):
    """No version of a model carries the alias the services load, or the one that does
    cannot be used by this Butler."""


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One registered version of a Butler model, as `butler models list` shows it."""

    name: str
    version: int
    aliases: tuple[str, ...]
    created: datetime
    run_id: str
    metrics: dict[str, float] = field(default_factory=dict)
    trained_on: str = ""  # which data, as its training run says (empty for older runs)


def retrain_command(name: str) -> str:
    """The command that registers a new version of ``name``."""
    family = _family(name)
    return family.command if family else "butler train"


def _config_version(name: str) -> str | None:
    """The settings version this code gives models of ``name``; None for a name it does not
    know (nothing to check). Imports only that model's module."""
    import importlib

    family = _family(name)
    if family is None:
        return None
    module, cls = family.config.split(":")
    return getattr(importlib.import_module(module), cls)().version


def _butler_names(client: Any) -> list[str]:
    """Registered names of Butler's models, sorted (a shared server may hold others)."""
    return sorted(m.name for m in client.search_registered_models() if m.name.startswith(PREFIX))


def _client(settings: Settings) -> Any:
    import mlflow

    check_registry(settings)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return mlflow.MlflowClient(
        tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri
    )


def load_registered(settings: Settings, name: str, *, train_command: str | None = None) -> Any:
    """The model registered as ``name`` with the settings' alias, if this Butler can run it.

    Args:
        settings: runtime settings (tracking URI, alias, home).
        name: registered model name.
        train_command: the command that registers it, named in the errors (default: the
            one of its family, see :func:`retrain_command`).

    Raises:
        ModelNotRegisteredError: nothing carries the alias, its files are gone, or it was
            trained by code whose settings version is not this Butler's.
        RegistryUnavailableError: the registry is out of reach, locked or damaged.
    """
    command = train_command or retrain_command(name)
    client = _client(settings)
    version = _alias_version(client, settings, name, command)
    return _load_version(client, settings, name, version, command)


def _alias_version(client: Any, settings: Settings, name: str, command: str) -> int:
    from mlflow.exceptions import MlflowException

    try:
        return int(client.get_model_version_by_alias(name, settings.model_alias).version)
    except MlflowException as exc:
        raise ModelNotRegisteredError(_not_registered(client, settings, name, command)) from exc


def _load_version(client: Any, settings: Settings, name: str, version: int, command: str) -> Any:
    """Unpickle version ``version`` of ``name`` and check its settings version."""
    import joblib

    label = f"{name} version {version}"
    files = sorted(_version_folder(client, settings, name, version, command).rglob(MODEL_FILE))
    if not files:
        raise ModelNotRegisteredError(f"{label} holds no {MODEL_FILE}; run `{command}` again.")
    try:
        model = joblib.load(files[0])
    except Exception as exc:  # unpickling other code's objects, or a cut file, raises anything
        raise ModelNotRegisteredError(
            f"{label} cannot be loaded by this Butler ({type(exc).__name__}: {exc}): it was "
            f"trained by other code, or its file is damaged. Run `{command}` to retrain it."
        ) from exc
    expected = _config_version(name)
    trained = getattr(getattr(model, "config", None), "version", None)
    if expected is not None and trained != expected:
        said = f"settings {trained}" if trained else "settings of no recorded version"
        raise ModelNotRegisteredError(
            f"{label} (@{settings.model_alias}) was trained with {said}; this Butler uses "
            f"{expected}. Run `{command}` to retrain it."
        )
    return model


def _version_folder(client: Any, settings: Settings, name: str, version: int, command: str) -> Path:
    """The local folder of a version's artifacts: read in place from a file store, found
    under this home's artifacts when the home was moved or copied, downloaded otherwise."""
    import mlflow

    uri = client.get_model_version_download_uri(name, str(version))
    if urlparse(uri).scheme not in ("file", ""):
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version}"))
    path = Path(url2pathname(urlparse(uri).path))
    if path.exists():
        return path
    here = _in_this_home(settings, path)
    if here is None:
        raise ModelNotRegisteredError(
            f"The files of {name} version {version} are gone from {path}. Run `{command}` to "
            f"retrain it, or point @{settings.model_alias} at another version with "
            f"`butler models promote {name} <version>` (`butler models list` shows them)."
        )
    logger.info(
        "%s version %s is read from %s (the home was moved from %s)", name, version, here, path
    )
    return here


def _in_this_home(settings: Settings, path: Path) -> Path | None:
    """``path`` (under some ``…/mlartifacts/``) found under this home's artifacts folder: a
    home moved or copied keeps, in its registry, the artifact paths of where it was made."""
    if settings.mlflow_tracking_uri or ARTIFACTS not in path.parts:
        return None
    parts = path.parts
    last = len(parts) - 1 - parts[::-1].index(ARTIFACTS)
    here = settings.home.resolve() / ARTIFACTS / Path(*parts[last + 1 :])
    return here if here.exists() else None


def registered_version(settings: Settings, name: str) -> dict[str, str]:
    """Which version of ``name`` the settings' alias points at: name, alias, version, run id.

    Raises:
        ModelNotRegisteredError: nothing carries that alias.
    """
    from mlflow.exceptions import MlflowException

    client = _client(settings)
    try:
        found = client.get_model_version_by_alias(name, settings.model_alias)
    except MlflowException as exc:
        raise ModelNotRegisteredError(
            f"No model is registered as models:/{name}@{settings.model_alias}."
        ) from exc
    return {
        "name": name,
        "alias": settings.model_alias,
        "version": str(found.version),
        "run_id": str(found.run_id),
    }


def model_versions(settings: Settings, name: str | None = None) -> list[ModelVersion]:
    """Every registered version of Butler's models (or of ``name``), newest first per model,
    with its aliases and the headline metrics of the run that trained it.

    Raises:
        ModelNotRegisteredError: ``name`` is given and nothing is registered under it.
    """
    from mlflow.exceptions import MlflowException

    client = _client(settings)
    names = _butler_names(client)
    if name is not None:
        if name not in names:
            raise ModelNotRegisteredError(_unknown_name(name, names))
        names = [name]
    rows = []
    for each in names:
        family = _family(each)
        headline = family.headline if family else ()
        # a version found by search does not carry its aliases; the registered model does
        aliases = client.get_registered_model(each).aliases or {}
        for found in client.search_model_versions(f"name='{each}'"):
            try:
                data = client.get_run(found.run_id).data if found.run_id else None
            except MlflowException:  # the run was deleted; the version stays listed
                data = None
            metrics = data.metrics if data else {}
            trained_on = data.tags.get(TRAINED_ON_TAG, "") if data else ""
            rows.append(
                ModelVersion(
                    name=each,
                    version=int(found.version),
                    aliases=tuple(
                        sorted(a for a, v in aliases.items() if int(v) == int(found.version))
                    ),
                    created=datetime.fromtimestamp(found.creation_timestamp / 1000, tz=UTC),
                    run_id=str(found.run_id or ""),
                    metrics={k: float(metrics[k]) for k in headline if k in metrics},
                    trained_on=trained_on,
                )
            )
    return sorted(rows, key=lambda row: (row.name, -row.version))


@dataclass(frozen=True, slots=True)
class Promotion:
    """What :func:`promote` did: ``alias`` moved from ``previous`` (None: unset) to ``version``."""

    name: str
    alias: str
    version: int
    previous: int | None


def promote(settings: Settings, name: str, version: int) -> Promotion:
    """Point the settings' alias of ``name`` at ``version``, after loading that version once
    as the services will (so a version of other code, or whose files are gone, is refused).

    Raises:
        ModelNotRegisteredError: no such model or version, or the version cannot be served.
    """
    from mlflow.exceptions import MlflowException

    client = _client(settings)
    names = _butler_names(client)
    if name not in names:
        raise ModelNotRegisteredError(_unknown_name(name, names))
    versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
    if version not in versions:
        raise ModelNotRegisteredError(
            f"{name} has no version {version}; its versions are {', '.join(map(str, versions))}."
        )
    try:
        previous: int | None = int(
            client.get_model_version_by_alias(name, settings.model_alias).version
        )
    except MlflowException:
        previous = None
    _load_version(client, settings, name, version, retrain_command(name))
    client.set_registered_model_alias(name, settings.model_alias, str(version))
    logger.info("%s @%s: version %s → %s", name, settings.model_alias, previous, version)
    return Promotion(name=name, alias=settings.model_alias, version=version, previous=previous)


def _unknown_name(name: str, names: list[str]) -> str:
    if not names:
        return f"No model is registered as {name}: nothing is registered yet. Run `butler train …`."
    return f"No model is registered as {name}; registered are {', '.join(names)}."


def _not_registered(client: Any, settings: Settings, name: str, command: str) -> str:
    """Why nothing answers to ``name@alias``: no version at all, or versions without the
    alias (removed, or pointed at a version that is gone)."""
    from mlflow.exceptions import MlflowException

    uri = f"models:/{name}@{settings.model_alias}"
    try:
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
    except MlflowException:
        versions = []
    if not versions:
        return f"No model is registered as {uri}. Run `{command}` first."
    return (
        f"No version of {name} carries the alias @{settings.model_alias} (versions "
        f"{', '.join(map(str, versions))} exist). Point the alias at one with `butler models "
        f"promote {name} {versions[-1]}`, or run `{command}` again."
    )
