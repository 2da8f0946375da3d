"""The one owner of the unified schema and its migrations.

Migrations are numbered SQL files in ``migrations/`` (``0001_init.sql``, ``0002_….sql``),
applied in order inside one transaction each and recorded in ``schema_version``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import duckdb

from features.errors import StoreError
from features.schema.vocab import (
    BUSINESS_TZ,
    PLATFORM_NAMES,
    ChatRole,
    ExportKind,
    OrderStatus,
    Platform,
    RefundStatus,
    RiskLabel,
    Severity,
)

__all__ = [
    "BUSINESS_TZ",
    "ChatRole",
    "ExportKind",
    "INDEX_FREE_KEYS",
    "Migration",
    "OrderStatus",
    "Platform",
    "RefundStatus",
    "RiskLabel",
    "Severity",
    "current_version",
    "migrate",
    "natural_key",
    "list_migrations",
    "primary_key",
]

#: Natural keys of the tables that carry no PRIMARY KEY index (see 0001_init.sql); every
#: other table's key is its PRIMARY KEY, read from the catalog.
INDEX_FREE_KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("platform", "order_id"),
    "order_lines": ("platform", "order_id", "line_id"),
    "sales_daily": ("day", "platform", "shop_id", "sku_id", "warehouse_id"),
    "inventory_snapshots": ("snapshot_date", "warehouse_id", "sku_id"),
}

_MIGRATION_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered SQL migration."""

    version: int
    name: str
    sql: str


def list_migrations() -> list[Migration]:
    """All migrations shipped with Butler, in the order they apply."""
    found = []
    for entry in resources.files("features.schema.migrations").iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    """The schema version of the store behind ``con`` (0 for an empty database)."""
    # fetchall, not fetchone: DuckDB keeps a half-read result open and blocks the connection
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if exists == 0:
        return 0
    return int(con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0])


def migrate(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the store up to the newest schema version; return that version.

    Raises:
        StoreError: the store was written by a newer Butler than this one.
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    have = current_version(con)
    known = list_migrations()
    newest = known[-1].version if known else 0
    if have > newest:
        raise StoreError(
            f"The store is at schema version {have}, newer than this Butler knows ({newest}). "
            "Upgrade Butler, or point BUTLER_HOME at another store."
        )
    for migration in known:
        if migration.version <= have:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(migration.sql)
            if migration.version == 1:
                _seed_platforms(con)
            con.execute(
                "INSERT INTO schema_version VALUES (?, ?, now()::TIMESTAMP)",
                [migration.version, migration.name],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return newest


def natural_key(con: duckdb.DuckDBPyConnection, table: str) -> tuple[list[str], bool]:
    """The natural-key columns of ``table`` and whether a PRIMARY KEY index enforces them."""
    if table in INDEX_FREE_KEYS:
        return list(INDEX_FREE_KEYS[table]), False
    return primary_key(con, table), True


def primary_key(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The primary-key columns of ``table``, read from the catalog (the SQL is the truth)."""
    row = con.execute(
        "SELECT constraint_column_names FROM duckdb_constraints() "
        "WHERE table_name = ? AND constraint_type = 'PRIMARY KEY'",
        [table],
    ).fetchall()
    if not row:
        raise StoreError(f"Table `{table}` has no primary key; it cannot be upserted.")
    return list(row[0][0])


def _seed_platforms(con: duckdb.DuckDBPyConnection) -> None:
    con.executemany(
        "INSERT INTO platforms VALUES (?, ?, ?, ?)",
        [(p.value, zh, en, p is not Platform.ERP) for p, (zh, en) in PLATFORM_NAMES.items()],
    )
