"""Each of the butler's tools on a small store: data, sources, and errors that never raise."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from features.settings import Settings
from features.store import Store
from services.agent.tools import Toolbox, pasted_conversation


class NoModels:
    """Model clients that must not be called by store tools."""

    def __getattr__(self, name):
        raise AssertionError(f"a store tool called the model service {name}")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, sales_world) -> Settings:
    settings = Settings(home=tmp_path_factory.mktemp("tools") / "home")
    with Store.open(settings) as store:
        sales_world.write(store)
        members = pd.DataFrame(
            {
                "platform": ["tmall", "tmall", "jd", "jd", "douyin"],
                "platform_user_id": ["t1", "t2", "j1", "j2", "d1"],
                # t2 signed up on 2024-01-01 in Beijing (UTC: the evening before)
                "registered_at": pd.to_datetime(
                    [
                        "2024-03-01 02:00",
                        "2023-12-31 17:00",
                        "2024-06-01 02:00",
                        None,
                        "2025-01-01 02:00",
                    ]
                ),
                "raw": ["{}"] * 5,
                "source_file": ["m.csv"] * 5,
            }  # fmt: skip
        )
        store.upsert("members", members)
        now = pd.Timestamp("2024-05-01 08:00")
        store.upsert(
            "chat_sessions",
            pd.DataFrame(
                {
                    "platform": ["jd", "tmall"],
                    "session_id": ["s1", "s2"],
                    "shop_id": ["x", "y"],
                    "started_at": [now, now - pd.Timedelta(days=3)],
                    "ended_at": [now, now],
                    "message_count": [3, 2],
                }  # fmt: skip
            ),
        )
        store.upsert(
            "chat_messages",
            pd.DataFrame(
                {
                    "platform": ["jd", "tmall"],
                    "session_id": ["s1", "s2"],
                    "seq": [0, 0],
                    "shop_id": ["x", "y"],
                    "role": ["buyer", "buyer"],
                    "sent_at": [now, now - pd.Timedelta(days=3)],
                    "text": ["我要找律师", "我要打12315"],
                    "source_file": ["c.csv", "c.csv"],
                }  # fmt: skip
            ),
        )
        store.upsert(
            "risk_alerts",
            pd.DataFrame(
                {
                    "platform": ["jd", "jd", "tmall"],
                    "session_id": ["s1", "s1", "s2"],
                    "scenario": ["legal_threat", "refund_dispute", "complaint_threat"],
                    "shop_id": ["x", "x", "y"],
                    "severity": ["high", "medium", "high"],
                    "probability": [0.9, 0.8, 0.95],
                    "risk_score": [0.9, 0.9, 0.96],
                    "evidence": ["[1]", "[2]", "[0]"],
                    "status": ["open"] * 3,
                    "raised_at": [now] * 3,
                    "model_version": ["v1"] * 3,
                }  # fmt: skip
            ),
        )
    return settings


@pytest.fixture(scope="module")
def toolbox(settings: Settings) -> Toolbox:
    return Toolbox(settings, NoModels())


def test_every_tool_has_a_description_and_a_typed_schema(toolbox):
    expected = {"sales_metrics", "hot_items", "oversell_risk", "forecast_sku",
                "replenishment_plan", "member_stats", "match_member", "risk_alerts",
                "classify_conversation", "data_coverage", "query_store"}  # fmt: skip
    assert set(toolbox.tools) == expected
    for tool in toolbox.tools.values():
        assert len(tool.description) > 40, tool.name
        assert tool.args.model_json_schema()["type"] == "object"


def test_data_coverage_says_how_far_sales_and_stock_reach(toolbox, sales_world):
    result = toolbox.call("data_coverage", {})
    assert result.ok and "sales_daily" in result.source
    days = pd.to_datetime(sales_world.daily["day"]).dt.date
    assert result.data["sales_first_day"] == days.min().isoformat()
    assert result.data["sales_last_day"] == days.max().isoformat()
    last = sales_world.daily.assign(day=days).groupby("platform")["day"].max()
    assert result.data["sales_last_day_by_platform"] == {p: d.isoformat() for p, d in last.items()}
    assert result.data["stock_last_day"] == sales_world.snapshots["snapshot_date"].max().isoformat()
    assert not toolbox.call("data_coverage", {"platform": "tmall"}).ok  # takes no arguments
    json.loads(result.for_model())


def test_sales_metrics_answers_with_its_period_and_source(toolbox, sales_world):
    monday = sales_world.last_week.date()
    result = toolbox.call(
        "sales_metrics",
        {
            "by": ["sku_id"],
            "platforms": ["天猫"],
            "start": monday.isoformat(),
            "end": (monday + dt.timedelta(days=6)).isoformat(),
            "top": 2,
        },  # fmt: skip
    )
    assert result.ok and "sales_daily" in result.source
    days = pd.to_datetime(sales_world.daily["day"]).dt.date
    week = sales_world.daily[(days >= monday) & (days <= monday + dt.timedelta(days=6))
                             & (sales_world.daily["platform"] == "tmall")]  # fmt: skip
    best = week.groupby("sku_id")["units"].sum().sort_values(ascending=False, kind="stable")
    rows = result.data["rows"]
    assert [r["sku_id"] for r in rows] == list(best.index[:2])
    assert rows[0]["units"] == best.iloc[0]
    assert rows[0]["revenue_yuan"] == pytest.approx(best.iloc[0] * 19.90)
    assert result.data["platforms"] == ["tmall"] and result.data["start"] == monday.isoformat()
    json.loads(result.for_model())  # JSON-safe


@pytest.mark.parametrize(
    ("name", "args", "problem"),
    [
        ("sales_metrics", {"metrics": ["profit"]}, "metrics"),
        ("sales_metrics", {"platforms": ["myspace"]}, "myspace"),
        ("sales_metrics", {"skus": ["NOPE1"]}, "NOPE1"),
        ("sales_metrics", {"start": "2024-05-01", "end": "2024-01-01"}, "start"),
        ("sales_metrics", {"top": 0}, "top"),
        ("sales_metrics", {"drop": "table"}, "drop"),
        ("forecast_sku", {"skus": []}, "skus"),
        ("risk_alerts", {"scenarios": ["alien_invasion"]}, "alien_invasion"),
        ("match_member", {"phone": "13812345678", "platform": "myspace"}, "myspace"),
        ("no_such_tool", {}, "no_such_tool"),
    ],
)
def test_bad_calls_come_back_as_errors_that_name_the_problem(toolbox, name, args, problem):
    result = toolbox.call(name, args)
    assert not result.ok and problem in result.error
    assert json.loads(result.for_model())["ok"] is False


def test_hot_items_and_oversell_risk_read_the_store(toolbox):
    hot = toolbox.call("hot_items", {"platforms": ["tmall"]})
    assert hot.ok and hot.data["week"] is not None and "hot-item" in hot.source
    risk = toolbox.call("oversell_risk", {})
    assert risk.ok and risk.data["rows"] == []  # nothing is listed in this store


def test_member_stats_before_and_after_resolution(toolbox, settings):
    with Store.open(settings) as store:
        store.sql("DELETE FROM member_persons")
    before = toolbox.call("member_stats", {"platforms": ["tmall", "jd"]})
    assert before.ok and before.data["persons"] is None
    assert before.data["accounts"] == 4 and "butler members resolve" in before.data["note"]
    persons = pd.DataFrame(
        {
            "platform": ["tmall", "tmall", "jd", "jd", "douyin"],
            "platform_user_id": ["t1", "t2", "j1", "j2", "d1"],
            "person_id": ["A", "B", "A", "C", "B"],
            "cluster_size": [2, 2, 2, 1, 2],
            "match_probability": [0.99, 0.95, 0.99, None, 0.95],
            "model_version": "v1",
            "resolved_at": pd.Timestamp("2024-05-01"),
        }  # fmt: skip
    )
    with Store.open(settings) as store:
        store.upsert("member_persons", persons)
    after = toolbox.call("member_stats", {"platforms": ["Tmall", "京东"]})
    assert after.ok and after.data["accounts_by_platform"] == {"jd": 2, "tmall": 2}
    assert after.data["persons"] == 3  # A, B, C among Tmall and JD accounts
    assert after.data["overlap"] == [
        {"platforms": ["jd", "tmall"], "persons_on_both": 1, "persons_on": [2, 2]}
    ]
    everyone = toolbox.call("member_stats", {})
    assert everyone.data["persons"] == 3 and everyone.data["persons_on_2plus_platforms"] == 2
    # one platform: its persons that are on another platform too (B is also on Douyin)
    douyin = toolbox.call("member_stats", {"platforms": ["douyin"]})
    assert douyin.data["persons"] == 1 and douyin.data["persons_on_2plus_platforms"] == 1
    tmall = toolbox.call("member_stats", {"platforms": ["tmall"]})
    assert tmall.data["persons"] == 2 and tmall.data["persons_on_2plus_platforms"] == 2
    new = toolbox.call("member_stats", {"since": "2024-01-01", "until": "2024-12-31"})
    assert new.data["registered"]["by_platform"] == {"tmall": 2, "jd": 1}
    assert new.data["registered"]["accounts"] == 3
    three = toolbox.call("member_stats", {"platforms": ["tmall", "jd", "douyin"]})
    assert three.data["persons_on_all"] == 0 and three.data["persons_by_platform"] == {
        "tmall": 2, "jd": 2, "douyin": 1
    }  # fmt: skip


def test_risk_alerts_filter_by_severity_scenario_platform_and_day(toolbox):
    high = toolbox.call("risk_alerts", {"severity": "high"})
    assert high.ok and high.data["alerts"] == 2 and high.data["conversations"] == 2
    assert high.data["rows"][0]["scenario"] == "legal_threat"  # the newest conversation first
    jd = toolbox.call("risk_alerts", {"platforms": ["京东"]})
    assert jd.data["alerts"] == 2 and jd.data["conversations"] == 1
    shop = toolbox.call("risk_alerts", {"platforms": ["tmall"], "shops": ["y"]})
    assert shop.data["alerts"] == 1 and shop.data["rows"][0]["session_id"] == "s2"
    legal = toolbox.call("risk_alerts", {"scenarios": ["legal_threat"]})
    assert legal.data["by_scenario"] == {"legal_threat": 1}
    recent = toolbox.call("risk_alerts", {"since": "2024-05-01"})
    assert {r["session_id"] for r in recent.data["rows"]} == {"s1"}
    # s2 last spoke on 04-28, s1 on 05-01 (Beijing): a period that ends leaves s1 out
    earlier = toolbox.call("risk_alerts", {"since": "2024-04-27", "until": "2024-04-30"})
    assert {r["session_id"] for r in earlier.data["rows"]} == {"s2"}
    assert earlier.data["until"] == "2024-04-30"
    everyone = toolbox.call("risk_alerts", {})
    assert everyone.data["by_platform"] == {"jd": 2, "tmall": 1}


def test_an_alert_counts_on_the_day_its_conversation_last_spoke(toolbox, settings):
    # s2 began on 04-28; the buyer wrote again on 05-02: it is among that day's alerts
    with Store.open(settings) as store:
        store.upsert(
            "chat_messages",
            pd.DataFrame(
                {"platform": ["tmall"], "session_id": ["s2"], "seq": [1], "shop_id": ["y"],
                 "role": ["buyer"], "sent_at": [pd.Timestamp("2024-05-02 02:00")],
                 "text": ["已经联系了记者"], "source_file": ["c2.csv"]}
            ),
        )  # fmt: skip
    today = toolbox.call("risk_alerts", {"since": "2024-05-02", "until": "2024-05-02"})
    assert {r["session_id"] for r in today.data["rows"]} == {"s2"}
    assert today.data["rows"][0]["last_message"] == "2024-05-02 10:00"  # Beijing's clock
    # withdrawn alerts only when asked for: "all" is open and acknowledged
    with Store.open(settings) as store:
        store.sql("UPDATE risk_alerts SET status = 'withdrawn' WHERE scenario = 'legal_threat'")
    everything = toolbox.call("risk_alerts", {"status": "all"})
    assert everything.data["alerts"] == 2
    withdrawn = toolbox.call("risk_alerts", {"status": "withdrawn"})
    assert [r["scenario"] for r in withdrawn.data["rows"]] == ["legal_threat"]


def test_query_store_runs_a_select_and_refuses_anything_else(toolbox, settings):
    ok = toolbox.call("query_store", {"sql": "SELECT count(*) AS n FROM members"})
    assert ok.ok and ok.data["rows"] == [{"n": 5}]
    for sql in ("DELETE FROM members", "SELECT 1; DROP TABLE members",
                "SELECT * FROM read_csv('/etc/passwd')"):  # fmt: skip
        assert not toolbox.call("query_store", {"sql": sql}).ok
    with Store.open(settings, read_only=True) as store:
        assert store.count("members") == 5


def test_a_pasted_conversation_keeps_its_roles():
    conversation = pasted_conversation("买家：东西是假的\n客服：亲，稍等\nbuyer: I want a refund")
    assert [m.role.value for m in conversation.messages] == ["buyer", "agent", "buyer"]
    assert conversation.messages[0].text == "东西是假的"


def test_a_resolution_saved_by_members_resolve_replaces_the_previous_one(toolbox, settings):
    from services.identity import save_persons

    first = pd.DataFrame(
        {
            "unique_id": ["tmall:t1", "jd:j1", "tmall:t2"],
            "person_id": ["A", "A", "B"],
            "cluster_size": [2, 2, 1],
            "match_probability": [0.97, 0.97, float("nan")],
        }  # fmt: skip
    )
    assert save_persons(settings, first, "butler-identity/1") == 3
    second = first.assign(person_id=["A", "C", "B"], cluster_size=1, match_probability=None)
    save_persons(settings, second.head(2), "butler-identity/2")
    with Store.open(settings, read_only=True) as store:
        rows = store.sql(
            "SELECT platform, platform_user_id, person_id, model_version FROM member_persons "
            "ORDER BY 1, 2"
        ).fetchall()
    assert rows == [
        ("jd", "j1", "C", "butler-identity/2"),
        ("tmall", "t1", "A", "butler-identity/2"),
    ]
    stats = toolbox.call("member_stats", {"platforms": ["tmall", "jd"]})
    assert stats.data["overlap"][0]["persons_on_both"] == 0
    assert "butler-identity/2" in stats.data["resolved_by"]


class PlanModels:
    """A replenishment service's canned answer."""

    def replenishment(self, *, skus, warehouses, service_level):
        row = {"on_hand": 5.0, "in_transit": 0.0, "lead_time_weeks": 2.0,
               "review_period_weeks": 1.0, "service_level": service_level,
               "demand_mean_lr": 10.0, "demand_q_lr": 14.0, "order_up_to": 20.0,
               "weeks_of_cover": 1.5, "stockout_probability": 0.3}  # fmt: skip
        plan = [
            row | {"sku_id": "SKU01", "warehouse_id": "WH-SH", "order_qty": 12.0, "cases": 2,
                   "reason": "order 12"},
            row | {"sku_id": "SKU02", "warehouse_id": "WH-SH", "order_qty": 0.0, "cases": 0,
                   "reason": "enough stock"},
            row | {"sku_id": "SKU03", "warehouse_id": "WH-GZ", "order_qty": 30.0, "cases": 5,
                   "reason": "order 30"},
        ]  # fmt: skip
        return {
            "model": {"name": "butler-forecast-sku-warehouse", "alias": "champion",
                      "version": "3", "run_id": "r"},  # fmt: skip
            "as_of": "2024-05-01", "forecast_start": "2024-05-06",
            "service_level": service_level, "plan": plan,
            "errors": [{"sku_id": "SKU05", "warehouse_id": "WH-SH", "field": "lead_time_weeks",
                        "reason": "missing lead time"}],
        }  # fmt: skip


def test_replenishment_plan_puts_the_largest_orders_first(settings):
    result = Toolbox(settings, PlanModels()).call(
        "replenishment_plan", {"warehouses": ["WH-SH"], "service_level": 0.98, "limit": 2}
    )
    assert result.ok and result.data["service_level"] == 0.98
    assert [r["sku_id"] for r in result.data["rows"]] == ["SKU03", "SKU01"]
    assert result.data["lines"] == 3 and result.data["lines_with_order"] == 2
    assert result.data["total_order_qty"] == 42.0
    assert result.data["errors"][0]["reason"] == "missing lead time"
    assert result.source == "model: butler-forecast-sku-warehouse v3 (@champion)"
    bad = Toolbox(settings, PlanModels()).call("replenishment_plan", {"service_level": 1.5})
    assert not bad.ok and "service_level" in bad.error


def test_local_models_load_every_service_on_warm_up(settings, monkeypatch):
    from services.agent.tools import LocalModels

    loaded = []
    models = LocalModels(settings)
    monkeypatch.setattr(models, "_service", loaded.append)
    models.warm_up()
    assert loaded == ["forecasting", "identity", "risk"]
