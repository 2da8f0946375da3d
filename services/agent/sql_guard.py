"""The guarded read-only SQL the butler's LLM may run when no other tool answers.

Whatever the model writes, it cannot change or leak the store:

* the store is opened **read-only**, with external access off (no files, no network, no
  extensions, no ATTACH) and the configuration locked, so no statement can turn it back on;
* exactly **one** statement, and it must be a plain ``SELECT`` (DuckDB's own parser decides,
  not a regex);
* table functions that read anything but the store are refused by name as well;
* results stop at ``settings.sql_max_rows`` rows and the query is interrupted after
  ``settings.sql_timeout_s`` seconds.
"""

from __future__ import annotations

import re
import threading

import duckdb
import pandas as pd

from features.errors import ButlerError, StoreError
from features.settings import Settings


class SqlRefusedError(ButlerError):
    """A query the guard does not run: not one SELECT, a forbidden function, too slow."""


#: Functions that reach outside the store (files, network, the catalogue of settings).
_FORBIDDEN = re.compile(
    r"\b(read_\w+|write_\w+|glob|sniff_csv|parquet_\w+|copy|attach|detach|install|load|"
    r"pragma|set|reset|export|import|httpfs|http_\w+|duckdb_secrets|getenv|current_setting|"
    r"query_table|query)\s*\(|\b(copy|attach|install|load|pragma|export|import|call)\b",
    re.IGNORECASE,
)


def check_sql(sql: str) -> str:
    """The query, if it is exactly one plain SELECT that names no forbidden function.

    Raises:
        SqlRefusedError: otherwise, saying why.
    """
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise SqlRefusedError("The SQL is empty: write one SELECT statement.")
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise SqlRefusedError(f"The SQL does not parse: {exc}") from exc
    if len(statements) != 1:
        raise SqlRefusedError(
            f"Exactly one statement is allowed; got {len(statements)}. Send one SELECT."
        )
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = statements[0].type.name
        raise SqlRefusedError(
            f"Only SELECT statements are allowed; got {kind}. The store is read-only."
        )
    found = _FORBIDDEN.search(text)
    if found:
        raise SqlRefusedError(
            f"`{found[0].strip()}` is not allowed: queries may read only the store's tables."
        )
    return text


def run_readonly_sql(settings: Settings, sql: str) -> pd.DataFrame:
    """Run one guarded SELECT on a read-only connection; at most ``sql_max_rows`` rows.

    The frame's ``attrs["truncated"]`` says whether more rows existed.

    Raises:
        SqlRefusedError: the query is refused, fails, or runs out of time.
        StoreError: there is no store yet.
    """
    text = check_sql(sql)
    path = settings.duckdb_path
    if not path.exists():
        raise StoreError(f"No Butler store at {path}. Run `butler ingest` or `butler demo`.")
    config = {
        "enable_external_access": False,
        "autoload_known_extensions": False,
        "autoinstall_known_extensions": False,
        "lock_configuration": True,
        "memory_limit": settings.duckdb_memory_limit,
    }
    con = duckdb.connect(str(path), read_only=True, config=config)
    timer = threading.Timer(settings.sql_timeout_s, con.interrupt)
    timer.start()
    try:
        cursor = con.execute(text)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchmany(settings.sql_max_rows + 1)
    except duckdb.InterruptException as exc:
        raise SqlRefusedError(
            f"The query ran longer than {settings.sql_timeout_s:g} s and was stopped; "
            "narrow it (filters, LIMIT) or aggregate."
        ) from exc
    except duckdb.Error as exc:
        raise SqlRefusedError(f"The query failed: {exc}") from exc
    finally:
        timer.cancel()
        con.close()
    frame = pd.DataFrame(rows[: settings.sql_max_rows], columns=columns)
    frame.attrs["truncated"] = len(rows) > settings.sql_max_rows
    return frame
