"""The endpoints' declared shapes, read from the service classes (no server)."""

from __future__ import annotations

import json

import pytest
from _bentoml_sdk.io_models import IORootModel
from pydantic import ValidationError

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


SERVICES = [Butler, Forecasting, Identity, ChatRisk, Agent]
ENDPOINTS = [(service, name) for service in SERVICES for name in service.apis]


def _errors(service, endpoint: str, body: dict) -> list[dict]:
    spec = service.apis[endpoint].input_spec
    with pytest.raises(ValidationError) as raised:
        spec.model_validate_json(json.dumps(body))
    return raised.value.errors(include_url=False, include_context=False, include_input=False)


@pytest.mark.parametrize(("service", "endpoint"), ENDPOINTS, ids=lambda x: getattr(x, "name", x))
def test_every_endpoint_refuses_a_field_it_does_not_take(service, endpoint):
    errors = _errors(service, endpoint, {"zz_not_a_field": 1})
    (unknown,) = [e for e in errors if e["type"] == "unknown_field"]
    assert unknown["loc"] == ("zz_not_a_field",)
    fields = list(service.apis[endpoint].input_spec.model_fields)
    assert unknown["msg"].startswith("unknown field `zz_not_a_field`; ")
    assert unknown["msg"].endswith(
        f"the fields are {', '.join(fields)}" if fields else "it takes no fields"
    )


@pytest.mark.parametrize(("service", "endpoint"), ENDPOINTS, ids=lambda x: getattr(x, "name", x))
def test_the_openapi_document_says_no_other_fields(service, endpoint):
    assert service.apis[endpoint].input_spec.model_json_schema()["additionalProperties"] is False


@pytest.mark.parametrize(
    ("endpoint", "body", "loc", "msg"),
    [
        ("forecast", {"skus": ["S1"], "horizen": 2}, ("horizen",), "did you mean `horizon`?"),
        ("forecast", {"skus": ["S1"], "warehouse": ["W"]}, ("warehouse",), "`warehouses`?"),
        ("replenishment", {"sku": ["S1"]}, ("sku",), "did you mean `skus`?"),
        ("risk_alerts", {"limt": 5}, ("limt",), "did you mean `limit`?"),
        ("ask", {"question": "hi", "conversation": "c1"}, ("conversation",), "`conversation_id`?"),
        ("sales", {"sku": ["S1"]}, ("sku",), "did you mean `skus`?"),
        (
            "match_member",
            {"record": {"record_id": "r1", "mobile": "13027517394"}},
            ("record", "mobile"),
            "unknown field `mobile`; the fields are record_id, full_name,",
        ),
        (
            "resolve_members",
            {"records": [{"record_id": "r1", "phone": "1"}, {"record_id": "r2", "fone": "2"}]},
            ("records", 1, "fone"),
            "did you mean `phone`?",
        ),
    ],
)
def test_a_misspelt_field_is_named_with_the_field_meant(endpoint, body, loc, msg):
    (error,) = _errors(Butler, endpoint, body)
    assert (error["type"], error["loc"]) == ("unknown_field", loc) and msg in error["msg"]


def test_unknown_fields_are_reported_with_the_other_errors():
    errors = _errors(Butler, "match_member", {"record": {"record_id": "r1", "mob": "1"},
                                              "top": 0, "topp": 3})  # fmt: skip
    assert [(e["type"], e["loc"]) for e in errors] == [
        ("unknown_field", ("record", "mob")),
        ("greater_than_equal", ("top",)),
        ("unknown_field", ("topp",)),
    ]
    assert errors[1]["msg"] == "Input should be greater than or equal to 1"


def test_known_fields_and_defaults_are_unchanged():
    spec = Butler.apis["forecast"].input_spec
    assert spec.__name__ == "Input"  # BentoML's error title: "1 validation error for Input"
    parsed = spec.model_validate_json(b'{"skus": ["S1"]}')
    assert (parsed.skus, parsed.warehouses, parsed.horizon) == (["S1"], None, 8)
    assert Butler.apis["info"].input_spec.model_validate_json(b"{}") is not None


@pytest.mark.parametrize(
    ("endpoint", "body", "loc"),
    [
        ("forecast", {"skus": ["S1"], "horizon": True}, ("horizon",)),
        ("risk_alerts", {"limit": True}, ("limit",)),
        ("match_member", {"record": {"record_id": "r1"}, "top": False}, ("top",)),
    ],
)
def test_true_or_false_for_a_number_is_refused_not_read_as_1_or_0(endpoint, body, loc):
    # pydantic reads JSON true as 1 in an int field: {"horizon": true} was a 1-week forecast
    (error,) = _errors(Butler, endpoint, body)
    assert (error["type"], error["loc"]) == ("number_type", loc)
    assert error["msg"] == "must be a number, not true or false"
    spec = Butler.apis["forecast"].input_spec
    assert spec.model_validate_json(b'{"skus": ["S1"], "horizon": 3}').horizon == 3
