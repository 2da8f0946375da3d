"""`butler train planner`, `butler ask` (with --json and follow-ups) and `butler chat`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from features.settings import Settings
from features.store import Store
from services.cli import app

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning:mlflow"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, sales_world) -> tuple[Path, Result]:
    """A home with the sales world and a trained planner, and what training printed."""
    settings = Settings(home=tmp_path_factory.mktemp("cli_agent") / "home")
    with Store.open(settings) as store:
        sales_world.write(store)
    return settings.home, butler(settings.home, "train", "planner")


@pytest.fixture
def home(trained: tuple[Path, Result]) -> Path:
    return trained[0]


def butler(home: Path, *args: str, stdin: str | None = None):
    return CliRunner().invoke(app, ["--home", str(home), *args], input=stdin)


def test_ask_before_the_planner_is_trained_names_the_command(tmp_path, sales_world):
    settings = Settings(home=tmp_path / "home")
    with Store.open(settings) as store:
        sales_world.write(store)
    result = butler(settings.home, "ask", "上周天猫卖了多少？")
    assert result.exit_code == 1 and "butler train planner" in " ".join(result.output.split())


def test_train_then_ask_with_json_and_a_follow_up(trained):
    home, training = trained
    assert training.exit_code == 0, training.output
    assert "cross-validated accuracy" in training.output and "butler-planner" in training.output

    first = butler(home, "ask", "上周天猫卖得最好的是哪个？", "--json", "-c", "t1")
    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout)  # stdout is exactly one JSON object
    assert {"answer", "mode", "tool_calls", "sources"} <= set(body)
    assert body["mode"] == "offline" and body["tool_calls"][0]["name"] == "sales_metrics"
    assert body["tool_calls"][0]["args"]["platforms"] == ["tmall"]

    follow = json.loads(butler(home, "ask", "那京东呢？", "--json", "-c", "t1").stdout)
    assert follow["tool_calls"][0]["args"]["platforms"] == ["jd"]
    alone = json.loads(butler(home, "ask", "那京东呢？", "--json").stdout)
    assert alone["tool_calls"] == [] or not alone["tool_calls"][0]["args"].get("by")  # no memory

    plain = butler(home, "ask", "What's the weather like tomorrow?")
    assert plain.exit_code == 0 and "Sorry" in plain.output and "Offline mode" in plain.output

    # a question whose only tool call fails (no forecaster here) is answered with why, exit 1
    failed = butler(home, "ask", "SKU NOSUCH-999 下周要补多少？", "--json")
    assert failed.exit_code == 1, failed.output
    body = json.loads(failed.stdout)
    assert not body["tool_calls"][0]["ok"] and "butler train forecast" in body["answer"]


def test_ask_with_a_bad_conversation_id_or_an_empty_question_fails_clearly(home):
    bad = butler(home, "ask", "上周卖了多少", "-c", "../../etc", "--json")
    assert bad.exit_code == 1 and "conversation id" in json.loads(bad.stdout)["error"]
    empty = butler(home, "ask", "   ")
    assert empty.exit_code == 1 and "empty" in empty.output


def test_chat_answers_until_an_empty_line(home):
    result = butler(home, "chat", "-c", "chat1", stdin="上周天猫卖了多少件？\n那京东呢？\n\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("离线模式") == 2 and "京东" in result.output


def test_an_unreachable_llm_endpoint_falls_back_to_the_offline_planner(home, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
    monkeypatch.setenv("BUTLER_LLM_TIMEOUT_S", "2")
    result = butler(home, "ask", "上周天猫卖了多少件？", "--json")
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["mode"] == "offline" and body["tool_calls"][0]["name"] == "sales_metrics"
    assert any("LLM endpoint unavailable" in note for note in body["notes"])
    assert "127.0.0.1:9" in " ".join(body["notes"])
