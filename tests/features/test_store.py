"""Store: upsert by natural key, defaults, transactions."""

from __future__ import annotations

import pandas as pd
import pytest

from features.errors import StoreError
from features.settings import Settings
from features.store import Store


def test_upsert_replaces_by_key_and_last_row_of_a_key_wins():
    store = Store.in_memory()
    rows = pd.DataFrame(
        {"warehouse_id": ["W1", "W2", "W1"], "name": ["华东仓", "华北仓", "华东一号仓"]}
    )
    store.upsert("warehouses", rows)
    store.upsert("warehouses", pd.DataFrame({"warehouse_id": ["W2"], "name": ["北京仓"]}))
    got = dict(store.sql("SELECT warehouse_id, name FROM warehouses").fetchall())
    assert got == {"W1": "华东一号仓", "W2": "北京仓"}


def test_upsert_fills_missing_and_empty_columns_with_defaults():
    store = Store.in_memory()
    rows = pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime(["2024-01-01", "2024-01-01"]),
            "warehouse_id": "W1",
            "sku_id": ["A", "B"],
            "on_hand": [5, 7],
            "reserved": pd.array([None, 2], dtype="Int64"),
            "source_file": "f.csv",
            "not_a_column": 1,  # ignored
        }
    )
    store.upsert("inventory_snapshots", rows)
    assert store.sql("SELECT sku_id, reserved FROM inventory_snapshots ORDER BY 1").fetchall() == [
        ("A", 0),
        ("B", 2),
    ]


def test_transaction_rolls_back_on_error():
    store = Store.in_memory()
    with pytest.raises(RuntimeError), store.transaction():
        store.upsert("warehouses", pd.DataFrame({"warehouse_id": ["W1"], "name": ["x"]}))
        raise RuntimeError("boom")
    assert store.count("warehouses") == 0


def test_a_store_file_that_is_not_a_store_says_to_move_it_aside(tmp_path):
    settings = Settings(home=tmp_path)
    (tmp_path / "butler.duckdb").write_bytes(b"")  # e.g. cut short by a full disk
    with pytest.raises(StoreError, match="not a Butler store, or it is damaged.*move it aside"):
        Store.open(settings)


def test_a_store_on_a_read_only_disk_is_not_called_damaged(tmp_path, monkeypatch):
    import duckdb

    settings = Settings(home=tmp_path)

    def read_only_disk(*args, **kwargs):  # what DuckDB says on a read-only mount, even to root
        raise duckdb.IOException('Cannot open file "butler.duckdb.wal": Read-only file system')

    monkeypatch.setattr(duckdb, "connect", read_only_disk)
    with pytest.raises(StoreError) as raised:
        Store.open(settings)
    assert "give Butler write access" in str(raised.value)
    assert "move it aside" not in str(raised.value)


def test_a_store_another_process_holds_says_to_wait(tmp_path):
    import subprocess
    import sys

    settings = Settings(home=tmp_path)
    Store.open(settings).close()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, sys, time; c = duckdb.connect({str(settings.duckdb_path)!r}); "
         "print('open', flush=True); time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(StoreError, match="Another Butler process is using it"):
            Store.open(settings)
    finally:
        holder.kill()
        holder.wait()
