"""``status_report`` over a small store with planted gaps, stale channels and bad rows."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from features.status import Grade, status_report
from features.store import Store

T = dt.datetime
NOW = T(2024, 6, 30, 12)


def add_orders(store: Store, platform: str, shop: str, rows: list[dict]) -> None:
    """Orders of one line each; a row gives ``age_days`` and any field to override."""
    lines, orders = [], []
    for i, row in enumerate(rows):
        row = dict(row)
        created = NOW - dt.timedelta(days=row.pop("age_days", 1))
        base = {
            "platform": platform,
            "order_id": f"{platform}-{shop}-{i}",
            "shop_id": shop,
            "status": "paid",
            "created_at": created,
            "source_file": f"{platform}.csv",
        }
        orders.append(
            {
                **base,
                "buyer_id": row.get("buyer_id", f"b{i}"),
                "receiver_phone": row.get("receiver_phone", "13800000000"),
            }
        )
        lines.append(
            {
                **base,
                "line_id": "1",
                "sku_id": row.get("sku_id", "A1"),
                "quantity": 1,
                "unit_price_fen": 100,
                "paid_fen": 100,
            }
        )
    store.upsert("order_lines", pd.DataFrame(lines))
    store.upsert("orders", pd.DataFrame(orders))


def add_shops(store: Store, shops: list[tuple[str, str, bool]]) -> None:
    store.upsert(
        "shops",
        pd.DataFrame(shops, columns=["platform", "shop_id", "expected"]).assign(
            shop_name=lambda f: f.shop_id.str.upper()
        ),
    )


def add_files(store: Store, files: list[tuple[str, str, int, int, int]]) -> None:
    """files: (platform, kind, rows_read, rows_accepted, rows_quarantined)."""
    store.upsert(
        "ingested_files",
        pd.DataFrame(
            [
                {
                    "file_sha256": f"sha{i}",
                    "path": f"/exports/{p}/{k}{i}.csv",
                    "platform": p,
                    "kind": k,
                    "rows_read": read,
                    "rows_accepted": accepted,
                    "rows_quarantined": quarantined,
                    "ingested_at": NOW,
                }
                for i, (p, k, read, accepted, quarantined) in enumerate(files)
            ]
        ),
    )


def world() -> Store:
    store = Store.in_memory()
    add_shops(
        store,
        [
            ("tmall", "tm1", True),
            ("tmall", "tm2", True),  # expected, silent
            ("jd", "jd1", True),
            ("douyin", "dy1", False),  # not declared, delivers anyway
            ("pos", "store9", True),  # the whole channel is silent
        ],
    )
    add_orders(store, "tmall", "tm1", [{"age_days": 0.5}] * 95)
    add_orders(
        store,
        "jd",
        "jd1",
        [
            # jd never exports the receiver's phone, and misses a buyer on 1 order in 4
            {"age_days": 5, "receiver_phone": None, "buyer_id": None},
            {"age_days": 6, "receiver_phone": None},
            {"age_days": 6, "receiver_phone": ""},
            {"age_days": 9, "receiver_phone": None},
        ],
    )
    add_orders(store, "douyin", "dy1", [{"age_days": 1}, {"age_days": 1.5}])
    store.upsert(
        "members",
        pd.DataFrame(
            {
                "platform": ["douyin"] * 2,
                "platform_user_id": ["u1", "u2"],
                "shop_id": ["dy1", None],
                "phone": ["139****0000", "13900000001"],
                "raw": ["{}", "{}"],
                "source_file": ["m.csv"] * 2,
            }
        ),
    )
    add_files(
        store,
        [
            ("tmall", "orders", 100, 95, 5),  # 5 % quarantined
            ("jd", "orders", 4, 4, 0),
            ("douyin", "orders", 2, 2, 0),
            ("douyin", "orders", 2, 2, 0),  # the same two orders again: 50 % duplicates
            ("douyin", "members", 2, 2, 0),
        ],
    )
    time = "cannot read a time in format %Y-%m-%d %H:%M:%S: "
    quarantined = [
        ("sha0", 3, "订单创建时间", time + "soon", '{"订单创建时间": "soon"}'),
        ("sha0", 2, "订单创建时间", time + "'2024-13-01'", '{"订单创建时间": "2024-13-01"}'),
        ("sha0", 4, "购买数量", "value -1 must be more than 0", '{"购买数量": "-1"}'),
        ("sha0", 5, "购买数量", "value -20 must be more than 0", '{"购买数量": "-20"}'),
        ("sha0", 6, "订单编号", "required value is empty", "{}"),
    ]
    columns = ["file_sha256", "line", "field", "reason", "raw"]
    store.upsert(
        "quarantine_rows",
        pd.DataFrame(quarantined, columns=columns).assign(
            source_file="/exports/tmall.csv",
            platform="tmall",
            kind="orders",
            quarantined_at=NOW,
        ),
    )
    return store


def test_loaded_rows_per_shop():
    report = status_report(world(), now=NOW)

    shops = {(s.platform, s.shop_id): s for s in report.shops}
    assert shops[("tmall", "tm1")].rows["order_lines"] == 95
    assert shops[("tmall", "tm1")].shop_name == "TM1"
    assert shops[("douyin", "dy1")].rows["members"] == 1
    assert shops[("douyin", "")].rows["members"] == 1  # a member exported without a shop
    assert shops[("jd", "jd1")].age_days == pytest.approx(5)
    assert report.rows_per_table()["order_lines"] == 95 + 4 + 2
    assert [(s.platform, s.shop_id) for s in report.silent_shops()] == [
        ("pos", "store9"),
        ("tmall", "tm2"),
    ]
    assert report.files_ingested == 5
    assert report.rows_quarantined == 5


def test_freshness_per_channel_and_table():
    store = world()
    store.upsert(
        "inventory_snapshots",
        pd.DataFrame(
            {
                "snapshot_date": [dt.date(2024, 6, 28)],
                "warehouse_id": ["W1"],
                "sku_id": ["A1"],
                "on_hand": [3],
                "source_file": ["erp.csv"],
            }
        ),
    )
    report = status_report(store, now=NOW)

    ages = {(f.platform, f.table): f.age_days for f in report.freshness}
    assert ages[("tmall", "order_lines")] == pytest.approx(0.5)
    assert ages[("jd", "order_lines")] == pytest.approx(5)
    assert ("douyin", "members") in ages
    assert ("pos", "order_lines") not in ages
    assert ages[("erp", "inventory_snapshots")] == pytest.approx(2.5)
    assert ("erp", "purchase_orders") not in ages  # nothing loaded, no line


def test_now_defaults_to_the_newest_record():
    report = status_report(world())

    assert report.now_from_data
    assert report.now == NOW - dt.timedelta(days=0.5)
    assert report.score("tmall").age_days == pytest.approx(0)
    assert report.score("jd").age_days == pytest.approx(4.5)


def test_now_may_be_aware():
    aware = T(2024, 6, 30, 20, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    report = status_report(world(), now=aware)
    assert report.now == NOW
    assert not report.now_from_data


def test_scorecard_coverage_finds_silent_expected_shops():
    report = status_report(world(), now=NOW)

    assert report.score("tmall").shops_silent == ("tm2",)
    assert report.score("tmall").shops_delivering == ("tm1",)
    assert report.score("douyin").shops_silent == ()
    assert report.score("douyin").shops_delivering == ("dy1",)
    pos = report.score("pos")
    assert pos.shops_silent == ("store9",)
    assert pos.grade is Grade.D
    assert "delivers no data" in pos.notes
    # channels the brand does not sell on have no line
    assert {s.platform for s in report.scorecard} == {"tmall", "jd", "douyin", "pos"}


def test_scorecard_rates():
    report = status_report(world(), now=NOW)

    assert report.score("tmall").quarantine_rate == pytest.approx(0.05)
    assert report.score("jd").quarantine_rate == 0
    jd = report.score("jd")
    assert jd.not_exported == ("orders.receiver_phone",)
    assert jd.missing_by_field == {"orders.buyer_id": 0.25, "order_lines.sku_id": 0.0}
    assert jd.missing_rate == pytest.approx(0.125)
    dy = report.score("douyin")
    assert dy.duplicate_rate == pytest.approx(2 / 6)  # 6 accepted, 4 distinct rows
    assert dy.missing_rate == 0


def test_scorecard_grades():
    report = status_report(world(), now=NOW)

    grades = {s.platform: s.grade for s in report.scorecard}
    # douyin: fresh, complete, clean -> A
    # jd: 5 days old (B), 12.5 % of key fields missing (B) -> B
    # tmall: 5 % quarantined (B) and a silent expected shop (C) -> C
    # pos: nothing at all -> D
    assert grades == {"douyin": Grade.A, "jd": Grade.B, "tmall": Grade.C, "pos": Grade.D}
    assert report.score("douyin").notes == ()
    assert any("quarantined" in n for n in report.score("tmall").notes)
    assert any("silent: tm2" in n for n in report.score("tmall").notes)


def test_unmapped_skus_lower_the_grade_and_overlapping_exports_do_not():
    store = Store.in_memory()
    add_orders(store, "kuaishou", "ks1", [{"sku_id": None}] * 3 + [{}])  # 75 % unmapped
    add_orders(store, "xiaohongshu", "xhs1", [{}, {}])
    add_files(store, [("kuaishou", "orders", 4, 4, 0)] + [("xiaohongshu", "orders", 2, 2, 0)] * 5)

    report = status_report(store, now=NOW)

    ks = report.score("kuaishou")
    assert ks.missing_by_field["order_lines.sku_id"] == 0.75  # derived: counted though mostly NULL
    assert ks.grade is Grade.C  # mean of buyer 0 %, phone 0 %, sku 75 % = 25 %
    xhs = report.score("xiaohongshu")
    assert xhs.duplicate_rate == pytest.approx(0.8)  # shown, not graded: re-sent rows harm nothing
    assert xhs.grade is Grade.A and xhs.notes == ()


def test_quarantine_reasons_group_like_with_like():
    report = status_report(world(), now=NOW)

    reasons = [(r.field, r.reason, r.rows) for r in report.quarantine_reasons]
    assert reasons == [
        ("订单创建时间", "cannot read a time in format %Y-%m-%d %H:%M:%S", 2),
        ("购买数量", "must be more than 0", 2),
        ("订单编号", "required value is empty", 1),
    ]
    top = report.quarantine_reasons[0]
    assert (top.platform, top.kind) == ("tmall", "orders")
    assert top.example == 'tmall.csv:2 "2024-13-01"'  # the first such row, and its value
    assert report.quarantine_reasons[2].example == "tmall.csv:6"  # an empty value: no value
    assert len(status_report(world(), now=NOW, top_reasons=1).quarantine_reasons) == 1


def test_frames_are_flat_tables():
    frames = status_report(world(), now=NOW).frames()

    assert set(frames) == {"shops", "freshness", "files", "quarantine", "scorecard"}
    assert {"order_lines", "members", "age_days"} <= set(frames["shops"].columns)
    assert list(frames["scorecard"]["platform"]) == ["tmall", "jd", "douyin", "pos"]
    assert list(frames["scorecard"]["grade"]) == ["C", "B", "A", "D"]
    assert frames["files"]["quarantine_rate"].max() == pytest.approx(0.05)
    assert frames["files"]["duplicate_rate"].tolist() == [0.0, 0.5, 0.0, 0.0]


def test_empty_store():
    report = status_report(Store.in_memory())
    assert report.empty
    assert report.scorecard == ()
    assert report.now_from_data  # not given; without records it is the clock
    assert all(frame.empty for frame in report.frames().values())
