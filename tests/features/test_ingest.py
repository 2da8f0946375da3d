"""Ingest: quarantine, idempotence, overlapping exports, transactions, SKU resolution."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from features import ingest as ingest_module
from features.ingest import ingest
from features.settings import Settings
from features.store import Store


def _counts(store: Store) -> dict[str, int]:
    tables = ["order_lines", "orders", "quarantine_rows", "ingested_files", "sales_daily"]
    return {t: store.count(t) for t in tables}


def test_bad_rows_are_quarantined_with_line_field_and_reason(
    store, settings, write_export, make_orders
):
    frame = make_orders(6)
    path = write_export("tmall", "orders", frame)
    raw = pd.read_csv(path, encoding="gbk", dtype=str)
    raw.loc[1, "买家实付金额"] = "12.3.4"  # bad amount → line 3
    raw.loc[2, "订单状态"] = "火星状态"  # unknown status → line 4
    raw.loc[4, "SKU ID"] = None  # empty required cell → line 6
    raw.to_csv(path, index=False, encoding="gbk")

    report = ingest([path], store, settings)

    f = report.files[0]
    assert (f.rows_read, f.rows_accepted, f.rows_quarantined) == (6, 3, 3)
    q = store.sql("SELECT line, field, reason, raw FROM quarantine_rows ORDER BY line").df()
    assert q["line"].tolist() == [3, 4, 6]
    assert q["field"].tolist() == ["买家实付金额", "订单状态", "SKU ID"]
    assert "amount in yuan" in q["reason"][0] and "12.3.4" in q["reason"][0]
    assert "火星状态" in q["reason"][1] and "交易成功" in q["reason"][1]
    assert "empty" in q["reason"][2]
    kept = json.loads(q["raw"][0])  # the row is kept exactly as read
    assert kept["子订单编号"] == "L1" and kept["买家实付金额"] == "12.3.4"
    assert store.count("order_lines") == 3


def test_same_file_twice_changes_nothing(store, settings, write_export, make_orders):
    path = write_export("tmall", "orders", make_orders(40))
    first = ingest([path], store, settings)
    before = _counts(store)
    second = ingest([path], store, settings)
    assert first.files[0].rows_accepted == 40
    assert second.files[0].skipped
    assert _counts(store) == before


def test_overlapping_export_updates_by_natural_key(store, settings, write_export, make_orders):
    early = write_export("tmall", "orders", make_orders(10, status="paid"), "a.csv")
    later = write_export("tmall", "orders", make_orders(10, start=6, status="completed"), "b.csv")
    ingest([early, later], store, settings)
    lines = store.sql("SELECT line_id, status FROM order_lines ORDER BY line_id").df()
    assert len(lines) == 16  # L0..L15, the overlap L6..L9 not doubled
    status = dict(zip(lines["line_id"], lines["status"], strict=True))
    assert status["L5"] == "paid" and status["L6"] == "completed"
    assert store.count("orders") == 8


def test_a_narrower_export_of_the_same_orders_keeps_what_it_lacks(
    store, settings, write_export, make_orders, caplog
):
    wide = make_orders(4, status="refunded").assign(refund_status="refunded", refund_fen=1990)
    first = write_export("tmall", "orders", wide, "wide.csv")
    later = make_orders(6, status="refunded").assign(refund_status="none", refund_fen=0)
    narrow = write_export("tmall", "orders", later, "narrow.csv")
    raw = pd.read_csv(narrow, encoding="gbk", dtype=str)
    raw = raw.drop(columns=["退款状态"]).rename(columns={"退款金额": "退款金额(元)"})
    raw.to_csv(narrow, index=False, encoding="gbk")

    ingest([first], store, settings)
    with caplog.at_level("WARNING", logger="features.ingest"):
        ingest([narrow], store, settings)

    lines = store.sql(
        "SELECT line_id, refund_status, refund_fen FROM order_lines ORDER BY line_id"
    ).df()
    assert lines["line_id"].tolist() == [f"L{i}" for i in range(6)]
    assert lines["refund_fen"].tolist() == [1990] * 4 + [0, 0]  # kept; new lines: default
    assert lines["refund_status"].tolist() == ["refunded"] * 4 + ["none"] * 2
    assert "退款金额(元) (is it 退款金额?)" in caplog.text


def test_a_line_listed_twice_in_one_file_keeps_its_later_stage(
    store, settings, write_export, make_orders
):
    done = make_orders(4, status="completed")
    # line L1 listed again further down, as the export caught it earlier (shipped), and L2
    # again at the same stage with a later payment: of equal stages the later row wins
    again = pd.concat([done.iloc[[1]].assign(status="shipped"), done.iloc[[2]].assign(paid_fen=1)])
    path = write_export("tmall", "orders", pd.concat([done, again]), "twice.csv")

    ingest([path], store, settings)

    lines = store.sql("SELECT line_id, status, paid_fen FROM order_lines ORDER BY line_id").df()
    assert lines["line_id"].tolist() == ["L0", "L1", "L2", "L3"]
    assert lines["status"].tolist() == ["completed"] * 4
    assert lines.loc[2, "paid_fen"] == 1
    assert store.sql("SELECT status FROM orders WHERE order_id = 'O0'").fetchall() == [
        ("completed",)
    ]


def test_an_export_guarding_its_ids_updates_the_same_orders(
    store, settings, write_export, make_orders
):
    plain = write_export("tmall", "orders", make_orders(6, status="paid"), "a.csv")
    guarded = write_export("tmall", "orders", make_orders(6, status="completed"), "b.csv")
    raw = pd.read_csv(guarded, encoding="gbk", dtype=str)
    raw["订单编号"] = '="' + raw["订单编号"] + '"'  # how some back offices keep long ids as text
    raw["子订单编号"] = "\t" + raw["子订单编号"] + "\u200b"  # a zero-width space pasted in
    raw.to_csv(guarded, index=False, encoding="utf-8")

    ingest([plain, guarded], store, settings)

    lines = store.sql("SELECT order_id, line_id, status FROM order_lines ORDER BY line_id").df()
    assert lines["line_id"].tolist() == [f"L{i}" for i in range(6)]
    assert set(lines["order_id"]) == {"O0", "O1", "O2"}
    assert set(lines["status"]) == {"completed"}
    assert store.count("orders") == 3


def test_an_older_export_loaded_after_a_newer_one_takes_no_order_back(
    store, settings, write_export, make_orders
):
    newer = make_orders(10, status="completed")
    newer.loc[newer["order_id"] == "O1", "refund_status"] = "refunded"
    ingest([write_export("tmall", "orders", newer, "march.csv")], store, settings)
    # the same orders as they stood earlier, and four lines the newer export does not hold
    older = make_orders(14, status="shipped")
    older.loc[older["order_id"] == "O1", "status"] = "completed"  # no refund yet
    report = ingest([write_export("tmall", "orders", older, "february.csv")], store, settings)

    (file,) = report.files
    assert (file.rows_read, file.rows_accepted, file.rows_older) == (14, 4, 10)
    lines = dict(store.sql("SELECT line_id, status FROM order_lines").fetchall())
    assert {lines[f"L{i}"] for i in range(10)} == {"completed"}  # nothing taken back
    assert {lines[f"L{i}"] for i in range(10, 14)} == {"shipped"}  # the new orders kept
    refunds = dict(store.sql("SELECT line_id, refund_status FROM order_lines").fetchall())
    assert refunds["L2"] == refunds["L3"] == "refunded"
    (kept_from,) = store.sql(
        "SELECT DISTINCT source_file FROM order_lines WHERE line_id = 'L0'"
    ).fetchone()
    reasons = store.sql(
        "SELECT DISTINCT field, reason FROM quarantine_rows WHERE source_file LIKE '%february%'"
    ).fetchall()
    assert (
        "订单状态",
        "an older export of this order: it says shipped, the store holds "
        f"completed (from {kept_from}); the newer row is kept",
    ) in reasons


def test_interrupted_ingest_leaves_the_store_as_it_was(
    store, settings, write_export, monkeypatch, make_orders
):
    kept = write_export("tmall", "orders", make_orders(10), "kept.csv")
    ingest([kept], store, settings)
    before = _counts(store)
    big = write_export("tmall", "orders", make_orders(2_500, start=100), "big.csv")

    real_write = ingest_module._Writer.write
    calls = {"n": 0}

    def crash_on_second_batch(self, parsed):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C half-way
        return real_write(self, parsed)

    monkeypatch.setattr(ingest_module._Writer, "write", crash_on_second_batch)
    with pytest.raises(KeyboardInterrupt):
        ingest([big], store, settings)
    assert _counts(store) == before

    monkeypatch.setattr(ingest_module._Writer, "write", real_write)
    report = ingest([big], store, settings)
    assert report.files[0].rows_accepted == 2_500
    assert store.count("order_lines") == 2_510


def _crash_in_file(monkeypatch, name: str) -> None:
    real_write = ingest_module._Writer.write

    def crash(self, parsed):
        if self.source.endswith(name):
            raise KeyboardInterrupt
        return real_write(self, parsed)

    monkeypatch.setattr(ingest_module._Writer, "write", crash)


@pytest.mark.parametrize(("commit_rows", "kept_lines"), [(1_000_000, 0), (10, 10), (0, 10)])
def test_files_of_one_kind_commit_together_up_to_the_commit_rows(
    tmp_path, write_export, make_orders, monkeypatch, commit_rows, kept_lines
):
    settings = Settings(home=tmp_path / "home", ingest_commit_rows=commit_rows)
    first = write_export("tmall", "orders", make_orders(10), "a.csv")
    second = write_export("tmall", "orders", make_orders(10, start=100), "b.csv")
    _crash_in_file(monkeypatch, "b.csv")

    with Store.open(settings) as store:
        with pytest.raises(KeyboardInterrupt):
            ingest([first, second], store, settings)
        # only whole files were ever committed; `a.csv` shared b's transaction unless the
        # rows per commit were reached (or set to 0: one transaction per file)
        assert store.count("order_lines") == kept_lines
        assert store.count("ingested_files") == kept_lines // 10


def test_a_failed_file_amid_others_of_its_kind_is_reported_alone(
    store, settings, write_export, make_orders, monkeypatch
):
    from features.schema import contracts
    from features.schema.vocab import ExportKind

    checks = dict(contracts.VALUE_CHECKS[ExportKind.ORDERS])
    del checks["quantity"]  # so the schema's CHECK (quantity > 0) refuses the file
    monkeypatch.setitem(contracts.VALUE_CHECKS, ExportKind.ORDERS, checks)
    bad_frame = make_orders(4, start=10)
    bad_frame.loc[2, "quantity"] = 0
    paths = [
        write_export("tmall", "orders", make_orders(4), "a.csv"),
        write_export("tmall", "orders", make_orders(3, start=20), "b.csv"),
        write_export("tmall", "orders", bad_frame, "c.csv"),
        write_export("tmall", "orders", make_orders(5, start=30), "d.csv"),
    ]

    report = ingest(paths, store, settings)

    assert [f.ok for f in report.files] == [True, True, False, True]
    assert [f.rows_accepted for f in report.files] == [4, 3, 0, 5]  # rewritten, not doubled
    assert store.count("order_lines") == 12 and store.count("ingested_files") == 3
    again = ingest(paths, store, settings)
    assert [f.skipped for f in again.files] == [True, True, False, True]
    assert store.count("order_lines") == 12


def test_a_commit_that_fails_reports_every_file_of_its_transaction(
    store, settings, write_export, make_orders, monkeypatch
):
    import duckdb

    paths = [
        write_export("tmall", "orders", make_orders(4), "a.csv"),
        write_export("tmall", "orders", make_orders(4, start=10), "b.csv"),
    ]
    real_sql = store.sql

    def disk_full_on_commit(query, params=None):
        if query == "COMMIT":
            raise duckdb.IOException("No space left on device")
        return real_sql(query, params)

    monkeypatch.setattr(store, "sql", disk_full_on_commit)
    report = ingest(paths, store, settings)

    assert all("No space left" in (f.error or "") for f in report.files)
    assert [f.rows_accepted for f in report.files] == [0, 0]
    monkeypatch.undo()
    assert store.count("order_lines") == 0 and store.count("ingested_files") == 0


def test_file_broken_past_the_sniffed_head_fails_whole(
    store, settings, write_export, tmp_path, make_orders
):
    good = write_export("tmall", "orders", make_orders(30_000), "big.csv")
    broken = tmp_path / "broken.csv"
    broken.write_bytes(good.read_bytes() + b"\xff\xfe\xfa broken tail,\x81\n")
    report = ingest([broken], store, settings)
    assert not report.files[0].ok
    assert "cannot be read" in report.files[0].error
    assert store.count("order_lines") == 0 and store.count("ingested_files") == 0


def test_missing_required_column_names_it(store, settings, write_export, make_orders):
    path = write_export("tmall", "orders", make_orders(4))
    raw = pd.read_csv(path, encoding="gbk", dtype=str).drop(columns=["购买数量"])
    raw.to_csv(path, index=False, encoding="gbk")
    report = ingest([path], store, settings, platform="tmall")
    assert "购买数量" in report.files[0].error
    assert store.count("order_lines") == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), ("订单编号,子订单编号\n".encode("utf-16"), "UTF-16")],
)
def test_unreadable_files_are_reported(store, settings, tmp_path, content, message):
    path = tmp_path / "export.csv"
    path.write_bytes(content)
    report = ingest([path], store, settings)
    assert message in report.files[0].error


def test_sku_mapping_arriving_later_resolves_lines_and_sales(
    store, settings, write_export, make_orders
):
    orders = write_export("tmall", "orders", make_orders(10))
    ingest([orders], store, settings)
    assert store.sql("SELECT count(*) FROM order_lines WHERE sku_id IS NULL").fetchall()[0][0] == 10
    assert store.count("sales_daily") == 0

    mapping = pd.DataFrame(
        {"platform": "tmall", "platform_sku_id": [f"TM-S{i}" for i in range(5)],
         "sku_id": [f"SKU-{i}" for i in range(5)]}
    )  # fmt: skip
    ingest([write_export("erp", "sku_map", mapping)], store, settings)
    assert store.sql("SELECT count(*) FROM order_lines WHERE sku_id IS NULL").fetchall()[0][0] == 0
    units = store.sql("SELECT sum(units) FROM sales_daily").fetchall()[0][0]
    assert units == make_orders(10)["quantity"].sum()


def test_sales_days_are_beijing_days(store, settings, write_export, make_orders):
    frame = make_orders(2)
    frame["outer_sku_code"] = "SKU-A"
    frame["created_at"] = pd.to_datetime(["2024-11-10 15:59:00", "2024-11-10 16:00:00"])  # UTC
    products = pd.DataFrame({"sku_id": ["SKU-A"], "product_id": ["P1"], "name": ["面霜"]})
    ingest([write_export("erp", "products", products)], store, settings)
    ingest([write_export("tmall", "orders", frame)], store, settings)
    days = store.sql("SELECT day::VARCHAR, units FROM sales_daily ORDER BY day").fetchall()
    assert days == [("2024-11-10", 1), ("2024-11-11", 2)]


@hsettings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.tuples(st.integers(0, 30), st.integers(1, 30)),
    second=st.tuples(st.integers(0, 30), st.integers(1, 30)),
)
def test_overlapping_exports_equal_their_union_later_wins(
    tmp_path_factory, make_orders, first, second
):
    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home)
    a = make_orders(first[1], start=first[0], status="paid")
    b = make_orders(second[1], start=second[0], status="completed")
    from features.adapters.tmall import TmallAdapter
    from features.schema.vocab import ExportKind

    paths = []
    for name, frame in (("a.csv", a), ("b.csv", b)):
        path = home / name
        TmallAdapter.render(ExportKind.ORDERS, frame).to_csv(path, index=False, encoding="gbk")
        paths.append(path)
    with Store.open(settings) as store:
        ingest(paths, store, settings)
        ingest(paths, store, settings)  # again: a no-op
        got = store.sql("SELECT line_id, status FROM order_lines").df()
    expected = pd.concat([a, b]).drop_duplicates("line_id", keep="last")
    assert sorted(got["line_id"]) == sorted(expected["line_id"])
    assert dict(zip(got["line_id"], got["status"], strict=True)) == dict(
        zip(expected["line_id"], expected["status"], strict=True)
    )


def test_cross_field_and_range_checks_quarantine_instead_of_failing(
    store, settings, write_export, make_orders
):
    frame = make_orders(3)
    frame["returned_qty"] = [0, 5, 0]  # line 3 returns more than it sold
    path = write_export("tmall", "orders", frame)
    raw = pd.read_csv(path, encoding="gbk", dtype=str)
    raw.loc[2, "购买数量"] = "99999999999"  # no INTEGER holds it
    raw.to_csv(path, index=False, encoding="gbk")

    report = ingest([path], store, settings)

    assert report.files[0].ok and report.files[0].rows_accepted == 1
    q = store.sql("SELECT line, field, reason FROM quarantine_rows ORDER BY line").fetchall()
    assert q[0][:2] == (3, "退货数量") and "exceeds the quantity" in q[0][2]
    assert q[1][:2] == (4, "购买数量") and "whole number" in q[1][2]


def test_a_row_the_schema_refuses_fails_its_file_whole(
    store, settings, write_export, make_orders, monkeypatch
):
    from features.schema import contracts
    from features.schema.vocab import ExportKind

    # take the contract's quantity check away: the schema's CHECK (quantity > 0) still holds
    checks = dict(contracts.VALUE_CHECKS[ExportKind.ORDERS])
    del checks["quantity"]
    monkeypatch.setitem(contracts.VALUE_CHECKS, ExportKind.ORDERS, checks)
    good = write_export("tmall", "orders", make_orders(4), "good.csv")
    frame = make_orders(4, start=10)
    frame.loc[2, "quantity"] = 0
    bad = write_export("tmall", "orders", frame, "bad.csv")

    report = ingest([good, bad], store, settings)

    assert report.files[0].ok
    assert "store refused the file" in report.files[1].error
    assert store.count("order_lines") == 4 and store.count("ingested_files") == 1


@pytest.mark.parametrize("cut", range(4))
def test_encoding_sniff_tolerates_a_character_cut_at_the_block_end(tmp_path, cut):
    from features.adapters.readers import _SNIFF_BYTES, sniff_encoding

    for encoding, expected in (("utf-8", "utf-8"), ("gbk", "gb18030")):
        text = "订单编号\n" + "x" * cut + "森屿官方旗舰店\n" * (_SNIFF_BYTES // 10)
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        assert sniff_encoding(path) == expected


# -- rows with the wrong number of fields ----------------------------------------------------


def _csv_text(raw: pd.DataFrame, *, long: set[int] = frozenset(), short: set[int] = frozenset()):
    """``raw`` as CSV text, with an extra field on the ``long`` rows and half the fields
    on the ``short`` ones (as an unquoted comma or a cut line leaves them)."""
    lines = [",".join(raw.columns)]
    for i, values in enumerate(raw.itertuples(index=False)):
        cells = [f'"{v}"' if "\n" in v or "," in v else v for v in values]
        if i in long:
            cells.append("浙江省 杭州市")
        if i in short:
            cells = cells[: len(cells) // 2]
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["whole", "streamed"])
def csv_read_mode(request, monkeypatch):
    """Read CSV whole, or streamed in blocks small enough that batches go out before the
    reader meets the first malformed row."""
    if request.param == "streamed":
        from features.adapters import readers

        monkeypatch.setattr(readers, "WHOLE_FILE_BYTES", 0)
        monkeypatch.setattr(readers, "_BLOCK_BYTES", 16 << 10)
    return request.param


def test_a_row_with_the_wrong_number_of_fields_is_quarantined_and_the_rest_load(
    store, settings, write_export, make_orders, csv_read_mode
):
    n = 1_300  # more than a batch (1,000 rows) before the malformed rows when streamed
    k = 1_100 if csv_read_mode == "streamed" else 0
    frame = make_orders(n)
    frame["title"] = "保温杯"
    path = write_export("tmall", "orders", frame)
    raw = pd.read_csv(path, encoding="gbk", dtype=str, keep_default_na=False)
    raw.loc[k, "宝贝标题"] = "保温杯\n白色"  # one row on two lines: lines and rows differ
    raw.loc[k + 5, "买家实付金额"] = "12.3.4"  # a bad value after the malformed rows
    text = _csv_text(raw, long={k + 2}, short={k + 4})
    path.write_bytes(text.encode("gbk"))
    width = len(raw.columns)

    report = ingest([path], store, settings)

    f = report.files[0]
    assert f.ok, f.error
    assert (f.rows_read, f.rows_accepted, f.rows_quarantined) == (n, n - 3, 3)
    q = store.sql("SELECT line, field, reason, raw FROM quarantine_rows ORDER BY line").df()
    # the lines of the file: the quoted line break in row k puts every later row a line on
    assert q["line"].tolist() == [k + 5, k + 7, k + 8]
    assert q["field"].tolist() == ["*", "*", "买家实付金额"]
    assert f"{width + 1} fields but the header has {width}" in q["reason"][0]
    assert f"{width // 2} fields but the header has {width}" in q["reason"][1]
    assert json.loads(q["raw"][0])["_text"].endswith(",浙江省 杭州市")  # the row as in the file
    assert json.loads(q["raw"][2])["子订单编号"] == f"L{k + 5}"  # later rows keep their place
    lines = set(store.sql("SELECT line_id FROM order_lines").df()["line_id"])
    assert lines == {f"L{i}" for i in range(n)} - {f"L{k + i}" for i in (2, 4, 5)}
    title = store.sql(f"SELECT title FROM order_lines WHERE line_id = 'L{k}'").fetchall()
    assert title == [("保温杯\n白色",)]


def test_quarantined_rows_name_the_line_they_stand_on_past_blank_lines(
    store, settings, write_export, make_orders, csv_read_mode
):
    n = 1_300
    k = 1_100 if csv_read_mode == "streamed" else 5
    frame = make_orders(n)
    frame["title"] = "保温杯"
    path = write_export("tmall", "orders", frame)
    raw = pd.read_csv(path, encoding="gbk", dtype=str, keep_default_na=False)
    raw.loc[k, "宝贝标题"] = "保温杯\n白色\n大号"  # one row on three lines
    raw.loc[k + 3, "买家实付金额"] = "12.3.4"
    raw.loc[k + 6, "订单状态"] = "火星状态"
    rows = _csv_text(raw).split("\n")
    after = k + 4  # where row k + 1 begins in ``rows``: row k is on three lines
    empty = "," * (len(raw.columns) - 1)  # a row empty throughout
    text = "\n".join([*rows[:after], "", "", *rows[after : after + 3], empty, *rows[after + 3 :]])
    path.write_bytes(text.encode("gbk"))
    lines = text.split("\n")

    report = ingest([path], store, settings)

    f = report.files[0]
    assert (f.rows_read, f.rows_accepted, f.rows_quarantined) == (n, n - 2, 2)
    q = store.sql("SELECT line, raw FROM quarantine_rows ORDER BY line").df()
    # row + 2, then + 2 for the quoted line breaks, + 2 blank lines, + 1 empty row
    assert q["line"].tolist() == [k + 3 + 6, k + 6 + 7]
    for line, kept in zip(q["line"], q["raw"], strict=True):  # the line a text editor shows
        assert f",L{json.loads(kept)['子订单编号'][1:]}," in f",{lines[line - 1]}"


def test_a_file_where_most_rows_have_the_wrong_number_of_fields_fails_whole(
    store, settings, write_export, make_orders, csv_read_mode
):
    path = write_export("tmall", "orders", make_orders(4))
    raw = pd.read_csv(path, encoding="gbk", dtype=str, keep_default_na=False)
    path.write_bytes(_csv_text(raw, long={0, 1, 3}).encode("gbk"))
    width = len(raw.columns)

    report = ingest([path], store, settings)

    error = report.files[0].error or ""
    assert f"3 of 4 data rows do not have the header's {width} fields" in error
    assert f"line 2 has {width + 1}" in error and "Re-export" in error
    assert _counts(store) == dict.fromkeys(_counts(store), 0)  # nothing kept, not even quarantine


# -- the same bad rows in another export -----------------------------------------------------


def test_the_same_bad_rows_saved_again_are_quarantined_once(
    store, settings, write_export, make_orders
):
    from features.status import status_report

    path = write_export("tmall", "orders", make_orders(8), "orders_gbk.csv")
    raw = pd.read_csv(path, encoding="gbk", dtype=str, keep_default_na=False)
    raw.loc[2, "订单状态"] = "火星状态"
    raw = pd.concat([raw, raw.iloc[[2]]], ignore_index=True)  # the same bad line twice
    text = _csv_text(raw, long={5})
    path.write_bytes(text.encode("gbk"))
    ingest([path], store, settings)
    before = _counts(store)
    assert before["quarantine_rows"] == 3  # two equal lines of one file are two rows

    # the same rows saved again: as UTF-8 with one more line break (another SHA-256) ...
    resaved = path.with_name("orders_utf8.csv")
    resaved.write_bytes(text.encode("utf-8") + b"\n")
    # ... and an export that starts two days earlier: the same rows on other lines
    earlier = write_export("tmall", "orders", make_orders(3, start=100), "earlier.csv")
    head = pd.read_csv(earlier, encoding="gbk", dtype=str, keep_default_na=False)
    earlier.write_bytes(_csv_text(pd.concat([head, raw]), long={8}).encode("gbk"))
    report = ingest([resaved, earlier], store, settings)

    # each file had its three bad rows, and says that an earlier file had quarantined them
    assert [(f.ok, f.skipped, f.rows_quarantined, f.rows_known_bad) for f in report.files] == [
        (True, False, 3, 3),
        (True, False, 3, 3),
    ]
    after = _counts(store)
    assert after["quarantine_rows"] == before["quarantine_rows"]
    assert after["order_lines"] == before["order_lines"] + 3
    status = status_report(store)
    assert sum(r.rows for r in status.quarantine_reasons) == 3
    (files,) = status.files
    assert (files.rows_quarantined, files.rows_kept_in_quarantine) == (9, 3)


# -- folders ---------------------------------------------------------------------------------


def test_files_a_folder_holds_that_butler_does_not_read_are_reported(
    store, settings, write_export, make_orders, tmp_path, caplog
):
    good = write_export("tmall", "orders", make_orders(4), "mixed/orders.csv")
    folder = good.parent
    (folder / "订单报表_202411.xls").write_bytes(b"\xd0\xcf\x11\xe0 an old workbook")
    (folder / "sub").mkdir()
    (folder / "sub" / "notes.txt").write_text("call the shop", encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\x00")  # hidden: skipped on purpose, silently
    (folder / "_truth").mkdir()
    (folder / "_truth" / "members.parquet").write_bytes(b"PAR1")
    only_xls = tmp_path / "only_xls"
    only_xls.mkdir()
    (only_xls / "京东订单.xls").write_bytes(b"\xd0\xcf\x11\xe0")

    empty = tmp_path / "empty"
    empty.mkdir()

    report = ingest([folder, only_xls, empty], store, settings)

    assert sorted(f.path.name for f in report.unsupported) == [
        "notes.txt",
        "京东订单.xls",
        "订单报表_202411.xls",
    ]
    xls = next(f for f in report.unsupported if f.path.name == "订单报表_202411.xls")
    assert "save them as .xlsx" in xls.reason
    assert "skipped 2 file(s)" in caplog.text and "订单报表_202411.xls" in caplog.text
    # the folder with nothing Butler reads fails; the other folder's export still loads
    assert [f.path for f in report.failed] == [only_xls, empty]
    error = report.failed[0].error or ""
    assert "holds no file Butler can read" in error and "京东订单.xls" in error
    assert ".xlsx" in error
    assert "holds no file at all" in (report.failed[1].error or "")
    assert report.rows_accepted == 4 and store.count("order_lines") == 4
