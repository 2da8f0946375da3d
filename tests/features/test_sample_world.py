"""The sample world: deterministic, readable back by the adapters, and realistic enough to
train on (a demand signal, member accounts with their true persons, labelled chats)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest

from features.adapters.readers import open_export
from features.adapters.registry import detect
from features.ingest import ingest
from features.sample_world import WorldSummary, generate
from features.sample_world.chats import RISK_LABELS
from features.sample_world.dirt import planted
from features.schema.vocab import Platform
from features.settings import Settings
from features.store import Store

# Ten weeks around Double 11 keep the test fast and still hold a festival peak.
START = dt.date(2024, 10, 1)
DAYS = 70


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> WorldSummary:
    return generate(tmp_path_factory.mktemp("world"), scale="small", seed=0, start=START, days=DAYS)


@pytest.fixture(scope="module")
def loaded(world: WorldSummary, tmp_path_factory: pytest.TempPathFactory):
    store = Store.in_memory()
    home = tmp_path_factory.mktemp("home")
    report = ingest([world.out], store, Settings(home=home))
    return store, report


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_writes_the_same_files(world: WorldSummary, tmp_path: Path) -> None:
    again = generate(tmp_path, scale="small", seed=0, start=START, days=DAYS)
    first = {p.relative_to(world.out): _digest(p) for p in world.files}
    second = {p.relative_to(again.out): _digest(p) for p in again.files}
    assert first == second
    for name in ("members_truth.csv", "chats_truth.csv"):
        assert _digest(world.out / "_truth" / name) == _digest(tmp_path / "_truth" / name)


def test_every_file_is_detected_as_what_it_is(world: WorldSummary) -> None:
    assert world.files
    for path in world.files:
        adapter, contract = detect(open_export(path))
        assert adapter.platform.value == path.parent.name, path
        assert path.name.startswith(contract.file_stem), path


def test_every_channel_and_the_erp_write_files(world: WorldSummary) -> None:
    assert set(world.rows) == {p.value for p in Platform}
    for platform in Platform.channels():
        assert world.rows[platform.value]["orders"] > 0
        assert world.rows[platform.value]["members"] > 0
    for kind in ("shops", "warehouses", "products", "sku_map", "inventory", "purchase_orders"):
        assert world.rows["erp"][kind] > 0
    assert "chats" not in world.rows["pos"]


def test_order_files_are_per_platform_and_month(world: WorldSummary) -> None:
    tmall = sorted(p.name for p in world.files if p.parent.name == "tmall" and "订单" in p.name)
    assert tmall == ["订单报表_202410.csv", "订单报表_202411.csv", "订单报表_202412.csv"]


def test_ingest_quarantines_only_the_planted_dirt_and_fills_every_channel(loaded) -> None:
    store, report = loaded
    assert not report.failed
    expected = sum(planted(f.rows_read) for f in report.files if f.kind == "orders")
    assert expected > 0
    assert report.rows_quarantined == expected
    reasons = store.sql("SELECT DISTINCT kind, reason FROM quarantine_rows").fetchall()
    assert {k for k, _ in reasons} == {"orders"}
    texts = " | ".join(r for _, r in reasons)
    assert "待核算" in texts and "交易异常" in texts and "required value is empty" in texts
    platforms = {r[0] for r in store.sql("SELECT DISTINCT platform FROM ingested_files").fetchall()}
    assert platforms == {p.value for p in Platform}
    in_lines = {r[0] for r in store.sql("SELECT DISTINCT platform FROM order_lines").fetchall()}
    assert in_lines == {p.value for p in Platform.channels()}
    unmapped = store.sql("SELECT count(*) FROM order_lines WHERE sku_id IS NULL").fetchall()[0][0]
    assert unmapped == 0  # unmapped platform SKUs carry the merchant code


def test_truth_covers_every_member_account(world: WorldSummary, loaded) -> None:
    store, _ = loaded
    truth = pd.read_csv(world.out / "_truth" / "members_truth.csv", dtype=str)
    members = store.sql("SELECT platform, platform_user_id FROM members").df()
    assert len(truth) == len(members) == world.members
    keys = set(zip(truth["platform"], truth["platform_user_id"], strict=True))
    assert keys == set(zip(members["platform"], members["platform_user_id"], strict=True))
    per_person = truth.groupby("person_id")["platform"].nunique()
    assert per_person.max() >= 3 and (per_person == 1).any()


def test_masked_platforms_export_masked_phones(loaded) -> None:
    store, _ = loaded
    phones = store.sql(
        "SELECT platform, phone FROM members WHERE phone IS NOT NULL AND platform IN "
        "('pinduoduo', 'tmall')"
    ).df()
    pdd = phones[phones["platform"] == "pinduoduo"]["phone"]
    assert pdd.str.contains(r"\*\*\*\*").all()
    assert not phones[phones["platform"] == "tmall"]["phone"].str.contains(r"\*").any()


def test_double_eleven_and_weekdays_shape_demand(loaded) -> None:
    store, _ = loaded
    daily = store.sql("SELECT day, sum(units) AS units FROM sales_daily GROUP BY day").df()
    daily = daily.set_index(pd.to_datetime(daily["day"]))["units"].sort_index()
    weeks = daily.resample("W-SUN").sum()
    full = weeks[weeks.index.to_series().diff().dt.days.fillna(7).eq(7)].iloc[1:-1]
    festival = weeks.loc["2024-11-11":"2024-11-17"].iloc[0]
    ordinary = full.drop(pd.Timestamp("2024-11-17")).median()
    assert festival > 1.8 * ordinary
    assert daily.loc["2024-11-11"] > 5 * daily.median()
    ordinary_days = daily[(daily.index < "2024-10-18") | (daily.index > "2024-11-20")]
    by_weekday = ordinary_days.groupby(ordinary_days.index.dayofweek).mean()
    assert by_weekday.max() / by_weekday.min() > 1.1


def test_calendar_promotions_of_the_next_weeks_are_exported_ahead(loaded) -> None:
    store, _ = loaded
    end = START + dt.timedelta(days=DAYS)
    planned = store.sql(
        "SELECT DISTINCT promo_id, CAST(starts_at + INTERVAL 8 HOUR AS DATE) AS first_day "
        f"FROM promotions WHERE kind = 'promotion' AND starts_at + INTERVAL 8 HOUR >= DATE '{end}'"
    ).df()
    # Double 12 and the Spring Festival campaign (January 2025) are planned, nothing sold yet
    assert {"HD2024DOUBLE12", "HD2025SPRING"} <= set(planned["promo_id"])
    assert planned["first_day"].max().date() < end + dt.timedelta(days=91)
    assert store.sql("SELECT max(day) FROM sales_daily").fetchall()[0][0] < end


def test_stock_follows_sales_and_purchase_orders(world: WorldSummary, loaded) -> None:
    store, _ = loaded
    last = START + dt.timedelta(days=DAYS - 1)
    po = store.sql("SELECT status, expected_on FROM purchase_orders").df()
    assert {"received", "in_transit"} <= set(po["status"])
    assert (
        pd.to_datetime(po.loc[po["status"] == "in_transit", "expected_on"]).dt.date > last
    ).any()
    zero = store.sql("SELECT count(*) FROM inventory_snapshots WHERE on_hand = 0").fetchall()[0][0]
    assert zero > 0
    info = json.loads((world.out / "_truth" / "world.json").read_text(encoding="utf-8"))
    assert info["oversell"] and info["viral"] and info["silent_shop"]
    platform, shop = info["silent_shop"]
    declared = store.sql(
        "SELECT expected FROM shops WHERE platform = ? AND shop_id = ?", [platform, shop]
    ).fetchall()
    assert declared == [(True,)]
    sold = store.sql(
        "SELECT count(*) FROM order_lines WHERE platform = ? AND shop_id = ?", [platform, shop]
    ).fetchall()[0][0]
    assert sold == 0


def test_chats_are_labelled_and_about_a_fifth_risky(world: WorldSummary, loaded) -> None:
    store, _ = loaded
    truth = pd.read_csv(world.out / "_truth" / "chats_truth.csv", dtype={"session_id": str})
    assert len(truth) == world.chat_sessions == store.count("chat_sessions")
    assert 0.15 <= truth["risky"].mean() <= 0.25
    assert (truth[list(RISK_LABELS)].sum() > 0).all()
    assert (truth["near_miss"].fillna("") != "").sum() > 0
    assert (truth[list(RISK_LABELS)].sum(axis=1) > 1).any()  # multi-label sessions
    sizes = store.sql("SELECT message_count FROM chat_sessions").df()["message_count"]
    assert sizes.between(3, 12).all()


def test_bad_parameters_fail_early(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scale"):
        generate(tmp_path, scale="huge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="days"):
        generate(tmp_path, days=3)
