"""Models the services serve, loaded from the MLflow registry by alias.

Training registers each model with ``model.joblib`` (the fitted object with its feature
pipeline) and points the alias of the settings (``champion``) at the new version; services
load that file and nothing else, so serving never re-derives what training learnt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from features.errors import ButlerError
from features.registry_check import check_registry
from features.settings import Settings


class ModelNotRegisteredError(ButlerError):
    """No version of a model carries the alias the services load."""


def load_registered(settings: Settings, name: str, *, train_command: str) -> Any:
    """The model registered as ``name`` with the settings' alias.

    Args:
        settings: runtime settings (tracking URI, alias).
        name: registered model name.
        train_command: the command that registers it, named in the error.

    Raises:
        ModelNotRegisteredError: nothing is registered under that name and alias.
        RegistryUnavailableError: the registry is out of reach, locked or damaged.
    """
    import joblib
    import mlflow
    from mlflow.exceptions import MlflowException

    check_registry(settings)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    uri = f"models:/{name}@{settings.model_alias}"
    try:
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri)
    except MlflowException as exc:
        raise ModelNotRegisteredError(_not_registered(settings, name, train_command)) from exc
    files = list(Path(local).rglob("model.joblib"))
    if not files:
        raise ModelNotRegisteredError(f"{uri} holds no model.joblib; run `{train_command}` again.")
    return joblib.load(files[0])


def registered_version(settings: Settings, name: str) -> dict[str, str]:
    """Which version of ``name`` the settings' alias points at: name, alias, version, run id.

    Raises:
        ModelNotRegisteredError: nothing carries that alias.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    check_registry(settings)
    mlflow.set_tracking_uri(settings.tracking_uri)
    client = mlflow.MlflowClient(
        tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri
    )
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


def _not_registered(settings: Settings, name: str, train_command: str) -> str:
    """Why nothing answers to ``name@alias``: no version at all, or versions without the
    alias (removed, or pointed at a version that is gone)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    uri = f"models:/{name}@{settings.model_alias}"
    client = mlflow.MlflowClient(
        tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri
    )
    try:
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
    except MlflowException:
        versions = []
    if not versions:
        return f"No model is registered as {uri}. Run `{train_command}` first."
    return (
        f"No version of {name} carries the alias @{settings.model_alias} (versions "
        f"{', '.join(map(str, versions))} exist). Point the alias at one, e.g. with MLflow: "
        f"MlflowClient().set_registered_model_alias('{name}', '{settings.model_alias}', "
        f"{versions[-1]}), or run `{train_command}` again."
    )
