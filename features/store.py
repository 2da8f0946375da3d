"""The unified store: one DuckDB file under the Butler home.

:class:`Store` owns the connection, applies migrations on open, runs work in transactions
and upserts frames by each table's primary key (read from the catalog, so the SQL in
``features/schema/migrations`` stays the one definition of keys).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import duckdb
import pandas as pd

from features.errors import StoreError
from features.schema import migrate, natural_key
from features.settings import Settings

logger = logging.getLogger(__name__)


class Store:
    """A connection to the unified store.

    Examples:
        >>> with Store.open(Settings(home=tmp)) as store:          # doctest: +SKIP
        ...     store.sql("SELECT count(*) FROM order_lines").fetchall()
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path | None) -> None:
        self.con = con
        self.path = path
        self._keys: dict[str, tuple[list[str], bool]] = {}
        self._columns: dict[str, dict[str, str | None]] = {}

    @classmethod
    def open(cls, settings: Settings, *, read_only: bool = False) -> Self:
        """Open (and, unless read-only, create and migrate) the store under ``settings.home``.

        Raises:
            StoreError: the store does not exist yet (read-only), another process holds it,
                or the file is not a DuckDB store (the message says which).
        """
        path = settings.duckdb_path
        if read_only and not path.exists():
            raise StoreError(
                f"No Butler store at {path}. Run `butler ingest PATH` (or `butler demo`) first, "
                "or set BUTLER_HOME to the folder that holds one."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        config = {"memory_limit": settings.duckdb_memory_limit}
        if settings.duckdb_threads:
            config["threads"] = str(settings.duckdb_threads)
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.IOException as exc:
            message = str(exc).lower()
            if "lock" in message:
                fix = "Another Butler process is using it; wait for it to finish."
            elif "read-only" in message or "permission denied" in message:
                fix = (
                    "The Butler home cannot be written here; give Butler write access to it "
                    "(commands that only read, such as status, still work)."
                )
            else:
                fix = (
                    "The file is not a Butler store, or it is damaged (e.g. empty, or cut "
                    "short by a full disk): move it aside and run `butler ingest` again."
                )
            raise StoreError(f"Cannot open the store {path}: {exc}. {fix}") from exc
        if not read_only:
            migrate(con)
        return cls(con, path)

    @classmethod
    def in_memory(cls) -> Self:
        """A throw-away store in memory (tests, previews)."""
        con = duckdb.connect(":memory:")
        migrate(con)
        return cls(con, None)

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- work ------------------------------------------------------------------------------

    def sql(self, query: str, params: list | None = None) -> duckdb.DuckDBPyConnection:
        """Run one statement; returns the cursor (``.df()``, ``.fetchall()``).

        Read the result whole (``fetchall``/``df``): DuckDB blocks the connection while a
        result is half-read.
        """
        return self.con.execute(query, params or [])

    @contextmanager
    def transaction(self) -> Iterator[Self]:
        """All or nothing: everything inside commits together or not at all."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    def key(self, table: str) -> tuple[list[str], bool]:
        """The natural key of ``table`` and whether a PRIMARY KEY index enforces it."""
        if table not in self._keys:
            self._keys[table] = natural_key(self.con, table)
        return self._keys[table]

    def columns(self, table: str) -> dict[str, str | None]:
        """``table``'s columns in order, each with its SQL default (``None`` if it has none)."""
        if table not in self._columns:
            rows = self.con.execute(
                "SELECT column_name, column_default FROM duckdb_columns() "
                "WHERE table_name = ? AND NOT internal ORDER BY column_index",
                [table],
            ).fetchall()
            self._columns[table] = dict(rows)
        return self._columns[table]

    def upsert(
        self,
        table: str,
        source: str | pd.DataFrame,
        computed: dict[str, str] | None = None,
        order_by: str | None = None,
        keep: Iterable[str] = (),
    ) -> None:
        """Write ``source`` into ``table``, replacing rows with the same natural key.

        Within ``source`` the last row of a key wins (by ``order_by``, else the frame's row
        order), as a later line of an export does. Columns the source lacks or leaves empty
        take the table's SQL default; source columns the table lacks are ignored.

        Args:
            table: a table of the unified schema.
            source: a DataFrame, or the name of a relation (table or view) in the connection.
            computed: SQL expressions over the source (aliased ``src``) for some columns, such
                as a lookup of the internal SKU.
            order_by: the source column that orders its rows (later wins).
            keep: columns the source lacks whose stored values a replaced row keeps (a
                narrower export of the same orders must not reset their refunds); a new
                row takes the default.
        """
        if isinstance(source, pd.DataFrame):
            if source.empty:
                return
            frame = source.assign(_upsert_order=range(len(source)))
            self.con.register("_upsert_frame", frame)
            self.upsert(table, "_upsert_frame", computed, order_by="_upsert_order", keep=keep)
            self.con.unregister("_upsert_frame")
            return
        have = {d[0] for d in self.con.execute(f"SELECT * FROM {source} LIMIT 0").description}
        key, indexed = self.key(table)
        computed = computed or {}
        kept = set(keep) - have - set(computed) - set(key)
        select = []
        for column, default in self.columns(table).items():
            if column in computed:
                expr = computed[column]
            elif column in have:
                expr = f"coalesce(src.{column}, {default})" if default else f"src.{column}"
            elif column in kept:
                expr = f"coalesce(old.{column}, {default})" if default else f"old.{column}"
            else:
                expr = default or "NULL"
            select.append(f"{expr} AS {column}")
        keys = ", ".join(f"src.{k}" for k in key)
        latest = f"SELECT {', '.join(select)} FROM {source} src"
        joined = bool(kept & set(self.columns(table)))
        if joined:
            on = " AND ".join(f"old.{k} = src.{k}" for k in key)
            latest += f" LEFT JOIN {table} old ON {on}"
        repeated = self.con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {source} src GROUP BY {keys} HAVING count(*) > 1)"
        ).fetchall()[0][0]
        if repeated:  # rare in real exports, and the window costs more than the check
            order = f"ORDER BY src.{order_by} DESC" if order_by else ""
            latest += f" QUALIFY row_number() OVER (PARTITION BY {keys} {order}) = 1"
        if indexed:
            self.con.execute(f"INSERT OR REPLACE INTO {table} {latest}")
            return
        match = " AND ".join(f"t.{k} = s.{k}" for k in key)
        if joined:  # read the kept values before their rows are deleted
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE _upsert_latest AS {latest}")
            latest = "SELECT * FROM _upsert_latest"
        self.con.execute(
            f"DELETE FROM {table} t USING (SELECT DISTINCT {keys} FROM {source} src) s "
            f"WHERE {match}"
        )
        self.con.execute(f"INSERT INTO {table} {latest}")
        if joined:
            self.con.execute("DROP TABLE _upsert_latest")

    def count(self, table: str) -> int:
        return int(self.con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])

    def require_rows(self, table: str, what: str) -> None:
        """Raise a :class:`StoreError` that says what to ingest when ``table`` is empty."""
        if self.count(table) == 0:
            raise StoreError(
                f"The store has no {what} yet (table `{table}` is empty). Ingest the exports "
                "that carry them with `butler ingest PATH`."
            )
