"""A streaming, vectorised XLSX writer for big single-sheet text exports.

xlsxwriter spends about 5 µs per cell in Python, so the large world's XLSX order exports
(tens of millions of cells) took a quarter of an hour. Back-office exports are one sheet of
text cells, which needs only five small XML parts; the sheet's rows are built column-wise
with pandas string operations and streamed into the zip chunk by chunk, so memory stays
flat. Cells are inline strings (``t="inlineStr"``), as xlsxwriter's constant-memory mode
writes them.
"""

from __future__ import annotations

import csv
import datetime as dt
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/styles.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    'Target="styles.xml"/></Relationships>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="1"><fill><patternFill patternType="none"/></fill></fills>'
    '<borders count="1"><border/></borders>'
    '<cellStyleXfs count="1"><xf/></cellStyleXfs><cellXfs count="1"><xf xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<sheetData>"
)
_SHEET_TAIL = "</sheetData></worksheet>"
_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"
_SEP, _END, _QUOTE = "\x01", "\x02", "\x03"  # placeholders; never in export text
_CELL = '<c t="inlineStr"><is><t>'
_CELL_END = "</t></is></c>"


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def write_xlsx(path: Path, chunks: Iterable[pd.DataFrame], created: dt.datetime) -> int:
    """Write one sheet: the first chunk's columns as the header, then every chunk's rows.

    Args:
        path: the ``.xlsx`` file to write.
        chunks: frames of text (``""`` or None for an empty cell), all with the same columns.
        created: the zip entries' time stamp (fixed, so that a seed gives the same bytes).

    Returns:
        The number of data rows written.
    """
    stamp = (created.year, created.month, created.day, created.hour, created.minute, 0)

    def info(name: str) -> zipfile.ZipInfo:
        entry = zipfile.ZipInfo(name, date_time=stamp)
        entry.compress_type = zipfile.ZIP_DEFLATED
        return entry

    rows = 0
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, text in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _RELS),
            ("xl/workbook.xml", _WORKBOOK),
            ("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
            ("xl/styles.xml", _STYLES),
        ):
            zf.writestr(info(name), text)
        with zf.open(info("xl/worksheets/sheet1.xml"), "w", force_zip64=True) as fh:
            fh.write(_SHEET_HEAD.encode())
            header_done = False
            for chunk in chunks:
                if not header_done:
                    head = pd.DataFrame([list(chunk.columns)], columns=chunk.columns)
                    fh.write(_rows_xml(head, 1).encode())
                    header_done = True
                if len(chunk):
                    fh.write(_rows_xml(chunk, rows + 2).encode())
                    rows += len(chunk)
            fh.write(_SHEET_TAIL.encode())
    return rows


def _rows_xml(frame: pd.DataFrame, first_row: int) -> str:
    """``<row>`` elements for ``frame`` (its first row is sheet row ``first_row``).

    Fast path: pandas' C CSV writer joins the cells with placeholder separators, which
    become the XML between cells; cells carry no ``r`` reference, so an empty cell is
    written as an empty string to keep the columns in place. Text with control characters
    (which the placeholders are) takes the slow path.
    """
    n, width = frame.shape
    try:
        text = frame.to_csv(
            sep=_SEP, header=False, index=False, lineterminator=_END,
            quoting=csv.QUOTE_NONE, quotechar=_QUOTE, escapechar=None,
        )  # fmt: skip
    except csv.Error:
        text = ""
    if text.count(_SEP) != n * (width - 1) or text.count(_END) != n or _QUOTE in text:
        return _rows_xml_slow(frame, first_row)
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    body = (
        text[:-1].replace(_SEP, _CELL_END + _CELL).replace(_END, _CELL_END + "</row><row>" + _CELL)
    )
    return "<row>" + _CELL + body + _CELL_END + "</row>" if n else ""


def _rows_xml_slow(frame: pd.DataFrame, first_row: int) -> str:
    """As :func:`_rows_xml`, cell by cell in pandas, removing control characters."""
    numbers = pd.Series(range(first_row, first_row + len(frame)), index=frame.index).astype(str)
    row_xml = '<row r="' + numbers + '">'
    for i, col in enumerate(frame.columns):
        text = frame[col].astype(object).where(frame[col].notna(), "").astype(str)
        text = (
            text.str.replace("&", "&amp;", regex=False)
            .str.replace("<", "&lt;", regex=False)
            .str.replace(">", "&gt;", regex=False)
            .str.replace(_CONTROL, "", regex=True)
        )
        cell = '<c r="' + column_letter(i) + numbers + '" t="inlineStr"><is><t>' + text + _CELL_END
        row_xml = row_xml + cell.where(text != "", "")
    return "".join((row_xml + "</row>").tolist())
