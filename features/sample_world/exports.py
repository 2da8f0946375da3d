"""Write unified frames as each platform's own export files, through its adapter.

Every file goes through ``get_adapter(platform).render(kind, frame)``, so the sample world
and the parsers share one declaration of headers, units, time formats and status words.
CSV files are written in the contract's encoding (GBK for Tmall, …) in chunks; XLSX files
with xlsxwriter in constant-memory mode, split so that no sheet passes ``xlsx_max_rows``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.adapters.registry import get_adapter
from features.schema.vocab import ExportKind, Platform

logger = logging.getLogger(__name__)

_XLSX_OPTIONS = {
    "constant_memory": True,
    "strings_to_numbers": False,
    "strings_to_formulas": False,  # chat text may start with "="
    "strings_to_urls": False,  # and contain links; a sheet holds at most 65,530 of those
}


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """One export file the world wrote."""

    path: Path
    platform: Platform
    kind: ExportKind
    rows: int


@dataclass(slots=True)
class ExportWriter:
    """Writes frames under ``out/<platform>/`` and remembers every file."""

    out: Path
    #: the workbooks' creation time (a fixed one keeps the files byte-identical per seed)
    created: dt.datetime = dt.datetime(2026, 1, 1)
    xlsx_max_rows: int = 500_000
    chunk_rows: int = 200_000
    files: list[WrittenFile] = field(default_factory=list)

    def write(
        self,
        platform: Platform,
        kind: ExportKind,
        frame: pd.DataFrame,
        suffix: str | None = None,
    ) -> list[Path]:
        """Render ``frame`` (unified fields of ``kind``) as ``platform`` exports it.

        The file is ``out/<platform>/<file_stem>[_<suffix>].<csv|xlsx>``; an XLSX export
        longer than ``xlsx_max_rows`` is split into ``…_part2.xlsx`` and so on.

        Returns:
            The paths written (none for an empty frame).
        """
        if frame.empty:
            return []
        adapter = get_adapter(platform)
        contract = adapter.contract(kind)
        folder = self.out / platform.value
        folder.mkdir(parents=True, exist_ok=True)
        stem = contract.file_stem or f"{platform.value}_{kind.value}"
        name = f"{stem}_{suffix}" if suffix else stem
        if contract.file_format == "xlsx":
            paths = self._xlsx(adapter, kind, frame, folder, name)
        else:
            path = folder / f"{name}.csv"
            self._csv(adapter, kind, frame, path, contract.encoding)
            paths = [path]
        for i, path in enumerate(paths):
            rows = min(self.xlsx_max_rows, len(frame) - i * self.xlsx_max_rows)
            self.files.append(
                WrittenFile(path, platform, kind, rows if len(paths) > 1 else len(frame))
            )
        logger.debug("wrote %s rows of %s %s to %s", len(frame), platform.value, kind.value, paths)
        return paths

    def rows(self) -> dict[str, dict[str, int]]:
        """Rows written per platform and kind."""
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for f in self.files:
            out[f.platform.value][f.kind.value] = (
                out[f.platform.value].get(f.kind.value, 0) + f.rows
            )
        return {p: dict(k) for p, k in out.items()}

    def _csv(
        self, adapter: type, kind: ExportKind, frame: pd.DataFrame, path: Path, encoding: str
    ) -> None:
        with path.open("w", encoding=encoding, newline="") as fh:
            for lo in range(0, len(frame), self.chunk_rows):
                part = adapter.render(kind, frame.iloc[lo : lo + self.chunk_rows])
                part.to_csv(fh, index=False, header=lo == 0, lineterminator="\r\n")

    def _xlsx(
        self, adapter: type, kind: ExportKind, frame: pd.DataFrame, folder: Path, name: str
    ) -> list[Path]:
        import xlsxwriter

        paths = []
        for part_no, lo in enumerate(range(0, len(frame), self.xlsx_max_rows), start=1):
            path = folder / (f"{name}.xlsx" if part_no == 1 else f"{name}_part{part_no}.xlsx")
            part = frame.iloc[lo : lo + self.xlsx_max_rows]
            workbook = xlsxwriter.Workbook(str(path), _XLSX_OPTIONS)
            workbook.set_properties({"created": self.created})
            sheet = workbook.add_worksheet("Sheet1")
            row = 0
            for clo in range(0, len(part), self.chunk_rows):
                rendered = adapter.render(kind, part.iloc[clo : clo + self.chunk_rows])
                if row == 0:
                    for c, header in enumerate(rendered.columns):
                        sheet.write_string(0, c, header)
                    row = 1
                write = sheet.write_string
                for values in rendered.itertuples(index=False, name=None):
                    for c, value in enumerate(values):
                        if isinstance(value, str):
                            if value:
                                write(row, c, value)
                        elif value is not None and value == value:  # skip None and NaN
                            write(row, c, str(value))
                    row += 1
            workbook.close()
            paths.append(path)
        return paths
