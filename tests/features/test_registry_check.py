"""The registry is asked first: out of reach, locked, read-only or damaged, each said so."""

from __future__ import annotations

import sqlite3

import pytest

from features.registry_check import RegistryUnavailableError, check_registry, registry_problem
from features.settings import Settings


def _settings(tmp_path, **values) -> Settings:
    return Settings(home=tmp_path / "home", **values)


def _registry(settings: Settings) -> str:
    settings.home.mkdir(parents=True)
    path = settings.home / "mlflow.db"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE t (x)")
    return str(path)


def test_a_registry_not_made_yet_or_healthy_is_no_problem(tmp_path):
    settings = _settings(tmp_path)
    assert registry_problem(settings, write=True) is None
    _registry(settings)
    assert registry_problem(settings) is None and registry_problem(settings, write=True) is None


def test_a_server_out_of_reach_is_named_in_seconds(tmp_path):
    settings = _settings(tmp_path, mlflow_tracking_uri="http://127.0.0.1:9")
    with pytest.raises(RegistryUnavailableError, match=r"Cannot reach the MLflow registry at"):
        check_registry(settings)


def test_a_locked_registry_says_to_wait(tmp_path, monkeypatch):
    monkeypatch.setattr("features.registry_check.PROBE_SECONDS", 0.2)
    settings = _settings(tmp_path)
    path = _registry(settings)
    holder = sqlite3.connect(path, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        problem = registry_problem(settings, write=True)
    finally:
        holder.rollback()
        holder.close()
    assert problem is not None and "is locked by another process" in problem


def test_a_damaged_registry_says_to_move_it_aside(tmp_path):
    settings = _settings(tmp_path)
    settings.home.mkdir(parents=True)
    (settings.home / "mlflow.db").write_bytes(b"garbage, not a database" * 100)
    problem = registry_problem(settings)
    assert problem is not None and "is damaged" in problem and "Move it aside" in problem


def test_a_read_only_registry_cannot_be_trained_into(tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    _registry(settings)
    real = sqlite3.connect

    class ReadOnly:  # what SQLite says on a read-only file or mount, even to root
        def __init__(self, *args, **kwargs):
            self.con = real(*args, **kwargs)

        def execute(self, sql, *args):
            if sql.startswith("BEGIN"):
                raise sqlite3.OperationalError("attempt to write a readonly database")
            return self.con.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.con, name)

    monkeypatch.setattr(sqlite3, "connect", ReadOnly)
    problem = registry_problem(settings, write=True)
    assert problem is not None and "cannot be written" in problem and "write access" in problem
    assert registry_problem(settings) is None  # reading still works
