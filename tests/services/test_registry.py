"""Loading registered models (what each way of not finding one says), listing their versions
and promoting one."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import mlflow
import pytest

from features.registry_check import RegistryUnavailableError
from features.settings import Settings
from services.registry import (
    ModelNotRegisteredError,
    load_registered,
    model_versions,
    promote,
    registered_version,
)
from training import tracking

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


def test_an_alias_removed_from_a_registered_model_is_told_apart_from_no_model(tmp_path):
    settings = Settings(home=tmp_path / "home")
    with tracking.run(settings, "tests", "tiny"):
        tracking.log_and_register(settings, {"weights": [1, 2]}, name="tiny", alias="champion")
    assert load_registered(settings, "tiny", train_command="butler train tiny") == {
        "weights": [1, 2]
    }

    mlflow.MlflowClient().delete_registered_model_alias("tiny", "champion")
    with pytest.raises(ModelNotRegisteredError) as raised:
        load_registered(settings, "tiny", train_command="butler train tiny")
    said = str(raised.value)
    assert "No version of tiny carries the alias @champion (versions 1 exist)" in said
    assert "`butler models promote tiny 1`" in said

    with pytest.raises(ModelNotRegisteredError, match="No model is registered as models:/none@"):
        load_registered(settings, "none", train_command="butler train none")


def test_a_registry_out_of_reach_is_said_before_any_retry(tmp_path):
    settings = Settings(home=tmp_path / "home", mlflow_tracking_uri="http://127.0.0.1:9")
    with pytest.raises(RegistryUnavailableError, match="Cannot reach the MLflow registry"):
        load_registered(settings, "tiny", train_command="butler train tiny")
    with pytest.raises(RegistryUnavailableError):
        registered_version(settings, "tiny")
    with pytest.raises(RegistryUnavailableError):
        tracking.check_writable(settings)


def _register(settings, model, name, *, promote_it=True, metrics=None):
    with tracking.run(settings, "tests", name):
        if metrics:
            tracking.log_metrics(metrics)
        return tracking.log_and_register(
            settings, model, name=name, alias="champion" if promote_it else None
        )


def _planner_like(version=None):
    """A stand-in registered as butler-planner: only its settings version matters here."""
    from models.intent import IntentConfig

    return SimpleNamespace(config=SimpleNamespace(version=version or IntentConfig().version))


def test_a_version_registered_without_promotion_is_served_only_once_promoted(tmp_path):
    settings = Settings(home=tmp_path / "home")
    first = _register(settings, _planner_like(), "butler-planner", metrics={"cv_accuracy": 0.9})
    second = _register(
        settings, _planner_like(), "butler-planner", promote_it=False, metrics={"cv_accuracy": 0.8}
    )
    assert (second.alias, second.previous, second.uri) == (None, "1", "models:/butler-planner/2")
    assert registered_version(settings, "butler-planner")["version"] == first.version == "1"

    listed = model_versions(settings)
    assert [(v.name, v.version, v.aliases) for v in listed] == [
        ("butler-planner", 2, ()),
        ("butler-planner", 1, ("champion",)),
    ]
    assert [v.metrics for v in listed] == [{"cv_accuracy": 0.8}, {"cv_accuracy": 0.9}]

    done = promote(settings, "butler-planner", 2)
    assert (done.version, done.previous) == (2, 1)
    assert registered_version(settings, "butler-planner")["version"] == "2"
    # and back: a rollback is a promotion of the earlier version
    assert promote(settings, "butler-planner", 1).previous == 2
    assert registered_version(settings, "butler-planner")["version"] == "1"


def test_promote_names_what_does_not_exist_and_refuses_a_version_it_cannot_serve(tmp_path):
    settings = Settings(home=tmp_path / "home")
    with pytest.raises(ModelNotRegisteredError, match="nothing is registered yet"):
        promote(settings, "butler-planner", 1)
    _register(settings, _planner_like(), "butler-planner")
    _register(settings, _planner_like("2000.1.1"), "butler-planner", promote_it=False)
    with pytest.raises(ModelNotRegisteredError, match="registered are butler-planner"):
        promote(settings, "butler-plannr", 1)
    with pytest.raises(ModelNotRegisteredError, match="has no version 7; its versions are 1, 2"):
        promote(settings, "butler-planner", 7)
    with pytest.raises(ModelNotRegisteredError, match="settings 2000.1.1.*butler train planner"):
        promote(settings, "butler-planner", 2)
    assert registered_version(settings, "butler-planner")["version"] == "1"
    with pytest.raises(ModelNotRegisteredError, match="registered are butler-planner"):
        model_versions(settings, "butler-nothing")


@pytest.mark.parametrize(
    ("name", "command"),
    [
        ("butler-chat-risk", "butler train risk"),
        ("butler-identity", "butler train identity"),
        ("butler-forecast-sku-warehouse", "butler train forecast"),
    ],
)
def test_a_model_of_other_settings_or_none_recorded_asks_for_retraining(tmp_path, name, command):
    settings = Settings(home=tmp_path / "home")
    _register(settings, SimpleNamespace(config=SimpleNamespace(version="2000.1.1")), name)
    with pytest.raises(ModelNotRegisteredError, match=f"settings 2000.1.1.*`{command}`"):
        load_registered(settings, name)
    # a forecaster pickled before its settings had a version
    _register(settings, SimpleNamespace(config=SimpleNamespace()), name)
    with pytest.raises(ModelNotRegisteredError, match="no recorded version"):
        load_registered(settings, name)


def test_a_damaged_model_file_is_an_error_that_names_the_fix(tmp_path):
    settings = Settings(home=tmp_path / "home")
    _register(settings, {"weights": [1, 2]}, "tiny")
    for found in (settings.home / "mlartifacts").rglob("model.joblib"):
        found.write_bytes(found.read_bytes()[:10])
    with pytest.raises(ModelNotRegisteredError, match="tiny version 1 cannot be loaded"):
        load_registered(settings, "tiny", train_command="butler train tiny")


def test_a_moved_home_reads_its_models_and_trains_into_itself(tmp_path):
    made = Settings(home=tmp_path / "made")
    _register(made, {"weights": [1]}, "tiny")
    shutil.move(made.home, tmp_path / "moved")
    moved = Settings(home=tmp_path / "moved")
    assert load_registered(moved, "tiny", train_command="x") == {"weights": [1]}

    _register(moved, {"weights": [2]}, "tiny")
    assert load_registered(moved, "tiny", train_command="x") == {"weights": [2]}
    assert not (tmp_path / "made").exists()  # nothing written where the home was made
    names = {e.name for e in mlflow.search_experiments()}
    assert {"tests", f"tests (made in {(tmp_path / 'made').resolve()})"} <= names


def test_a_model_whose_files_are_gone_says_how_to_serve_another(tmp_path):
    settings = Settings(home=tmp_path / "home")
    _register(settings, {"weights": [1]}, "tiny")
    shutil.rmtree(settings.home / "mlartifacts")
    with pytest.raises(ModelNotRegisteredError, match="are gone from .*butler models promote"):
        load_registered(settings, "tiny", train_command="x")
