"""Load export files into the unified store: nothing lost, nothing doubled.

* Each file is read in batches, parsed by its platform's adapter and written in one
  transaction: an ingest interrupted part-way leaves the store as it was before that file.
* Rows that fail their contract go to ``quarantine_rows`` with file, line, field and reason.
* A file already ingested (same SHA-256) is skipped; a later export that overlaps an earlier
  one replaces rows by natural key instead of duplicating them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.adapters.base import ExportContract, ParsedBatch, PlatformAdapter
from features.adapters.readers import SUPPORTED_SUFFIXES, iter_batches, open_export
from features.adapters.registry import detect
from features.errors import ButlerError
from features.schema.vocab import ExportKind, OrderStatus, Platform
from features.settings import Settings
from features.store import Store

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
    skipped: bool = False  # already ingested (same content)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class IngestReport:
    """What happened to every file of one ``ingest`` call."""

    files: list[FileReport] = field(default_factory=list)
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


def find_export_files(paths: Iterable[Path]) -> list[Path]:
    """Expand folders into the export files below them (sorted, hidden files skipped).

    Raises:
        ButlerError: a path does not exist.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.is_file()
                and p.suffix.lower() in SUPPORTED_SUFFIXES
                and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts)
            )
        elif path.exists():
            found.append(path)
        else:
            raise ButlerError(f"{path}: no such file or folder.")
    return found


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
    store untouched; the other files are still ingested.

    Args:
        paths: files and folders (folders are searched recursively; names starting with
            ``.`` or ``_`` are skipped, so a generator's ``_truth`` folder is not ingested).
        store: the open store.
        settings: runtime settings (batch size).
        platform: force the platform instead of detecting it from each file's header.
        on_progress: called with (bytes done, bytes total) as files are read.

    Examples:
        >>> report = ingest([Path("exports/")], store, settings)      # doctest: +SKIP
        >>> report.rows_accepted, report.rows_quarantined              # doctest: +SKIP
    """
    started = dt.datetime.now()
    files = find_export_files(paths)
    total = sum(p.stat().st_size for p in files)
    done = 0
    report = IngestReport()
    for path in files:
        size = path.stat().st_size

        def progress(frac: float, base: int = done, size: int = size) -> None:
            if on_progress:
                on_progress(base + int(frac * size), total)

        report.files.append(_ingest_file(path, store, settings, platform, progress))
        done += size
        if on_progress:
            on_progress(done, total)
    report.seconds = (dt.datetime.now() - started).total_seconds()
    return report


def _ingest_file(
    path: Path,
    store: Store,
    settings: Settings,
    platform: Platform | str | None,
    progress: Callable[[float], None],
) -> FileReport:
    result = FileReport(path=path)
    try:
        export = open_export(path)
        adapter, contract = detect(export, platform)
        result.platform, result.kind = adapter.platform.value, contract.kind.value
        sha = _sha256(path)
        if store.sql("SELECT 1 FROM ingested_files WHERE file_sha256 = ?", [sha]).fetchall():
            result.skipped = True
            logger.info("%s: already ingested, skipped", path)
            return result
        with store.transaction():
            writer = _Writer(store, adapter, contract, str(path))
            batches = iter_batches(export, settings.ingest_batch_rows)
            for batch in _with_progress(batches, progress):
                parsed = adapter.parse(contract, batch)
                result.rows_read += len(batch)
                result.rows_accepted += writer.write(parsed)
                result.rows_quarantined += writer.quarantine(parsed, sha)
            writer.finish()
            store.sql(
                "INSERT INTO ingested_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
                [
                    sha, str(path), result.platform, result.kind, result.rows_read,
                    result.rows_accepted, result.rows_quarantined, writer.newest,
                ],
            )  # fmt: skip
    except ButlerError as exc:
        result.error = str(exc)
        logger.error("%s", exc)
    return result


def _with_progress(
    batches: Iterator[pd.DataFrame], progress: Callable[[float], None]
) -> Iterator[pd.DataFrame]:
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
    """Writes parsed batches of one file into the tables of its export kind."""

    def __init__(
        self, store: Store, adapter: type[PlatformAdapter], contract: ExportContract, source: str
    ) -> None:
        self.store = store
        self.platform = adapter.platform.value
        self.kind = contract.kind
        self.source = source
        self.newest: dt.datetime | None = None
        self.days: tuple[dt.date, dt.date] | None = None
        self.remap = False  # the SKU mapping changed: resolve unmapped rows again

    def write(self, parsed: ParsedBatch) -> int:
        rows = parsed.rows.copy()
        if rows.empty:
            return 0
        ts = _NEWEST.get(self.kind)
        if ts and ts in rows.columns and rows[ts].notna().any():
            newest = pd.Timestamp(rows[ts].max()).to_pydatetime()
            self.newest = max(self.newest, newest) if self.newest else newest
        rows["source_file"] = self.source
        if self.platform != Platform.ERP:
            rows["platform"] = self.platform
        for column in ("platform_sku_id", "outer_sku_code"):  # read by the SKU lookup
            if column not in rows.columns:
                rows[column] = None
        handler = getattr(self, f"_write_{self.kind.value}")
        handler(rows, parsed)
        return len(rows)

    def quarantine(self, parsed: ParsedBatch, sha: str) -> int:
        records = parsed.rejected_records()
        if not records:
            return 0
        self.store.con.executemany(
            "INSERT OR IGNORE INTO quarantine_rows "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, now()::TIMESTAMP)",
            [
                (sha, self.source, line, self.platform, self.kind.value, fld, reason, raw)
                for line, fld, reason, raw in records
            ],
        )
        return int(parsed.problems["index"].nunique())

    def finish(self) -> None:
        if self.kind is ExportKind.ORDERS and self.days:
            refresh_sales_daily(self.store, self.platform, *self.days)
        if self.remap:
            resolve_unmapped_skus(self.store)

    # -- one method per export kind --------------------------------------------------------

    def _note_shops(self, rows: pd.DataFrame) -> None:
        shops = rows[["platform", "shop_id"]].drop_duplicates()
        self.store.con.register("new_shops", shops)
        self.store.sql(
            "INSERT OR IGNORE INTO shops (platform, shop_id, shop_name, expected) "
            "SELECT platform, shop_id, shop_id, false FROM new_shops"
        )
        self.store.con.unregister("new_shops")

    def _write_orders(self, rows: pd.DataFrame, parsed: ParsedBatch) -> None:
        del parsed
        self.store.upsert("order_lines", rows, computed={"sku_id": _SKU_LOOKUP})
        self.store.upsert("orders", rows.drop_duplicates(subset=["order_id"], keep="first"))
        self._note_shops(rows)
        local = rows["created_at"] + pd.Timedelta(hours=8)  # as _BUSINESS_DAY
        lo, hi = local.min().date(), local.max().date()
        self.days = (min(lo, self.days[0]), max(hi, self.days[1])) if self.days else (lo, hi)

    def _write_members(self, rows: pd.DataFrame, parsed: ParsedBatch) -> None:
        raw = parsed.raw.loc[rows.index]
        rows["raw"] = raw.to_json(orient="records", lines=True, force_ascii=False).splitlines()
        self.store.upsert("members", rows)

    def _write_chats(self, rows: pd.DataFrame, parsed: ParsedBatch) -> None:
        del parsed
        self.store.upsert("chat_messages", rows)
        self._note_shops(rows)
        sessions = rows[["platform", "session_id"]].drop_duplicates()
        self.store.con.register("touched", sessions)
        self.store.sql(
            """
            INSERT OR REPLACE INTO chat_sessions
            SELECT m.platform, m.session_id, arg_min(m.shop_id, m.seq), arg_min(m.buyer_id, m.seq),
                   max(m.order_id), min(m.sent_at), max(m.sent_at), count(*)
            FROM chat_messages m SEMI JOIN touched t USING (platform, session_id)
            GROUP BY m.platform, m.session_id
            """
        )
        self.store.con.unregister("touched")

    def _write_listings(self, rows: pd.DataFrame, parsed: ParsedBatch) -> None:
        del parsed
        self.store.upsert("listings", rows, computed={"sku_id": _SKU_LOOKUP})
        self._note_shops(rows)

    def _write_promotions(self, rows: pd.DataFrame, parsed: ParsedBatch) -> None:
        del parsed
        # promotions name platform SKUs only, so only the ERP mapping resolves them
        self.store.upsert("promotions", rows, computed={"sku_id": _SKU_LOOKUP_BY_ID})
        self._note_shops(rows)

    def _write_shops(self, rows: pd.DataFrame, parsed: ParsedBatch) -> None:
        del parsed
        rows["expected"] = rows.get("expected", pd.Series(True, index=rows.index)).fillna(True)
        self.store.upsert("shops", rows)

    def _write_warehouses(self, rows: pd.DataFrame, parsed: ParsedBatch) -> None:
        del parsed
        self.store.upsert("warehouses", rows)

    def _write_products(self, rows: pd.DataFrame, parsed: ParsedBatch) -> None:
        del parsed
        # one row per SKU carries its product; upsert ignores columns a table lacks
        self.store.upsert("products", rows.drop_duplicates("product_id", keep="last"))
        self.store.upsert("skus", rows)
        self.remap = True  # order lines may name these SKUs by merchant code

    def _write_sku_map(self, rows: pd.DataFrame, parsed: ParsedBatch) -> None:
        del parsed
        self.store.upsert("sku_map", rows)
        self.remap = True

    def _write_inventory(self, rows: pd.DataFrame, parsed: ParsedBatch) -> None:
        del parsed
        self.store.upsert("inventory_snapshots", rows)

    def _write_purchase_orders(self, rows: pd.DataFrame, parsed: ParsedBatch) -> None:
        del parsed
        self.store.upsert("purchase_orders", rows)


# The internal SKU of a platform row: the ERP's mapping of the platform SKU id first, then
# the merchant's own code when it is an internal SKU.
_SKU_LOOKUP_BY_ID = (
    "(SELECT m.sku_id FROM sku_map m WHERE m.platform = batch.platform "
    "AND m.platform_sku_id = batch.platform_sku_id)"
)
_SKU_LOOKUP = (
    f"coalesce({_SKU_LOOKUP_BY_ID}, "
    "(SELECT s.sku_id FROM skus s WHERE s.sku_id = batch.outer_sku_code))"
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


def refresh_sales_daily(store: Store, platform: str, first: dt.date, last: dt.date) -> None:
    """Rebuild ``sales_daily`` for ``platform`` over business days ``first``..``last``."""
    day = _BUSINESS_DAY.format(col="created_at")
    store.sql("DELETE FROM sales_daily WHERE platform = ? AND day BETWEEN ? AND ?",
              [platform, first, last])  # fmt: skip
    store.sql(
        f"""
        INSERT INTO sales_daily
        SELECT {day} AS day, platform, shop_id, sku_id, coalesce(warehouse_id, '') AS wh,
               count(DISTINCT order_id), sum(quantity), sum(returned_qty), sum(paid_fen),
               sum(refund_fen), round(sum(paid_fen) / sum(quantity))::BIGINT
        FROM order_lines
        WHERE platform = ? AND sku_id IS NOT NULL AND status IN ({_SOLD})
          AND {day} BETWEEN ? AND ?
        GROUP BY ALL
        """,
        [platform, first, last],
    )
