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


def test_the_demo_refuses_a_home_that_holds_real_exports(tmp_path, write_export, make_orders):
    home = tmp_path / "home"
    orders = write_export("tmall", "orders", make_orders(5))
    assert runner.invoke(app, ["--home", str(home), "ingest", str(orders)]).exit_code == 0
    for extra in ([], ["--fresh"]):
        result = runner.invoke(app, ["--home", str(home), "demo", *extra])
        said = " ".join(result.output.split())
        assert result.exit_code == 1 and "holds your own data (1 export file(s)" in said
        assert ("delete it" in said) == bool(extra) and "a home of its own" in said
    assert (home / "butler.duckdb").exists() and not (home / "sample_world").exists()


def test_mlflows_own_variable_is_said_to_be_unread(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.example:5000")
    monkeypatch.delenv("BUTLER_MLFLOW_TRACKING_URI", raising=False)
    result = runner.invoke(app, ["--home", str(tmp_path / "h"), "status"])
    assert result.exit_code == 1  # no store yet; the warning comes first
    assert "Butler reads BUTLER_MLFLOW_TRACKING_URI" in " ".join(result.output.split())


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


def test_a_home_that_is_a_file_is_named(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a folder")
    result = runner.invoke(app, ["--home", str(home), "status"])
    assert result.exit_code == 1 and "is a file; give a folder with --home" in result.output


def test_a_setting_inside_a_json_value_names_its_variable_and_key(tmp_path, monkeypatch):
    monkeypatch.setenv("BUTLER_RECRUITMENT_COST", '{"tmall": "x"}')
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "status"])
    said = " ".join(result.output.split())
    assert result.exit_code == 1 and "BUTLER_RECRUITMENT_COST (key tmall):" in said


def test_brackets_in_a_file_name_are_printed_as_they_are(tmp_path):
    bad = tmp_path / "orders[red][bold].csv"
    bad.write_bytes(b"")
    result = runner.invoke(app, ["--home", str(tmp_path / "home"), "ingest", str(bad)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "orders[red][bold].csv" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["members", "dedupe", "list.csv", "--map", "m.yaml", "--out", "{file}/out.csv"],
        ["members", "resolve", "--out", "{file}/persons.parquet"],
        ["members", "explain", "tmall:a", "jd:b", "--json", "{file}/why.json"],
        ["eval", "identity", "--store-truth", "t.csv", "--json", "{file}/f.json"],
        ["eval", "risk", "--store-truth", "t.csv", "--json", "{file}/f.json"],
        ["risk", "classify", "--in", "{file}", "--out", "{file}/o.jsonl"],
        ["replenish", "--out", "{file}/plan.csv"],
        ["generate", "--out", "{file}/world"],
    ],
)
def test_an_output_under_a_file_fails_before_the_work(tmp_path, args):
    file = tmp_path / "a_file"
    file.write_text("x")
    home = tmp_path / "home"
    result = runner.invoke(app, ["--home", str(home), *(a.format(file=file) for a in args)])
    assert result.exit_code == 1, result.output
    assert f"{file} is a file, not a folder" in " ".join(result.output.split())


def test_output_suffixes_and_thresholds_are_checked_before_the_work(tmp_path):
    home = ["--home", str(tmp_path / "home")]
    result = runner.invoke(app, [*home, "members", "resolve", "--out", "persons.txt"])
    assert result.exit_code == 1 and "write to a .csv, .xlsx or .parquet file" in result.output
    result = runner.invoke(app, [*home, "replenish", "--out", "plan.parquet"])
    assert result.exit_code == 1 and "write to a .csv or .xlsx file" in result.output
    for threshold in ("0", "1.5"):
        result = runner.invoke(
            app,
            [*home, "members", "dedupe", "x.csv", "--map", "m.yaml", "--out", "o.csv",
             "--threshold", threshold],
        )  # fmt: skip
        assert result.exit_code == 2 and "not a probability between 0 and 1" in result.output
    result = runner.invoke(app, [*home, "generate", "--out", str(tmp_path / "w"), "--seed", "-1"])
    assert result.exit_code == 2 and not (tmp_path / "w").exists()
    # a world that would run past today: its orders would all be quarantined
    result = runner.invoke(app, [*home, "generate", "--out", str(tmp_path / "w"), "--days", "9999"])
    said = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2 and "after today" in said and "Give at most" in said
    assert not (tmp_path / "w").exists()


def test_a_port_in_use_is_found_before_serving():
    import socket

    from services.cli_serve import _cannot_listen

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert "in use" in (_cannot_listen("127.0.0.1", port) or "")
    assert _cannot_listen("127.0.0.1", port) is None  # free again once closed
