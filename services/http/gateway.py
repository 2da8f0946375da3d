"""The one entry point `butler serve` starts: every endpoint, composed from the model services.

``Butler`` depends (``bentoml.depends``) on ``Forecasting``, ``Identity`` and ``ChatRisk``;
BentoML runs each in its own worker process and this service forwards to them. The
cross-platform views (sales, hot items, oversell risk) read the unified store directly,
read-only. Requests are validated here first (pydantic), so a bad request costs no model
call; every answer of a model carries the model version it came from, and ``/info`` lists
all of them.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from http import HTTPStatus
from typing import Any, Literal

import bentoml
import numpy as np
import pandas as pd
from bentoml.exceptions import BentoMLException, ServiceUnavailable
from pydantic import BaseModel, Field

from features.errors import ButlerError, StoreError
from features.schema.vocab import RiskLabel
from features.settings import Settings
from features.store import Store
from models.chat_risk import REGISTERED_NAME as RISK_MODEL
from models.forecast import registered_name
from models.identity import REGISTERED_NAME as IDENTITY_MODEL
from models.intent import REGISTERED_NAME as PLANNER_MODEL
from services.agent.types import AgentAnswer
from services.http import UNTRACED, prepare_to_serve
from services.http.agent_service import CONVERSATION_ID, MAX_QUESTION_CHARS, Agent
from services.http.batching import ContinuousBatcher
from services.http.errors import check_batch, client_error, forbid_unknown_fields
from services.http.forecast_service import (
    Forecasting,
    ForecastResult,
    PlanAnswer,
    RequestedMeasure,
)
from services.http.identity_service import (
    Identity,
    MatchExplanation,
    MemberMatch,
    MemberRecord,
    ResolvedMembers,
)
from services.http.media import JSON
from services.http.middleware import ButlerMiddleware
from services.http.risk_service import Alert, ChatRisk, RiskResult, StrictConversation
from services.registry import ModelNotRegisteredError, registered_version, retrain_command

logger = logging.getLogger(__name__)

#: The registered models the services load, and the command that registers each.
REQUIRED_MODELS = {
    name: retrain_command(name)
    for name in (registered_name("sku_warehouse"), IDENTITY_MODEL, RISK_MODEL, PLANNER_MODEL)
}


def check_ready_to_serve(settings: Settings) -> dict[str, dict[str, str]]:
    """What `butler serve` checks before it starts: an API key and every model registered.

    Returns:
        The registered version of each model.

    Raises:
        ButlerError: no API key is set.
        ModelNotRegisteredError: a model is missing; the message names the commands to run.
    """
    if settings.api_key is None or not settings.api_key.get_secret_value():
        raise ButlerError(
            "No API key: set BUTLER_API_KEY to the key clients will send as "
            "`Authorization: Bearer <key>`."
        )
    versions, missing = {}, []
    for name, command in REQUIRED_MODELS.items():
        try:
            versions[name] = registered_version(settings, name)
        except ModelNotRegisteredError:
            missing.append(f"`{command}` ({name}@{settings.model_alias})")
    if missing:
        raise ModelNotRegisteredError(
            "Nothing to serve yet: run " + ", ".join(missing) + " first. (`butler demo` "
            "does all of it on a fictional sample world: in its own --home, never in one "
            "that holds your data.)"
        )
    # each model loaded once as its service will load it: one trained by another Butler
    # version, or whose files are gone, fails here with its fix, not in a worker that
    # restarts in a loop behind a server that says it is serving
    unusable = []
    for name, load in _loaders().items():
        try:
            load(settings)
        except ButlerError as exc:
            unusable.append(str(exc))
        except Exception as exc:  # an unpickling error of a model from older code
            unusable.append(
                f"The registered {name}@{settings.model_alias} cannot be loaded "
                f"({type(exc).__name__}: {exc}); run `{REQUIRED_MODELS[name]}` to retrain it."
            )
    if unusable:
        raise ModelNotRegisteredError("Cannot serve: " + " ".join(unusable))
    return versions


def _loaders() -> dict[str, Any]:
    from services.agent.runtime import load_intent_model
    from services.forecasting import load_forecaster
    from services.identity import registered_model
    from services.risk import load_risk_model

    return {
        registered_name("sku_warehouse"): load_forecaster,
        IDENTITY_MODEL: registered_model,
        RISK_MODEL: load_risk_model,
        PLANNER_MODEL: load_intent_model,
    }


#: Attempts at a dependency call whose connection broke. BentoML 1.4's client can reuse a
#: keep-alive connection the dependency has just closed (its server closes idle ones after
#: 5 s, the client keeps them 15 s); every call here only reads, so repeating it is safe.
#: (Its session refresh every 100 calls, which broke calls in flight under load, is off:
#: ``services.http.DEPENDENCY_CONNECTION``.)
_ATTEMPTS = 3


async def _forward(call: Callable[[], Awaitable[Any]]) -> Any:
    """A dependency's answer, as its client parsed it (the gateway's endpoints answer the
    dependency's own response models, so it is sent on as it came); its 4xx re-raised with
    the same status and its own message."""
    import aiohttp

    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return await call()
        except aiohttp.ClientConnectionError:
            if attempt == _ATTEMPTS:
                raise
            logger.warning("a dependency call lost its connection; retrying (%d)", attempt)
        except BentoMLException as exc:
            status = HTTPStatus(exc.error_code)
            if status < 400 or status >= 500:
                raise
            raise BentoMLException(_inner_error(exc.message), error_code=status) from None
    raise AssertionError("unreachable")


def _inner_error(message: str) -> str:
    """The ``error`` text of a dependency's error body (BentoML passes the raw body on)."""
    try:
        body = json.loads(message)
    except ValueError:
        return message
    if isinstance(body, list) and body and isinstance(body[0], dict):
        body = body[0]
    if isinstance(body, dict) and "error" in body:
        detail = body.get("detail")
        return str(body["error"]) + (f" {json.dumps(detail)}" if detail else "")
    return message


def _records(frame: pd.DataFrame, limit: int) -> list[dict[str, Any]]:
    """JSON-safe rows: dates as ISO strings, NaN as null."""
    out = frame.head(limit).copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    out = out.astype(object).where(out.notna(), None)
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in out.to_dict("records")
    ]


class ViewAnswer(BaseModel):
    """Rows of a view over the unified store."""

    rows: list[dict[str, Any]]
    total_rows: int = Field(description="Rows before the limit was applied.")


@forbid_unknown_fields
@bentoml.service(name="butler", traffic={"timeout": 60}, tracing=dict(UNTRACED))
class Butler:
    """Butler over HTTP: forecasts, replenishment, member identity, chat risk, store views."""

    forecasting = bentoml.depends(Forecasting)
    identity = bentoml.depends(Identity)
    risk = bentoml.depends(ChatRisk)
    agent = bentoml.depends(Agent)

    def __init__(self) -> None:
        self.settings = Settings()
        # classification requests that arrive while others are with the chat risk service
        # go to it together, as one call (see `_classify_together`)
        self._classify = ContinuousBatcher(
            self._classify_together, max_batch=self.settings.max_batch, in_flight=2, size=len
        )

    # served only: the CLI's in-process use of the class keeps its collector
    _prepare_to_serve = bentoml.on_startup(prepare_to_serve)

    # -- the business butler -----------------------------------------------------------------

    @bentoml.api
    async def ask(
        self,
        question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS),
        conversation_id: str | None = Field(
            None, pattern=CONVERSATION_ID, description="Follow-ups remember this id."
        ),
    ) -> AgentAnswer:
        """Ask the business butler; the answer names its tools, numbers' sources and mode."""
        return await _forward(
            lambda: self.agent.to_async.ask(question=question, conversation_id=conversation_id)
        )

    @bentoml.api
    async def ask_stream(
        self,
        question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS),
        conversation_id: str | None = Field(
            None, pattern=CONVERSATION_ID, description="Follow-ups remember this id."
        ),
    ) -> AsyncGenerator[str, None]:
        """The butler's answer as streamed text (tokens as an LLM endpoint writes them)."""
        pieces = self.agent.to_async.ask_stream(question=question, conversation_id=conversation_id)
        async for piece in pieces:
            yield piece

    # -- models ---------------------------------------------------------------------------

    @bentoml.api
    async def info(self) -> JSON[dict[str, Any]]:
        """The model version each service answers with."""
        return {
            "forecasting": await _forward(lambda: self.forecasting.to_async.info()),
            "identity": await _forward(lambda: self.identity.to_async.info()),
            "chat_risk": await _forward(lambda: self.risk.to_async.info()),
            "planner": await _forward(lambda: self.agent.to_async.info()),
        }

    @bentoml.api
    async def classify(self, conversations: list[StrictConversation]) -> JSON[list[RiskResult]]:
        """Risk scenarios of each conversation, with evidence messages and a ranking score."""
        check_batch(conversations, "conversations", self.settings.max_batch)
        return await self._classify.submit(conversations)

    async def _classify_together(
        self, requests: list[list[StrictConversation]]
    ) -> list[list[RiskResult]]:
        """The answers to several classification requests, from one call to the chat risk
        service. Each request and each answer crosses BentoML's client, the two servers'
        middleware and the service's batching dispatcher once per call whatever its size:
        at 32 clients of 16 conversations, merging took the gateway from 6,673 / 7,151 to
        7,760 / 7,672 conversations a second, p99 111.5 / 102.5 → 92.4 / 86.8 ms (alternated
        load runs, evaluation/RESULTS.md). A merged call that fails is made again request by
        request (``ContinuousBatcher``)."""
        merged = [conversation for conversations in requests for conversation in conversations]
        results = await _forward(lambda: self.risk.to_async.classify_batch(merged))
        answers, start = [], 0
        for conversations in requests:
            answers.append(results[start : start + len(conversations)])
            start += len(conversations)
        return answers

    @bentoml.api
    async def risk_alerts(
        self,
        status: Literal["open", "acknowledged", "withdrawn", "all"] = "open",
        limit: int = Field(default=50, ge=1, le=1_000),
        platforms: list[str] | None = Field(default=None, max_length=20),
        scenarios: list[RiskLabel] | None = Field(default=None, max_length=20),
        severity: Literal["high", "medium"] | None = None,
        since: dt.date | None = Field(
            default=None, description="Only sessions whose last message is on or after it."
        ),
        until: dt.date | None = Field(
            default=None, description="Only sessions whose last message is on or before it."
        ),
    ) -> JSON[list[Alert]]:
        """The patrol's alerts, most urgent first: high severity, then the newest
        conversations, then the most probable."""
        return await _forward(
            lambda: self.risk.to_async.alerts(
                status=status,
                limit=limit,
                platforms=platforms,
                scenarios=scenarios,
                severity=severity,
                since=since,
                until=until,
            )  # fmt: skip
        )

    @bentoml.api
    async def forecast(
        self,
        skus: list[str],
        warehouses: list[str] | None = None,
        horizon: int = Field(default=8, ge=1, le=13),
    ) -> ForecastResult:
        """Weekly quantile forecasts per SKU × warehouse."""
        check_batch(skus, "skus", self.settings.max_batch)
        return await _forward(
            lambda: self.forecasting.to_async.forecast(
                skus=skus, warehouses=warehouses, horizon=horizon
            )
        )

    @bentoml.api
    async def replenishment(
        self,
        skus: list[str] | None = None,
        warehouses: list[str] | None = None,
        service_level: float = Field(default=0.95, gt=0.5, lt=1.0),
        service_measure: RequestedMeasure = "fill_rate",
        moq_scope: Literal["warehouse", "sku"] = "warehouse",
    ) -> PlanAnswer:
        """The order plan per SKU × warehouse, with a reason per line and per-row errors."""
        return await _forward(
            lambda: self.forecasting.to_async.replenishment(
                skus=skus,
                warehouses=warehouses,
                service_level=service_level,
                service_measure=service_measure,
                moq_scope=moq_scope,
            )
        )

    @bentoml.api
    async def match_member(
        self, record: MemberRecord, top: int = Field(default=5, ge=1, le=20)
    ) -> MemberMatch:
        """Is this sign-up someone we know? The best candidate persons, best first."""
        return await _forward(lambda: self.identity.to_async.match_member(record=record, top=top))

    @bentoml.api
    async def explain_match(self, record: MemberRecord, account: str) -> MatchExplanation:
        """Why this sign-up scores as it does against a known account (a match candidate):
        the match weight each comparison adds."""
        return await _forward(
            lambda: self.identity.to_async.explain_match(record=record, account=account)
        )

    @bentoml.api
    async def resolve_members(self, records: list[MemberRecord]) -> ResolvedMembers:
        """Deduplicate a batch of member records into persons."""
        check_batch(records, "records", self.settings.max_batch)
        return await _forward(lambda: self.identity.to_async.resolve_members(records=records))

    # -- views over the unified store --------------------------------------------------------

    def _view(self, field: str, read: Any, limit: int) -> ViewAnswer:
        try:
            with Store.open(self.settings, read_only=True) as store:
                frame = read(store)
        except StoreError as exc:
            raise ServiceUnavailable(f"store: {exc}") from exc
        except ButlerError as exc:
            raise client_error(exc, field) from exc
        return ViewAnswer(rows=_records(frame, limit), total_rows=len(frame))

    @bentoml.api
    def sales(
        self,
        platforms: list[str] | None = None,
        skus: list[str] | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        by: list[
            Literal["sku_id", "product_id", "category", "platform", "shop_id", "warehouse_id"]
        ] = Field(default_factory=lambda: ["sku_id", "platform"]),
        limit: int = Field(default=500, ge=1, le=10_000),
    ) -> ViewAnswer:
        """Weekly sales (units, revenue) across platforms, by the chosen dimensions."""
        from features.views import sales_weekly

        return self._view(
            "sales",
            lambda store: sales_weekly(
                store, platforms=platforms, skus=skus, start=start, end=end, by=by
            ),
            limit,
        )

    @bentoml.api
    def hot_items(
        self,
        week: dt.date | None = None,
        platforms: list[str] | None = None,
        limit: int = Field(default=50, ge=1, le=1_000),
    ) -> ViewAnswer:
        """SKUs whose sales on a platform jumped well above their own recent level."""
        from features.views import hot_items

        return self._view(
            "hot_items", lambda store: hot_items(store, week=week, platforms=platforms), limit
        )

    @bentoml.api
    def oversell_risk(
        self,
        as_of: dt.date | None = None,
        min_cover_days: float = Field(default=3.0, ge=0, le=60),
        platforms: list[str] | None = None,
        warehouses: list[str] | None = None,
        skus: list[str] | None = Field(default=None, max_length=1_000),
        limit: int = Field(default=200, ge=1, le=5_000),
    ) -> ViewAnswer:
        """Listed, selling SKUs whose stock is gone or covers only a few days: of the SKUs
        the platforms list, the warehouses' stock against the sales they shipped, or the
        SKUs given (each None = all)."""
        from features.views import oversell_risk

        return self._view(
            "oversell_risk",
            lambda store: oversell_risk(
                store,
                as_of=as_of,
                min_cover_days=min_cover_days,
                platforms=platforms,
                warehouses=warehouses,
                skus=skus,
            ),  # fmt: skip
            limit,
        )


Butler.add_asgi_middleware(ButlerMiddleware)
