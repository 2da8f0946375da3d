"""The guarded read-only SQL, against a real store file under the test's home."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pandas as pd
import pytest

from features.errors import StoreError
from features.settings import Settings
from features.store import Store
from services.agent.sql_guard import SqlRefusedError, run_readonly_sql

TABLES = ("warehouses", "orders", "sales_daily")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """A home whose store holds 5 warehouses, 2 orders and 3 days of sales; the store is
    closed again so the guard can open it read-only."""
    settings = Settings(home=tmp_path / "home", sql_max_rows=3, sql_timeout_s=0.25)
    with Store.open(settings) as store:
        store.upsert(
            "warehouses",
            pd.DataFrame({"warehouse_id": [f"WH{i}" for i in range(1, 6)], "name": list("abcde")}),
        )
        store.upsert(
            "orders",
            pd.DataFrame(
                {
                    "platform": ["tmall", "jd"],
                    "order_id": ["O1", "O2"],
                    "shop_id": ["s1", "s2"],
                    "status": ["paid", "paid"],
                    "created_at": [dt.datetime(2025, 12, 1, 8), dt.datetime(2025, 12, 2, 9)],
                    "source_file": ["o.csv", "o.csv"],
                }
            ),
        )
        store.upsert(
            "sales_daily",
            pd.DataFrame(
                {
                    "day": [dt.date(2025, 12, d) for d in (1, 2, 3)],
                    "platform": "tmall",
                    "shop_id": "s1",
                    "sku_id": "A1",
                    "warehouse_id": "WH1",
                    "orders": [1, 2, 3],
                    "units": [2, 4, 6],
                    "returned_units": 0,
                    "gross_fen": [200, 400, 600],
                    "refund_fen": 0,
                }
            ),
        )
    return settings


def counts(settings: Settings) -> dict[str, int]:
    with Store.open(settings, read_only=True) as store:
        return {t: store.count(t) for t in TABLES}


EXPECTED_COUNTS = {"warehouses": 5, "orders": 2, "sales_daily": 3}


# -- what it answers -----------------------------------------------------------------------


def test_select(settings):
    frame = run_readonly_sql(settings, "SELECT sum(units) AS units, count(*) AS n FROM sales_daily")
    assert frame.to_dict("records") == [{"units": 12, "n": 3}]
    assert frame.attrs["truncated"] is False


def test_with_select(settings):
    sql = """
        WITH per_day AS (SELECT day, units FROM sales_daily WHERE units > 2)
        SELECT count(*) AS days, max(units) AS most FROM per_day
    """
    assert run_readonly_sql(settings, sql).to_dict("records") == [{"days": 2, "most": 6}]


def test_trailing_semicolon_and_a_semicolon_inside_a_string(settings):
    assert run_readonly_sql(settings, "SELECT 1 AS one;").to_dict("records") == [{"one": 1}]
    assert run_readonly_sql(settings, "SELECT 'a;b' AS s")["s"].tolist() == ["a;b"]


def test_empty_result_keeps_its_columns(settings):
    frame = run_readonly_sql(settings, "SELECT warehouse_id, name FROM warehouses WHERE false")
    assert frame.empty and list(frame.columns) == ["warehouse_id", "name"]
    assert frame.attrs["truncated"] is False


def test_rows_stop_at_the_limit_and_say_so(settings):
    frame = run_readonly_sql(settings, "SELECT warehouse_id FROM warehouses ORDER BY 1")
    assert frame["warehouse_id"].tolist() == ["WH1", "WH2", "WH3"]  # sql_max_rows = 3
    assert frame.attrs["truncated"] is True


def test_exactly_the_limit_is_not_truncated(settings):
    frame = run_readonly_sql(settings, "SELECT * FROM sales_daily")
    assert len(frame) == 3 and frame.attrs["truncated"] is False


# -- what it refuses -----------------------------------------------------------------------


REFUSED = [
    "DELETE FROM orders",
    "UPDATE warehouses SET name = 'x'",
    "INSERT INTO warehouses (warehouse_id, name) VALUES ('WH9', 'z')",
    "DROP TABLE orders",
    "CREATE TABLE t AS SELECT 1",
    "ATTACH 'other.duckdb' AS other",
    "COPY orders TO 'orders.csv'",
    "PRAGMA database_list",
    "SET memory_limit = '8GB'",
    "INSTALL httpfs",
    "LOAD httpfs",
    "select 1; drop table orders",
    "SELECT * FROM warehouses; DELETE FROM warehouses",
    "SELECT * FROM read_csv('orders.csv')",
    "SELECT * FROM read_parquet('orders.parquet')",
    "SELECT * FROM glob('*')",
    "SELECT * FROM 'file.csv'",
    "SELECT current_setting('memory_limit')",
    "SELECT getenv('HOME')",
    "",
    "  ;  ",
]


@pytest.mark.parametrize("sql", REFUSED)
def test_refused_and_the_store_is_unchanged(settings, sql):
    with pytest.raises(SqlRefusedError):
        run_readonly_sql(settings, sql)
    assert counts(settings) == EXPECTED_COUNTS


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("DELETE FROM orders", "DELETE"),
        ("DROP TABLE orders", "DROP"),
        ("select 1; drop table orders", "one statement"),
        ("SELECT * FROM read_csv('x.csv')", "read_csv"),
        ("SELECT getenv('HOME')", "getenv"),
    ],
)
def test_refusal_says_why(settings, sql, words):
    with pytest.raises(SqlRefusedError, match=words):
        run_readonly_sql(settings, sql)


def test_a_real_file_next_to_the_store_cannot_be_read(settings):
    secret = settings.home / "secret.csv"
    secret.write_text("token\nhunter2\n", encoding="utf-8")
    for sql in (f"SELECT * FROM '{secret}'", f"SELECT * FROM read_csv_auto('{secret}')"):
        with pytest.raises(SqlRefusedError) as caught:
            run_readonly_sql(settings, sql)
        assert "hunter2" not in str(caught.value)


def test_syntax_error_names_the_problem(settings):
    with pytest.raises(SqlRefusedError, match="does not parse") as caught:
        run_readonly_sql(settings, "SELEC units FROM sales_daily")
    assert "SELEC" in str(caught.value)


def test_unknown_table_is_refused_with_the_reason(settings):
    with pytest.raises(SqlRefusedError, match="nope"):
        run_readonly_sql(settings, "SELECT * FROM nope")


def test_slow_query_is_interrupted(settings):
    began = time.monotonic()
    with pytest.raises(SqlRefusedError, match="longer than"):
        run_readonly_sql(settings, "SELECT count(*) FROM range(100000000) a, range(1000) b")
    assert time.monotonic() - began < 3.0  # timeout 0.25 s; the full join would take minutes
    assert run_readonly_sql(settings, "SELECT 1 AS ok")["ok"].tolist() == [1]  # still usable


def test_no_store_yet(tmp_path):
    with pytest.raises(StoreError, match="No Butler store"):
        run_readonly_sql(Settings(home=tmp_path / "empty"), "SELECT 1")
    assert not (tmp_path / "empty" / "butler.duckdb").exists()  # not created by asking


def test_refused_before_looking_for_a_store(tmp_path):
    with pytest.raises(SqlRefusedError):
        run_readonly_sql(Settings(home=tmp_path / "empty"), "DROP TABLE orders")
