"""Conversation memory: JSON-lines files under ``<home>/agent/conversations``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from features.errors import InvalidParameterError
from features.settings import Settings
from services.agent.memory import KEPT_TURNS, ConversationMemory
from services.agent.types import ToolCallRecord, Turn


def turn(i: int, **extra) -> Turn:
    return Turn(question=f"问题 {i}", answer=f"回答 {i}", mode="offline", **extra)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def memory(home: Path) -> ConversationMemory:
    return ConversationMemory(Settings(home=home))


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.exists() else []


def test_new_conversation_has_no_turns(memory):
    assert memory.turns("c1") == []


def test_append_and_read_back_round_trip(memory, home):
    first = turn(
        1,
        intent="sales_metrics",
        slots={"platforms": ["douyin"], "period": {"start": "2025-12-22", "end": "2025-12-28"}},
        tool_calls=[ToolCallRecord(name="sales_metrics", args={"top": 5}, ok=True)],
        at=dt.datetime(2025, 12, 30, 8, 0, tzinfo=dt.UTC),
    )
    memory.append("c1", first)
    assert memory.turns("c1") == [first]
    assert (home / "agent" / "conversations" / "c1.jsonl").is_file()


def test_turns_come_back_oldest_first(memory):
    for i in range(3):
        memory.append("c1", turn(i))
    assert [t.question for t in memory.turns("c1")] == ["问题 0", "问题 1", "问题 2"]


def test_only_the_last_kept_turns_are_replayed(memory, home):
    for i in range(KEPT_TURNS + 5):
        memory.append("long", turn(i))
    kept = memory.turns("long")
    assert len(kept) == KEPT_TURNS
    assert [t.question for t in kept] == [f"问题 {i}" for i in range(5, KEPT_TURNS + 5)]
    lines = (home / "agent" / "conversations" / "long.jsonl").read_text("utf-8").splitlines()
    assert len(lines) == KEPT_TURNS + 5  # older turns stay on disk


def test_conversations_are_kept_apart(memory):
    memory.append("alice", turn(1))
    memory.append("bob", turn(2))
    memory.append("alice", turn(3))
    assert [t.question for t in memory.turns("alice")] == ["问题 1", "问题 3"]
    assert [t.question for t in memory.turns("bob")] == ["问题 2"]


def test_another_memory_on_the_same_home_sees_the_turns(memory, home):
    memory.append("c1", turn(1))
    assert ConversationMemory(Settings(home=home)).turns("c1") == memory.turns("c1")


def test_no_id_keeps_nothing(memory, home):
    memory.append(None, turn(1))
    assert memory.turns(None) == []
    assert files_under(home) == []


@pytest.mark.parametrize("good", ["a", "c-1", "conv_2025.12.30", "A" * 64, "a..b"])
def test_safe_ids(memory, good):
    memory.append(good, turn(1))
    assert [t.question for t in memory.turns(good)] == ["问题 1"]


BAD_IDS = ["../x", "..", ".hidden", "a/b", "a\\b", "/etc/passwd", "x" * 65, "", "a b", "对话"]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_unsafe_ids_are_refused_and_nothing_is_written(memory, tmp_path, bad):
    with pytest.raises(InvalidParameterError, match="conversation id"):
        memory.append(bad, turn(1))
    with pytest.raises(InvalidParameterError, match="conversation id"):
        memory.turns(bad)
    assert files_under(tmp_path) == []
