"""The chat risk HTTP service in process, through BentoML's own ASGI app: what a conversation
may carry over HTTP (declared keys only, a known platform, a session id) and what it gets back.

The registered model is replaced by a small classifier fitted here (no MLflow, no store).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from bentoml._internal.server.metrics.prometheus import PrometheusClient
from prometheus_client import CollectorRegistry
from pydantic import ValidationError
from starlette.testclient import TestClient

import services.http
import services.http.risk_service as risk_service
from features.chats import ChatMessage, Conversation, parse_conversation_lines
from features.schema.vocab import ChatRole, Platform
from models.chat_risk import RiskClassifier
from services.http.errors import BENTOML_REQUEST_LOGGER
from services.http.risk_service import ChatRisk, StrictConversation

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

COMPLAINT = ["我要去12315投诉你们", "再不处理我就打12315", "我要投诉你们", "我去消协投诉你们"]
PLAIN = ["请问什么时候发货", "有没有红色的", "这个尺码合适吗", "好的谢谢", "可以开发票吗"]
SPEC = ChatRisk.apis["classify_batch"].input_spec


def _conversation(session_id: str, *texts: str, platform: str | None = "jd") -> Conversation:
    messages = [ChatMessage(role=ChatRole.BUYER, text=t) for t in texts]
    return Conversation(session_id=session_id, platform=platform, messages=messages)


def _body(*conversations: dict) -> dict:
    return {"conversations": list(conversations)}


def _conv(session_id: str = "S1", text: str = "我要投诉你们", **fields: object) -> dict:
    return {"session_id": session_id, "messages": [{"role": "buyer", "text": text}], **fields}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The chat risk service's ASGI app, started as BentoML starts it, with a small model."""
    training = [
        _conversation(f"T{i}", PLAIN[i % len(PLAIN)], (COMPLAINT + PLAIN)[i % 9]) for i in range(45)
    ]
    model = RiskClassifier().fit(training)
    registry = CollectorRegistry()
    request_logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    filters = list(request_logger.filters)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BUTLER_HOME", str(tmp_path_factory.mktemp("risk_http") / "home"))
        mp.setattr(risk_service, "load_risk_model", lambda settings: model)
        mp.setattr(risk_service, "registered_version", lambda settings, name: {"version": "1"})
        # the start-up hook's other work patches BentoML and freezes the heap: not here
        mp.setattr(services.http, "release_request_timers", lambda: None)
        mp.setattr(services.http, "freeze_startup_heap", lambda: None)
        # BentoML registers each app's request metrics in prometheus' process-wide registry
        # on its first request, under one name: a second app in this process (the gateway's,
        # tests/services/test_http_gateway.py) would collide with this one
        mp.setattr(PrometheusClient, "registry", property(lambda _self: registry))
        with TestClient(ChatRisk.to_asgi(), raise_server_exceptions=False) as test_client:
            yield test_client
    request_logger.filters[:] = filters


def _classify(client: TestClient, body: dict):
    return client.post("/classify_batch", json=body)


# -- strict over HTTP, lenient in files ----------------------------------------------------------


@pytest.mark.parametrize(
    ("conversation", "loc", "meant"),
    [
        (
            {"session_id": "S1", "messages": [{"role": "buyer", "txt": "我要投诉"}]},
            ["conversations", 1, "messages", 0, "txt"],
            "text",
        ),
        (
            {"session_id": "S1", "messages": [{"role": "buyer", "text": "好", "time": "x"}]},
            ["conversations", 1, "messages", 0, "time"],
            None,
        ),
        (_conv(platfrom="jd"), ["conversations", 1, "platfrom"], "platform"),
        (_conv(shop="S"), ["conversations", 1, "shop"], "shop_id"),
    ],
)
def test_a_key_a_conversation_does_not_declare_is_a_400_naming_it(client, conversation, loc, meant):
    response = _classify(client, _body(_conv("ok"), conversation))
    assert response.status_code == 400
    details = response.json()["detail"]
    unknown = [d for d in details if d["type"] == "unknown_field"]
    assert [d["loc"] for d in unknown] == [loc]
    assert unknown[0]["msg"].startswith(f"unknown field `{loc[-1]}`")
    if meant:
        assert f"(did you mean `{meant}`?)" in unknown[0]["msg"]
    fields = "role, text, ts" if "messages" in loc else "session_id, platform, shop_id, messages"
    assert unknown[0]["msg"].endswith(f"the fields are {fields}")


def test_the_same_line_is_read_from_a_file_its_extra_keys_ignored():
    conversation = {
        "session_id": "S1",
        "platform": "jd",
        "ticket": "T-7",
        "messages": [{"role": "buyer", "text": "我要投诉", "txt": "x", "msg_id": 3}],
    }
    [(_, read)] = list(parse_conversation_lines([json.dumps(conversation, ensure_ascii=False)]))
    assert isinstance(read, Conversation) and read.messages[0].text == "我要投诉"
    with pytest.raises(ValidationError) as raised:
        SPEC.model_validate_json(json.dumps(_body(conversation)))
    errors = raised.value.errors()
    assert sorted(tuple(e["loc"]) for e in errors) == [
        ("conversations", 0, "messages", 0, "msg_id"),
        ("conversations", 0, "messages", 0, "txt"),
        ("conversations", 0, "ticket"),
    ]
    assert {e["type"] for e in errors} == {"unknown_field"}


def test_conversations_built_in_process_pass_as_they_are():
    # the gateway and the agent hand the service Conversation objects, not JSON
    built = _conversation("S1", "我要投诉你们")
    [strict] = SPEC.from_inputs([built]).conversations
    assert isinstance(strict, StrictConversation)
    assert strict.model_dump() == built.model_dump()


# -- platform and session id ------------------------------------------------------------------


def test_an_unknown_platform_is_a_400_naming_it_and_the_known_ones(client):
    response = _classify(client, _body(_conv(platform="amazon")))
    assert response.status_code == 400
    (detail,) = response.json()["detail"]
    known = ", ".join(p.value for p in Platform.channels())
    assert (detail["type"], detail["loc"]) == ("unknown_platform", ["conversations", 0, "platform"])
    assert detail["msg"] == (
        f"unknown platform 'amazon'; use one of {known}, or leave it out (null) when the "
        "channel is not known"
    )


@pytest.mark.parametrize("session_id", ["", "   "])
def test_a_blank_session_id_is_a_400_saying_what_to_send(client, session_id):
    response = _classify(client, _body(_conv(session_id)))
    assert response.status_code == 400
    (detail,) = response.json()["detail"]
    assert (detail["type"], detail["loc"]) == (
        "blank_session_id",
        ["conversations", 0, "session_id"],
    )
    assert detail["msg"] == "must not be empty or blank; give the conversation's session id"


def test_a_good_request_is_answered_with_the_platform_and_session_as_read(client):
    body = _body(
        _conv(" S1 ", "我要去12315投诉你们", platform="TMALL "),
        _conv("S2", "请问什么时候发货", platform=None),
        _conv("S3", "有没有红色的"),
    )
    response = _classify(client, body)
    assert response.status_code == 200, response.text
    answers = response.json()
    assert [(a["session_id"], a["platform"]) for a in answers] == [
        ("S1", "tmall"),
        ("S2", None),
        ("S3", None),
    ]
    assert [r["scenario"] for r in answers[0]["risks"]] == ["complaint_threat"]
    assert answers[1]["risks"] == []


def test_characters_that_show_nothing_do_not_move_the_answer(client):
    clean = _classify(client, _body(_conv("S1", "我要去12315投诉你们")))
    pasted = _classify(client, _body(_conv("S1", "\ufeff我要去12315投\u200b诉\u00ad你们\u2060")))
    assert clean.status_code == pasted.status_code == 200
    assert clean.json() == pasted.json()
    assert clean.json()[0]["risks"] != []


def test_roles_times_and_texts_are_read_over_http_as_in_files(client):
    # the request model is the file contract's: 买家/客服, a null text, an unread time
    messages = [
        {"role": "客服", "text": "亲,在的", "ts": ""},
        {"role": "买家", "text": None, "ts": "2024/1/5 8:03"},
        {"role": "BUYER", "text": "我要去12315投诉你们", "ts": "soon"},
    ]
    response = _classify(client, _body({"session_id": 7, "messages": messages}))
    assert response.status_code == 200, response.text
    [answer] = response.json()
    assert answer["session_id"] == "7"
    assert [(r["scenario"], r["evidence"]) for r in answer["risks"]] == [("complaint_threat", [2])]
