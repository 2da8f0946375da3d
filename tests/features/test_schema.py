"""The schema owner: migrations apply once, in order, and keys come from the catalog."""

from __future__ import annotations

import duckdb
import pytest

from features.errors import StoreError
from features.schema import current_version, list_migrations, migrate, natural_key
from features.store import Store


def test_migrations_are_numbered_from_one_without_gaps():
    versions = [m.version for m in list_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_migrate_is_idempotent_and_records_versions():
    con = duckdb.connect()
    newest = migrate(con)
    assert migrate(con) == newest == current_version(con)
    rows = con.execute("SELECT version FROM schema_version").fetchall()
    assert [r[0] for r in rows] == list(range(1, newest + 1))
    assert con.execute("SELECT count(*) FROM platforms").fetchall()[0][0] == 9


def test_a_store_from_a_newer_butler_is_refused():
    con = duckdb.connect()
    migrate(con)
    con.execute("INSERT INTO schema_version VALUES (999, 'future', now()::TIMESTAMP)")
    with pytest.raises(StoreError, match="newer than this Butler"):
        migrate(con)


def test_natural_keys_come_from_the_schema():
    con = duckdb.connect()
    migrate(con)
    assert natural_key(con, "order_lines") == (["platform", "order_id", "line_id"], False)
    assert natural_key(con, "members") == (["platform", "platform_user_id"], True)


def test_constraints_reject_impossible_rows():
    store = Store.in_memory()
    with pytest.raises(duckdb.ConstraintException):
        store.sql(
            "INSERT INTO inventory_snapshots VALUES (DATE '2024-01-01', 'WH1', 'SKU1', -3, 0, 'f')"
        )


def test_read_only_open_of_a_missing_store_says_what_to_run(settings):
    with pytest.raises(StoreError, match="butler ingest"):
        Store.open(settings, read_only=True)
