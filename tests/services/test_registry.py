"""Loading registered models: what each way of not finding one says."""

from __future__ import annotations

import mlflow
import pytest

from features.registry_check import RegistryUnavailableError
from features.settings import Settings
from services.registry import ModelNotRegisteredError, load_registered, registered_version
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
    assert "set_registered_model_alias('tiny', 'champion', 1)" in said

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
