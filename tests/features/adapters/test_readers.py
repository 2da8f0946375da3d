"""CSV rows with the wrong number of fields: set aside with their place, the rest read.

Each test reads its file both ways the reader can: whole (multi-threaded) and streamed in
blocks small enough that rows are handed out before the first malformed row is met.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from features.adapters import readers
from features.adapters.readers import MalformedRow, file_lines, iter_batches, open_export
from features.errors import UnreadableFileError

HEADER = "id,name,city\n"


def _read(path: Path, batch_rows: int = 2) -> tuple[dict[int, str], list[MalformedRow]]:
    """Well-formed rows by ``_row`` (their ``id``), and the malformed rows, in order."""
    rows: dict[int, str] = {}
    malformed: list[MalformedRow] = []
    for batch in iter_batches(open_export(path), batch_rows):
        for row in batch.rows.to_pylist():
            assert row["_row"] not in rows
            rows[row["_row"]] = row["id"]
        malformed += batch.malformed
    return rows, malformed


@pytest.fixture(params=["whole", "streamed"])
def read_mode(request, monkeypatch) -> str:
    if request.param == "streamed":
        monkeypatch.setattr(readers, "WHOLE_FILE_BYTES", 0)
        # blocks of a few rows: batches go out before the reader meets a malformed row
        monkeypatch.setattr(readers, "_BLOCK_BYTES", 64)
    return request.param


def test_long_and_short_rows_are_set_aside_with_their_line(tmp_path, read_mode):
    path = tmp_path / "orders.csv"
    path.write_text(
        HEADER
        + "r0,杯子,上海\n"
        + 'r1,"保温杯\n白色",北京\n'  # one row on two lines: lines and rows differ from here
        + "r2,杯子,上海市,浦东新区\n"  # an unquoted comma: 4 fields
        + "r3,杯子,杭州\n"
        + "r4,杯子\n"  # cut short: 2 fields
        + "r5,杯子,广州\n"
        + "r6,杯子,深圳\n",
        encoding="utf-8",
    )

    rows, malformed = _read(path)

    assert rows == {0: "r0", 1: "r1", 3: "r3", 5: "r5", 6: "r6"}
    assert [(m.row, m.line, m.fields, m.expected) for m in malformed] == [
        (2, 4, 4, 3),
        (4, 6, 2, 3),
    ]
    assert malformed[0].text == "r2,杯子,上海市,浦东新区"
    assert "4 fields but the header has 3" in malformed[0].reason
    assert "comma" in malformed[0].reason and "cut short" in malformed[1].reason
    assert "line" not in malformed[0].reason  # the same row gets the same reason on any line


def test_a_gbk_file_gives_the_malformed_row_as_text(tmp_path, read_mode):
    path = tmp_path / "orders.csv"
    path.write_bytes((HEADER + "r0,杯子,上海\nr1,杯子,上海,多余\nr2,杯子,北京\n").encode("gbk"))
    rows, malformed = _read(path)
    assert rows == {0: "r0", 2: "r2"}
    assert malformed[0].text == "r1,杯子,上海,多余"


def test_a_file_where_most_rows_are_malformed_is_unreadable(tmp_path, read_mode):
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "r0,a,b,c\nr1,a,b\nr2,a,b,c\nr3,a,b,c\n", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match=r"3 of 4 data rows .* header's 3 fields"):
        _read(path)


def test_a_quote_never_closed_makes_the_file_unreadable(tmp_path, read_mode):
    path = tmp_path / "orders.csv"
    rows = [f"r{i},杯子,上海\n" for i in range(40)]
    rows[5] = 'r5,"杯子,上海\n'  # swallows every row after it into one field
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    if read_mode == "streamed":  # the swallowed rows must fit in one block
        readers._BLOCK_BYTES = 4096
    with pytest.raises(UnreadableFileError, match="line 7 runs over 35 lines.*never closed"):
        _read(path)


def test_a_quote_that_swallows_a_few_rows_makes_the_file_unreadable_too(tmp_path, read_mode):
    path = tmp_path / "orders.csv"
    rows = [f"r{i},杯子,上海\n" for i in range(20)]
    rows[3] = 'r3,"杯子,上海\n'  # swallows rows 4–6, up to the next quote
    rows[7] = 'r7,"保温杯",上海,多余\n'
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="line 5 runs over 5 lines.*never closed"):
        _read(path)


# one data row each: (kind, file text given the row's id)
_ROWS = {
    "good": lambda i: f"r{i},杯子,上海\n",
    "quoted": lambda i: f'r{i},"保温杯,\n白色",北京\n',  # a comma and a line break, quoted
    "long": lambda i: f"r{i},杯子,上海,多余\n",
    "short": lambda i: f"r{i},杯子\n",
    "long_quoted": lambda i: f'r{i},"杯\n子",上海,多余\n',
    "empty": lambda i: ",,\n",  # a row empty throughout: left out, numbered all the same
}


@hsettings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kinds=st.lists(st.sampled_from(sorted(_ROWS)), min_size=1, max_size=30),
    blank_after=st.sets(st.integers(0, 29)),
    batch_rows=st.integers(1, 7),
)
def test_every_row_keeps_its_place_in_the_file(
    tmp_path_factory, monkeypatch, kinds, blank_after, batch_rows
):
    path = tmp_path_factory.mktemp("csv") / "rows.csv"
    # blank lines are not rows (pyarrow skips them): they shift lines, not row numbers
    text = "".join(_ROWS[k](i) + ("\n" if i in blank_after else "") for i, k in enumerate(kinds))
    path.write_text(HEADER + text, encoding="utf-8")
    bad = [i for i, k in enumerate(kinds) if k in ("long", "short", "long_quoted")]
    good = {i: f"r{i}" for i, k in enumerate(kinds) if i not in bad and k != "empty"}

    for mode in ("whole", "streamed"):
        with monkeypatch.context() as m:
            if mode == "streamed":
                m.setattr(readers, "WHOLE_FILE_BYTES", 0)
                m.setattr(readers, "_BLOCK_BYTES", 64)
            if len(bad) > len(kinds) / 2:
                with pytest.raises(UnreadableFileError, match="data rows do not have"):
                    _read(path, batch_rows)
                continue
            rows, malformed = _read(path, batch_rows)
        assert rows == good, mode
        assert [m.row for m in malformed] == bad, mode
        assert all(m.text.startswith(f"r{m.row},") for m in malformed), mode
    # every row's line in the file, as a text editor numbers them
    lines = (HEADER + text).split("\n")
    found = file_lines(open_export(path), range(len(kinds)))
    assert all(lines[found[i] - 1].startswith(f"r{i},") for i in good)


def test_a_file_of_one_line_per_row_is_known_from_its_line_breaks(tmp_path, monkeypatch):
    path = tmp_path / "orders.csv"
    path.write_bytes((HEADER + "r0,杯子,上海\r\nr1,杯子,北京").encode("utf-8"))  # no last break
    export = open_export(path)
    monkeypatch.setattr(readers.csv, "reader", None)  # not read again
    assert file_lines(export, [1, 0], numbered=2) == {0: 2, 1: 3}
    monkeypatch.undo()
    path.write_bytes((HEADER + "r0,杯子,上海\r\n\r\nr1,杯子,北京\r\n").encode("utf-8"))
    assert file_lines(open_export(path), [1], numbered=2) == {1: 4}  # past a blank line


# -- header cells -----------------------------------------------------------------------------


def test_headers_with_spaces_are_read_by_their_stripped_names(tmp_path, read_mode):
    path = tmp_path / "orders.csv"
    path.write_text("id ,  name,city \n007,杯子,上海\n", encoding="utf-8")
    export = open_export(path)
    assert export.headers == ["id", "name", "city"]
    (batch,) = iter_batches(export, 10)
    assert batch.rows.to_pylist() == [{"id": "007", "name": "杯子", "city": "上海", "_row": 0}]


def test_a_blank_header_cell_between_names_is_carried_under_a_name_and_said(
    tmp_path, read_mode, caplog
):
    import openpyxl

    csv_path = tmp_path / "orders.csv"
    csv_path.write_text("id,,city,\nr0,x,上海,\n", encoding="utf-8")  # a trailing comma too
    with caplog.at_level("WARNING", logger="features.adapters.readers"):
        export = open_export(csv_path)
    assert export.headers == ["id", "(blank column 2)", "city", "(blank column 4)"]
    assert "column(s) 2 have no header" in caplog.text  # the trailing one is not a lost column
    (batch,) = iter_batches(export, 10)
    assert batch.rows.to_pylist()[0]["(blank column 2)"] == "x"

    book = openpyxl.Workbook()  # a merged header cell leaves the cell right of it blank
    book.active.append(["id", None, "city"])
    book.active.append(["r0", "x", "上海"])
    book.active.merge_cells("A1:B1")
    book.save(tmp_path / "members.xlsx")
    assert open_export(tmp_path / "members.xlsx").headers == ["id", "(blank column 2)", "city"]


def test_a_repeated_header_says_how_to_fix_it(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("id,name,id\n1,a,2\n", encoding="utf-8")
    with pytest.raises(UnreadableFileError, match=r"\['id'\] appear more than once. Rename"):
        open_export(path)


# -- values guarded against Excel ---------------------------------------------------------------


def test_values_guarded_against_excel_are_read_as_the_text_inside(tmp_path, read_mode):
    import openpyxl

    csv_path = tmp_path / "orders.csv"
    csv_path.write_text(
        'id,name,city\n"=""2543157870183585575""",杯子,上海\n'
        "'13812345678,'12号能发货吗,\t0571\n"
        "=\"\",'',=A1\n",
        encoding="utf-8",
    )
    (batch,) = iter_batches(open_export(csv_path), 10)
    rows = batch.rows.to_pylist()
    assert rows[0]["id"] == "2543157870183585575"
    assert rows[1] == {"id": "13812345678", "name": "'12号能发货吗", "city": "0571", "_row": 1}
    assert rows[2]["id"] is None and rows[2]["name"] == "''" and rows[2]["city"] == "=A1"

    book = openpyxl.Workbook()
    book.active.append(["id", "name"])
    book.active.append([None, "杯子"])
    cell = book.active["A2"]
    cell.value, cell.data_type = '="2543157870183585575"', "s"  # text, not a formula
    book.save(tmp_path / "orders.xlsx")
    (batch,) = iter_batches(open_export(tmp_path / "orders.xlsx"), 10)
    assert batch.rows.to_pylist()[0]["id"] == "2543157870183585575"


def test_characters_that_show_nothing_are_dropped_from_ids(tmp_path, read_mode):
    path = tmp_path / "orders.csv"
    path.write_text("id,text\n\ufeff123\u200b,投\u200b诉\n", encoding="utf-8")
    export = replace(open_export(path), ids=frozenset({"id"}))
    (batch,) = iter_batches(export, 10)
    assert batch.rows.to_pylist() == [{"id": "123", "text": "投\u200b诉", "_row": 0}]


def test_a_workbook_reads_its_visible_sheets_that_share_the_header(tmp_path, caplog):
    import openpyxl

    book = openpyxl.Workbook()
    notes = book.active
    notes.title, notes.sheet_state = "说明", "hidden"
    notes.append(["导出说明"])
    for name, rows in (("订单1", ["r0", "r1"]), ("订单2", ["r2"])):
        sheet = book.create_sheet(name)
        sheet.append(["id", "city"])
        for r in rows:
            sheet.append([r, "上海"])
    book.create_sheet("汇总").append(["店铺", "合计"])
    path = tmp_path / "orders.xlsx"
    book.save(path)

    with caplog.at_level("WARNING", logger="features.adapters.readers"):
        export = open_export(path)
    (batch,) = iter_batches(export, 10)

    assert export.headers == ["id", "city"]
    assert batch.rows.to_pylist() == [{"id": f"r{i}", "city": "上海", "_row": i} for i in range(3)]
    assert "'订单1' (lines 2–3), '订单2' (lines 4–4)" in caplog.text
    assert "'汇总' not read" in caplog.text


def test_rows_empty_throughout_are_left_out_and_the_rest_keep_their_numbers(tmp_path, read_mode):
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "r0,杯子,上海\n,,\n , - ,\nr3,,\n", encoding="utf-8")
    rows, malformed = _read(path)
    assert rows == {0: "r0", 3: "r3"} and not malformed
