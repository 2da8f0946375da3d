"""What the store holds, how fresh and how clean: the data behind ``butler status``.

:func:`status_report` returns plain dataclasses; the CLI renders them (each list has a
``row()`` per item and :meth:`StatusReport.frames` gives them as DataFrames). Nothing here
prints.

The per-channel **touchpoint scorecard** grades each sales channel A–D on coverage,
freshness and data quality; see :func:`status_report` for the thresholds.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import PureWindowsPath

import pandas as pd

from features.schema.vocab import Platform
from features.store import Store

logger = logging.getLogger(__name__)

#: Channel tables and the column that says how new a row is.
CHANNEL_TABLES: dict[str, str] = {
    "order_lines": "created_at",
    "members": "registered_at",
    "chat_messages": "sent_at",
    "listings": "updated_at",
    "promotions": "starts_at",
}
#: ERP tables shown in the freshness list (under platform ``erp``).
ERP_TABLES: dict[str, str] = {
    "inventory_snapshots": "snapshot_date",
    "purchase_orders": "ordered_on",
}
#: Tables whose newest row can set the default ``now`` (promotions are left out: they are
#: scheduled ahead, so their newest start may lie in the future).
NOW_TABLES = ("order_lines", "chat_messages", "listings", "members")
#: The table each export kind fills, for the duplicate rate; channel kinds are counted per
#: platform, ERP kinds over the whole table. Shops are left out: ingest also adds every shop
#: it sees in channel exports.
KIND_TABLES: dict[str, str] = {
    "orders": "order_lines",
    "members": "members",
    "chats": "chat_messages",
    "listings": "listings",
    "promotions": "promotions",
    "inventory": "inventory_snapshots",
    "purchase_orders": "purchase_orders",
    "products": "skus",
    "sku_map": "sku_map",
    "warehouses": "warehouses",
}
#: Key optional fields whose NULL (or blank) share is the missing-field rate.
MISSING_FIELDS: tuple[tuple[str, str], ...] = (
    ("orders", "buyer_id"),
    ("orders", "receiver_phone"),
    ("order_lines", "sku_id"),
    ("members", "phone"),
)
#: Fields Butler fills itself (the SKU mapping): always counted, even when entirely NULL.
DERIVED_FIELDS = frozenset({("order_lines", "sku_id")})

# Grade thresholds: a value up to the first bound is A, the second B, the third C, beyond D.
FRESHNESS_DAYS = (2.0, 7.0, 30.0)
QUARANTINE_RATE = (0.01, 0.05, 0.15)
MISSING_RATE = (0.05, 0.20, 0.50)


class Grade(StrEnum):
    """A channel's scorecard grade, best first."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"


@dataclass(frozen=True, slots=True)
class ShopLoad:
    """What one shop has delivered (a shop of ``''`` holds members exported without one)."""

    platform: str
    shop_id: str
    shop_name: str | None
    expected: bool
    rows: dict[str, int]  # channel table -> rows, every table of CHANNEL_TABLES
    newest_at: dt.datetime | None
    age_days: float | None

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def silent(self) -> bool:
        """Nothing delivered at all."""
        return self.total_rows == 0

    def row(self) -> dict[str, object]:
        return {
            "platform": self.platform,
            "shop_id": self.shop_id,
            "shop_name": self.shop_name,
            "expected": self.expected,
            **self.rows,
            "newest_at": self.newest_at,
            "age_days": self.age_days,
        }


@dataclass(frozen=True, slots=True)
class TableFreshness:
    """The newest record of one table from one platform."""

    platform: str
    table: str
    rows: int
    newest_at: dt.datetime | None
    age_days: float | None  # negative when the newest record lies after ``now``

    def row(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class FileStats:
    """The files of one platform and export kind, from ``ingested_files``."""

    platform: str
    kind: str
    files: int
    rows_read: int
    rows_accepted: int
    rows_quarantined: int  # each file's bad rows, summed over the files
    rows_in_table: int | None  # distinct rows the kind's table holds now (None: not tracked)
    last_ingested_at: dt.datetime | None
    #: distinct rows kept in ``quarantine_rows``: a bad row an overlapping export sent again
    #: counts in each file's ``rows_quarantined`` but is kept once
    rows_kept_in_quarantine: int = 0

    @property
    def quarantine_rate(self) -> float | None:
        """Quarantined / read."""
        return self.rows_quarantined / self.rows_read if self.rows_read else None

    @property
    def duplicates(self) -> int | None:
        """Accepted rows that a later (or the same) export replaced by key."""
        if self.rows_in_table is None:
            return None
        return max(self.rows_accepted - self.rows_in_table, 0)

    @property
    def duplicate_rate(self) -> float | None:
        """Duplicates / accepted."""
        dup = self.duplicates
        return dup / self.rows_accepted if dup is not None and self.rows_accepted else None

    def row(self) -> dict[str, object]:
        return {
            "platform": self.platform,
            "kind": self.kind,
            "files": self.files,
            "rows_read": self.rows_read,
            "rows_accepted": self.rows_accepted,
            "rows_quarantined": self.rows_quarantined,
            "rows_kept_in_quarantine": self.rows_kept_in_quarantine,
            "quarantine_rate": self.quarantine_rate,
            "duplicate_rate": self.duplicate_rate,
            "last_ingested_at": self.last_ingested_at,
        }


@dataclass(frozen=True, slots=True)
class QuarantineReason:
    """One reason rows were quarantined, with values taken out so that like groups with like."""

    platform: str
    kind: str
    field: str
    reason: str
    rows: int
    example: str  # where one such row is and its value: 订单报表_202407.csv:402 "待核算"

    def row(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class ChannelScore:
    """One line of the touchpoint scorecard."""

    platform: str
    shops_delivering: tuple[str, ...]
    shops_silent: tuple[str, ...]  # expected (declared by the ERP) but nothing delivered
    age_days: float | None  # of the newest order line (or any record without orders)
    quarantine_rate: float | None
    missing_rate: float | None  # mean over the fields in ``missing_by_field``
    missing_by_field: dict[str, float]  # "table.field" -> NULL share
    not_exported: tuple[str, ...]  # exported fields that are NULL on every row
    duplicate_rate: float | None
    grade: Grade
    notes: tuple[str, ...] = ()  # why the grade is not A

    def row(self) -> dict[str, object]:
        return {
            "platform": self.platform,
            "grade": self.grade.value,
            "shops_delivering": len(self.shops_delivering),
            "shops_silent": ", ".join(self.shops_silent),
            "age_days": self.age_days,
            "quarantine_rate": self.quarantine_rate,
            "missing_rate": self.missing_rate,
            "duplicate_rate": self.duplicate_rate,
            "notes": "; ".join(self.notes),
        }


@dataclass(frozen=True, slots=True)
class StatusReport:
    """Everything ``butler status`` shows.

    Attributes:
        now: the moment ages are measured from (naive UTC).
        now_from_data: True when the caller gave no ``now``: it is then the newest record
            in the store (or the clock, for a store without records).
    """

    now: dt.datetime
    now_from_data: bool
    shops: tuple[ShopLoad, ...]
    freshness: tuple[TableFreshness, ...]
    files: tuple[FileStats, ...]
    quarantine_reasons: tuple[QuarantineReason, ...]
    scorecard: tuple[ChannelScore, ...]

    @property
    def empty(self) -> bool:
        """Nothing ingested yet."""
        return not self.files and all(s.silent for s in self.shops)

    @property
    def files_ingested(self) -> int:
        return sum(f.files for f in self.files)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)

    def rows_per_table(self) -> dict[str, int]:
        """Rows per channel table over every shop."""
        return {t: sum(s.rows[t] for s in self.shops) for t in CHANNEL_TABLES}

    def silent_shops(self) -> list[ShopLoad]:
        """Expected shops that delivered nothing."""
        return [s for s in self.shops if s.expected and s.silent]

    def score(self, platform: str) -> ChannelScore:
        """The scorecard line of ``platform``.

        Raises:
            KeyError: the platform has no line (no shop, no data).
        """
        for line in self.scorecard:
            if line.platform == platform:
                return line
        raise KeyError(platform)

    def frames(self) -> dict[str, pd.DataFrame]:
        """Each part as a flat DataFrame: shops, freshness, files, quarantine, scorecard."""
        parts = {
            "shops": self.shops,
            "freshness": self.freshness,
            "files": self.files,
            "quarantine": self.quarantine_reasons,
            "scorecard": self.scorecard,
        }
        return {name: pd.DataFrame([item.row() for item in items]) for name, items in parts.items()}


def status_report(
    store: Store, *, now: dt.datetime | None = None, top_reasons: int = 10
) -> StatusReport:
    """What is loaded per platform and shop, how fresh, how clean, and a grade per channel.

    ``now`` defaults to the newest record in the store (order lines, chat messages,
    listings, members), not the clock: a store loaded from a generated world, or from
    exports a year old, is then judged on how its channels compare with each other rather
    than all being "stale". Pass ``now`` to measure against the clock.

    Scorecard, per channel (every sales channel with a shop or any data):

    * **coverage**: shops delivering any row; expected shops (``shops.expected``, declared
      by the ERP) that delivered nothing are silent. A = none silent, C = some silent,
      D = the channel delivers nothing at all.
    * **freshness**: age of the newest order line (of any record when the channel has no
      orders), in days. A ≤ 2, B ≤ 7, C ≤ 30, D beyond or no record.
    * **quarantine rate**: rows quarantined / rows read over the channel's files.
      A ≤ 1 %, B ≤ 5 %, C ≤ 15 %, D beyond.
    * **missing-field rate**: mean NULL-or-blank share of ``orders.buyer_id``,
      ``orders.receiver_phone``, ``order_lines.sku_id`` (unmapped SKUs) and
      ``members.phone``. An exported field that is NULL on every row of a channel is
      taken as not offered by that channel and left out (listed in ``not_exported``);
      ``order_lines.sku_id`` always counts. A ≤ 5 %, B ≤ 20 %, C ≤ 50 %, D beyond.
    * **duplicate rate**: (rows accepted across files − distinct rows in the table) / rows
      accepted, i.e. rows an overlapping export replaced. Shown, not graded: a re-sent row
      is replaced by key and harms nothing, and weekly exports that overlap (or a month
      downloaded again) would otherwise mark down every channel that is run that way.

    The grade is the worst of these; a metric without data (no files ingested) is skipped.

    Args:
        store: the unified store.
        now: the moment ages are measured from (naive UTC, or aware and converted);
            None = the newest record in the store, or the clock for an empty store.
        top_reasons: how many quarantine reasons to keep, most frequent first.

    Returns:
        The :class:`StatusReport`.

    Examples:
        >>> report = status_report(store)                             # doctest: +SKIP
        >>> [(s.platform, s.grade) for s in report.scorecard]         # doctest: +SKIP
    """
    from_data = now is None
    now = _now(store) if now is None else _naive_utc(now)
    shops = _shop_loads(store, now)
    freshness = _freshness(store, now)
    files = _file_stats(store)
    reasons = _quarantine_reasons(store, top_reasons)
    scorecard = _scorecard(store, shops, freshness, files)
    logger.debug("status: %d shops, %d file groups", len(shops), len(files))
    return StatusReport(now, from_data, shops, freshness, files, reasons, scorecard)


# -- parts ---------------------------------------------------------------------------------


def _now(store: Store) -> dt.datetime:
    union = " UNION ALL ".join(
        f"SELECT max({CHANNEL_TABLES[t]})::TIMESTAMP AS ts FROM {t}" for t in NOW_TABLES
    )
    newest = store.sql(f"SELECT max(ts) FROM ({union})").fetchall()[0][0]
    if newest is None:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return newest


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _age(now: dt.datetime, newest: dt.datetime | None) -> float | None:
    if newest is None or pd.isna(newest):
        return None
    return (now - pd.Timestamp(newest).to_pydatetime()).total_seconds() / 86400


def _shop_loads(store: Store, now: dt.datetime) -> tuple[ShopLoad, ...]:
    union = " UNION ALL ".join(
        f"SELECT platform, coalesce(shop_id, '') AS shop_id, '{table}' AS tbl, count(*) AS n, "
        f"max({col})::TIMESTAMP AS newest FROM {table} GROUP BY ALL"
        for table, col in CHANNEL_TABLES.items()
    )
    loads = store.sql(union).df()
    declared = store.sql("SELECT platform, shop_id, shop_name, expected FROM shops").df()
    keys = pd.concat([declared[["platform", "shop_id"]], loads[["platform", "shop_id"]]])
    keys = keys.drop_duplicates().sort_values(["platform", "shop_id"])
    info = declared.set_index(["platform", "shop_id"])
    by_shop = {key: part for key, part in loads.groupby(["platform", "shop_id"])}
    out = []
    for platform, shop_id in keys.itertuples(index=False):
        part = by_shop.get((platform, shop_id))
        rows = dict.fromkeys(CHANNEL_TABLES, 0)
        newest = None
        if part is not None:
            rows.update({t: int(n) for t, n in zip(part["tbl"], part["n"], strict=True)})
            # promotions are scheduled ahead: they do not make a shop look fresh
            seen = part.loc[part["tbl"] != "promotions", "newest"].dropna()
            newest = seen.max().to_pydatetime() if not seen.empty else None
        known = (platform, shop_id) in info.index
        out.append(
            ShopLoad(
                platform=platform,
                shop_id=shop_id,
                shop_name=_text(info.loc[(platform, shop_id), "shop_name"]) if known else None,
                expected=bool(info.loc[(platform, shop_id), "expected"]) if known else False,
                rows=rows,
                newest_at=newest,
                age_days=_age(now, newest),
            )
        )
    return tuple(out)


def _freshness(store: Store, now: dt.datetime) -> tuple[TableFreshness, ...]:
    union = " UNION ALL ".join(
        f"SELECT platform, '{table}' AS tbl, count(*) AS n, max({col})::TIMESTAMP AS newest "
        f"FROM {table} GROUP BY platform"
        for table, col in CHANNEL_TABLES.items()
    )
    erp = " UNION ALL ".join(
        f"SELECT 'erp' AS platform, '{table}' AS tbl, count(*) AS n, "
        f"max({col})::TIMESTAMP AS newest FROM {table} HAVING count(*) > 0"
        for table, col in ERP_TABLES.items()
    )
    frame = store.sql(f"{union} UNION ALL {erp}").df()
    order = {p.value: i for i, p in enumerate(Platform)}
    tables = [*CHANNEL_TABLES, *ERP_TABLES]
    frame = frame.assign(
        _p=frame["platform"].map(order).fillna(len(order)),
        _t=frame["tbl"].map(tables.index),
    ).sort_values(["_p", "platform", "_t"])
    return tuple(
        TableFreshness(
            platform=row.platform,
            table=row.tbl,
            rows=int(row.n),
            newest_at=None if pd.isna(row.newest) else row.newest.to_pydatetime(),
            age_days=_age(now, None if pd.isna(row.newest) else row.newest),
        )
        for row in frame.itertuples(index=False)
    )


def _file_stats(store: Store) -> tuple[FileStats, ...]:
    frame = store.sql(
        """
        SELECT platform, kind, count(*) AS files, sum(rows_read)::BIGINT AS rows_read,
               sum(rows_accepted)::BIGINT AS rows_accepted,
               sum(rows_quarantined)::BIGINT AS rows_quarantined,
               max(ingested_at) AS last_ingested_at
        FROM ingested_files GROUP BY ALL ORDER BY platform, kind
        """
    ).df()
    counts = _table_counts(store)
    kept = {
        (platform, kind): int(n)
        for platform, kind, n in store.sql(
            "SELECT platform, kind, count(DISTINCT file_sha256 || ':' || line) "
            "FROM quarantine_rows GROUP BY ALL"
        ).fetchall()
    }
    out = []
    for row in frame.itertuples(index=False):
        table = KIND_TABLES.get(row.kind)
        if table is None:
            in_table = None
        elif table in CHANNEL_TABLES:
            in_table = counts.get((table, row.platform), 0)
        else:
            in_table = counts.get((table, None), 0)
        out.append(
            FileStats(
                platform=row.platform,
                kind=row.kind,
                files=int(row.files),
                rows_read=int(row.rows_read),
                rows_accepted=int(row.rows_accepted),
                rows_quarantined=int(row.rows_quarantined),
                rows_in_table=in_table,
                last_ingested_at=row.last_ingested_at.to_pydatetime(),
                rows_kept_in_quarantine=kept.get((row.platform, row.kind), 0),
            )
        )
    return tuple(out)


def _table_counts(store: Store) -> dict[tuple[str, str | None], int]:
    """Rows per (channel table, platform), and per (ERP table, None)."""
    parts = [
        f"SELECT '{t}' AS tbl, platform, count(*) AS n FROM {t} GROUP BY platform"
        for t in CHANNEL_TABLES
    ] + [
        f"SELECT '{t}' AS tbl, NULL AS platform, count(*) AS n FROM {t}"
        for t in set(KIND_TABLES.values()) - set(CHANNEL_TABLES)
    ]
    rows = store.sql(" UNION ALL ".join(parts)).fetchall()
    return {(tbl, platform): int(n) for tbl, platform, n in rows}


def _quarantine_reasons(store: Store, top: int) -> tuple[QuarantineReason, ...]:
    # take the offending value out of "cannot read <what>: <value>" and
    # "value <value> must …" (or the older "value <value> fails check …")
    norm = (
        r"regexp_replace(regexp_replace(reason, '^(cannot read .*?): .*$', '\1'), "
        r"'^value .*? (must .*|fails check .*)$', '\1')"
    )
    # the example: the first such row's file and line and the value it held there (the
    # reason already says what is wrong: repeating it in full said nothing new)
    rows = store.sql(
        f"""
        SELECT platform, kind, field, {norm} AS reason, count(*) AS n,
               arg_min(source_file, (source_file, line)), min_by(line, (source_file, line)),
               arg_min(raw::VARCHAR, (source_file, line))
        FROM quarantine_rows
        GROUP BY ALL
        ORDER BY n DESC, platform, kind, field, reason
        LIMIT $1
        """,
        [top],
    ).fetchall()
    return tuple(
        QuarantineReason(p, k, f, r, int(n), _where_and_what(f, source, line, raw))
        for p, k, f, r, n, source, line, raw in rows
    )


def _where_and_what(field: str, source: str, line: int, raw: str | None) -> str:
    """ "订单报表_202407.csv:402 "待核算"": a quarantined row's file, line and the value its
    field held (none for a whole-row problem or an empty value)."""
    where = f"{PureWindowsPath(source).name}:{line}"  # either kind of separator
    try:
        value = json.loads(raw).get(field) if raw else None
    except (ValueError, AttributeError):  # raw is not a JSON object: show where only
        value = None
    return f"{where} {json.dumps(str(value), ensure_ascii=False)}" if value else where


def _missing(store: Store) -> dict[str, dict[str, tuple[int, int]]]:
    """platform -> "table.field" -> (missing, rows)."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    tables: dict[str, list[str]] = {}
    for table, col in MISSING_FIELDS:
        tables.setdefault(table, []).append(col)
    for table, cols in tables.items():
        counts = ", ".join(
            f"count(*) FILTER (WHERE nullif(trim({c}::VARCHAR), '') IS NULL) AS {c}" for c in cols
        )
        frame = store.sql(
            f"SELECT platform, count(*) AS n, {counts} FROM {table} GROUP BY platform"
        ).df()
        for row in frame.to_dict("records"):
            per = out.setdefault(row["platform"], {})
            for c in cols:
                per[f"{table}.{c}"] = (int(row[c]), int(row["n"]))
    return out


def _scorecard(
    store: Store,
    shops: tuple[ShopLoad, ...],
    freshness: tuple[TableFreshness, ...],
    files: tuple[FileStats, ...],
) -> tuple[ChannelScore, ...]:
    missing = _missing(store)
    out = []
    for platform in Platform.channels():
        p = platform.value
        its_shops = [s for s in shops if s.platform == p]
        its_files = [f for f in files if f.platform == p]
        its_tables = [t for t in freshness if t.platform == p]
        if not its_shops and not its_files and not its_tables:
            continue  # the brand does not sell there
        out.append(_score(p, its_shops, its_files, its_tables, missing.get(p, {})))
    return tuple(out)


def _score(
    platform: str,
    shops: list[ShopLoad],
    files: list[FileStats],
    tables: list[TableFreshness],
    missing: dict[str, tuple[int, int]],
) -> ChannelScore:
    levels: list[Grade] = []
    notes: list[str] = []

    delivering = tuple(s.shop_id for s in shops if s.shop_id and not s.silent)
    silent = tuple(s.shop_id for s in shops if s.expected and s.silent)
    anything = any(not s.silent for s in shops)
    if not anything:
        levels.append(Grade.D)
        notes.append("delivers no data")
    elif silent:
        levels.append(Grade.C)
        notes.append(f"{len(silent)} expected shop(s) silent: {', '.join(silent)}")

    by_table = {t.table: t for t in tables if t.age_days is not None}
    newest = by_table.get("order_lines")
    if newest is None:
        candidates = [t for name, t in by_table.items() if name != "promotions"]
        newest = min(candidates, key=lambda t: t.age_days or 0.0) if candidates else None
    age = newest.age_days if newest is not None else None
    if age is None:
        if anything:
            levels.append(Grade.D)
            notes.append("no dated record")
    else:
        level = _level(age, FRESHNESS_DAYS)
        levels.append(level)
        if level is not Grade.A:
            notes.append(f"newest {newest.table} row {age:.1f} days old")

    read = sum(f.rows_read for f in files)
    quarantine_rate = sum(f.rows_quarantined for f in files) / read if read else None
    if quarantine_rate is not None:
        level = _level(quarantine_rate, QUARANTINE_RATE)
        levels.append(level)
        if level is not Grade.A:
            notes.append(f"{quarantine_rate:.1%} of rows read were quarantined")

    rates: dict[str, float] = {}
    not_exported = []
    for name, (gone, rows) in missing.items():
        if not rows:
            continue
        derived = tuple(name.split(".")) in DERIVED_FIELDS
        if gone == rows and not derived:
            not_exported.append(name)
        else:
            rates[name] = gone / rows
    missing_rate = sum(rates.values()) / len(rates) if rates else None
    if missing_rate is not None:
        level = _level(missing_rate, MISSING_RATE)
        levels.append(level)
        if level is not Grade.A:
            worst = max(rates, key=rates.__getitem__)
            notes.append(
                f"{missing_rate:.1%} of key fields missing (worst {worst}: {rates[worst]:.1%})"
            )

    tracked = [f for f in files if f.duplicates is not None]
    accepted = sum(f.rows_accepted for f in tracked)
    duplicate_rate = sum(f.duplicates or 0 for f in tracked) / accepted if accepted else None

    return ChannelScore(
        platform=platform,
        shops_delivering=delivering,
        shops_silent=silent,
        age_days=age,
        quarantine_rate=quarantine_rate,
        missing_rate=missing_rate,
        missing_by_field=rates,
        not_exported=tuple(not_exported),
        duplicate_rate=duplicate_rate,
        grade=max(levels, default=Grade.A),
        notes=tuple(notes),
    )


def _text(value: object) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _level(value: float, bounds: tuple[float, float, float]) -> Grade:
    for grade, bound in zip((Grade.A, Grade.B, Grade.C), bounds, strict=True):
        if value <= bound:
            return grade
    return Grade.D
