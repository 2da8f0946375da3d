"""The business butler: one entry point for a question, whichever brain answers it.

With an OpenAI-compatible endpoint configured (``OPENAI_BASE_URL``) the LLM agent plans the
tool calls (:mod:`services.agent.llm`); without one — or when the endpoint fails — the
offline planner answers (:mod:`services.agent.planner`) and says so. Both use the same
tools, and both read and append the conversation's memory.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

from features.errors import InvalidParameterError
from features.settings import Settings
from features.store import Store
from services.agent.memory import ConversationMemory
from services.agent.tools import ModelClients, Toolbox
from services.agent.types import AgentAnswer, Turn
from services.registry import load_registered

logger = logging.getLogger(__name__)


def load_intent_model(settings: Settings) -> Any:
    """The registered intent model of the offline planner, if this Butler can run it.

    Raises:
        ModelNotRegisteredError: nothing registered (run ``butler train planner``), or it
            was trained with another intent config version.
    """
    from models.intent import REGISTERED_NAME

    return load_registered(settings, REGISTERED_NAME)


class ButlerAgent:
    """Answers operators' questions with the tools, remembering each conversation.

    Args:
        settings: runtime settings (store, registry, LLM endpoint, limits).
        models: the model services the tools call (BentoML handles inside ``butler serve``);
            None = the same services in this process.
    """

    def __init__(self, settings: Settings, models: ModelClients | None = None) -> None:
        self.settings = settings
        self.toolbox = Toolbox(settings, models)
        self.memory = ConversationMemory(settings)
        self._planner: Any = None
        self._llm: Any = None
        self._today: dt.date | None = None
        self._range = ""

    # -- what the answers count from --------------------------------------------------------

    def today(self) -> dt.date:
        """The day period words count from: configured, else the day an operator asks about
        the newest sales day (:func:`features.periods.asking_day`)."""
        if self._today is None:
            from features.periods import asking_day
            from features.views import data_period

            with Store.open(self.settings, read_only=True) as store:
                covered = data_period(store)
            self._range = f"{covered[0]} to {covered[1]}" if covered else "no sales yet"
            configured = self.settings.agent_today
            self._today = (
                dt.date.fromisoformat(configured) if configured
                else asking_day(covered[1]) if covered else dt.date.today()
            )  # fmt: skip
        return self._today

    def planner(self) -> Any:
        """The offline planner (intent model and the store's master data), loaded once."""
        if self._planner is None:
            from features.question_slots import Catalogue
            from services.agent.planner import OfflinePlanner

            model = load_intent_model(self.settings)
            with Store.open(self.settings, read_only=True) as store:
                catalogue = Catalogue.from_store(store)
            self._planner = OfflinePlanner(
                self.toolbox, model, catalogue, model.config.min_confidence
            )
        return self._planner

    def warm_up(self) -> None:
        """Load everything a first question would (models, master data), so it answers fast."""
        self.today()
        if not self.settings.llm_configured:
            self.planner()
        warm_up = getattr(self.toolbox.models, "warm_up", None)  # BentoML handles need none
        if warm_up is not None:
            warm_up()

    # -- asking -----------------------------------------------------------------------------

    def ask(self, question: str, conversation_id: str | None = None) -> AgentAnswer:
        """The answer to one question; follow-ups see the conversation's earlier turns.

        Raises:
            InvalidParameterError: an empty or over-long question, or a bad conversation id.
            ModelNotRegisteredError: offline, and no intent model is registered.
            StoreError: no store yet.
        """
        question, history, today = self._prepare(question, conversation_id)
        answer: AgentAnswer | None = None
        fallback_note = None
        if self.settings.llm_configured:
            from services.agent.llm import LLMUnavailableError

            try:
                answer = self._llm_agent().answer(
                    question, history, today=today.isoformat(), data_range=self._range
                )
            except LLMUnavailableError as exc:
                logger.warning("LLM endpoint unavailable, answering offline: %s", exc)
                fallback_note = f"LLM endpoint unavailable ({exc}); the offline planner answered."
        if answer is None:
            answer, turn = self.planner().answer(question, history, today)
            if fallback_note:
                answer.notes.append(fallback_note)
        else:
            turn = Turn(question=question, answer=answer.answer, mode="llm",
                        tool_calls=answer.tool_calls)  # fmt: skip
        answer.conversation_id = conversation_id
        self.memory.append(conversation_id, turn)
        return answer

    def ask_stream(self, question: str, conversation_id: str | None = None) -> Iterator[str]:
        """The answer's text in pieces as it is written (the LLM's tokens; offline, at once).

        Raises:
            The same as :meth:`ask`, before the first piece.
        """
        question, history, today = self._prepare(question, conversation_id)
        if self.settings.llm_configured:
            from services.agent.llm import LLMUnavailableError

            stream = self._llm_agent().stream(
                question, history, today=today.isoformat(), data_range=self._range
            )
            written = False
            try:
                while True:
                    piece = next(stream)
                    written = True
                    yield piece
            except StopIteration as done:
                answer: AgentAnswer = done.value
                self.memory.append(conversation_id, Turn(
                    question=question, answer=answer.answer, mode="llm",
                    tool_calls=answer.tool_calls,
                ))  # fmt: skip
                return
            except LLMUnavailableError as exc:
                logger.warning("LLM endpoint failed while streaming, answering offline: %s", exc)
                yield ("\n\n" if written else "") + f"[LLM endpoint unavailable ({exc})]\n"
        answer, turn = self.planner().answer(question, history, today)
        self.memory.append(conversation_id, turn)
        yield answer.answer

    def _llm_agent(self) -> Any:
        if self._llm is None:
            from services.agent.llm import LLMAgent

            self._llm = LLMAgent(self.settings, self.toolbox)
        return self._llm

    def _prepare(
        self, question: str, conversation_id: str | None
    ) -> tuple[str, list[Turn], dt.date]:
        """The checked question, the conversation so far and the day periods count from."""
        question = (question or "").strip()
        if not question:
            raise InvalidParameterError("The question is empty: ask something.")
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise InvalidParameterError(
                f"The question is {len(question):,} characters; the most the butler reads is "
                f"{limit:,} (BUTLER_MAX_QUESTION_CHARS). Shorten it or paste less text."
            )
        return question, self.memory.turns(conversation_id), self.today()
