"""The gateway in process, through BentoML's own ASGI app, with fake model services behind it:
unknown fields, the body size limit, forwarded client errors and what the log keeps of them.

No model is trained: each of ``Butler``'s dependencies is a fake that records its calls, so
these tests check what the gateway and BentoML do with a request, not the models.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from bentoml.exceptions import InvalidArgument, NotFound
from starlette.testclient import TestClient

import services.http
from services.http.errors import BENTOML_REQUEST_LOGGER, ClientErrorLogFilter
from services.http.forecast_service import ForecastResult, ModelVersion, PlanAnswer
from services.http.gateway import Butler
from services.http.middleware import MIN_BODY_BYTES

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

AUTH = {"Authorization": "Bearer k1"}
PHONE = "13027517394"
VERSION = ModelVersion(name="butler-forecast-sku-warehouse", alias="champion", version="1",
                       run_id="r")  # fmt: skip


class FakeService:
    """A dependency: ``to_async.<endpoint>(**kwargs)`` records the call and answers (or raises)
    what ``answers[endpoint]`` gives for it."""

    def __init__(self, calls: list, **answers) -> None:
        self.to_async = self
        self._calls, self._answers = calls, answers

    def __getattr__(self, endpoint: str):
        async def call(**kwargs):
            self._calls.append((endpoint, kwargs))
            return self._answers[endpoint](**kwargs)

        return call


def forecast(skus, warehouses, horizon):
    if skus == ["X1"]:
        raise InvalidArgument("skus: unknown SKU 'X1' (not in the store)")
    if skus == ["GONE"]:
        raise NotFound("skus: no such SKU 'GONE'")
    if skus == ["BOOM"]:
        raise RuntimeError(f"secret detail {PHONE}")
    return ForecastResult(model=VERSION, horizon=horizon, series=[], missing=[])


def replenishment(skus, warehouses, service_level, service_measure, moq_scope):
    return PlanAnswer(
        model=VERSION, as_of=None, forecast_start=None, service_level=service_level,
        service_measure=service_measure, plan=[], errors=[],
    )  # fmt: skip


@pytest.fixture(scope="module")
def calls() -> list:
    return []


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, calls: list) -> Iterator[TestClient]:
    """The gateway's ASGI app, started as BentoML starts it, its dependencies faked."""
    fakes = {
        "forecasting": FakeService(calls, forecast=forecast, replenishment=replenishment),
        "identity": FakeService(calls),
        "risk": FakeService(calls, alerts=lambda **_: []),
        "agent": FakeService(calls),
    }
    request_logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    filters = list(request_logger.filters)
    with pytest.MonkeyPatch.context() as mp:
        home = tmp_path_factory.mktemp("gateway") / "home"
        mp.setenv("BUTLER_HOME", str(home))
        mp.setenv("BUTLER_API_KEY", "k1")
        mp.setenv("BUTLER_MAX_BATCH", "2")  # the body limit is its floor, MIN_BODY_BYTES
        # the start-up hook's other work patches BentoML and freezes the heap: not here
        mp.setattr(services.http, "release_request_timers", lambda: None)
        mp.setattr(services.http, "freeze_startup_heap", lambda: None)
        for name, fake in fakes.items():
            # a resolved dependency is what BentoML hands the service (no process started)
            mp.setattr(getattr(Butler.inner, name), "_resolved", fake)
        with TestClient(Butler.to_asgi(), raise_server_exceptions=False) as test_client:
            yield test_client
    request_logger.filters[:] = filters


@pytest.fixture
def log(client: TestClient) -> Iterator[list[logging.LogRecord]]:
    """The records BentoML's request logger writes during the test (its filters applied)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger(BENTOML_REQUEST_LOGGER)
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def text_of(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(levelname)s %(message)s")
    return "\n".join(formatter.format(r) for r in records)


def test_the_served_gateway_quiets_its_client_errors(client):
    filters = logging.getLogger(BENTOML_REQUEST_LOGGER).filters
    assert any(isinstance(f, ClientErrorLogFilter) for f in filters)


def test_a_good_request_is_forwarded(client, calls):
    calls.clear()
    response = client.post("/forecast", json={"skus": ["S1"], "horizon": 3}, headers=AUTH)
    assert response.status_code == 200 and response.json()["horizon"] == 3
    assert calls == [("forecast", {"skus": ["S1"], "warehouses": None, "horizon": 3})]


@pytest.mark.parametrize(("given", "read"), [("fill-rate", "fill_rate"), (" Cycle", "cycle")])
def test_a_service_measure_is_read_as_the_cli_and_readme_spell_it(client, calls, given, read):
    calls.clear()
    response = client.post("/replenishment", json={"service_measure": given}, headers=AUTH)
    assert response.status_code == 200 and response.json()["service_measure"] == read
    assert calls[0][1]["service_measure"] == read
    assert calls[0][1]["moq_scope"] == "warehouse"  # the default, passed on
    wrong = client.post("/replenishment", json={"service_measure": "fillrate"}, headers=AUTH)
    assert wrong.status_code == 400 and "fill_rate" in wrong.text


@pytest.mark.parametrize(
    ("endpoint", "body", "loc", "meant"),
    [
        ("forecast", {"skus": ["S1"], "horizen": 2}, ["horizen"], "horizon"),
        ("forecast", {"skus": ["S1"], "warehouse": ["WH-NOPE"]}, ["warehouse"], "warehouses"),
        ("replenishment", {"sku": ["S1"]}, ["sku"], "skus"),
        ("risk_alerts", {"limt": 5}, ["limt"], "limit"),
        (
            "classify",
            {
                "conversations": [
                    {"session_id": "a", "messages": [{"role": "buyer", "text": "x", "tss": None}]}
                ]
            },
            ["conversations", 0, "messages", 0, "tss"],
            "ts",
        ),
        (
            "match_member",
            {"record": {"record_id": "r1", "mobile": PHONE}},
            ["record", "mobile"],
            None,
        ),
    ],  # fmt: skip
)
def test_an_unknown_field_is_a_400_naming_it_and_nothing_is_forwarded(
    client, calls, log, endpoint, body, loc, meant
):
    calls.clear()
    response = client.post(f"/{endpoint}", json=body, headers=AUTH)
    answer = response.json()
    assert response.status_code == 400 and calls == []
    assert answer["request_id"] == response.headers["x-request-id"]
    assert answer["error"] == "1 validation error for Input"
    (detail,) = answer["detail"]
    assert (detail["type"], detail["loc"]) == ("unknown_field", loc)
    assert f"unknown field `{loc[-1]}`" in detail["msg"]
    if meant:
        assert f"did you mean `{meant}`?" in detail["msg"]
    assert PHONE not in response.text
    # one INFO line: where, status, field and problem type; no value, no traceback
    assert [(r.levelno, r.exc_info) for r in log] == [(logging.INFO, None)]
    assert text_of(log) == (
        f"INFO client error 400 on /{endpoint} [POST]: {'.'.join(map(str, loc))}: unknown_field"
    )


@pytest.mark.parametrize(
    ("skus", "status", "error"),
    [(["X1"], 400, "skus: unknown SKU 'X1' (not in the store)"), (["GONE"], 404, "skus: no such")],
)
def test_a_dependency_client_error_comes_back_with_its_status_and_message(
    client, log, skus, status, error
):
    response = client.post("/forecast", json={"skus": skus}, headers=AUTH)
    assert response.status_code == status and response.json()["error"].startswith(error)
    assert [r.levelno for r in log] == [logging.INFO]
    assert text_of(log) == f"INFO client error {status} on /forecast [POST]: skus: BentoMLException"


def test_a_failure_inside_keeps_its_traceback_in_the_log_and_out_of_the_answer(client, log):
    response = client.post("/forecast", json={"skus": ["BOOM"]}, headers=AUTH)
    assert response.status_code == 500 and "secret" not in response.text
    assert [r.levelno for r in log] == [logging.ERROR]
    assert "Traceback" in text_of(log) and "RuntimeError: secret detail" in text_of(log)


def test_a_body_over_the_limit_is_a_413_naming_it(client, calls):
    calls.clear()
    body = json.dumps({"skus": ["S1"], "pad": "x" * MIN_BODY_BYTES})
    response = client.post("/forecast", content=body, headers=AUTH)
    assert response.status_code == 413 and calls == []
    assert response.json()["error"] == (
        f"request body: {len(body):,} bytes is over the limit of {MIN_BODY_BYTES:,} bytes "
        "per request; send fewer items per request"
    )


def test_a_chunked_body_over_the_limit_is_a_413_and_one_within_it_is_answered(client, calls):
    def chunked(pad: int) -> Iterator[bytes]:
        yield b'{"skus": ["S1"], "horizon": 2, "pad": "'
        for _ in range(pad // 1_000):
            yield b"x" * 1_000
        yield b'"}'

    calls.clear()
    response = client.post("/forecast", content=chunked(MIN_BODY_BYTES + 1_000), headers=AUTH)
    assert response.status_code == 413 and calls == []
    assert f"over the limit of {MIN_BODY_BYTES:,} bytes" in response.json()["error"]
    # within the limit the body reaches BentoML whole: here it is refused for its `pad`
    response = client.post("/forecast", content=chunked(10_000), headers=AUTH)
    assert response.status_code == 400 and response.json()["detail"][0]["loc"] == ["pad"]
