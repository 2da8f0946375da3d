"""Every platform × export kind: render unified rows, write the file, detect it, ingest it.

What comes out of the unified tables must be what went in: the same text, money in fen,
timestamps in UTC, whatever unit, zone, encoding and file format the platform writes.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from features.adapters.readers import open_export
from features.adapters.registry import all_adapters, detect, get_adapter
from features.ingest import ingest
from features.schema.vocab import ExportKind, Platform
from features.store import Store

CASES = [
    pytest.param(adapter.platform, contract.kind, id=f"{adapter.platform}-{contract.kind}")
    for adapter in all_adapters()
    for contract in adapter.contracts
]

# The unified tables each kind lands in, and the field a table keeps one row per (None: one
# row per row of the export).
_TABLES: dict[ExportKind, list[tuple[str, str | None]]] = {
    ExportKind.ORDERS: [("order_lines", None), ("orders", "order_id")],
    ExportKind.MEMBERS: [("members", None)],
    ExportKind.CHATS: [("chat_messages", None)],
    ExportKind.LISTINGS: [("listings", None)],
    ExportKind.PROMOTIONS: [("promotions", None)],
    ExportKind.SHOPS: [("shops", None)],
    ExportKind.WAREHOUSES: [("warehouses", None)],
    ExportKind.PRODUCTS: [("products", "product_id"), ("skus", None)],
    ExportKind.SKU_MAP: [("sku_map", None)],
    ExportKind.INVENTORY: [("inventory_snapshots", None)],
    ExportKind.PURCHASE_ORDERS: [("purchase_orders", None)],
}
# Each table's natural key, to compare rows in the same order (platform is one per file).
_SORT: dict[str, tuple[str, ...]] = {
    "order_lines": ("order_id", "line_id"),
    "orders": ("order_id",),
    "members": ("platform_user_id",),
    "chat_messages": ("session_id", "seq"),
    "listings": ("shop_id", "platform_sku_id"),
    "promotions": ("shop_id", "promo_id", "platform_sku_id"),
    "shops": ("platform", "shop_id"),
    "warehouses": ("warehouse_id",),
    "products": ("product_id",),
    "skus": ("sku_id",),
    "sku_map": ("platform", "platform_sku_id"),
    "inventory_snapshots": ("snapshot_date", "warehouse_id", "sku_id"),
    "purchase_orders": ("po_id", "line_no"),
}


def _plain(value: object) -> object:
    """One comparable Python value for a cell from pandas or from DuckDB."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, (pd.Timestamp, np.datetime64, dt.datetime, dt.date)):
        return pd.Timestamp(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, str):
        return str(value)  # StrEnum members compare as their value
    return value


def _records(frame: pd.DataFrame, fields: list[str]) -> list[dict[str, object]]:
    return [
        {f: _plain(v) for f, v in zip(fields, row, strict=True)}
        for row in frame[fields].astype(object).itertuples(index=False)
    ]


def _table_records(store: Store, table: str, fields: list[str]) -> list[dict[str, object]]:
    order = [k for k in _SORT[table] if k in fields]
    rows = store.sql(f"SELECT {', '.join(fields)} FROM {table} ORDER BY {', '.join(order)}")
    return [{f: _plain(v) for f, v in zip(fields, row, strict=True)} for row in rows.fetchall()]


def _table_columns(store: Store, table: str) -> set[str]:
    rows = store.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
    )
    return {name for (name,) in rows.fetchall()}


@pytest.mark.parametrize(("platform", "kind"), CASES)
def test_rendered_export_is_detected_and_ingested_unchanged(
    platform, kind, tmp_path, settings, mem_store, unified_frame, write_rendered
):
    adapter = get_adapter(platform)
    contract = adapter.contract(kind)
    frame = unified_frame(adapter, kind)
    path = write_rendered(adapter, kind, frame, tmp_path)

    export = open_export(path)
    assert export.file_format == contract.file_format
    assert detect(export) == (adapter, contract)

    report = ingest([path], mem_store, settings)

    (file,) = report.files
    assert file.error is None
    assert (file.platform, file.kind) == (platform.value, kind.value)
    n = len(frame)
    assert (file.rows_read, file.rows_accepted, file.rows_quarantined) == (n, n, 0)
    assert mem_store.sql("SELECT count(*) FROM quarantine_rows").fetchall() == [(0,)]
    declared = [c.field for c in contract.columns]
    for table, one_row_per in _TABLES[kind]:
        fields = [f for f in declared if f in _table_columns(mem_store, table)]
        expected = frame
        if one_row_per:  # an order's first line names it; a product's last SKU row does
            keep = "last" if table == "products" else "first"
            expected = frame.drop_duplicates(one_row_per, keep=keep)
        expected = expected.sort_values([k for k in _SORT[table] if k in fields], kind="stable")
        assert _table_records(mem_store, table, fields) == _records(expected, fields), table


@pytest.mark.parametrize(("platform", "kind"), CASES)
def test_render_writes_every_declared_column_once(platform, kind, unified_frame):
    adapter = get_adapter(platform)
    contract = adapter.contract(kind)

    rendered = adapter.render(kind, unified_frame(adapter, kind))

    assert list(rendered.columns) == [c.header for c in contract.columns]
    # every value the unified frame holds has a word on this platform: nothing renders blank
    for col in contract.columns:
        if col.kind in ("enum", "bool"):
            assert (rendered[col.header] != "").all(), col.header


def test_times_are_stored_in_utc_whatever_zone_the_platform_writes(
    tmp_path, settings, mem_store, unified_frame, write_rendered
):
    # the same instant written by a Beijing, an ISO-8601, an epoch and a UTC platform
    created = pd.Timestamp("2024-11-10 16:03:00").as_unit("ns")  # 2024-11-11 00:03 in Beijing
    erp = get_adapter(Platform.ERP)  # the SKUs, so that sales_daily counts the lines
    write_rendered(erp, ExportKind.PRODUCTS, unified_frame(erp, ExportKind.PRODUCTS), tmp_path)
    assert ingest([tmp_path], mem_store, settings).files[0].ok
    written = {}
    for platform in (Platform.JD, Platform.DOUYIN, Platform.KUAISHOU, Platform.XIAOHONGSHU):
        adapter = get_adapter(platform)
        frame = unified_frame(adapter, ExportKind.ORDERS).head(1).assign(created_at=created)
        header = next(
            c.header for c in adapter.contract(ExportKind.ORDERS).columns if c.field == "created_at"
        )
        written[platform] = adapter.render(ExportKind.ORDERS, frame).at[0, header]
        folder = tmp_path / platform.value
        folder.mkdir()
        write_rendered(adapter, ExportKind.ORDERS, frame, folder)
        assert ingest([folder], mem_store, settings).files[0].ok

    assert written == {
        Platform.JD: "2024/11/11 00:03:00",
        Platform.DOUYIN: "2024-11-11T00:03:00+08:00",
        Platform.KUAISHOU: "1731254580000",
        Platform.XIAOHONGSHU: "2024-11-10T16:03:00Z",
    }
    stored = mem_store.sql("SELECT DISTINCT created_at FROM orders").fetchall()
    assert stored == [(created.to_pydatetime(),)]
    days = mem_store.sql("SELECT DISTINCT platform, day FROM sales_daily ORDER BY 1").fetchall()
    assert days == [(p.value, dt.date(2024, 11, 11)) for p in sorted(written)]  # Beijing's day


def test_ingesting_the_same_file_twice_changes_nothing(
    tmp_path, settings, mem_store, unified_frame, write_rendered
):
    adapter = get_adapter(Platform.PINDUODUO)
    path = write_rendered(
        adapter, ExportKind.ORDERS, unified_frame(adapter, ExportKind.ORDERS), tmp_path
    )

    first = ingest([path], mem_store, settings)
    before = mem_store.sql("SELECT * FROM order_lines ORDER BY order_id, line_id").fetchall()
    second = ingest([path], mem_store, settings)

    assert first.files[0].rows_accepted == 7
    assert second.files[0].skipped
    assert (
        mem_store.sql("SELECT * FROM order_lines ORDER BY order_id, line_id").fetchall() == before
    )


def test_every_contract_names_its_file_stem():
    for adapter in all_adapters():
        for contract in adapter.contracts:
            assert contract.file_stem, f"{adapter.platform} {contract.kind}"


@pytest.mark.parametrize("platform", [Platform.JD, Platform.POS])
def test_xlsx_date_cells_are_read_in_the_platforms_zone(
    platform, tmp_path, settings, mem_store, unified_frame
):
    # back offices often write real date cells, not the text their CSV would hold
    adapter = get_adapter(platform)
    contract = adapter.contract(ExportKind.ORDERS)
    frame = unified_frame(adapter, ExportKind.ORDERS).head(1)
    table = adapter.render(ExportKind.ORDERS, frame)
    header = next(c.header for c in contract.columns if c.field == "created_at")
    table[header] = [dt.datetime(2024, 11, 11, 0, 3)]  # Beijing wall clock
    path = tmp_path / "cells.xlsx"
    table.to_excel(path, index=False, engine="xlsxwriter")

    report = ingest([path], mem_store, settings)

    assert report.files[0].rows_accepted == 1
    stored = mem_store.sql("SELECT created_at FROM orders").fetchall()
    assert stored == [(dt.datetime(2024, 11, 10, 16, 3),)]


def test_xlsx_number_cells_and_fractional_times_are_read(
    tmp_path, settings, mem_store, unified_frame
):
    adapter = get_adapter(Platform.JD)
    frame = unified_frame(adapter, ExportKind.ORDERS).head(1)
    table = adapter.render(ExportKind.ORDERS, frame)
    table["订购数量"] = [3]  # number cells, not text
    table["京东价"] = [49.5]
    table["下单时间"] = [dt.datetime(2024, 11, 11, 0, 3, 5, 250000)]
    path = tmp_path / "cells.xlsx"
    table.to_excel(path, index=False, engine="xlsxwriter")

    report = ingest([path], mem_store, settings)

    assert report.files[0].rows_accepted == 1
    stored = mem_store.sql("SELECT quantity, unit_price_fen, created_at FROM order_lines")
    assert stored.fetchall() == [(3, 4950, dt.datetime(2024, 11, 10, 16, 3, 5, 250000))]


def test_xlsx_date_cells_are_read_for_date_columns(tmp_path, settings, mem_store, unified_frame):
    adapter = get_adapter(Platform.JD)
    frame = unified_frame(adapter, ExportKind.MEMBERS).head(1)
    table = adapter.render(ExportKind.MEMBERS, frame)
    table["生日"] = [dt.date(1990, 5, 1)]
    path = tmp_path / "members.xlsx"
    table.to_excel(path, index=False, engine="xlsxwriter")

    ingest([path], mem_store, settings)

    assert mem_store.sql("SELECT birth_date FROM members").fetchall() == [(dt.date(1990, 5, 1),)]


@pytest.mark.parametrize(
    "unit",
    ["ns", "us", "ms", "s"],
)
def test_epoch_rendering_does_not_depend_on_timestamp_resolution(unit, unified_frame):
    adapter = get_adapter(Platform.KUAISHOU)
    frame = unified_frame(adapter, ExportKind.ORDERS).head(1)
    frame["created_at"] = frame["created_at"].astype(f"datetime64[{unit}]")

    rendered = adapter.render(ExportKind.ORDERS, frame)

    assert rendered.at[0, "下单时间(毫秒)"] == str(
        int(frame["created_at"].iloc[0].timestamp() * 1000)
    )


def test_sub_second_times_render_to_the_second(unified_frame):
    adapter = get_adapter(Platform.TMALL)
    frame = unified_frame(adapter, ExportKind.ORDERS).head(1)
    frame["created_at"] = pd.Series(pd.to_datetime(["2024-11-10 16:03:00.250"]))

    rendered = adapter.render(ExportKind.ORDERS, frame)

    assert rendered.at[0, "订单创建时间"] == "2024-11-11 00:03:00"
