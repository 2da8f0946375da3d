"""Write unified frames as each platform's own export files, through its adapter.

Every file goes through ``get_adapter(platform).render(kind, frame)``, so the sample world
and the parsers share one declaration of headers, units, time formats and status words.
CSV files are written with pandas in the contract's encoding (GBK for Tmall, …), chunk by
chunk; XLSX files are streamed chunk by chunk (:mod:`._xlsx`) and split so that no sheet
passes ``xlsx_max_rows``. With ``workers=1`` rendering and writing run in a second process
while the world goes on being simulated (frames travel as Arrow tables).
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
from collections import defaultdict
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa

from features.adapters.registry import get_adapter
from features.sample_world._xlsx import write_xlsx
from features.sample_world.dirt import soil
from features.schema.vocab import ExportKind, Platform

logger = logging.getLogger(__name__)

_MAX_PENDING = 2  # frames queued for the writer process before the simulation waits


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """One export file the world wrote."""

    path: Path
    platform: Platform
    kind: ExportKind
    rows: int


@dataclass(slots=True)
class ExportWriter:
    """Writes frames under ``out/<platform>/`` and remembers every file.

    Use it as a context manager when ``workers`` is 1, so that the writer process is waited
    for (and its errors raised) before the files are used.
    """

    out: Path
    #: the workbooks' creation time (a fixed one keeps the files byte-identical per seed)
    created: dt.datetime = dt.datetime(2026, 1, 1)
    xlsx_max_rows: int = 500_000
    chunk_rows: int = 100_000
    workers: int = 0
    files: list[WrittenFile] = field(default_factory=list)
    _pool: ProcessPoolExecutor | None = None
    _pending: list[Future] = field(default_factory=list)

    def __enter__(self) -> ExportWriter:
        if self.workers and self._pool is None:
            # fork while the parent is still quiet (no Arrow or BLAS work in flight); spawn
            # would re-run the caller's script in the child
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=context)
            self._pool.submit(int).result()  # start the worker now
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.close(cancel=exc_type is not None)

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
            The paths written (none for an empty frame); with a writer process they may
            still be being written until :meth:`close`.
        """
        if frame.empty:
            return []
        contract = get_adapter(platform).contract(kind)
        folder = self.out / platform.value
        folder.mkdir(parents=True, exist_ok=True)
        stem = contract.file_stem or f"{platform.value}_{kind.value}"
        name = f"{stem}_{suffix}" if suffix else stem
        if contract.file_format == "xlsx":
            parts = range(0, len(frame), self.xlsx_max_rows)
            paths = [
                folder / (f"{name}.xlsx" if i == 0 else f"{name}_part{i + 1}.xlsx")
                for i in range(len(parts))
            ]
            rows = [min(self.xlsx_max_rows, len(frame) - lo) for lo in parts]
        else:
            paths, rows = [folder / f"{name}.csv"], [len(frame)]
        fields = [c.field for c in contract.columns if c.field in frame.columns]
        job = (platform, kind, paths, self.created, self.xlsx_max_rows, self.chunk_rows)
        if self.workers:
            self._submit(job, frame[fields])
        else:
            _write(*job, frame[fields])
        self.files.extend(
            WrittenFile(p, platform, kind, r) for p, r in zip(paths, rows, strict=True)
        )
        logger.debug("%s rows of %s %s to %s", len(frame), platform.value, kind.value, paths)
        return paths

    def rows(self) -> dict[str, dict[str, int]]:
        """Rows written per platform and kind."""
        out: dict[str, dict[str, int]] = defaultdict(dict)
        for f in self.files:
            out[f.platform.value][f.kind.value] = (
                out[f.platform.value].get(f.kind.value, 0) + f.rows
            )
        return {p: dict(k) for p, k in out.items()}

    def close(self, *, cancel: bool = False) -> None:
        """Wait for the writer process (raising its first error) and stop it."""
        if self._pool is None:
            return
        try:
            if not cancel:
                while self._pending:
                    self._pending.pop(0).result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None
            self._pending.clear()

    def _submit(self, job: tuple, frame: pd.DataFrame) -> None:
        if self._pool is None:
            raise RuntimeError("Use the ExportWriter as a context manager when workers > 0.")
        while len(self._pending) >= _MAX_PENDING:
            self._pending.pop(0).result()
        table = pa.Table.from_pandas(frame, preserve_index=False)
        self._pending.append(self._pool.submit(_write_arrow, *job, table))


def _write_arrow(*args: object) -> None:
    """The writer process's entry point: the frame arrives as an Arrow table, and only one
    chunk at a time becomes a DataFrame (Python strings take several times Arrow's memory).
    """
    *job, table = args
    _write(*job, table)  # type: ignore[arg-type]


def _rows(frame: pd.DataFrame | pa.Table, lo: int, n: int) -> pd.DataFrame:
    if isinstance(frame, pd.DataFrame):
        return frame.iloc[lo : lo + n]
    return frame.slice(lo, n).to_pandas()


def _write(
    platform: Platform,
    kind: ExportKind,
    paths: list[Path],
    created: dt.datetime,
    xlsx_max_rows: int,
    chunk_rows: int,
    frame: pd.DataFrame | pa.Table,
) -> None:
    adapter = get_adapter(platform)
    contract = adapter.contract(kind)
    n = len(frame)
    if contract.file_format == "xlsx":
        for path, lo in zip(paths, range(0, n, xlsx_max_rows), strict=True):
            hi = min(n, lo + xlsx_max_rows)
            chunks = (
                soil(
                    contract, adapter.render(kind, _rows(frame, c, min(chunk_rows, hi - c))), c - lo
                )
                for c in range(lo, hi, chunk_rows)
            )
            write_xlsx(path, chunks, created)
        return
    with paths[0].open("w", encoding=contract.encoding, newline="") as fh:
        for lo in range(0, n, chunk_rows):
            part = soil(contract, adapter.render(kind, _rows(frame, lo, chunk_rows)), lo)
            part.to_csv(fh, index=False, header=lo == 0, lineterminator="\r\n")
