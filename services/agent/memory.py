"""Conversation memory: the turns of each conversation id, kept under the Butler home.

One JSON-lines file per conversation (``<home>/agent/conversations/<id>.jsonl``), appended
turn by turn, so a follow-up asked from another process (the next `butler ask`, another HTTP
worker) sees the earlier turns. Ids are restricted to a safe alphabet so an id can never
name a file outside that folder.
"""

from __future__ import annotations

import re
from pathlib import Path

from features.errors import InvalidParameterError
from features.settings import Settings
from services.agent.types import Turn

_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

#: Turns of a conversation read back; older turns stay on disk but are not replayed.
KEPT_TURNS = 10


class ConversationMemory:
    """Reads and appends the turns of conversations."""

    def __init__(self, settings: Settings) -> None:
        self.folder = settings.home / "agent" / "conversations"

    def _path(self, conversation_id: str) -> Path:
        if not _ID.match(conversation_id) or conversation_id.startswith("."):
            raise InvalidParameterError(
                f"The conversation id {conversation_id!r} is not usable: use 1–64 letters, "
                "digits, '_', '-' or '.', not starting with '.'."
            )
        return self.folder / f"{conversation_id}.jsonl"

    def turns(self, conversation_id: str | None) -> list[Turn]:
        """The last :data:`KEPT_TURNS` turns of a conversation, oldest first ([] if new)."""
        if conversation_id is None:
            return []
        path = self._path(conversation_id)
        if not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()[-KEPT_TURNS:]
        return [Turn.model_validate_json(line) for line in lines if line.strip()]

    def append(self, conversation_id: str | None, turn: Turn) -> None:
        """Add a turn to a conversation (nothing is kept without an id)."""
        if conversation_id is None:
            return
        path = self._path(conversation_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as out:
            out.write(turn.model_dump_json() + "\n")
