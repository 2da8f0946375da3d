"""Experiment tracking and the model registry: the only module that imports mlflow.

The default backend is a SQLite file under the Butler home (``settings.tracking_uri``) with
artifacts beside it in ``home/mlartifacts``; set ``BUTLER_MLFLOW_TRACKING_URI`` to use an
MLflow server instead. A fitted model is logged as an MLflow pyfunc whose artifact
``model.joblib`` is the model object itself (feature pipeline and estimator together), so a
service can load it with joblib without importing ``training``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import mlflow
import mlflow.pyfunc

from features.registry_check import TRAINED_ON_TAG, check_registry
from features.settings import Settings

logger = logging.getLogger(__name__)

#: File name of the model object inside a logged model's artifacts.
MODEL_FILE = "model.joblib"
#: Folder under the Butler home where the default registry keeps artifacts.
ARTIFACTS = "mlartifacts"


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A registered model version; ``alias`` is None when it was registered without moving
    the alias the services load (``previous`` is the version that alias stays on, if any)."""

    name: str
    version: str
    alias: str | None
    run_id: str
    uri: str
    previous: str | None = None


def check_writable(settings: Settings) -> None:
    """Before a training run's work: the registry it will register into can be written.

    Raises:
        RegistryUnavailableError: it is out of reach, locked, read-only or damaged.
    """
    check_registry(settings, write=True)


def _mlflow(settings: Settings) -> Any:
    settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    return mlflow


def _experiment(mlflow: Any, settings: Settings, name: str) -> str:
    found = mlflow.get_experiment_by_name(name)
    location = None
    if settings.tracking_uri.startswith("sqlite:"):
        location = (settings.home / ARTIFACTS).resolve().as_uri()
    moved = settings.mlflow_tracking_uri is None and location is not None
    if found is not None and moved and _elsewhere(found, location):
        # a home moved or copied keeps, in its registry, the artifact folder of where it was
        # made: new runs would write there (into the other home). The experiment keeps its
        # runs under a name that says so, and a new one writes under this home.
        made_in = url2pathname(urlparse(found.artifact_location).path).removesuffix("/" + ARTIFACTS)
        mlflow.MlflowClient().rename_experiment(
            found.experiment_id, _free_name(mlflow, f"{name} (made in {made_in})")
        )
        logger.warning(
            "experiment %s wrote its files under %s, not this home; its runs stay listed as "
            "'%s (made in …)', new runs go to a new %s",
            name,
            found.artifact_location,
            name,
            name,
        )
        found = None
    if found is not None:
        return found.experiment_id
    return mlflow.create_experiment(name, artifact_location=location)


def _elsewhere(experiment: Any, location: str) -> bool:
    """Whether a local experiment keeps its files outside ``location`` (this home's)."""
    where = str(experiment.artifact_location or "")
    return where.startswith("file:") and where.rstrip("/") != location.rstrip("/")


def _free_name(mlflow: Any, name: str) -> str:
    taken, n = name, 1
    while mlflow.get_experiment_by_name(taken) is not None:
        n += 1
        taken = f"{name} {n}"
    return taken


@contextmanager
def run(settings: Settings, experiment: str, run_name: str) -> Iterator[str]:
    """Open an MLflow run; yields its id. Tags it with the git commit when there is one."""
    mlflow = _mlflow(settings)
    experiment_id = _experiment(mlflow, settings, experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as active:
        sha = _git_sha()
        if sha:
            mlflow.set_tag("git_sha", sha)
        yield active.info.run_id


def log_params(params: Mapping[str, Any]) -> None:
    """Log parameters (values longer than MLflow's limit are cut)."""
    mlflow.log_params({k: str(v)[:500] for k, v in params.items()})


def log_metrics(metrics: Mapping[str, float]) -> None:
    """Log numeric metrics; None and NaN are skipped."""
    import math

    clean = {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and v is not None and not math.isnan(float(v))
    }
    mlflow.log_metrics(clean)


def log_tags(tags: Mapping[str, str]) -> None:
    """Tag the active run."""
    mlflow.set_tags(dict(tags))


def log_trained_on(description: str) -> None:
    """Say which data the active run's model was trained on ("sales 2024-01-01 … 2025-12-28,
    112 series"): `butler models list` shows it beside each version."""
    mlflow.set_tag(TRAINED_ON_TAG, description[:500])


def log_artifact(path: str | Path, folder: str | None = None) -> None:
    """Attach a file to the active run."""
    mlflow.log_artifact(str(path), artifact_path=folder)


def log_figure(figure: Any, name: str) -> None:
    """Attach a matplotlib figure to the active run as an image, then close it."""
    import matplotlib.pyplot as plt

    mlflow.log_figure(figure, name)
    plt.close(figure)


def log_dict(data: Mapping[str, Any], name: str) -> None:
    """Attach a JSON document to the active run."""
    mlflow.log_dict(dict(data), name)


def log_and_register(
    settings: Settings, model: Any, *, name: str, alias: str | None
) -> RegisteredModel:
    """Log ``model`` to the active run, register a new version of ``name``, move ``alias``.

    Args:
        settings: runtime settings (tracking URI).
        model: the fitted model object (picklable with joblib).
        name: registered model name, e.g. ``butler-forecast``.
        alias: alias to point at the new version; None registers it and leaves the alias
            where it is (``butler models promote`` moves it later).

    Returns:
        The registered version.
    """
    import joblib

    mlflow = _mlflow(settings)
    active = mlflow.active_run()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / MODEL_FILE
        joblib.dump(model, path)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=JoblibModel(),
            artifacts={"model": str(path)},
            pip_requirements=[],
        )
    version = mlflow.register_model(info.model_uri, name)
    client = mlflow.MlflowClient()
    kept = None
    if alias is None:
        try:
            kept = str(client.get_model_version_by_alias(name, settings.model_alias).version)
        except mlflow.exceptions.MlflowException:
            kept = None
        logger.info("registered %s version %s (not promoted)", name, version.version)
    else:
        client.set_registered_model_alias(name, alias, version.version)
        logger.info("registered %s version %s as @%s", name, version.version, alias)
    return RegisteredModel(
        name=name,
        version=str(version.version),
        alias=alias,
        run_id=active.info.run_id if active else "",
        uri=f"models:/{name}@{alias}" if alias else f"models:/{name}/{version.version}",
        previous=kept,
    )


def _git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
            cwd=os.getcwd(),
        )
    except OSError:
        return None
    return out.stdout.strip() or None


class JoblibModel(mlflow.pyfunc.PythonModel):
    """The pyfunc face of a logged model: loads ``model.joblib``, forwards ``predict``.

    ``predict`` takes a list with one request holding the horizon (``[{"h": 8}]``) and returns
    the forecaster's long frame; services load ``model.joblib`` directly instead.
    """

    def load_context(self, context: Any) -> None:
        import joblib

        self.model = joblib.load(context.artifacts["model"])

    # MLflow reads the input type hint as the model's input schema: a list of requests
    def predict(  # noqa: ANN201 - MLflow validates return hints it cannot express here
        self,
        context: Any,  # noqa: ARG002
        model_input: list[dict[str, int]],
        params: dict[str, Any] | None = None,  # noqa: ARG002
    ):
        h = int(model_input[0].get("h", 8)) if model_input else 8
        return self.model.predict(h)
