"""Load export files into the unified store: nothing lost, nothing doubled.

* Each file is read in batches, parsed by its platform's adapter and written inside a
  transaction that holds whole files only: consecutive files of one platform and export
  kind share one (up to ``Settings.ingest_commit_rows``), so an ingest interrupted
  part-way leaves the store as it was before the files of the open transaction. A file
  that fails is reported alone: its transaction is rolled back and the other files in it
  are written again, each in its own.
* Rows that fail their contract go to ``quarantine_rows`` with file, line, field and reason;
  so do CSV rows with the wrong number of fields (field ``*``, the row's text as ``raw``).
  A row already there from another file (the same export saved again, in another
  encoding, or an overlapping one) with the same content and reason is not added again.
* A file already ingested (same SHA-256) is skipped; a later export that overlaps an earlier
  one replaces rows by natural key instead of duplicating them.
* Files in a folder that Butler does not read (``.xls``, ``.txt``, …) are listed in the
  report with what to do; a folder holding only such files fails.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import pyarrow as pa

from features.adapters.base import ExportContract, PlatformAdapter, quote_ident, quote_literal
from features.adapters.readers import (
    SUPPORTED_SUFFIXES,
    Batch,
    ExportFile,
    MalformedRow,
    file_lines,
    iter_batches,
    open_export,
)
from features.adapters.registry import detect
from features.errors import ButlerError
from features.schema.contracts import is_id
from features.schema.vocab import ExportKind, OrderStatus, Platform, RefundStatus
from features.settings import Settings
from features.store import Store
from features.text import counted

logger = logging.getLogger(__name__)

#: called with (bytes done, bytes total) across all files of one ingest
ProgressFn = Callable[[int, int], None]

# Business days are Asia/Shanghai (UTC+8 all year: China keeps no daylight saving time).
_BUSINESS_DAY = "CAST({col} + INTERVAL 8 HOUR AS DATE)"
_SOLD = ", ".join(f"'{s.value}'" for s in OrderStatus.sold())
_NEWEST = {  # the column that tells how fresh a kind of export is
    ExportKind.ORDERS: "created_at",
    ExportKind.MEMBERS: "registered_at",
    ExportKind.CHATS: "sent_at",
    ExportKind.LISTINGS: "updated_at",
    ExportKind.PROMOTIONS: "starts_at",
    ExportKind.INVENTORY: "snapshot_date",
    ExportKind.PURCHASE_ORDERS: "ordered_on",
}


@dataclass(slots=True)
class FileReport:
    """What happened to one file."""

    path: Path
    platform: str = ""
    kind: str = ""
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    #: of those, rows an earlier file (an overlapping export) had put in quarantine already:
    #: they are kept there once, not twice
    rows_known_bad: int = 0
    #: of those, order lines at an earlier stage than the store holds (an older export
    #: loaded after a newer one): the store's newer rows are kept
    rows_older: int = 0
    skipped: bool = False  # already ingested (same content)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class UnsupportedFile:
    """A file found in a folder that Butler does not read, and what to do about it."""

    path: Path
    reason: str


@dataclass(slots=True)
class IngestReport:
    """What happened to every file of one ``ingest`` call.

    A folder that holds files but none Butler reads is in ``files`` as a failed entry;
    the files it skipped in folders are in ``unsupported``.
    """

    files: list[FileReport] = field(default_factory=list)
    unsupported: list[UnsupportedFile] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if not f.ok]

    @property
    def rows_accepted(self) -> int:
        return sum(f.rows_accepted for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    @property
    def rows_known_bad(self) -> int:
        return sum(f.rows_known_bad for f in self.files)


def find_export_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into the export files below them (sorted, hidden files skipped).

    Raises:
        ButlerError: a path does not exist.
    """
    return _search(paths).files


@dataclass(slots=True)
class _Search:
    files: list[Path] = field(default_factory=list)
    unsupported: list[UnsupportedFile] = field(default_factory=list)
    #: folders holding files, none of which Butler reads, with what it skipped there
    unreadable_folders: list[tuple[Path, list[UnsupportedFile]]] = field(default_factory=list)


def _search(paths: Iterable[Path]) -> _Search:
    """The export files under ``paths``, and the files in its folders Butler does not read.

    Names starting with ``.`` or ``_`` (hidden files, a generator's ``_truth`` folder) are
    left out on purpose, and silently. A file given by name is kept whatever its type:
    opening it says why it cannot be read.
    """
    search = _Search()
    for path in paths:
        if path.is_dir():
            found, skipped = [], []
            for p in sorted(path.rglob("*")):
                if not p.is_file() or any(
                    part.startswith((".", "_")) for part in p.relative_to(path).parts
                ):
                    continue
                if p.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append(p)
                else:
                    skipped.append(UnsupportedFile(p, _unsupported_reason(p)))
            search.files += found
            search.unsupported += skipped
            if not found:
                search.unreadable_folders.append((path, skipped))
            elif skipped:
                logger.warning("%s: %s", path, _describe_skipped(skipped))
        elif path.exists():
            search.files.append(path)
        else:
            raise ButlerError(f"{path}: no such file or folder.")
    return search


_SUPPORTED = " or ".join(SUPPORTED_SUFFIXES)
_UNSUPPORTED_FIXES = {
    ".xls": "old Excel workbooks: open them in Excel or WPS and save them as .xlsx",
    ".xlsm": "macro workbooks: save them as .xlsx",
    ".xlsb": "binary workbooks: save them as .xlsx",
    ".et": "WPS workbooks: save them as .xlsx",
    ".zip": "archives: unpack them and ingest the files inside",
    ".rar": "archives: unpack them and ingest the files inside",
    ".7z": "archives: unpack them and ingest the files inside",
}


def _unsupported_reason(path: Path) -> str:
    suffix = path.suffix.lower()
    fix = _UNSUPPORTED_FIXES.get(suffix)
    if fix is None:
        fix = f"Butler reads {_SUPPORTED} exports only; save tables as one of these"
    return f"{suffix or 'no extension'}: {fix}"


def _describe_skipped(skipped: list[UnsupportedFile], shown: int = 3) -> str:
    """``skipped`` grouped by reason, with a few names each: one line for a message."""
    groups: dict[str, list[str]] = {}
    for f in skipped:
        groups.setdefault(f.reason, []).append(f.path.name)
    parts = []
    for reason, names in groups.items():
        more = f" and {len(names) - shown} more" if len(names) > shown else ""
        parts.append(f"{', '.join(names[:shown])}{more} ({reason})")
    return f"skipped {len(skipped)} file(s) Butler does not read: {'; '.join(parts)}."


def ingest(
    paths: Iterable[Path],
    store: Store,
    settings: Settings,
    *,
    platform: Platform | str | None = None,
    on_progress: ProgressFn | None = None,
) -> IngestReport:
    """Ingest export files and folders into ``store``.

    A file that cannot be read at all is reported (``FileReport.error``) and leaves the
    store untouched; the other files are still ingested. So is a folder that holds no file
    Butler reads (none at all, or only ``.xls``, ``.txt`` …); the files skipped in folders
    are in ``IngestReport.unsupported`` (and logged as a warning).

    Args:
        paths: files and folders (folders are searched recursively; names starting with
            ``.`` or ``_`` are skipped, so a generator's ``_truth`` folder is not ingested).
        store: the open store.
        settings: runtime settings (batch size, rows per commit).
        platform: force the platform instead of detecting it from each file's header.
        on_progress: called with (bytes done, bytes total) as files are read.

    Examples:
        >>> report = ingest([Path("exports/")], store, settings)      # doctest: +SKIP
        >>> report.rows_accepted, report.rows_quarantined              # doctest: +SKIP
    """
    started = dt.datetime.now()
    search = _search(paths)
    files = search.files
    total = sum(_size(p) for p in files)
    done = 0
    report = IngestReport(unsupported=search.unsupported)
    for folder, skipped in search.unreadable_folders:
        what = (
            f"it {_describe_skipped(skipped)}"
            if skipped
            else "it holds no file at all (names starting with . or _ are not read)."
        )
        result = FileReport(
            path=folder, error=f"{folder}: holds no file Butler can read ({_SUPPORTED}); {what}"
        )
        logger.error("%s", result.error)
        report.files.append(result)
    open_tx = _OpenTransaction(store, platform)
    # the next file is opened (XLSX read, hashed) on a second thread while DuckDB writes
    # this one: at most two files are held in memory
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="butler-read-ahead")
    try:
        ahead = pool.submit(_prepare, files[0], platform) if files else None
        for i, path in enumerate(files):
            size = _size(path)

            def progress(frac: float, base: int = done, size: int = size) -> None:
                if on_progress:
                    on_progress(base + int(frac * size), total)

            prepared = ahead
            if i + 1 < len(files):
                ahead = pool.submit(_prepare, files[i + 1], platform)
            result = FileReport(path=path)
            report.files.append(result)
            assert prepared is not None
            open_tx.add(result, prepared, settings, progress)
            done += size
            if on_progress:
                on_progress(done, total)
        open_tx.commit()
        _warn_unlisted_skus(store, report.files)
    except BaseException:
        open_tx.rollback()  # Ctrl-C or a bug: the store stays as the last commit left it
        raise
    finally:
        pool.shutdown(cancel_futures=True)
    report.seconds = (dt.datetime.now() - started).total_seconds()
    return report


def _warn_unlisted_skus(store: Store, files: list[FileReport], shown: int = 5) -> None:
    """Warn of SKUs that stock or purchase-order files of this call name but the product
    master does not list (``syld01000-01`` beside ``SYLD01000-01``): their rows are kept
    under those ids, so that stock would count apart from its SKU's without a word."""
    sources = [
        str(f.path)
        for f in files
        if f.ok and not f.skipped and f.kind in ("inventory", "purchase_orders")
    ]
    if not sources:
        return
    rows = store.sql(
        """
        SELECT t.sku_id, min(k.sku_id) AS known
        FROM (SELECT sku_id FROM inventory_snapshots WHERE list_contains($files, source_file)
              UNION
              SELECT sku_id FROM purchase_orders WHERE list_contains($files, source_file)) t
        LEFT JOIN skus k ON upper(k.sku_id) = upper(t.sku_id)
        WHERE t.sku_id NOT IN (SELECT sku_id FROM skus)
        GROUP BY t.sku_id ORDER BY t.sku_id
        """,
        {"files": sources},
    ).fetchall()
    if not rows:
        return
    examples = ", ".join(
        sku + (f" (did you mean {known}?)" if known else "") for sku, known in rows[:shown]
    )
    more = f" and {len(rows) - shown:,} more" if len(rows) > shown else ""
    logger.warning(
        "%s in stock or purchase-order files are not in the product master: %s%s. Their "
        "rows are kept under these ids; correct them in the ERP export, or ingest the "
        "product master that lists them.",
        counted(len(rows), "SKU"), examples, more,
    )  # fmt: skip


class _OpenTransaction:
    """Files written so far into the one open transaction (all of one platform and kind)."""

    def __init__(self, store: Store, platform: Platform | str | None) -> None:
        self.store = store
        self.platform = platform
        self.files: list[FileReport] = []
        self.rows = 0

    def add(
        self,
        result: FileReport,
        prepared: Future[_Prepared],
        settings: Settings,
        progress: Callable[[float], None],
    ) -> None:
        """Write one file into the open transaction (beginning or committing one as needed)."""
        started = time.perf_counter()
        try:
            opened = _recognise(result, prepared.result(), self.store)
            if opened is None:  # already ingested
                return
            kind = (result.platform, result.kind)
            if self.files and (
                kind != (self.files[0].platform, self.files[0].kind)
                or self.rows >= settings.ingest_commit_rows
            ):
                self.commit()
            if not self.files:
                self.store.sql("BEGIN TRANSACTION")
            self.files.append(result)  # before writing: a failure rolls it back with the rest
            _write_file(opened, self.store, settings, result, progress)
            self.rows += result.rows_read
        except (ButlerError, OSError, duckdb.Error) as exc:
            _fail(result, exc)
            if result in self.files:
                self._rewrite_without(result, settings)
        finally:
            result.seconds += time.perf_counter() - started
        if not settings.ingest_commit_rows:
            self.commit()

    def commit(self) -> None:
        files, self.files, self.rows = self.files, [], 0
        if not files:
            return
        started = time.perf_counter()
        try:
            self.store.sql("COMMIT")
        except duckdb.Error as exc:  # the disk filled up, say: none of these files was kept
            for result in files:
                _fail(result, exc)
            with contextlib.suppress(duckdb.Error):
                self.store.sql("ROLLBACK")
        files[-1].seconds += time.perf_counter() - started

    def rollback(self) -> None:
        if self.files:
            self.store.sql("ROLLBACK")
        self.files, self.rows = [], 0

    def _rewrite_without(self, failed: FileReport, settings: Settings) -> None:
        """Roll back, then write the transaction's other files again, each alone."""
        others = [f for f in self.files if f is not failed]
        self.rollback()
        for result in others:
            result.rows_read = result.rows_accepted = result.rows_quarantined = 0
            started = time.perf_counter()
            try:
                opened = _recognise(result, _prepare(result.path, self.platform), self.store)
                if opened is not None:
                    with self.store.transaction():
                        _write_file(opened, self.store, settings, result, lambda _: None)
            except (ButlerError, OSError, duckdb.Error) as exc:  # changed on disk since
                _fail(result, exc)
            result.seconds += time.perf_counter() - started


_Prepared = tuple[ExportFile, type[PlatformAdapter], ExportContract, str]


def _prepare(path: Path, platform: Platform | str | None) -> _Prepared:
    """Open, recognise and hash a file: file work only, safe on another thread."""
    export = open_export(path)
    adapter, contract = detect(export, platform)
    return export, adapter, contract, _sha256(path)


def _recognise(result: FileReport, prepared: _Prepared, store: Store) -> _Prepared | None:
    """Note what the file is; ``None`` when the same content was ingested before."""
    _, adapter, contract, sha = prepared
    result.platform, result.kind = adapter.platform.value, contract.kind.value
    if store.sql("SELECT 1 FROM ingested_files WHERE file_sha256 = ?", [sha]).fetchall():
        result.skipped = True
        logger.info("%s: already ingested, skipped", result.path)
        return None
    return prepared


def _write_file(
    opened: _Prepared,
    store: Store,
    settings: Settings,
    result: FileReport,
    progress: Callable[[float], None],
) -> None:
    """Write one opened file inside the caller's transaction."""
    export, adapter, contract, sha = opened
    writer = _Writer(store, adapter, contract, str(result.path), sha, export.headers)
    export = replace(export, ids=frozenset(h for h, f in writer.mapping.items() if is_id(f)))
    if writer.unread:
        logger.warning(
            "%s: column(s) not read, no field of the %s %s export goes by that name: %s. "
            "Rename a column to its field's header and ingest the file again.",
            result.path, result.platform, result.kind, "; ".join(writer.unread),
        )  # fmt: skip
    for batch in _with_progress(iter_batches(export, settings.ingest_batch_rows), progress):
        read, accepted = writer.write(batch)
        result.rows_read += read
        result.rows_accepted += accepted
    writer.finish()
    result.rows_quarantined = result.rows_read - result.rows_accepted
    # the file's lines of its quarantined rows (the malformed ones among them)
    at = (
        _renumber_quarantine(store, export, sha, writer.numbered) if result.rows_quarantined else {}
    )
    if writer.malformed:
        # a malformed row another file had quarantined already is not among them
        missing = [r.row for r in writer.malformed if r.row not in at]
        if missing:
            at |= file_lines(export, missing, writer.numbered)
        first = writer.malformed[0]
        lines = ", ".join(str(at[r.row]) for r in writer.malformed)
        more = ", …" if writer.malformed_rows > len(writer.malformed) else ""
        logger.warning(
            "%s: quarantined %d row(s) with the wrong number of fields (line %s%s). Line %d: %s.",
            result.path, writer.malformed_rows, lines, more, at[first.row], first.reason,
        )  # fmt: skip
    result.rows_older = writer.older_orders
    if writer.older_orders:
        logger.warning(
            "%s: %d order line(s) are at an earlier stage than the store holds (an older "
            "export loaded after a newer one); the store's newer rows were kept, these went "
            "to quarantine.",
            result.path, writer.older_orders,
        )  # fmt: skip
    if result.rows_quarantined:
        kept = store.sql(
            "SELECT count(DISTINCT line) FROM quarantine_rows WHERE file_sha256 = ?", [sha]
        ).fetchall()[0][0]
        result.rows_known_bad = max(result.rows_quarantined - int(kept), 0)
    store.sql(
        "INSERT INTO ingested_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
        [
            sha, str(result.path), result.platform, result.kind, result.rows_read,
            result.rows_accepted, result.rows_quarantined, writer.newest,
        ],
    )  # fmt: skip


def _renumber_quarantine(
    store: Store, export: ExportFile, sha: str, numbered: int
) -> dict[int, int]:
    """Give the file's quarantined rows the lines they stand on in the file; return the line
    of each of their data rows (``_row``).

    They are written with their row numbers (``_row + 2``), which a blank line or a value
    holding line breaks sets apart from the line a text editor shows; only then, once
    per file with rows set aside, is the file read again to find the lines."""
    lines = [
        int(line)
        for (line,) in store.sql(
            "SELECT DISTINCT line FROM quarantine_rows WHERE file_sha256 = ?", [sha]
        ).fetchall()
    ]
    found = file_lines(export, [line - 2 for line in lines], numbered)
    moved = {row + 2: line for row, line in found.items() if line != row + 2}
    if not moved:
        return found
    store.con.register("moved", pa.table({"old": list(moved), "new": list(moved.values())}))
    # a row moves to a line another row held before: all of them go out, then back in
    store.sql(
        "CREATE OR REPLACE TEMP TABLE renumbered AS SELECT q.* REPLACE (m.new AS line) "
        "FROM quarantine_rows q JOIN moved m ON q.line = m.old WHERE q.file_sha256 = ?",
        [sha],
    )
    store.sql(
        "DELETE FROM quarantine_rows WHERE file_sha256 = ? AND line IN (SELECT old FROM moved)",
        [sha],
    )
    store.sql("INSERT INTO quarantine_rows SELECT * FROM renumbered")
    store.sql("DROP TABLE renumbered")
    store.con.unregister("moved")
    return found


def _unread_headers(
    contract: ExportContract, headers: list[str], mapping: dict[str, str]
) -> list[str]:
    """The file's columns no field reads, each with the absent field's header it most
    resembles (``退款金额(元)`` → ``退款金额``), if any."""
    from difflib import get_close_matches

    absent = [h for c in contract.columns if c.field not in mapping.values() for h in c.headers]
    out = []
    for header in headers:
        if header in mapping or header.startswith("(blank column"):
            continue
        near = get_close_matches(header, absent, n=1, cutoff=0.5)
        out.append(f"{header} (is it {near[0]}?)" if near else header)
    return out


def _fail(result: FileReport, exc: Exception) -> None:
    """Report a file of which nothing was kept, and why."""
    path = result.path
    if isinstance(exc, ButlerError):
        result.error = str(exc)
    elif isinstance(exc, OSError):  # moved, deleted or unreadable while being ingested
        result.error = f"{path}: cannot be read ({exc.strerror or exc}); nothing from it was kept."
    else:
        # a row the contracts let through but the schema refused: the file is rolled back
        # whole and reported, and the other files go on
        result.error = (
            f"{path}: the store refused the file ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0]}); nothing from it was kept. Report this with the file."
        )
    result.rows_accepted = result.rows_quarantined = result.rows_known_bad = 0
    result.rows_older = 0
    logger.error("%s", result.error)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # gone since the folder was listed: open_export reports it
        return 0


def _with_progress(batches: Iterator[Batch], progress: Callable[[float], None]) -> Iterator[Batch]:
    """Move a file's progress on with each batch (halfway, then halfway again, …)."""
    seen = 0
    for batch in batches:
        seen += 1
        progress(min(0.95, 1 - 0.5**seen))
        yield batch


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Writer:
    """Parses batches of one file in DuckDB and writes them into its export kind's tables.

    Each batch is registered as ``raw``, parsed into the temp table ``parsed`` by the
    adapter's compiled query; rows with problems go to quarantine, the others (the view
    ``accepted``) to the unified tables, all without leaving DuckDB.
    """

    def __init__(
        self,
        store: Store,
        adapter: type[PlatformAdapter],
        contract: ExportContract,
        source: str,
        sha: str,
        headers: list[str],
    ) -> None:
        self.store = store
        self.platform = adapter.platform.value
        self.kind = contract.kind
        self.source = source
        self.sha = sha
        self.parse = adapter.parse_sql(
            contract, headers, keep_raw_json=contract.kind is ExportKind.MEMBERS
        )
        self.raw_json = (
            "json_object("
            + ", ".join(f"{quote_literal(h)}, raw.{quote_ident(h)}" for h in headers)
            + ")"
        )
        self.newest: dt.datetime | None = None
        self.days: tuple[dt.date, dt.date] | None = None
        self.remap = False  # the SKU mapping changed: resolve unmapped rows again
        self.malformed_rows = 0
        self.malformed: list[MalformedRow] = []  # the first few, for the log
        self.mapping = mapping = adapter.resolve_headers(contract, headers)
        #: fields the export declares but this file lacks (a narrower report): rows it
        #: replaces keep their stored values of these
        self.absent = {c.field for c in contract.columns} - set(mapping.values())
        self.unread = _unread_headers(contract, headers, mapping)
        self.status_header = next((h for h, f in mapping.items() if f == "status"), "*")
        self.older_orders = 0  # order lines set aside: the store holds a later stage
        self.numbered = 0  # data rows the reader numbered (``_row`` + 1 of the last)

    def write(self, batch: Batch) -> tuple[int, int]:
        """Parse and write one batch; return (rows read, rows accepted)."""
        if batch.malformed:
            self._quarantine_malformed(batch.malformed)
            self.numbered = max(self.numbered, batch.malformed[-1].row + 1)
        if batch.rows.num_rows:
            last = batch.rows["_row"][-1].as_py()
            self.numbered = max(self.numbered, last + 1)
        if not batch.rows.num_rows:
            return batch.num_rows, 0
        rows = batch.rows
        con = self.store.con
        con.register("raw", rows)
        con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS {self.parse.select}")
        platform = (
            "" if self.platform == Platform.ERP else f"{quote_literal(self.platform)} AS platform, "
        )
        lookups = "".join(
            f"NULL::VARCHAR AS {c}, "
            for c in ("platform_sku_id", "outer_sku_code")
            if c not in self.parse.fields
        )
        source = quote_literal(self.source)
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW accepted AS SELECT * EXCLUDE (_problems), {platform}"
            f"{lookups}{source} AS source_file FROM parsed WHERE len(_problems) = 0"
        )
        accepted = int(con.execute("SELECT count(*) FROM accepted").fetchall()[0][0])
        if accepted < rows.num_rows:  # only then is anything to keep aside
            self._quarantine(
                f"""
                SELECT p._row + 2 AS line, p.problem.field AS field, p.problem.reason AS reason,
                       {self.raw_json} AS raw
                FROM (SELECT _row, unnest(_problems) AS problem FROM parsed
                      WHERE len(_problems) > 0) p
                JOIN raw USING (_row)
                """
            )
        if accepted and self.kind is ExportKind.ORDERS:
            accepted -= self._set_aside_older_orders()
        if accepted:
            self._note_newest()
            getattr(self, f"_write_{self.kind.value}")()
        con.unregister("raw")
        return batch.num_rows, accepted

    def _set_aside_older_orders(self) -> int:
        """Quarantine the orders this batch holds at an earlier stage than the store does
        (``shipped`` where the store has ``completed``): an older export loaded after a newer
        one must not take orders back. Returns the order lines set aside; the view ``fresh``
        holds the rest of ``accepted``, ranked (``_rank``) by stage, then row."""
        con = self.store.con
        if "status" not in self.parse.fields:
            con.execute(
                "CREATE OR REPLACE TEMP VIEW fresh AS SELECT *, _row AS _rank FROM accepted"
            )
            return 0
        lo, hi = con.execute("SELECT min(created_at), max(created_at) FROM accepted").fetchall()[0]
        # a file without the refund column is compared on the status alone
        refunded = _REFUNDED if "refund_status" in self.parse.fields else ""
        stage = {s: _STAGE.format(t=s, refunded=refunded.format(t=s)) for s in ("a", "t")}
        # a line listed twice in the file keeps its later stage, as across files; of equal
        # stages, its later row (``_rank`` orders the upsert)
        ranked = f"SELECT a.*, {stage['a']} * 4294967296 + a._row AS _rank FROM accepted a"
        con.execute(f"CREATE OR REPLACE TEMP VIEW fresh AS {ranked}")
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE older AS
            WITH mine AS (
                SELECT platform, order_id, max({stage["a"]}) AS stage,
                       arg_max(a.status, {stage["a"]}) AS status
                FROM accepted a GROUP BY ALL
            ), stored AS (
                SELECT t.platform, t.order_id, max({stage["t"]}) AS stage,
                       arg_max(t.status, {stage["t"]}) AS status,
                       arg_max(t.source_file, {stage["t"]}) AS source_file
                FROM order_lines t SEMI JOIN mine USING (platform, order_id)
                WHERE t.platform = $platform AND t.created_at BETWEEN $lo AND $hi
                GROUP BY ALL
            )
            SELECT m.platform, m.order_id, m.status AS said, s.status AS stored, s.source_file
            FROM mine m JOIN stored s USING (platform, order_id) WHERE m.stage < s.stage
            """,
            {"platform": self.platform, "lo": lo, "hi": hi},
        )
        if not con.execute("SELECT count(*) FROM older").fetchall()[0][0]:
            return 0  # the usual case: `fresh` stays all of `accepted`
        older = int(
            con.execute(
                "SELECT count(*) FROM accepted SEMI JOIN older USING (platform, order_id)"
            ).fetchall()[0][0]
        )
        view = f"{ranked} ANTI JOIN older USING (platform, order_id)"
        con.execute(f"CREATE OR REPLACE TEMP VIEW fresh AS {view}")
        if older:
            self.older_orders += older
            self._quarantine(
                f"""
                SELECT a._row + 2 AS line, {quote_literal(self.status_header)} AS field,
                       'an older export of this order: it says ' || o.said
                       || ', the store holds ' || o.stored || ' (from ' || o.source_file
                       || '); the newer row is kept' AS reason,
                       {self.raw_json} AS raw
                FROM accepted a JOIN older o USING (platform, order_id) JOIN raw USING (_row)
                """
            )
        return older

    def _quarantine_malformed(self, rows: tuple[MalformedRow, ...]) -> None:
        """Keep aside CSV rows that have no columns: the whole row (``*``), as text."""
        self.malformed_rows += len(rows)
        self.malformed += rows[: 3 - len(self.malformed)]
        frame = pa.table(
            {
                "line": pa.array([r.line for r in rows], pa.int64()),
                "reason": [r.reason for r in rows],
                "text": [r.text for r in rows],
            }
        )
        self.store.con.register("malformed", frame)
        self._quarantine(
            "SELECT line, '*' AS field, reason, json_object('_text', text) AS raw FROM malformed"
        )
        self.store.con.unregister("malformed")

    def _quarantine(self, problems: str) -> None:
        """Insert the rows of ``problems`` (a query of line, field, reason, raw) into quarantine.

        A row another file already put there for this platform and kind, with the same
        field, reason and content, is the same bad row exported again (a re-saved or
        overlapping export; its file name and line may differ): it is not kept twice. Equal
        rows of one file are all kept, as two lines of a file are two rows.
        """
        self.store.con.execute(
            f"""
            INSERT OR IGNORE INTO quarantine_rows
            SELECT $sha, $source, n.line, $platform, $kind, n.field, n.reason, n.raw,
                   now()::TIMESTAMP
            FROM ({problems}) n
            WHERE NOT EXISTS (
                SELECT 1 FROM quarantine_rows q
                WHERE q.platform = $platform AND q.kind = $kind AND q.field = n.field
                  AND q.reason = n.reason AND q.raw = n.raw AND q.file_sha256 <> $sha
            )
            """,
            {
                "sha": self.sha,
                "source": self.source,
                "platform": self.platform,
                "kind": self.kind.value,
            },
        )

    def _note_newest(self) -> None:
        column = _NEWEST.get(self.kind)
        if column is None:
            return
        newest = self.store.sql(f"SELECT max({column})::TIMESTAMP FROM accepted").fetchall()[0][0]
        if newest is not None:
            self.newest = max(self.newest, newest) if self.newest else newest

    def finish(self) -> None:
        for name in ("accepted", "parsed"):
            self.store.sql(f"DROP {'VIEW' if name == 'accepted' else 'TABLE'} IF EXISTS {name}")
        if self.kind is ExportKind.ORDERS and self.days:
            refresh_sales_daily(self.store, self.platform, *self.days)
        if self.remap:
            resolve_unmapped_skus(self.store)

    # -- one method per export kind --------------------------------------------------------

    def _note_shops(self) -> None:
        self.store.sql(
            "INSERT OR IGNORE INTO shops (platform, shop_id, shop_name, expected) "
            "SELECT DISTINCT platform, shop_id, shop_id, false FROM accepted"
        )

    def _write_orders(self) -> None:
        # `fresh`: the accepted rows less the orders an older export holds (see above)
        self.store.upsert(
            "order_lines", "fresh", {"sku_id": _SKU_LOOKUP}, order_by="_rank", keep=self.absent
        )
        self.store.upsert("orders", "fresh", order_by="_rank", keep=self.absent)
        self._note_shops()
        lo, hi = self.store.sql(
            f"SELECT min({_BUSINESS_DAY.format(col='created_at')}), "
            f"max({_BUSINESS_DAY.format(col='created_at')}) FROM accepted"
        ).fetchall()[0]
        self.days = (min(lo, self.days[0]), max(hi, self.days[1])) if self.days else (lo, hi)

    def _write_members(self) -> None:
        self.store.upsert(
            "members", "accepted", {"raw": "src._raw_json"}, order_by="_row", keep=self.absent
        )

    def _write_chats(self) -> None:
        self.store.upsert("chat_messages", "accepted", order_by="_row", keep=self.absent)
        self._note_shops()
        self.store.sql(
            """
            INSERT OR REPLACE INTO chat_sessions
            SELECT m.platform, m.session_id, arg_min(m.shop_id, m.seq), arg_min(m.buyer_id, m.seq),
                   max(m.order_id), min(m.sent_at), max(m.sent_at), count(*)
            FROM chat_messages m
            SEMI JOIN (SELECT DISTINCT platform, session_id FROM accepted) t
                USING (platform, session_id)
            GROUP BY m.platform, m.session_id
            """
        )

    def _write_listings(self) -> None:
        self.store.upsert(
            "listings", "accepted", {"sku_id": _SKU_LOOKUP}, order_by="_row", keep=self.absent
        )
        self._note_shops()

    def _write_promotions(self) -> None:
        # promotions name platform SKUs only, so only the ERP mapping resolves them
        self.store.upsert(
            "promotions",
            "accepted",
            {"sku_id": _SKU_LOOKUP_BY_ID},
            order_by="_row",
            keep=self.absent,
        )
        self._note_shops()

    def _write_shops(self) -> None:
        self.store.upsert(
            "shops", "accepted", {"expected": "coalesce(src.expected, true)"}, order_by="_row"
        )

    def _write_warehouses(self) -> None:
        self.store.upsert("warehouses", "accepted", order_by="_row", keep=self.absent)

    def _write_products(self) -> None:
        # one row per SKU carries its product; upsert ignores columns a table lacks
        self.store.upsert("products", "accepted", order_by="_row", keep=self.absent)
        self.store.upsert("skus", "accepted", order_by="_row", keep=self.absent)
        self.remap = True  # order lines may name these SKUs by merchant code

    def _write_sku_map(self) -> None:
        self.store.upsert("sku_map", "accepted", order_by="_row", keep=self.absent)
        self.remap = True

    def _write_inventory(self) -> None:
        self.store.upsert("inventory_snapshots", "accepted", order_by="_row", keep=self.absent)

    def _write_purchase_orders(self) -> None:
        self.store.upsert("purchase_orders", "accepted", order_by="_row", keep=self.absent)


# How far an order line has gone: pending payment < paid < shipped < completed < cancelled or
# refunded (an end), each a step above the same status without a refund. A later export of
# an order never holds an earlier stage; an older export loaded after a newer one does.
_ON_THE_WAY = (OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.SHIPPED)
_STAGE = (
    "(CASE {t}.status "
    + " ".join(
        f"WHEN '{status.value}' THEN {rank}"
        for rank, status in enumerate((*_ON_THE_WAY, OrderStatus.COMPLETED))
    )
    + " ELSE 4 END * 2{refunded})"
)
_REFUNDED = f" + ({{t}}.refund_status = '{RefundStatus.REFUNDED.value}')::INT"

# The internal SKU of a platform row: the ERP's mapping of the platform SKU id first, then
# the merchant's own code when it is an internal SKU.
_SKU_LOOKUP_BY_ID = (
    "(SELECT m.sku_id FROM sku_map m WHERE m.platform = src.platform "
    "AND m.platform_sku_id = src.platform_sku_id)"
)
_SKU_LOOKUP = (
    f"coalesce({_SKU_LOOKUP_BY_ID}, "
    "(SELECT s.sku_id FROM skus s WHERE s.sku_id = src.outer_sku_code))"
)


def resolve_unmapped_skus(store: Store) -> None:
    """Give rows that arrived before their SKU mapping their internal SKU now."""
    touched = store.sql(
        """
        SELECT platform, min({day}), max({day})
        FROM order_lines WHERE sku_id IS NULL GROUP BY platform
        """.format(day=_BUSINESS_DAY.format(col="created_at"))
    ).fetchall()
    for table in ("order_lines", "listings", "promotions"):
        outer = "t.outer_sku_code" if table != "promotions" else "NULL"
        store.sql(
            f"""
            UPDATE {table} t SET sku_id = coalesce(
                (SELECT m.sku_id FROM sku_map m
                 WHERE m.platform = t.platform AND m.platform_sku_id = t.platform_sku_id),
                (SELECT s.sku_id FROM skus s WHERE s.sku_id = {outer}))
            WHERE t.sku_id IS NULL
            """
        )
    for platform, lo, hi in touched:
        refresh_sales_daily(store, platform, lo, hi)


def sold_lines(first: dt.date, last: dt.date) -> str:
    """The SQL of the sold order lines of business days ``first``..``last``: the rows
    ``sales_daily`` sums, with ``day`` (Beijing) and ``warehouse_id`` ('' when the platform
    names none) as ``sales_daily`` has them. The bounds are written in (dates, never text a
    caller gave), so the SQL nests in a query with parameters of either style."""
    day = _BUSINESS_DAY.format(col="created_at")
    # bounds on the raw column let DuckDB skip row groups by their min/max (order files are
    # written month by month), so a read costs the days it covers, not the whole table
    lo = dt.datetime.combine(first, dt.time()) - dt.timedelta(hours=8)
    hi = dt.datetime.combine(last, dt.time()) + dt.timedelta(hours=16)
    return f"""
        SELECT {day} AS day, platform, shop_id, sku_id,
               coalesce(warehouse_id, '') AS warehouse_id, order_id, quantity, returned_qty,
               paid_fen, refund_fen
        FROM order_lines
        WHERE sku_id IS NOT NULL AND status IN ({_SOLD})
          AND created_at >= TIMESTAMP '{lo:%Y-%m-%d %H:%M:%S}'
          AND created_at < TIMESTAMP '{hi:%Y-%m-%d %H:%M:%S}'
    """


def refresh_sales_daily(store: Store, platform: str, first: dt.date, last: dt.date) -> None:
    """Rebuild ``sales_daily`` for ``platform`` over business days ``first``..``last``."""
    lines = sold_lines(first, last)
    store.sql(
        "DELETE FROM sales_daily WHERE platform = ? AND day BETWEEN ? AND ?",
        [platform, first, last],
    )
    store.sql(
        f"""
        INSERT INTO sales_daily
        SELECT day, platform, shop_id, sku_id, warehouse_id,
               count(DISTINCT order_id), sum(quantity), sum(returned_qty), sum(paid_fen),
               sum(refund_fen), round(sum(paid_fen) / sum(quantity))::BIGINT
        FROM ({lines}) AS l
        WHERE platform = ?
        GROUP BY ALL
        """,
        [platform],
    )
