"""Broken exports: bad cells go to quarantine with line, header and reason; broken files fail
whole with a message that says what to do, and leave the store as it was.

Broken files are made in ``tmp_path`` from rendered exports, so each stays a few KB.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from features.adapters.base import Column, ExportContract
from features.adapters.readers import open_export
from features.adapters.registry import all_adapters, detect, get_adapter
from features.errors import ContractViolation, UnknownPlatformError, UnreadableFileError
from features.ingest import ingest
from features.schema.vocab import ExportKind, Platform
from features.store import Store

CASES = [
    pytest.param(adapter.platform, contract.kind, id=f"{adapter.platform}-{contract.kind}")
    for adapter in all_adapters()
    for contract in adapter.contracts
]
BAD_AMOUNT = "十二块五"
BAD_WORD = "火星状态"


def _first(contract: ExportContract, *kinds: str) -> Column | None:
    """The first column of these kinds, a required one if there is one."""
    cols = [c for c in contract.columns if c.kind in kinds]
    return next((c for c in cols if c.required), cols[0] if cols else None)


def _rows_in(store: Store, table: str) -> int:
    return store.sql(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def _store_is_empty(store: Store) -> bool:
    tables = ("order_lines", "members", "chat_messages", "listings", "promotions", "skus")
    return all(_rows_in(store, t) == 0 for t in (*tables, "ingested_files", "quarantine_rows"))


@pytest.mark.parametrize(("platform", "kind"), CASES)
def test_bad_cells_are_quarantined_with_line_header_and_reason(
    platform, kind, tmp_path, settings, mem_store, unified_frame, write_table
):
    adapter = get_adapter(platform)
    contract = adapter.contract(kind)
    frame = unified_frame(adapter, kind)
    table = adapter.render(kind, frame)
    expected: dict[int, tuple[str, str]] = {}  # file line -> (header, text the reason shows)
    if money := _first(contract, "money"):
        table.loc[0, money.header] = BAD_AMOUNT
        expected[2] = (money.header, BAD_AMOUNT)
    if enum := _first(contract, "enum", "bool"):
        table.loc[1, enum.header] = BAD_WORD
        expected[3] = (enum.header, BAD_WORD)
    required = next(c for c in contract.columns if c.required and c.kind == "str")
    table.loc[2, required.header] = ""
    expected[4] = (required.header, "empty")
    path = write_table(
        table,
        tmp_path / f"broken.{contract.file_format}",
        file_format=contract.file_format,
        encoding=contract.encoding,
    )

    report = ingest([path], mem_store, settings)

    (file,) = report.files
    assert file.error is None
    assert file.rows_read == len(frame)
    assert file.rows_quarantined == len(expected)
    assert file.rows_accepted == len(frame) - len(expected)
    rows = mem_store.sql(
        "SELECT line, field, reason, raw, platform, kind FROM quarantine_rows ORDER BY line"
    ).fetchall()
    assert [(line, fld) for line, fld, *_ in rows] == [(n, h) for n, (h, _) in expected.items()]
    for line, fld, reason, raw, q_platform, q_kind in rows:
        shown = expected[line][1]
        assert shown in reason
        assert (q_platform, q_kind) == (platform.value, kind.value)
        raw_row = json.loads(raw)  # the row exactly as it was read
        written = table.loc[line - 2, fld]
        assert raw_row.get(fld) == (written or None)
        other = next(h for h in table.columns if h != fld and table.loc[line - 2, h] != "")
        assert raw_row[other] == table.loc[line - 2, other]


@pytest.mark.parametrize(("platform", "kind"), CASES)
def test_ids_excel_rewrote_times_before_2000_and_yuan_among_fen_are_quarantined(
    platform, kind, tmp_path, settings, mem_store, unified_frame, write_table
):
    adapter = get_adapter(platform)
    contract = adapter.contract(kind)
    table = adapter.render(kind, unified_frame(adapter, kind))
    expected: dict[int, tuple[str, str]] = {}
    ident = next(c for c in contract.columns if c.required and c.field.endswith(("_id", "_code")))
    table.loc[0, ident.header] = "2.54316E+18"
    expected[2] = (ident.header, "scientific notation")
    stamp = next((c for c in contract.columns if c.field in ("created_at", "sent_at")), None)
    if stamp is not None:  # seconds read as milliseconds land in 1970
        old = adapter._render_column(stamp, pd.Series([pd.Timestamp("1970-01-20 17:20:41")]))
        table.loc[1, stamp.header] = old[0]
        expected[3] = (stamp.header, "before 2000")
    if adapter.money_unit == "fen" and (money := _first(contract, "money")):
        table.loc[2, money.header] = "139.00"
        expected[4] = (money.header, "yuan decimals in a column of fen")
    path = write_table(
        table,
        tmp_path / f"excel.{contract.file_format}",
        file_format=contract.file_format,
        encoding=contract.encoding,
    )

    ingest([path], mem_store, settings)

    rows = mem_store.sql("SELECT line, field, reason FROM quarantine_rows ORDER BY line").fetchall()
    assert [(line, fld) for line, fld, _ in rows] == [(n, h) for n, (h, _) in expected.items()]
    for line, _, reason in rows:
        assert expected[line][1] in reason


@pytest.mark.parametrize(("platform", "kind"), CASES)
def test_file_without_a_required_column_is_rejected_whole(
    platform, kind, tmp_path, settings, mem_store, unified_frame, write_table
):
    adapter = get_adapter(platform)
    contract = adapter.contract(kind)
    missing = contract.required_headers[0]
    table = adapter.render(kind, unified_frame(adapter, kind)).drop(columns=missing)
    path = write_table(
        table,
        tmp_path / f"short.{contract.file_format}",
        file_format=contract.file_format,
        encoding=contract.encoding,
    )

    report = ingest([path], mem_store, settings)

    (file,) = report.files
    assert missing in (file.error or "")
    assert file.rows_accepted == file.rows_quarantined == 0
    assert _store_is_empty(mem_store)


@pytest.mark.parametrize("platform", [None, Platform.TMALL])
def test_missing_column_is_named_with_or_without_the_platform_given(
    platform, tmp_path, settings, mem_store, unified_frame, write_table
):
    adapter = get_adapter(Platform.TMALL)
    table = adapter.render(ExportKind.ORDERS, unified_frame(adapter, ExportKind.ORDERS))
    path = write_table(
        table.drop(columns="买家实付金额"), tmp_path / "订单报表.csv", file_format="csv"
    )

    with pytest.raises(ContractViolation, match="买家实付金额"):
        detect(open_export(path), platform=platform)
    report = ingest([path], mem_store, settings, platform=platform)
    assert "买家实付金额" in (report.files[0].error or "")


_UTF8_CSV_ORDERS = [
    pytest.param(a.platform, id=a.platform.value)
    for a in all_adapters()
    if a.platform is not Platform.ERP
    and a.contract(ExportKind.ORDERS).file_format == "csv"
    and a.contract(ExportKind.ORDERS).encoding.startswith("utf-8")
]


@pytest.mark.parametrize("platform", _UTF8_CSV_ORDERS)
def test_gbk_file_of_a_utf8_platform_still_reads(
    platform, tmp_path, settings, mem_store, unified_frame, write_rendered
):
    adapter = get_adapter(platform)
    frame = unified_frame(adapter, ExportKind.ORDERS)
    path = write_rendered(adapter, ExportKind.ORDERS, frame, tmp_path, encoding="gbk")

    export = open_export(path)
    report = ingest([path], mem_store, settings)

    assert export.encoding in ("gbk", "gb18030")
    assert report.files[0].rows_accepted == len(frame)
    titles = mem_store.sql("SELECT title FROM order_lines ORDER BY order_id, line_id").fetchall()
    assert [t for (t,) in titles] == frame["title"].tolist()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_utf8_file_of_a_gbk_platform_still_reads(
    encoding, tmp_path, settings, mem_store, unified_frame, write_rendered
):
    adapter = get_adapter(Platform.TMALL)
    frame = unified_frame(adapter, ExportKind.ORDERS)
    path = write_rendered(adapter, ExportKind.ORDERS, frame, tmp_path, encoding=encoding)

    report = ingest([path], mem_store, settings)

    assert report.files[0].rows_accepted == len(frame)
    shops = mem_store.sql("SELECT DISTINCT shop_id FROM orders").fetchall()
    assert shops == [(frame["shop_id"].iloc[0],)]


def test_utf16_file_is_unreadable(tmp_path, settings, mem_store, unified_frame, write_rendered):
    adapter = get_adapter(Platform.DOUYIN)
    frame = unified_frame(adapter, ExportKind.ORDERS)
    path = write_rendered(adapter, ExportKind.ORDERS, frame, tmp_path, encoding="utf-16")

    with pytest.raises(UnreadableFileError, match="UTF-16"):
        open_export(path)
    report = ingest([path], mem_store, settings)
    assert "UTF-16" in (report.files[0].error or "")
    assert _store_is_empty(mem_store)


def test_bytes_in_neither_encoding_are_unreadable(tmp_path, settings, mem_store):
    path = tmp_path / "订单报表.csv"
    # 0x81 0xFF is a GBK lead byte with an impossible trail byte, and not UTF-8 either
    path.write_bytes(b"\x81\xff\x00\xfe" * 512)

    with pytest.raises(UnreadableFileError, match="neither UTF-8 nor GBK"):
        open_export(path)
    assert ingest([path], mem_store, settings).files[0].error
    assert _store_is_empty(mem_store)


def test_file_broken_after_the_sniffed_block_leaves_the_store_untouched(
    tmp_path, settings, mem_store, unified_frame, write_rendered
):
    # the first MB is clean UTF-8; GBK bytes further down only show while reading rows
    adapter = get_adapter(Platform.MINIPROGRAM)
    frame = unified_frame(adapter, ExportKind.ORDERS)
    path = write_rendered(adapter, ExportKind.ORDERS, frame, tmp_path)
    line = path.read_text(encoding="utf-8").splitlines()[1]
    with path.open("a", encoding="utf-8") as fh:
        fh.write((line + "\n") * (1_200_000 // len(line)))
    with path.open("ab") as fh:
        fh.write(line.replace("O1001", "O9999").encode("gbk") + b"\n")

    assert open_export(path).encoding == "utf-8"
    report = ingest([path], mem_store, settings)

    assert report.files[0].error
    assert re.search("UTF-8|utf-8|invalid", report.files[0].error)
    assert _store_is_empty(mem_store)


def test_truncated_xlsx_fails_with_a_clear_error(
    tmp_path, settings, mem_store, unified_frame, write_rendered
):
    adapter = get_adapter(Platform.JD)
    path = write_rendered(
        adapter, ExportKind.ORDERS, unified_frame(adapter, ExportKind.ORDERS), tmp_path
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])

    with pytest.raises(UnreadableFileError, match="truncated"):
        open_export(path)
    report = ingest([path], mem_store, settings)
    assert "Download it again" in (report.files[0].error or "")
    assert _store_is_empty(mem_store)


def test_xlsx_with_an_empty_sheet_is_unreadable(tmp_path, settings, mem_store):
    path = tmp_path / "订单查询导出.xlsx"
    pd.DataFrame().to_excel(path, index=False, engine="xlsxwriter")

    with pytest.raises(UnreadableFileError, match="first sheet is empty"):
        open_export(path)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_empty_file_is_unreadable(suffix, tmp_path, settings, mem_store):
    path = tmp_path / f"订单报表{suffix}"
    path.write_bytes(b"")

    with pytest.raises(UnreadableFileError, match="empty"):
        open_export(path)
    assert "empty" in (ingest([path], mem_store, settings).files[0].error or "")


@pytest.mark.parametrize(("platform", "kind"), [(Platform.TMALL, ExportKind.ORDERS),
                                                (Platform.POS, ExportKind.MEMBERS)])  # fmt: skip
def test_header_only_file_ingests_no_rows(
    platform, kind, tmp_path, settings, mem_store, unified_frame, write_rendered
):
    adapter = get_adapter(platform)
    path = write_rendered(adapter, kind, unified_frame(adapter, kind).head(0), tmp_path)

    report = ingest([path], mem_store, settings)

    (file,) = report.files
    assert (file.error, file.rows_read, file.rows_accepted) == (None, 0, 0)
    assert (file.platform, file.kind) == (platform.value, kind.value)


def test_unknown_headers_name_no_platform(tmp_path, settings, mem_store):
    path = tmp_path / "report.csv"
    path.write_text("日期,访客数,浏览量\n2024-11-11,100,300\n", encoding="utf-8")

    with pytest.raises(UnknownPlatformError, match="remove any title lines.*--platform"):
        detect(open_export(path))
    assert "访客数" in (ingest([path], mem_store, settings).files[0].error or "")
    assert _store_is_empty(mem_store)


def test_export_of_another_platform_is_refused_when_the_platform_is_forced(
    tmp_path, settings, mem_store, unified_frame, write_rendered
):
    adapter = get_adapter(Platform.DOUYIN)
    path = write_rendered(
        adapter, ExportKind.ORDERS, unified_frame(adapter, ExportKind.ORDERS), tmp_path
    )

    with pytest.raises(
        UnknownPlatformError, match="a kuaishou export .as --platform says.*leave out --platform"
    ):
        detect(open_export(path), platform=Platform.KUAISHOU)
    assert ingest([path], mem_store, settings, platform="kuaishou").files[0].error
    assert _store_is_empty(mem_store)


def test_a_future_order_is_quarantined_and_a_negative_quantity_gets_one_reason(
    tmp_path, settings, mem_store, unified_frame, write_table
):
    adapter = get_adapter(Platform.TMALL)
    contract = adapter.contract(ExportKind.ORDERS)
    frame = unified_frame(adapter, ExportKind.ORDERS)
    frame.loc[0, "created_at"] = pd.Timestamp("2099-01-01 10:00")  # would move "now"
    frame.loc[1, "quantity"] = -3
    path = write_table(
        adapter.render(ExportKind.ORDERS, frame),
        tmp_path / "orders.csv",
        file_format=contract.file_format,
        encoding=contract.encoding,
    )
    (file,) = ingest([path], mem_store, settings).files
    assert file.rows_quarantined == 2
    reasons = dict(mem_store.sql("SELECT line, reason FROM quarantine_rows").fetchall())
    assert reasons[2].startswith("value 2099-01-01") and "is after today" in reasons[2]
    assert reasons[3] == "value -3 must be more than 0"  # not also "returns exceed it"
    newest = mem_store.sql("SELECT max(created_at) FROM order_lines").fetchall()[0][0]
    assert newest.year < 2099


def test_a_workbook_whose_table_is_not_on_the_first_sheet_says_where_butler_looked(
    tmp_path, settings, mem_store
):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "说明"
    book.active.append(["本表导出于2025-12-30"])
    data = book.create_sheet("会员")
    data.append(["会员ID", "昵称"])
    book.save(tmp_path / "会员.xlsx")
    (file,) = ingest([tmp_path / "会员.xlsx"], mem_store, settings).files
    assert "reads the first visible sheet '说明' (the workbook's sheets: 说明, 会员)" in file.error
    assert "headers in row 1" in file.error


def test_an_iso_time_in_utc_written_with_z_is_read(
    tmp_path, settings, mem_store, unified_frame, write_table
):
    adapter = get_adapter(Platform.DOUYIN)
    contract = adapter.contract(ExportKind.ORDERS)
    table = adapter.render(ExportKind.ORDERS, unified_frame(adapter, ExportKind.ORDERS))
    stamp = next(c for c in contract.columns if c.field == "created_at")
    table[stamp.header] = "2024-01-01T01:11:49Z"
    path = write_table(table, tmp_path / "orders.csv", file_format="csv", encoding="utf-8")

    (file,) = ingest([path], mem_store, settings).files

    assert file.rows_quarantined == 0
    (created,) = mem_store.sql("SELECT DISTINCT created_at FROM order_lines").fetchall()[0]
    assert str(created) == "2024-01-01 01:11:49"  # stored in UTC


def test_stock_of_skus_the_product_master_lacks_is_named_after_the_ingest(
    tmp_path, settings, mem_store, unified_frame, write_rendered, caplog
):
    erp = get_adapter(Platform.ERP)
    products = write_rendered(
        erp, ExportKind.PRODUCTS, unified_frame(erp, ExportKind.PRODUCTS), tmp_path
    )
    stock = unified_frame(erp, ExportKind.INVENTORY)
    stock.loc[0, "sku_id"] = "sku-002"  # typed in lower case in the ERP
    stock.loc[1, "sku_id"] = "SKU-999"
    inventory = write_rendered(erp, ExportKind.INVENTORY, stock, tmp_path)

    with caplog.at_level("WARNING", logger="features.ingest"):
        ingest([inventory, products], mem_store, settings)  # stock first, as a folder sorts

    assert "2 SKUs in stock or purchase-order files are not in the product master" in caplog.text
    assert "SKU-999, sku-002 (did you mean SKU-002?)" in caplog.text
    assert _rows_in(mem_store, "inventory_snapshots") == len(stock)  # kept, not dropped
