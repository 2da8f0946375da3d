"""What the butler answers, and what it remembers of a conversation."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Literal

from pydantic import BaseModel, Field

Mode = Literal["offline", "llm"]
Language = Literal["zh", "en"]

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def language_of(text: str) -> Language:
    """``zh`` when the text has any Chinese character, else ``en``: answers follow questions."""
    return "zh" if CJK.search(text) else "en"


class ToolCallRecord(BaseModel):
    """One tool call behind an answer."""

    name: str
    args: dict[str, Any]
    ok: bool


class AgentAnswer(BaseModel):
    """The butler's answer to one question (`butler ask --json` prints exactly this)."""

    answer: str
    mode: Mode
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    sources: list[str] = Field(
        default_factory=list, description="Where the numbers came from (tables, model versions)."
    )
    conversation_id: str | None = None
    language: Language = "zh"
    refused: bool = Field(False, description="The question was out of scope and declined.")
    notes: list[str] = Field(
        default_factory=list, description="Why the mode changed, what was assumed."
    )

    def for_cli(self) -> dict[str, Any]:
        """The `--json` object: answer, mode, tool_calls, sources (plus what helps a client)."""
        return self.model_dump(mode="json")


class Turn(BaseModel):
    """One question and answer of a conversation, as the memory keeps it."""

    question: str
    answer: str
    mode: Mode
    intent: str | None = Field(None, description="The offline planner's intent, if it planned.")
    slots: dict[str, Any] = Field(
        default_factory=dict, description="The offline planner's filled slots (for follow-ups)."
    )
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
