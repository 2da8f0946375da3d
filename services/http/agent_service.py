"""The business butler over HTTP: ``/ask`` in the same composition as the model services.

The agent's model tools call the forecasting, identity and chat-risk services through
``bentoml.depends``, so over HTTP it uses the very services the other endpoints use; its
store tools read the store read-only. The gateway (``Butler``) forwards ``/ask`` here.
"""

from __future__ import annotations

import logging
from collections.abc import Generator

import bentoml
from bentoml.exceptions import ServiceUnavailable
from pydantic import Field

from features.errors import ButlerError, InvalidParameterError, StoreError
from features.settings import Settings
from models.intent import REGISTERED_NAME as PLANNER_NAME
from services.agent.tools import ServiceClients
from services.agent.types import AgentAnswer
from services.http import behind_gateway, prepare_to_serve
from services.http.errors import bad_request, forbid_unknown_fields
from services.http.forecast_service import Forecasting
from services.http.identity_service import Identity
from services.http.media import JSON
from services.http.risk_service import ChatRisk
from services.registry import registered_version

logger = logging.getLogger(__name__)

#: Longest question accepted over HTTP (characters); the settings may lower it.
MAX_QUESTION_CHARS = 4_000


#: What a conversation id may look like (it names a memory file).
CONVERSATION_ID = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"


@forbid_unknown_fields
@bentoml.service(name="butler_agent", traffic={"timeout": 120}, **behind_gateway())
class Agent:
    """The business butler: questions in Chinese or English, answered with the tools."""

    forecasting = bentoml.depends(Forecasting)
    identity = bentoml.depends(Identity)
    risk = bentoml.depends(ChatRisk)

    def __init__(self, settings: Settings | None = None) -> None:
        from services.agent.runtime import ButlerAgent

        self.settings = settings or Settings()
        models = ServiceClients(
            forecasting=self.forecasting, identity=self.identity, risk=self.risk
        )
        self.agent = ButlerAgent(self.settings, models)
        self.agent.today()
        #: the planner answering offline (also the fallback when an LLM endpoint fails)
        self.version: dict[str, str] | None = None
        if not self.settings.llm_configured:
            self.agent.planner()  # fail at start-up, naming `butler train planner`
            self.version = registered_version(self.settings, PLANNER_NAME)

    # served only: the CLI's in-process use of the class keeps its collector
    _prepare_to_serve = bentoml.on_startup(prepare_to_serve)

    @bentoml.api
    def ask(
        self,
        question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS),
        conversation_id: str | None = Field(
            None, pattern=CONVERSATION_ID, description="Follow-ups remember this id."
        ),
    ) -> AgentAnswer:
        """The butler's answer: text, mode, tool calls and sources."""
        try:
            return self.agent.ask(question, conversation_id)
        except InvalidParameterError as exc:
            raise bad_request("question", str(exc)) from exc
        except StoreError as exc:
            raise ServiceUnavailable(f"store: {exc}") from exc
        except ButlerError as exc:
            raise ServiceUnavailable(str(exc)) from exc

    @bentoml.api
    def info(self) -> JSON[dict | None]:
        """The registered planner version the offline answers come from (None when an LLM
        endpoint is configured: the planner is then loaded on its first fallback)."""
        return self.version

    @bentoml.api
    def ask_stream(
        self,
        question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS),
        conversation_id: str | None = Field(
            None, pattern=CONVERSATION_ID, description="Follow-ups remember this id."
        ),
    ) -> Generator[str, None, None]:
        """The butler's answer as text, streamed as the LLM writes it (offline: at once)."""
        try:
            pieces = self.agent.ask_stream(question, conversation_id)
            first = next(pieces, "")  # raise bad requests before the stream starts
        except InvalidParameterError as exc:
            raise bad_request("question", str(exc)) from exc
        except StoreError as exc:
            raise ServiceUnavailable(f"store: {exc}") from exc
        yield first
        yield from pieces
