"""The butler's LLM path: a tool-calling loop over any OpenAI-compatible chat endpoint.

The model (``langchain_openai.ChatOpenAI``, or whatever ``client_factory`` builds) sees the
system prompt ``prompts/agent_system.v*.md``, the conversation's earlier turns, the question
and the toolbox's tools (JSON schemas from their pydantic argument models, descriptions from
``prompts/tools.v*.yaml``). Each round it either calls tools, whose results are fed back as
``tool`` messages, or answers; at most ``settings.agent_max_steps`` rounds run.

Personal data never leaves unmasked unless ``settings.llm_send_pii`` is on: the question, the
history and every tool result pass through one :class:`~services.agent.masking.Masker` per
question. That masker remembers what each token stood for, and tool arguments the model sends
back (``match_member(phone="138****5678")``) are unmasked before the tool runs here, so masking
never breaks a tool. What is recorded in :class:`~services.agent.types.ToolCallRecord` are the
arguments as the model sent them (masked).

Tool output is data: it only ever goes back to the model as a ``tool`` message, and the tools
are read-only, so an instruction hidden in a member record or a pasted chat cannot change
anything. When the endpoint cannot answer (refused connection, timeout, HTTP error after the
client's one retry, a reply that is not a chat completion) :class:`LLMUnavailableError` is
raised, and the runtime answers with the offline planner instead.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from features.errors import ButlerError, InvalidParameterError
from features.settings import Settings
from services.agent.masking import Masker
from services.agent.tools import Tool, Toolbox, ToolResult
from services.agent.types import AgentAnswer, Language, ToolCallRecord, Turn, language_of

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, BaseMessage

__all__ = ["LLMAgent", "LLMUnavailableError", "openai_chat_model", "tool_schema"]

logger = logging.getLogger(__name__)

#: The prompt file of the system prompt (``prompts/agent_system.v<N>.md``).
SYSTEM_PROMPT = "agent_system"


class LLMUnavailableError(ButlerError):
    """The LLM endpoint could not answer: unreachable, too slow, refusing, or talking nonsense."""


def openai_chat_model(settings: Settings) -> BaseChatModel:
    """The chat model of ``settings``: ``ChatOpenAI`` against ``settings.llm_base_url``.

    Chat Completions (not the Responses API, which OpenAI-compatible servers lack), one retry,
    temperature 0. Local servers (vLLM, Ollama, llama.cpp) need no key; the openai client
    still wants one, so a placeholder is sent when none is configured.

    Raises:
        InvalidParameterError: no endpoint is configured.
    """
    from langchain_openai import ChatOpenAI

    if not settings.llm_base_url:
        raise InvalidParameterError(
            "No LLM endpoint is configured: set OPENAI_BASE_URL (or BUTLER_LLM_BASE_URL) to an "
            "OpenAI-compatible URL such as http://localhost:8000/v1, or use the offline planner."
        )
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
    return ChatOpenAI(
        base_url=settings.llm_base_url,
        api_key=key,
        model=settings.llm_model,
        timeout=settings.llm_timeout_s,
        max_retries=1,
        temperature=0,
        use_responses_api=False,
    )


def tool_schema(tool: Tool) -> dict[str, Any]:
    """The OpenAI function-tool schema of ``tool``: its name, description and argument model."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    schema = convert_to_openai_tool(tool.args)
    schema["function"]["name"] = tool.name
    schema["function"]["description"] = tool.description
    return schema


class LLMAgent:
    """Answers one question with an LLM that calls the butler's tools.

    Args:
        settings: runtime settings (endpoint, model, timeout, ``llm_send_pii``, step limit).
        toolbox: the tools the model may call.
        client_factory: builds the chat model from ``settings``; None =
            :func:`openai_chat_model`. Anything with langchain's ``bind_tools`` works.

    Raises:
        InvalidParameterError: no ``client_factory`` and no endpoint configured.

    Examples:
        >>> agent = LLMAgent(settings, Toolbox(settings))
        >>> agent.answer("上周天猫卖了多少？", [], today="2024-11-11",
        ...              data_range="2023-06-05 to 2024-11-10").answer
    """

    def __init__(
        self,
        settings: Settings,
        toolbox: Toolbox,
        *,
        client_factory: Callable[[Settings], BaseChatModel] | None = None,
    ) -> None:
        from prompts import load

        self.settings = settings
        self.toolbox = toolbox
        self.prompt = load(SYSTEM_PROMPT)
        self.tool_schemas = [tool_schema(tool) for tool in toolbox.tools.values()]
        self.model = (client_factory or openai_chat_model)(settings).bind_tools(self.tool_schemas)

    @property
    def endpoint(self) -> str:
        """The endpoint and model, as error messages name them."""
        return (
            f"{self.settings.llm_base_url or 'the injected chat model'} ({self.settings.llm_model})"
        )

    def answer(
        self, question: str, history: list[Turn], *, today: str, data_range: str
    ) -> AgentAnswer:
        """Answer ``question`` after the conversation's earlier turns.

        Args:
            question: the operator's question, as typed.
            history: earlier turns of this conversation, oldest first.
            today: the day relative periods count from (``YYYY-MM-DD``).
            data_range: the days the store holds, e.g. ``2023-06-05 to 2024-11-10``.

        Returns:
            The answer (mode ``"llm"``) with every tool call and the sources of its numbers.

        Raises:
            LLMUnavailableError: the endpoint could not answer; the message names it and why.
        """
        run = self._run(question, history, today=today, data_range=data_range, streaming=False)
        while True:
            try:
                next(run)
            except StopIteration as done:
                return done.value

    def stream(
        self, question: str, history: list[Turn], *, today: str, data_range: str
    ) -> Generator[str, None, AgentAnswer]:
        """Like :meth:`answer`, yielding the answer's text as the model writes it.

        Every round is streamed; text the model writes in a round that also calls tools is
        yielded too (models rarely do). The generator's return value (``yield from``) is the
        full :class:`AgentAnswer`.

        Raises:
            LLMUnavailableError: the endpoint could not answer (possibly after some text).
        """
        return self._run(question, history, today=today, data_range=data_range, streaming=True)

    # -- the loop -------------------------------------------------------------------------------

    def _run(
        self, question: str, history: list[Turn], *, today: str, data_range: str, streaming: bool
    ) -> Generator[str, None, AgentAnswer]:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        language = language_of(question)
        masker = None if self.settings.llm_send_pii else Masker()
        out = masker.text if masker else _same
        system = _fill(self.prompt.text, today=today, data_range=data_range)
        messages: list[BaseMessage] = [SystemMessage(system)]
        for turn in history:
            messages += [HumanMessage(out(turn.question)), AIMessage(out(turn.answer))]
        messages.append(HumanMessage(out(question)))

        records: list[ToolCallRecord] = []
        sources: list[str] = []
        notes: list[str] = []
        for step in range(self.settings.agent_max_steps + 1):
            if streaming:
                reply = yield from self._stream_once(messages)
            else:
                reply = self._invoke_once(messages)
            calls = reply.tool_calls or reply.invalid_tool_calls
            if not calls:
                text = reply.text.strip()
                if not text:
                    raise LLMUnavailableError(
                        f"The LLM endpoint {self.endpoint} answered with neither text nor a "
                        "tool call; check that the model supports tool calling."
                    )
                return self._answer(text, language, records, sources, notes)
            if step == self.settings.agent_max_steps:
                break
            messages.append(reply)
            messages += self._run_tools(reply, step, masker, records, sources, notes)
        notes.append(f"stopped after {self.settings.agent_max_steps} tool-calling rounds")
        text = _messages()[language]["unfinished"].format(
            steps=self.settings.agent_max_steps, calls=_calls_text(records, language)
        )
        return self._answer(text, language, records, sources, notes)

    def _answer(
        self,
        text: str,
        language: Language,
        records: list[ToolCallRecord],
        sources: list[str],
        notes: list[str],
    ) -> AgentAnswer:
        return AgentAnswer(
            answer=text,
            mode="llm",
            tool_calls=records,
            sources=sources,
            language=language,
            notes=[f"prompt {self.prompt.id}, {self.toolbox.prompt_id}", *notes],
        )

    def _run_tools(
        self,
        reply: AIMessage,
        step: int,
        masker: Masker | None,
        records: list[ToolCallRecord],
        sources: list[str],
        notes: list[str],
    ) -> list[BaseMessage]:
        """Run the tool calls of ``reply``; the ``tool`` messages that answer them."""
        from langchain_core.messages import ToolMessage

        answers: list[BaseMessage] = []
        for i, call in enumerate(reply.tool_calls):
            call["id"] = call.get("id") or f"call_{step}_{i}"
            sent = dict(call["args"] or {})
            args = masker.unmask(sent) if masker else sent
            result = self.toolbox.call(call["name"], args)
            records.append(ToolCallRecord(name=call["name"], args=sent, ok=result.ok))
            if result.ok and result.source and result.source not in sources:
                sources.append(result.source)
            answers.append(ToolMessage(_for_model(result, masker), tool_call_id=call["id"]))
        for i, bad in enumerate(reply.invalid_tool_calls):
            bad["id"] = bad.get("id") or f"call_{step}_bad_{i}"
            name = bad.get("name") or "(no name)"
            raw = bad.get("args") or ""
            records.append(ToolCallRecord(name=name, args={"raw_arguments": raw}, ok=False))
            notes.append(f"the model sent malformed arguments for {name}")
            error = (
                f"The arguments of your call to {name} are not one valid JSON object "
                f"(got {raw[:200]!r}). Call {name} again with a JSON object that matches its "
                "parameters."
            )
            body = json.dumps({"ok": False, "error": error}, ensure_ascii=False)
            answers.append(ToolMessage(body, tool_call_id=bad["id"]))
        return answers

    # -- one call to the endpoint ---------------------------------------------------------------

    def _invoke_once(self, messages: list[BaseMessage]) -> AIMessage:
        logger.info("asking %s (%d messages)", self.endpoint, len(messages))
        try:
            reply = self.model.invoke(messages)
        except _endpoint_errors() as exc:
            raise self._unavailable(exc) from exc
        return _checked(reply, self.endpoint)

    def _stream_once(self, messages: list[BaseMessage]) -> Generator[str, None, AIMessage]:
        logger.info("streaming from %s (%d messages)", self.endpoint, len(messages))
        whole: Any = None
        try:
            for chunk in self.model.stream(messages):
                whole = chunk if whole is None else whole + chunk
                if chunk.text:
                    yield chunk.text
        except _endpoint_errors() as exc:
            raise self._unavailable(exc) from exc
        if whole is None:
            raise LLMUnavailableError(f"The LLM endpoint {self.endpoint} streamed nothing.")
        return _checked(whole, self.endpoint)

    def _unavailable(self, exc: Exception) -> LLMUnavailableError:
        import openai

        if isinstance(exc, openai.APITimeoutError):
            cause = (
                f"no answer within {self.settings.llm_timeout_s:g} s (raise BUTLER_LLM_TIMEOUT_S)"
            )
        elif isinstance(exc, openai.APIConnectionError):
            cause = f"cannot connect ({exc.__cause__ or exc}); is the server running?"
        elif isinstance(exc, openai.APIStatusError):
            hint = {
                401: "check OPENAI_API_KEY",
                403: "check OPENAI_API_KEY",
                404: "check the base URL (usually ending in /v1) and the model name",
            }.get(exc.status_code, "the server failed; try again later")
            cause = f"HTTP {exc.status_code} ({exc.message}); {hint}"
        else:
            cause = f"its reply is not a chat completion ({type(exc).__name__}: {exc})"
        logger.warning("LLM endpoint %s unavailable: %s", self.endpoint, cause)
        return LLMUnavailableError(
            f"The LLM endpoint {self.endpoint} could not answer: {cause}. Until it does, "
            "the offline planner answers."
        )


def _endpoint_errors() -> tuple[type[Exception], ...]:
    """What a call to the endpoint raises when the endpoint, not Butler, is at fault.

    langchain-openai turns an invalid reply body into ValueError (not JSON), TypeError
    (``choices`` null), KeyError (no ``choices``) or AttributeError (a message that is no
    object); httpx errors can surface raw in the middle of a stream.
    """
    import httpx
    import openai

    return (openai.APIError, httpx.HTTPError, ValueError, TypeError, KeyError, AttributeError)


def _checked(reply: Any, endpoint: str) -> AIMessage:
    from langchain_core.messages import AIMessage, AIMessageChunk

    if isinstance(reply, AIMessageChunk):
        return AIMessage(
            content=reply.content,
            tool_calls=reply.tool_calls,
            invalid_tool_calls=reply.invalid_tool_calls,
            id=reply.id,
        )
    if not isinstance(reply, AIMessage):
        raise LLMUnavailableError(
            f"The LLM endpoint {endpoint} answered with a {type(reply).__name__}, not a message."
        )
    return reply


def _for_model(result: ToolResult, masker: Masker | None) -> str:
    """The tool result as the model reads it, personal data masked unless allowed."""
    text = result.for_model()
    if masker is None:
        return text
    return json.dumps(masker.data(json.loads(text)), ensure_ascii=False)


def _fill(template: str, **values: str) -> str:
    """``template`` with each ``{key}`` replaced; other braces are left as they are."""
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


def _messages() -> dict:
    """What the agent tells the operator itself, per language (``prompts/agent_messages``)."""
    from prompts import load

    return load("agent_messages").data()


def _calls_text(records: list[ToolCallRecord], language: Language) -> str:
    if not records:
        return "—"
    words = _messages()[language]
    ok, failed = words["call_ok"], words["call_failed"]
    sep = "、" if language == "zh" else ", "
    return sep.join(f"{r.name} ({ok if r.ok else failed})" for r in records)


def _same(text: str) -> str:
    return text
