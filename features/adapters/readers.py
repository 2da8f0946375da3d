"""Read export files as batches of text.

CSV is read with pyarrow (UTF-8, UTF-8 with BOM, or GBK/GB18030, sniffed from the bytes),
streamed when it is large; XLSX is read whole, once, as Arrow text by fastexcel (calamine:
a workbook cannot be read in part). Every value arrives as text, stripped, with the empty
words back offices write ("", "-", "null", …) turned into nulls; parsing is the adapters'
job.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from features.errors import UnreadableFileError

_SNIFF_BYTES = 1 << 20
_EMPTY_WORDS = ["", "-", "--", "null", "NULL", "None", "nan", "NaN", "N/A", "n/a", "无"]
SUPPORTED_SUFFIXES = (".csv", ".xlsx")
#: CSV files up to this size are parsed whole (multi-threaded); larger ones are streamed
WHOLE_FILE_BYTES = 256 << 20


@dataclass(frozen=True, slots=True)
class ExportFile:
    """An export file opened for reading: its format, encoding and header."""

    path: Path
    file_format: str  # csv | xlsx
    encoding: str | None
    headers: list[str]
    #: an XLSX sheet's data rows as text, read with its header (a workbook cannot be
    #: read in part, so it is read once)
    sheet: pa.Table | None = field(default=None, repr=False, compare=False)


def open_export(path: Path) -> ExportFile:
    """Check that ``path`` is a readable export and read its header.

    Raises:
        UnreadableFileError: missing, empty, not CSV/XLSX, wrong encoding, truncated.
    """
    if not path.is_file():
        raise UnreadableFileError(f"{path}: no such file.")
    if path.stat().st_size == 0:
        raise UnreadableFileError(f"{path}: the file is empty; re-export it from the back office.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        encoding = sniff_encoding(path)
        headers = _csv_headers(path, encoding)
        return ExportFile(path, "csv", encoding, headers)
    if suffix == ".xlsx":
        return _xlsx_export(path)
    raise UnreadableFileError(
        f"{path}: unsupported file type {suffix or '(none)'}; Butler reads "
        f"{', '.join(SUPPORTED_SUFFIXES)}. Save .xls files as .xlsx first."
    )


def sniff_encoding(path: Path) -> str:
    """Return ``utf-8`` or ``gb18030`` (a superset of GBK) for a CSV file.

    Raises:
        UnreadableFileError: the bytes are neither UTF-8 nor GBK.
    """
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise UnreadableFileError(
            f"{path}: the file is UTF-16; save it as UTF-8 or GBK CSV and ingest it again."
        )
    for encoding in ("utf-8", "gb18030"):
        # incremental: a multi-byte character cut at the end of the sniffed block is fine
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            decoder.decode(head, final=len(head) < _SNIFF_BYTES)
            return encoding
        except UnicodeDecodeError:
            continue
    raise UnreadableFileError(
        f"{path}: the file is neither UTF-8 nor GBK text; save it as UTF-8 or GBK CSV "
        "and ingest it again."
    )


def iter_batches(export: ExportFile, batch_rows: int) -> Iterator[pa.Table]:
    """Yield the file's data rows as Arrow tables of text (null for empty cells).

    Each table has the file's columns plus ``_row``, counting data rows from 0 across the
    whole file (file line = ``_row + 2``).

    Raises:
        UnreadableFileError: the file breaks part-way (bad bytes, truncated archive).
    """
    if export.file_format == "csv":
        yield from _csv_batches(export, batch_rows)
    else:
        yield from _xlsx_batches(export, batch_rows)


def _csv_headers(path: Path, encoding: str) -> list[str]:
    with path.open("r", encoding="utf-8-sig" if encoding == "utf-8" else encoding) as fh:
        try:
            first = next(csv.reader(io.StringIO(fh.readline())), [])
        except UnicodeDecodeError as exc:
            raise UnreadableFileError(f"{path}: the header is not {encoding} text.") from exc
    headers = [h.strip() for h in first]
    _check_headers(path, headers)
    return headers


def _check_headers(path: Path, headers: list[str]) -> None:
    if not any(headers):
        raise UnreadableFileError(f"{path}: the first line holds no column headers.")
    dupes = sorted({h for h in headers if headers.count(h) > 1})
    if dupes:
        raise UnreadableFileError(f"{path}: column header(s) {dupes} appear more than once.")


def _csv_batches(export: ExportFile, batch_rows: int) -> Iterator[pa.Table]:
    import pyarrow.csv as pacsv

    read_options = pacsv.ReadOptions(
        encoding=export.encoding or "utf-8", block_size=8 << 20, use_threads=True
    )
    convert_options = pacsv.ConvertOptions(
        column_types={h: pa.string() for h in export.headers},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    parse_options = pacsv.ParseOptions(newlines_in_values=True)
    offset = 0
    try:
        if export.path.stat().st_size <= WHOLE_FILE_BYTES:
            # pyarrow's whole-file reader parses blocks on every core, three times faster
            # than its streaming reader; a file this size fits well within the memory budget
            table = pacsv.read_csv(
                export.path,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=convert_options,
            )
            for start in range(0, table.num_rows, batch_rows):
                yield _to_frame(table.slice(start, batch_rows), start)
            return
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        reader = pacsv.open_csv(
            export.path,
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
        for record_batch in reader:
            pending.append(record_batch)
            pending_rows += record_batch.num_rows
            if pending_rows >= batch_rows:
                frame = _to_frame(pa.Table.from_batches(pending), offset)
                offset += frame.num_rows
                pending, pending_rows = [], 0
                yield frame
        if pending:
            yield _to_frame(pa.Table.from_batches(pending), offset)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise UnreadableFileError(
            f"{export.path}: cannot be read (after data row {offset}): "
            f"{str(exc).splitlines()[0]}. Re-export the file whole, as UTF-8 or GBK CSV."
        ) from exc


def _to_frame(table: pa.Table, offset: int) -> pa.Table:
    empty = pa.array(_EMPTY_WORDS)
    columns = {}
    for name in table.column_names:
        col = pc.utf8_trim_whitespace(table[name])
        columns[name] = pc.if_else(pc.is_in(col, value_set=empty), None, col)
    columns["_row"] = pa.array(range(offset, offset + table.num_rows), pa.int64())
    return pa.table(columns)


def _read_sheet(path: Path) -> pa.Table:
    """The workbook's first sheet, every cell as text (row 0 is the header).

    fastexcel reads the sheet with calamine straight into Arrow; numbers come as their
    shortest text (49.0 → ``49``), date cells as ``%Y-%m-%d %H:%M:%S``.
    """
    import fastexcel

    try:
        sheet = fastexcel.read_excel(path).load_sheet(0, header_row=None, dtypes="string")
        return pa.Table.from_batches([sheet.to_arrow()])
    except fastexcel.FastExcelError as exc:
        raise UnreadableFileError(
            f"{path}: not a readable XLSX workbook ({str(exc).splitlines()[0]}); the file "
            "may be truncated. Download it again from the back office."
        ) from exc


def _xlsx_export(path: Path) -> ExportFile:
    sheet = _read_sheet(path)
    if sheet.num_rows == 0:
        raise UnreadableFileError(f"{path}: the workbook's first sheet is empty.")
    headers = [(h or "").strip() for h in sheet.slice(0, 1).to_pylist()[0].values()]
    while headers and headers[-1] == "":
        headers.pop()
    _check_headers(path, headers)
    data = sheet.slice(1).select(range(len(headers))).rename_columns(headers)
    return ExportFile(path, "xlsx", None, headers, data)


def _xlsx_batches(export: ExportFile, batch_rows: int) -> Iterator[pa.Table]:
    data = export.sheet if export.sheet is not None else _xlsx_export(export.path).sheet
    assert data is not None
    for start in range(0, data.num_rows, batch_rows):
        yield _to_frame(data.slice(start, batch_rows), start)
