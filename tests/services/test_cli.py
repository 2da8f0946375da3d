"""The `butler` CLI: ingest and status over real files, exit codes and messages."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from services import cli
from services.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    """Rich wraps to the terminal's width; give the tables room so messages stay whole."""
    for console in (cli.console, cli.err_console):
        monkeypatch.setattr(console, "width", 250)


def test_ingest_then_status(tmp_path, write_export, make_orders):
    home = tmp_path / "home"
    orders = write_export("tmall", "orders", make_orders(20))
    result = runner.invoke(app, ["--home", str(home), "ingest", str(orders.parent)])
    assert result.exit_code == 0, result.output
    assert "tmall" in result.output and "20" in result.output

    again = runner.invoke(app, ["--home", str(home), "ingest", str(orders)])
    assert again.exit_code == 0 and "already ingested" in again.output

    status = runner.invoke(app, ["--home", str(home), "status"])
    assert status.exit_code == 0, status.output
    assert "Touchpoint scorecard" in status.output and "butler旗舰店" in status.output
    # freshness per channel and table: Tmall's order lines, with their row count
    fresh = status.output.split("Freshness")[1].split("Files ingested")[0]
    assert "order lines" in fresh and "(20)" in fresh.split("tmall")[1].splitlines()[0]


def test_unreadable_file_exits_non_zero_and_names_it(tmp_path):
    bad = tmp_path / "订单.csv"
    bad.write_bytes(b"")
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "ingest", str(bad)])
    assert result.exit_code == 1
    assert "empty" in result.output


def test_status_without_a_store_says_what_to_run(tmp_path):
    result = runner.invoke(app, ["--home", str(tmp_path / "nothing"), "status"])
    assert result.exit_code == 1
    assert "butler ingest" in result.output


def test_missing_path_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["--home", str(tmp_path / "h"), "ingest", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert "no such file or folder" in result.output


def test_a_wrong_setting_is_a_clear_error_not_a_traceback(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_RECRUITMENT_COST", '{"taobao": 35}')
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "status"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    said = " ".join(result.output.split())
    assert "BUTLER_RECRUITMENT_COST" in said and "taobao" in said and "tmall" in said
    monkeypatch.setenv("BUTLER_RECRUITMENT_COST", '{"jd": -1}')
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "status"])
    assert result.exit_code == 1 and "must be ≥ 0; jd" in " ".join(result.output.split())
    monkeypatch.setenv("BUTLER_RECRUITMENT_COST", "tmall=35")  # not JSON
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "status"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "recruitment_cost" in said and "Give it as JSON" in said
