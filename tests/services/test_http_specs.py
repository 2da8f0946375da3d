"""The endpoints' declared shapes, read from the service classes (no server)."""

from __future__ import annotations

import pytest
from _bentoml_sdk.io_models import IORootModel

from services.http.agent_service import Agent
from services.http.forecast_service import Forecasting
from services.http.gateway import Butler
from services.http.identity_service import Identity
from services.http.risk_service import ChatRisk

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("service", [Butler, Forecasting, Identity, ChatRisk, Agent])
def test_every_list_or_dict_answer_names_its_media_type(service):
    # unnamed, BentoML 1.4 generates the answer's JSON schema on every response to find it
    unnamed = [
        name
        for name, api in service.apis.items()
        if issubclass(api.output_spec, IORootModel) and api.output_spec.media_type is None
    ]
    assert unnamed == [], f"annotate these answers as services.http.media.JSON[...]: {unnamed}"


def test_a_named_media_type_leaves_the_answer_schema_alone():
    spec = Butler.apis["classify"].output_spec
    schema = spec.model_json_schema()
    assert spec.mime_type() == "application/json"
    assert schema["type"] == "array"
    assert schema["items"]["$ref"].endswith("RiskResult")
