"""The real server: `bentoml serve` of the gateway in a subprocess, called over HTTP.

One Butler home is built for the module — the sales world, a member list, chats, and the
three model families trained small and registered — and the server is started on a free
loopback port with an API key and a small batch limit. Every endpoint is called for its
happy path and its bad inputs; a model promoted in the registry is served after a restart.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from features.settings import Settings
from features.store import Store
from models.forecast import ForecastConfig, WeeklyDemandForecaster, registered_name
from services.cli import app
from services.http.launch import served
from services.http.middleware import max_body_bytes
from services.registry import ModelNotRegisteredError

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

KEY = "test-key"
MAX_BATCH = 50
SERVER_ENV = {"BUTLER_MAX_BATCH": str(MAX_BATCH), "OMP_NUM_THREADS": "1"}
AUTH = {"Authorization": f"Bearer {KEY}"}
CFG = ForecastConfig(n_estimators=20, n_jobs=1, calibration_weeks=4, min_child_samples=10)

FAMILY = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵"]
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋"]


def _members(store: Store) -> None:
    rng = np.random.default_rng(3)
    rows = []
    for p in range(60):
        name = FAMILY[p % 8] + GIVEN[(p * 7) % 10] + GIVEN[p % 10]
        phone = f"139{rng.integers(10**7, 10**8)}"
        for k, platform in enumerate(["tmall", "jd", "douyin"][: 1 + p % 3]):
            rows.append(
                {
                    "platform": platform,
                    "platform_user_id": f"u{p}-{k}",
                    "full_name": name,
                    "phone": phone if k != 2 else phone[:3] + "****" + phone[-4:],
                    "email": f"user{p}@example.com" if k == 0 else None,
                    "birth_date": pd.Timestamp(f"19{70 + p % 25}-0{1 + p % 9}-1{p % 9}").date(),
                    "raw": "{}",
                    "source_file": "test",
                }
            )
    frame = pd.DataFrame(rows)
    store.con.register("m_in", frame)
    store.sql(f"INSERT INTO members ({', '.join(frame.columns)}) SELECT * FROM m_in")


def _register_forecaster(settings: Settings) -> None:
    from features.forecast import store_panel
    from training import tracking

    with Store.open(settings, read_only=True) as store:
        panel = store_panel(store)
    model = WeeklyDemandForecaster(CFG).fit(panel)
    with tracking.run(settings, "forecast", run_name="test-http-server"):
        tracking.log_and_register(
            settings, model, name=registered_name("sku_warehouse"), alias=settings.model_alias
        )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, sales_world, chat_world) -> Path:
    from training.identity import train as train_identity
    from training.planner import train_planner
    from training.risk import train as train_risk

    settings = Settings(home=tmp_path_factory.mktemp("served") / "home")
    with Store.open(settings) as store:
        sales_world.write(store)
        _members(store)
        chat_world.write(store, 90)
    _register_forecaster(settings)
    train_identity(settings)
    train_risk(settings)
    train_planner(settings)
    return settings.home


@pytest.fixture(scope="module")
def url(home: Path) -> Iterator[str]:
    with served(home, KEY, env=SERVER_ENV) as base:
        yield base


def post(url: str, endpoint: str, body: dict, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{url}/{endpoint}", json=body, headers=AUTH if headers is None else headers,
                      timeout=60)  # fmt: skip


def _error(response: httpx.Response) -> str:
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    return str(body["error"]) + str(body.get("detail", ""))


# -- auth, health, the OpenAPI document -------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_every_endpoint_needs_the_key(url, headers):
    for endpoint in ("info", "classify", "forecast", "match_member", "sales", "ask"):
        response = post(url, endpoint, {}, headers=headers)
        assert response.status_code == 401, endpoint
        assert "Bearer" in _error(response)


def test_health_readiness_metrics_and_the_openapi_document_are_open(url):
    for path in ("readyz", "livez", "metrics"):
        assert httpx.get(f"{url}/{path}", timeout=10).status_code == 200, path
    spec = httpx.get(f"{url}/docs.json", timeout=10).json()
    for endpoint in ("classify", "forecast", "replenishment", "match_member", "resolve_members",
                     "risk_alerts", "sales", "hot_items", "oversell_risk", "info",
                     "ask"):  # fmt: skip
        operation = spec["paths"][f"/{endpoint}"]["post"]
        assert "requestBody" in operation and "200" in operation["responses"], endpoint


def test_info_reports_every_model_version(url):
    info = post(url, "info", {}).json()
    assert info["chat_risk"]["name"] == "butler-chat-risk"
    assert info["forecasting"]["name"] == "butler-forecast-sku-warehouse"
    assert info["identity"]["name"] == "butler-identity"
    assert info["planner"]["name"] == "butler-planner"  # the agent's offline answers
    assert {m["alias"] for m in info.values()} == {"champion"}


# -- chat risk ----------------------------------------------------------------------------------


def _conversation(text: str, session: str = "c1", role: str = "buyer") -> dict:
    return {"session_id": session, "platform": "jd",
            "messages": [{"role": "buyer", "text": "请问什么时候发货"},
                         {"role": role, "text": text}]}  # fmt: skip


def test_classify_returns_risks_with_evidence(url):
    pair = [_conversation("再不处理我就打12315投诉你们"), _conversation("好的谢谢", "c2")]
    response = post(url, "classify", {"conversations": pair})
    assert response.status_code == 200 and response.headers["x-request-id"]
    first, second = response.json()
    risk = next(r for r in first["risks"] if r["scenario"] == "complaint_threat")
    assert risk["evidence"] == [1] and risk["severity"] == "high"
    assert second["risks"] == [] and first["risk_score"] > second["risk_score"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"conversations": []}, "conversations"),
        (
            {"conversations": [_conversation("x", f"s{i}") for i in range(MAX_BATCH + 1)]},
            "conversations",
        ),  # fmt: skip
        ({"conversations": [_conversation("x", role="narrator")]}, "role"),
        ({"conversations": [_conversation("字" * 5_001)]}, "text"),
        ({"conversations": [{"session_id": "x", "messages": []}]}, "messages"),
        ({"conversations": "not a list"}, "conversations"),
    ],
)
def test_bad_classify_requests_get_a_400_naming_the_field(url, body, field):
    response = post(url, "classify", body)
    assert response.status_code == 400
    assert field in _error(response)


def test_risk_alerts_are_listed(url):
    response = post(url, "risk_alerts", {"status": "all", "limit": 5})
    assert response.status_code == 200 and isinstance(response.json(), list)
    assert post(url, "risk_alerts", {"status": "closed"}).status_code == 400
    asked = {"status": "all", "severity": "high", "platforms": ["京东", "tmall"],
             "since": "2020-01-01", "limit": 1000}  # fmt: skip
    narrowed = post(url, "risk_alerts", asked)
    assert narrowed.status_code == 200, narrowed.text
    for alert in narrowed.json():
        assert alert["severity"] == "high" and alert["platform"] in ("jd", "tmall")
        assert alert["last_message_at"] >= "2019-12-31" and alert["model_version"]
        assert alert["raised_at"].endswith("Z") and alert["last_message_at"].endswith("Z")
        assert dt.datetime.fromisoformat(alert["last_message_at"]).tzinfo == dt.UTC
    assert post(url, "risk_alerts", {"platforms": ["亚马逊"]}).status_code == 400
    assert post(url, "risk_alerts", {"scenarios": ["fire"]}).status_code == 400
    backwards = {"since": "2025-12-31", "until": "2025-12-01"}
    assert post(url, "risk_alerts", backwards).status_code == 400


# -- forecasting and replenishment --------------------------------------------------------------


def test_forecast_and_replenishment(url, sales_world):
    sku = str(sales_world.skus["sku_id"].iloc[0])
    response = post(url, "forecast", {"skus": [sku], "horizon": 4})
    assert response.status_code == 200
    answer = response.json()
    assert answer["model"]["name"] == "butler-forecast-sku-warehouse"
    weeks = answer["series"][0]["weeks"]
    assert len(weeks) == 4 and all(w["p50"] <= w["p80"] <= w["p90"] <= w["p95"] for w in weeks)
    plan = post(url, "replenishment", {"skus": [sku]})
    assert plan.status_code == 200 and {"plan", "errors"} <= set(plan.json())


def test_a_burst_through_one_dependency_keeps_its_connections(url, home, sales_world):
    # BentoML's client closed its session to a dependency every 100 calls by default, with
    # other calls still in flight on it: they lost their connection and were repeated
    import asyncio

    sku = str(sales_world.skus["sku_id"].iloc[0])

    async def burst() -> list[httpx.Response]:
        limit = asyncio.Semaphore(16)
        async with httpx.AsyncClient(headers=AUTH, timeout=60) as client:

            async def one() -> httpx.Response:
                async with limit:
                    return await client.post(f"{url}/forecast", json={"skus": [sku]})

            return await asyncio.gather(*(one() for _ in range(250)))

    assert {r.status_code for r in asyncio.run(burst())} == {200}
    assert "lost its connection" not in (home / "serve.log").read_text(errors="replace")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"skus": ["NO-SUCH-SKU"]}, "NO-SUCH-SKU"),
        ({"skus": []}, "skus"),
        ({"skus": ["A"], "horizon": 14}, "horizon"),
        ({"skus": ["A"], "horizon": "soon"}, "horizon"),
    ],
)
def test_bad_forecast_requests_get_a_400_naming_the_problem(url, body, field):
    response = post(url, "forecast", body)
    assert response.status_code == 400
    assert field in _error(response)


# -- member identity ----------------------------------------------------------------------------


def test_match_and_resolve_members(url):
    known = {"record_id": "new-1", "full_name": "王强伟", "email": "user0@example.com"}
    response = post(url, "match_member", {"record": known})
    assert response.status_code == 200
    answer = response.json()
    assert answer["candidates"] and "full_name" not in str(answer)
    best = answer["candidates"][0]
    why = post(url, "explain_match", {"record": known, "account": best["unique_id"]})
    assert why.status_code == 200, why.text
    steps = why.json()["steps"]
    assert steps[0]["step"] == "prior" and steps[-1]["step"] == "total"
    assert why.json()["match_probability"] == pytest.approx(best["match_probability"], abs=1e-6)
    unknown = post(url, "explain_match", {"record": known, "account": "tmall:nobody"})
    assert unknown.status_code == 404 and "tmall:nobody" in _error(unknown)
    records = [{"record_id": "a", "full_name": "李芳芳", "phone": "13900000001"},
               {"record_id": "b", "full_name": "李芳芳", "phone": "13900000001"},
               {"record_id": "c", "full_name": "赵敏", "phone": "13700000002"}]  # fmt: skip
    resolved = post(url, "resolve_members", {"records": records})
    assert resolved.status_code == 200, resolved.text
    assert len(resolved.json()["members"]) == 3


@pytest.mark.parametrize(
    ("endpoint", "body", "field"),
    [
        ("match_member", {"record": {"record_id": "x", "mobile": "139"}}, "mobile"),
        ("match_member", {"record": {"record_id": "x", "full_name": "名" * 201}}, "full_name"),
        ("resolve_members", {"records": []}, "records"),
    ],
)
def test_bad_member_requests_get_a_400_naming_the_field(url, endpoint, body, field):
    response = post(url, endpoint, body)
    assert response.status_code == 400
    assert field in _error(response)


# -- unknown fields, the body size limit, what the log keeps of client errors --------------------


@pytest.mark.parametrize(
    ("endpoint", "body", "field", "meant"),
    [
        ("forecast", {"skus": ["A"], "horizen": 2}, "horizen", "horizon"),
        ("forecast", {"skus": ["A"], "warehouse": ["WH-NOPE"]}, "warehouse", "warehouses"),
        ("replenishment", {"sku": ["A"]}, "sku", "skus"),
        ("risk_alerts", {"limt": 5}, "limt", "limit"),
    ],
)
def test_an_unknown_field_gets_a_400_naming_it_and_the_field_meant(
    url, endpoint, body, field, meant
):
    response = post(url, endpoint, body)
    assert response.status_code == 400
    assert f"unknown field `{field}` (did you mean `{meant}`?)" in _error(response)


def test_a_body_over_the_limit_gets_a_413_naming_it(url):
    limit = max_body_bytes(MAX_BATCH)
    body = json.dumps({"skus": ["A"], "pad": "x" * limit})
    response = httpx.post(f"{url}/forecast", content=body, timeout=60,
                          headers=AUTH | {"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 413
    assert f"over the limit of {limit:,} bytes" in _error(response)


def test_client_errors_are_logged_in_one_line_without_the_values_sent(url, home):
    log = home / "serve.log"
    seen = log.stat().st_size
    phone = "13027517394"
    record = {"record_id": "r1", "mobile": phone}
    assert post(url, "match_member", {"record": record}).status_code == 400
    # refused by the forecasting service, whose message quotes the SKU sent
    assert post(url, "forecast", {"skus": [phone]}).status_code == 400
    with open(log, "rb") as lines:
        lines.seek(seen)
        written = lines.read().decode("utf-8", "replace")
    assert phone not in written and "Traceback" not in written and "ERROR" not in written
    assert "client error 400 on /match_member [POST]: record.mobile: unknown_field" in written
    assert "client error 400 on /forecast [POST]: skus: InvalidArgument" in written  # service
    assert "client error 400 on /forecast [POST]: skus: BentoMLException" in written  # gateway


# -- views over the store -------------------------------------------------------------------------


def test_views_over_the_store(url):
    sales = post(url, "sales", {"by": ["sku_id"], "limit": 3})
    assert sales.status_code == 200
    assert len(sales.json()["rows"]) == 3 and sales.json()["total_rows"] >= 3
    assert post(url, "hot_items", {}).status_code == 200
    assert post(url, "oversell_risk", {}).status_code == 200
    scoped = post(url, "oversell_risk", {"platforms": ["抖音"], "warehouses": ["WH-SH"]})
    assert scoped.status_code == 200
    unknown = post(url, "oversell_risk", {"warehouses": ["火星仓"]})
    assert unknown.status_code == 404 and "火星仓" in _error(unknown)  # as an unknown SKU
    bad = post(url, "sales", {"platforms": ["myspace"]})
    assert bad.status_code == 400 and "myspace" in _error(bad)
    later = post(url, "hot_items", {"week": "2099-01-05"})
    assert later.status_code == 400 and "after the newest sales day" in _error(later)


# -- the business butler ---------------------------------------------------------------------------


def test_ask_answers_with_its_tool_and_remembers_the_conversation(url, sales_world):
    week = sales_world.last_week.date()
    first = post(url, "ask", {"question": "上周天猫卖得最好的是哪个？", "conversation_id": "srv-1"})
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["mode"] == "offline" and "离线" in body["answer"]
    (call,) = body["tool_calls"]
    assert call["name"] == "sales_metrics" and call["ok"]
    assert call["args"]["platforms"] == ["tmall"] and call["args"]["start"] == week.isoformat()
    days = pd.to_datetime(sales_world.daily["day"]).dt.date
    sunday = (pd.Timestamp(week) + pd.Timedelta(days=6)).date()
    in_week = sales_world.daily[
        (days >= week) & (days <= sunday) & (sales_world.daily["platform"] == "tmall")
    ]
    best = in_week.groupby("sku_id")["units"].sum().sort_values(ascending=False)
    assert f"1. {best.index[0]}" in body["answer"] and f"{best.iloc[0]}件" in body["answer"]
    assert body["sources"] and "sales_daily" in body["sources"][0]
    follow = post(url, "ask", {"question": "那京东呢？", "conversation_id": "srv-1"}).json()
    assert follow["tool_calls"][0]["args"]["platforms"] == ["jd"]
    assert follow["tool_calls"][0]["args"]["start"] == week.isoformat()


def test_ask_uses_the_model_services_through_the_composition(url):
    body = post(url, "ask", {"question": "forecast SKU03 for the next 2 weeks"}).json()
    (call,) = body["tool_calls"]
    assert call == {"name": "forecast_sku", "args": {"skus": ["SKU03"], "horizon": 2}, "ok": True}
    assert "SKU03 @ WH-" in body["answer"] and "butler-forecast" in body["sources"][0]


def test_ask_stream_streams_the_answer_text(url):
    with httpx.stream("POST", f"{url}/ask_stream", json={"question": "上周天猫卖了多少件？"},
                      headers=AUTH, timeout=60) as response:  # fmt: skip
        assert response.status_code == 200
        text = "".join(response.iter_text())
    assert "天猫" in text and "离线模式" in text and "sales_metrics" in text
    short = httpx.post(f"{url}/ask_stream", json={"question": ""}, headers=AUTH, timeout=60)
    assert short.status_code == 400 and "question" in short.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"question": ""}, "question"),
        ({"question": "x" * 5_000}, "question"),
        ({"question": "hi", "conversation_id": "../etc"}, "conversation_id"),
        ({}, "question"),
    ],
)
def test_bad_ask_requests_get_a_400_naming_the_field(url, body, field):
    response = post(url, "ask", body)
    assert response.status_code == 400 and field in _error(response)


# -- start-up and promotion -----------------------------------------------------------------------


def test_serve_with_nothing_registered_names_the_commands(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_API_KEY", KEY)
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "empty"), "serve"])
    assert result.exit_code == 1
    said = " ".join(result.output.split())  # rich wraps long lines
    for command in ("butler train forecast", "butler train identity", "butler train risk",
                    "butler train planner"):  # fmt: skip
        assert command in said


def test_a_registered_model_that_cannot_load_stops_serve_before_it_starts(home, monkeypatch):
    import services.forecasting
    import services.risk
    from services.http.gateway import check_ready_to_serve

    settings = Settings(home=home, api_key=KEY)
    assert set(check_ready_to_serve(settings)) >= {"butler-chat-risk", "butler-planner"}

    def old_settings(_settings):
        raise ModelNotRegisteredError("trained with chat risk settings 2025.1; retrain it")

    def old_code(_settings):
        raise AttributeError("'WeeklyDemandForecaster' object has no attribute 'tail_'")

    monkeypatch.setattr(services.risk, "load_risk_model", old_settings)
    monkeypatch.setattr(services.forecasting, "load_forecaster", old_code)
    with pytest.raises(ModelNotRegisteredError) as raised:
        check_ready_to_serve(settings)
    said = str(raised.value)
    assert said.startswith("Cannot serve: ") and "chat risk settings 2025.1" in said
    assert "cannot be loaded (AttributeError" in said and "`butler train forecast`" in said


def test_serve_without_a_key_refuses(tmp_path, monkeypatch):
    monkeypatch.delenv("BUTLER_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["--home", str(tmp_path / "empty"), "serve"])
    assert result.exit_code == 1 and "BUTLER_API_KEY" in result.output


def test_a_promoted_model_is_served_after_a_restart(home, url):
    from training.risk import train as train_risk

    before = post(url, "info", {}).json()["chat_risk"]["version"]
    train_risk(Settings(home=home))  # registers a new version and moves @champion to it
    with served(home, KEY, env=SERVER_ENV, log=home / "serve-restart.log") as base:
        after = post(base, "info", {}).json()["chat_risk"]["version"]
    assert int(after) == int(before) + 1
