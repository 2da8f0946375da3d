"""`butler models list|promote` and the train commands' --no-promote."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from features.settings import Settings
from services import cli
from services.cli import app
from training import tracking

pytestmark = [
    pytest.mark.filterwarnings("ignore::UserWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch):
    for console in (cli.console, cli.err_console):
        monkeypatch.setattr(console, "width", 250)


def butler(home, *args: str):
    return CliRunner().invoke(app, ["--home", str(home), *args])


def _register(
    settings: Settings, accuracy: float, *, promote: bool, trained_on: str | None = None
) -> None:
    from models.intent import IntentConfig

    stand_in = SimpleNamespace(config=SimpleNamespace(version=IntentConfig().version))
    with tracking.run(settings, "tests", "planner"):
        tracking.log_metrics({"cv_accuracy": accuracy})
        if trained_on is not None:
            tracking.log_trained_on(trained_on)
        tracking.log_and_register(
            settings, stand_in, name="butler-planner", alias="champion" if promote else None
        )


def test_list_then_promote_and_roll_back(tmp_path):
    settings = Settings(home=tmp_path / "home")
    assert "No model is registered yet" in butler(settings.home, "models", "list").output
    _register(settings, 0.91, promote=True)  # a run from before the tag: "–"
    _register(settings, 0.87, promote=False, trained_on="412 example questions (prompts)")

    listed = butler(settings.home, "models", "list")
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.output.splitlines() if "butler-planner" in line]
    assert "2" in rows[0] and "@champion" not in rows[0] and "cv_accuracy 0.87" in rows[0]
    assert "412 example questions (prompts)" in rows[0]
    assert "@champion" in rows[1] and "cv_accuracy 0.91" in rows[1] and "–" in rows[1]

    promoted = butler(settings.home, "models", "promote", "butler-planner", "2")
    assert promoted.exit_code == 0, promoted.output
    said = " ".join(promoted.output.split())
    assert "@champion is now version 2; it was version 1" in said
    assert "`butler models promote butler-planner 1` undoes it" in said
    assert "keeps the version it loaded until it is restarted" in said

    again = butler(settings.home, "models", "promote", "butler-planner", "2")
    assert again.exit_code == 0 and "nothing changed" in again.output
    back = butler(settings.home, "models", "promote", "butler-planner", "1")
    assert back.exit_code == 0 and "now version 1" in back.output


def test_promote_a_version_or_model_that_does_not_exist_fails(tmp_path):
    settings = Settings(home=tmp_path / "home")
    _register(settings, 0.9, promote=True)
    missing = butler(settings.home, "models", "promote", "butler-planner", "4")
    assert missing.exit_code == 1 and "has no version 4; its versions are 1" in missing.output
    unknown = butler(settings.home, "models", "list", "butler-risk")
    assert unknown.exit_code == 1 and "registered are butler-planner" in unknown.output


def test_train_no_promote_registers_and_says_what_stays_served(tmp_path, monkeypatch):
    import training.planner
    from training.planner import PlannerRun

    asked = {}

    def fake_train(settings, config=None, *, promote=True):
        asked["promote"] = promote
        registered = tracking.RegisteredModel(
            name="butler-planner",
            version="3",
            alias=None,
            run_id="abc",
            uri="models:/butler-planner/3",
            previous="2",
        )
        return PlannerRun(registered=registered, examples=10, templates=2, cv_accuracy=0.9)

    monkeypatch.setattr(training.planner, "train_planner", fake_train)
    result = butler(tmp_path / "home", "train", "planner", "--no-promote")
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert asked == {"promote": False}
    assert "version 3, not promoted" in said and "stays on version 2" in said
    assert "`butler models promote butler-planner 3` serves it" in said
