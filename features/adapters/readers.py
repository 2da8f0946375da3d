"""Read export files as batches of text.

CSV is read with pyarrow (UTF-8, UTF-8 with BOM, or GBK/GB18030, sniffed from the bytes),
streamed when it is large; XLSX is read whole, once, as Arrow text by fastexcel (calamine:
a workbook cannot be read in part). Every value arrives as text, stripped, with the empty
words back offices write ("", "-", "null", …) turned into nulls; parsing is the adapters'
job.

A CSV row with more or fewer fields than the header (an address with a comma nobody
quoted, a line cut short) cannot be split into columns: it comes out as a
:class:`MalformedRow`, with its line, for the caller to quarantine, and the other rows are
read as usual. A file where most rows are like that, or where such a row runs over many
lines (a quote never closed), is unreadable as a whole.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from features.errors import UnreadableFileError
from features.text import INVISIBLE

if TYPE_CHECKING:
    import pyarrow.csv as pacsv

logger = logging.getLogger(__name__)

_SNIFF_BYTES = 1 << 20
_EMPTY_WORDS = ["", "-", "--", "null", "NULL", "None", "nan", "NaN", "N/A", "n/a", "无"]
SUPPORTED_SUFFIXES = (".csv", ".xlsx")
#: CSV files up to this size are parsed whole (multi-threaded); larger ones are streamed
WHOLE_FILE_BYTES = 256 << 20
#: bytes pyarrow parses at a time
_BLOCK_BYTES = 8 << 20
#: a CSV file where more than this share of the data rows has the wrong number of fields
#: is unreadable as a whole: its header does not describe its rows
MALFORMED_SHARE_MAX = 0.5
#: a row with the wrong number of fields that spans more lines than this makes its file
#: unreadable: a quote never closed has swallowed the rows after it
MALFORMED_LINES_MAX = 20


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
    #: columns that hold ids: characters that show nothing are dropped from their values
    #: (looking for them in every column would cost a tenth of the read)
    ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class MalformedRow:
    """A CSV row whose number of fields is not the header's, so it has no columns.

    ``row`` counts data rows from 0 like ``_row``, and ``line`` is ``row + 2``: a value
    holding line breaks counts as one line, blank lines are not counted, as pyarrow reads
    them (:func:`file_lines` gives the line of the file). ``text`` is the row as it stands
    in the file, decoded.
    """

    row: int
    fields: int
    expected: int
    text: str

    @property
    def line(self) -> int:
        return self.row + 2

    @property
    def reason(self) -> str:
        """Why the row was set aside; the same for the same row whatever line it is on."""
        if self.fields > self.expected:
            hint = "a value may hold a comma without quotes around it"
        else:
            hint = "the row may be cut short, or split by a line break outside quotes"
        return f"the row has {self.fields} fields but the header has {self.expected}: {hint}"


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive data rows of one file.

    Attributes:
        rows: the rows as text (see :func:`iter_batches`), with ``_row``.
        malformed: CSV rows found while reading these that could not be split into the
            header's columns (not in ``rows``).
    """

    rows: pa.Table
    malformed: tuple[MalformedRow, ...] = ()

    @property
    def num_rows(self) -> int:
        """Data rows read: those in ``rows`` and the malformed ones."""
        return self.rows.num_rows + len(self.malformed)


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


def iter_batches(export: ExportFile, batch_rows: int) -> Iterator[Batch]:
    """Yield the file's data rows as batches of Arrow tables of text (null for empty cells).

    Each table has the file's columns plus ``_row``, counting data rows from 0 across the
    whole file (line ``_row + 2`` where each row is one line; :func:`file_lines`); a CSV
    row with the wrong number of fields keeps its place in that count and comes in
    ``Batch.malformed`` instead.

    Raises:
        UnreadableFileError: the file breaks part-way (bad bytes, truncated archive), more
            than ``MALFORMED_SHARE_MAX`` of its rows have the wrong number of fields, or one
            such row spans more than ``MALFORMED_LINES_MAX`` lines. Raised when found,
            which may be after some batches: the caller drops what it wrote.
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
    return _named_headers(path, first)


def _named_headers(path: Path, cells: list[str | None]) -> list[str]:
    """The header cells as column names: stripped (``订单编号 `` is ``订单编号``), and a blank
    cell between named ones (a merged header cell) named ``(blank column N)``, so that its
    column is carried along, unread, rather than breaking the file.

    Raises:
        UnreadableFileError: no header at all, or a name given twice.
    """
    headers = [(h or "").strip() for h in cells]
    if not any(headers):
        raise UnreadableFileError(f"{path}: the first line holds no column headers.")
    last = max(i for i, h in enumerate(headers) if h)
    inner = [i + 1 for i, h in enumerate(headers[:last]) if not h]
    if inner:  # a blank after the last name is a trailing separator, not a lost column
        logger.warning(
            "%s: column(s) %s have no header (a merged header cell?); their values are kept "
            "with each row's raw data but not read. Give them their headers to load them.",
            path, ", ".join(map(str, inner)),
        )  # fmt: skip
    headers = [h or f"(blank column {i})" for i, h in enumerate(headers, start=1)]
    dupes = sorted({h for h in headers if headers.count(h) > 1})
    if dupes:
        raise UnreadableFileError(
            f"{path}: column header(s) {dupes} appear more than once. Rename or remove the "
            "repeated column in the first line, or export the file again."
        )
    return headers


def _csv_batches(export: ExportFile, batch_rows: int) -> Iterator[Batch]:
    import pyarrow.csv as pacsv

    # Fast path: pyarrow on every core. There it cannot number the rows it would skip, so
    # the first row with the wrong number of fields stops it and the file is read again,
    # on one thread, by _numbered_csv_batches: well-formed files pay nothing for this.
    watch = _InvalidRows(stop=True)
    options = _csv_options(export, watch, use_threads=True)
    done = 0  # data rows yielded: none of them comes after a malformed row
    try:
        if export.path.stat().st_size <= WHOLE_FILE_BYTES:
            # pyarrow's whole-file reader parses blocks on every core, three times faster
            # than its streaming reader; a file this size fits well within the memory budget
            table = pacsv.read_csv(export.path, **options)
            for start in range(0, table.num_rows, batch_rows):
                yield Batch(_to_frame(table.slice(start, batch_rows), start, export.ids))
            return
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for record_batch in pacsv.open_csv(export.path, **options):
            pending.append(record_batch)
            pending_rows += record_batch.num_rows
            if pending_rows >= batch_rows:
                table = pa.Table.from_batches(pending)
                pending, pending_rows = [], 0
                yield Batch(_to_frame(table, done, export.ids))
                done += table.num_rows  # rows empty throughout keep their numbers too
        if pending:
            yield Batch(_to_frame(pa.Table.from_batches(pending), done, export.ids))
        return
    except pa.ArrowInvalid as exc:
        if not watch.seen:
            raise _unreadable(export, done, exc) from exc
    except UnicodeDecodeError as exc:
        raise _unreadable(export, done, exc) from exc
    yield from _numbered_csv_batches(export, batch_rows, skip=done)


def _numbered_csv_batches(export: ExportFile, batch_rows: int, skip: int) -> Iterator[Batch]:
    """Read a CSV file that has malformed rows, on one thread, numbering them.

    The first ``skip`` well-formed rows were yielded already and are not yielded again.
    """
    import pyarrow.csv as pacsv

    invalid = _InvalidRows(stop=False)
    reader = pacsv.open_csv(export.path, **_csv_options(export, invalid, use_threads=False))
    good = 0  # well-formed rows read
    # per malformed row, the well-formed rows before it: a well-formed row's place in the
    # file is its count plus the malformed rows before it
    shifts = np.empty(0, np.int64)
    malformed: list[MalformedRow] = []  # read, not yielded yet
    examples: list[MalformedRow] = []  # the first few, for the error message
    pending: list[pa.RecordBatch] = []
    places: list[np.ndarray] = []
    pending_rows = 0
    try:
        for record_batch in reader:
            # one thread: pyarrow has reported every malformed row of the block by now
            new, invalid.rows = invalid.rows, []
            if new:
                _check_runaway(export, new)
                ranks = np.arange(len(shifts), len(shifts) + len(new))
                shifts = np.concatenate([shifts, np.array([r.row for r in new]) - ranks])
                malformed += new
                examples += new[: 3 - len(examples)]
            counts = np.arange(good, good + record_batch.num_rows)
            good += record_batch.num_rows
            keep = counts >= skip
            if not keep.any():
                continue
            first = int(np.argmax(keep))
            pending.append(record_batch.slice(first))
            places.append(counts[first:] + np.searchsorted(shifts, counts[first:], "right"))
            pending_rows += record_batch.num_rows - first
            if pending_rows >= batch_rows:
                frame = _to_frame(
                    pa.Table.from_batches(pending), np.concatenate(places), export.ids
                )
                yield Batch(frame, tuple(malformed))
                pending, places, pending_rows, malformed = [], [], 0, []
        _check_runaway(export, invalid.rows)
        malformed += invalid.rows
        examples += invalid.rows[: 3 - len(examples)]
        if pending or malformed:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            rows = np.concatenate(places) if places else np.empty(0, np.int64)
            yield Batch(_to_frame(table, rows, export.ids), tuple(malformed))
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _unreadable(export, good + len(shifts), exc) from exc
    bad = len(shifts) + len(invalid.rows)
    if bad > MALFORMED_SHARE_MAX * (good + bad):
        at = file_lines(export, [r.row for r in examples])
        shown = ", ".join(f"line {at[r.row]} has {r.fields}" for r in examples)
        raise UnreadableFileError(
            f"{export.path}: {bad:,} of {good + bad:,} data rows do not have the header's "
            f"{examples[0].expected} fields ({shown}{', …' if bad > len(examples) else ''}): "
            "the header does not describe the rows, or values hold commas or line breaks "
            "outside quotes. Re-export the file whole, as UTF-8 or GBK CSV."
        )


def file_lines(
    export: ExportFile, rows: Iterable[int], numbered: int | None = None
) -> dict[int, int]:
    """The line of the file on which each data row of ``rows`` begins (``_row``, counted
    from 0 as the readers count them).

    In a CSV file a blank line is not a row, and a quoted value holding line breaks makes
    its row span several lines, so past either a row's line is not ``row + 2``. The file is
    read again with Python's csv reader to find them, as far as the last row asked for;
    with ``numbered`` (how many data rows the reader numbered), a file with exactly one
    line per row is known without that from a count of its line breaks. A sheet's rows are
    its lines (``row + 2``).
    """
    wanted = sorted(set(rows))
    same = {row: row + 2 for row in wanted}
    if export.file_format != "csv" or not wanted:
        return same
    if numbered is not None and _physical_lines(export.path) == numbered + 1:
        return same
    found: dict[int, int] = {}
    encoding = export.encoding or "utf-8"
    with export.path.open(encoding=encoding, errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        try:
            next(reader, None)  # the header
            row, ended, want = 0, reader.line_num, iter(wanted)
            target = next(want)
            for record in reader:
                if record:  # a blank line is not a row
                    if row == target:
                        found[row] = ended + 1
                        target = next(want, None)
                        if target is None:
                            break
                    row += 1
                ended = reader.line_num
        except csv.Error:  # a value past the csv module's size limit: keep the row numbers
            pass
    return same | found


def _physical_lines(path: Path) -> int:
    """How many lines the file holds (a last line without a line break counts)."""
    lines, last = 0, b""
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            lines += block.count(b"\n")
            last = block
    return lines + (bool(last) and not last.endswith(b"\n"))


def _check_runaway(export: ExportFile, rows: list[MalformedRow]) -> None:
    for r in rows:
        lines = r.text.count("\n") + 1
        if lines > MALFORMED_LINES_MAX or _swallowed(r) > 0:
            raise UnreadableFileError(
                f"{export.path}: the row at line {file_lines(export, [r.row])[r.row]} runs "
                f"over {lines:,} lines of the "
                f"file and has {r.fields} fields where the header has {r.expected}: a quote "
                '(") that is never closed has swallowed the rows after it. Re-export the '
                "file whole, as UTF-8 or GBK CSV."
            )


def _swallowed(row: MalformedRow) -> int:
    """How many lines inside a row of the wrong width are whole rows of their own: between
    its first and last line, with no quote and as many fields as the header. Those are rows a
    quote never closed took in; a quoted value holding line breaks, in a row with a stray
    comma besides, has none (its inner lines are text, its last line closes the quote)."""
    inner = row.text.split("\n")[1:-1]
    return sum(
        '"' not in line and len(next(csv.reader([line]), [])) == row.expected for line in inner
    )


class _InvalidRows:
    """pyarrow's ``invalid_row_handler``: a row with the wrong number of fields.

    With ``stop`` it notes that one was seen and stops the read; otherwise it keeps the
    row (pyarrow numbers it only when reading on one thread) and skips it.
    """

    def __init__(self, *, stop: bool) -> None:
        self.stop = stop
        self.seen = False
        self.rows: list[MalformedRow] = []

    def __call__(self, row: pacsv.InvalidRow) -> Literal["skip", "error"]:
        self.seen = True
        if self.stop:
            return "error"
        # pyarrow counts records from 1 with the header: data row = number - 2
        self.rows.append(
            MalformedRow(row.number - 2, row.actual_columns, row.expected_columns, row.text)
        )
        return "skip"


def _csv_options(export: ExportFile, invalid: _InvalidRows, *, use_threads: bool) -> dict[str, Any]:
    import pyarrow.csv as pacsv

    return {
        # the header as named by _named_headers (stripped, blanks named), not as pyarrow would
        "read_options": pacsv.ReadOptions(
            encoding=export.encoding or "utf-8",
            block_size=_BLOCK_BYTES,
            use_threads=use_threads,
            column_names=export.headers,
            skip_rows=1,
        ),
        "parse_options": pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid),
        "convert_options": pacsv.ConvertOptions(
            column_types={h: pa.string() for h in export.headers},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }


def _unreadable(export: ExportFile, rows: int, exc: Exception) -> UnreadableFileError:
    return UnreadableFileError(
        f"{export.path}: cannot be read (after data row {rows}): "
        f"{str(exc).splitlines()[0]}. Re-export the file whole, as UTF-8 or GBK CSV."
    )


def _to_frame(
    table: pa.Table, rows: int | np.ndarray, ids: frozenset[str] = frozenset()
) -> pa.Table:
    """The rows as trimmed text with ``_row``: from ``rows`` on, or the given numbers.

    A row with every cell empty (``,,,,`` where a spreadsheet padded the file, an empty row
    of a sheet) is left out, as a blank line is: it holds nothing to keep. The other rows
    keep their numbers."""
    empty = pa.array(_EMPTY_WORDS)
    columns = {}
    for name in table.column_names:
        col = _unguarded(pc.utf8_trim_whitespace(table[name]), visible=name in ids)
        columns[name] = pc.if_else(pc.is_in(col, value_set=empty), None, col)
    if isinstance(rows, int):
        columns["_row"] = pa.array(range(rows, rows + table.num_rows), pa.int64())
    else:
        columns["_row"] = pa.array(rows, pa.int64())
    frame = pa.table(columns)
    names = table.column_names
    if names and frame[names[0]].null_count:  # only then can a row be empty throughout
        blank = frame[names[0]].is_null()
        for name in names[1:]:
            blank = pc.and_(blank, frame[name].is_null())
        if pc.any(blank).as_py():
            frame = frame.filter(pc.invert(blank))
    return frame


def _unguarded(col: pa.ChunkedArray, *, visible: bool = False) -> pa.ChunkedArray:
    """The values as the back office meant them, without the guards some exports put around
    long numbers so that Excel keeps them as text: ``="2543157870183585575"`` and a leading
    apostrophe before a number (``'13812345678``) are the text inside. With ``visible``,
    characters that show nothing (a zero-width space pasted after an id) are dropped too.
    Kept, the same order exported with and without them would be two orders."""
    invisible = INVISIBLE.pattern
    if visible and pc.any(pc.match_substring_regex(col, invisible)).as_py():
        col = pc.utf8_trim_whitespace(pc.replace_substring_regex(col, invisible, ""))
    if pc.any(pc.starts_with(col, '="')).as_py():
        col = pc.utf8_trim_whitespace(pc.replace_substring_regex(col, r'^="(.*)"$', r"\1"))
    if pc.any(pc.starts_with(col, "'")).as_py():  # a number, not text ('12号能发货吗)
        col = pc.replace_substring_regex(col, r"^'([+]?[0-9][0-9 *-]*)$", r"\1")
    return col


def _read_sheets(path: Path) -> list[tuple[str, pa.Table]]:
    """The workbook's visible sheets by name, every cell as text (row 0 is the header).

    fastexcel reads each sheet with calamine straight into Arrow; numbers come as their
    shortest text (49.0 → ``49``), date cells as ``%Y-%m-%d %H:%M:%S``. Hidden sheets (a
    back office's notes or lookups) are left out.
    """
    import fastexcel

    try:
        reader = fastexcel.read_excel(path)
        sheets = []
        for name in reader.sheet_names:
            sheet = reader.load_sheet(name, header_row=None, dtypes="string")
            if sheet.visible == "visible":
                sheets.append((name, pa.Table.from_batches([sheet.to_arrow()])))
            else:
                logger.info("%s: sheet '%s' is hidden; not read", path, name)
        return sheets
    except fastexcel.FastExcelError as exc:
        raise UnreadableFileError(
            f"{path}: not a readable XLSX workbook ({str(exc).splitlines()[0]}); the file "
            "may be truncated. Download it again from the back office."
        ) from exc


def _header_cells(sheet: pa.Table) -> list[str]:
    cells = [(h or "").strip() for h in sheet.slice(0, 1).to_pylist()[0].values()]
    while cells and cells[-1] == "":  # a workbook's used range often runs past its table
        cells.pop()
    return cells


def _xlsx_export(path: Path) -> ExportFile:
    """The workbook's table: its first visible sheet, and every later visible sheet with the
    same header row (back offices split a long export across sheets). Rows are numbered on
    from one sheet to the next, so a quarantined row's line counts on too; the log gives
    each sheet's lines. A visible sheet with another header is named and not read."""
    sheets = _read_sheets(path)
    if not sheets:
        raise UnreadableFileError(f"{path}: the workbook has no visible sheet.")
    first_name, first = sheets[0]
    if first.num_rows == 0:
        raise UnreadableFileError(f"{path}: the workbook's first sheet is empty.")
    cells = _header_cells(first)
    headers = _named_headers(path, cells)
    parts, read, other = [], [], []
    for name, sheet in sheets:
        if sheet.num_rows == 0:
            continue
        if parts and (_header_cells(sheet) != cells or sheet.num_columns < len(headers)):
            other.append(name)
            continue
        start = sum(p.num_rows for p in parts) + 2
        parts.append(sheet.slice(1).select(range(len(headers))).rename_columns(headers))
        read.append(f"'{name}' (lines {start}–{start + parts[-1].num_rows - 1})")
    if len(read) > 1:
        logger.warning(
            "%s: read %d sheets with the same header, their rows numbered on: %s",
            path, len(read), ", ".join(read),
        )  # fmt: skip
    if other:
        logger.warning(
            "%s: sheet(s) %s not read: their first row is not the header of sheet '%s'.",
            path, ", ".join(f"'{n}'" for n in other), first_name,
        )  # fmt: skip
    return ExportFile(path, "xlsx", None, headers, pa.concat_tables(parts))


def _xlsx_batches(export: ExportFile, batch_rows: int) -> Iterator[Batch]:
    data = export.sheet if export.sheet is not None else _xlsx_export(export.path).sheet
    assert data is not None
    for start in range(0, data.num_rows, batch_rows):
        yield Batch(_to_frame(data.slice(start, batch_rows), start, export.ids))
