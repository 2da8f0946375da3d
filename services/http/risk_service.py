"""The chat risk service: classify conversations (adaptive batching), list open alerts.

Loads ``butler-chat-risk`` from the registry by alias at start-up; a server started with
nothing registered fails at once, naming ``butler train risk``.

Conversations come in as :class:`StrictConversation`: the JSONL contract of
:mod:`features.chats`, except that a key it does not name, in a conversation or in one of
its messages (``{"txt": …}`` for ``{"text": …}``), is a 400 naming it and the field meant.
The JSONL reader ignores such keys on purpose (platform exports carry extra ones); a client
of the API sends what it means, and a misspelt optional key (``platfrom``, ``time`` for
``ts``) dropped in silence is answered as if it had not been sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import bentoml
import pandas as pd
from bentoml.exceptions import ServiceUnavailable
from pydantic import BaseModel, ConfigDict, Field

from features.chats import MAX_MESSAGES, ChatMessage, Conversation
from features.errors import ButlerError, InvalidParameterError, StoreError
from features.schema.vocab import RiskLabel
from features.settings import Settings
from features.store import Store
from features.views._params import check_platforms
from models.chat_risk import REGISTERED_NAME
from services.http import behind_gateway, prepare_to_serve
from services.http.errors import KnownFieldsOnly, client_error, forbid_unknown_fields
from services.http.media import JSON
from services.registry import registered_version
from services.risk import assessment_fields, load_risk_model
from services.risk_patrol import alert_queue


class StrictChatMessage(ChatMessage, KnownFieldsOnly):
    """One message as the API takes it: ``role``, ``text`` and ``ts``, and no other key."""

    # from_attributes: a conversation built in process (the gateway's, the agent's) passes
    # as it is; only a JSON object is held to the declared keys
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class StrictConversation(Conversation, KnownFieldsOnly):
    """One conversation as the API takes it: a key :class:`Conversation` does not declare,
    here or in a message, is refused with the closest declared one."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    messages: list[StrictChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)


class RiskItem(BaseModel):
    """One scenario raised on a conversation."""

    scenario: str = Field(description="A RiskLabel value, e.g. complaint_threat.")
    probability: float
    severity: Literal["high", "medium"]
    evidence: list[int] = Field(description="Indices of the messages that drove it.")


class RiskResult(BaseModel):
    """What the classifier found in one conversation."""

    session_id: str
    platform: str | None = None
    risks: list[RiskItem]
    risk_score: float = Field(description="0–1, for ranking: severity-weighted.")


class Alert(BaseModel):
    """One open or acknowledged alert of the patrol."""

    platform: str
    shop_id: str | None
    shop_name: str | None = Field(description="The shop's name, where an export gives it.")
    session_id: str
    scenario: str
    severity: str
    probability: float
    risk_score: float
    evidence: list[int] = Field(description="seq numbers of the evidence messages.")
    status: str
    raised_at: str = Field(description="When the alert was raised, ISO 8601 in UTC (…Z).")
    last_message_at: str | None = Field(
        None, description="When the session's newest message was sent, ISO 8601 in UTC (…Z)."
    )
    model_version: str | None = Field(
        None, description="The classifier version that raised or last refreshed the alert."
    )


@forbid_unknown_fields
@bentoml.service(name="chat_risk", traffic={"timeout": 30}, **behind_gateway())
class ChatRisk:
    """The registered chat risk classifier over HTTP."""

    def __init__(self, settings: Settings | None = None) -> None:
        # BentoML starts a service without arguments (settings from the environment); the
        # butler's CLI runs the same class in process with its own settings
        self.settings = settings or Settings()
        self.model = load_risk_model(self.settings)
        self.version = registered_version(self.settings, REGISTERED_NAME)

    # served only: the CLI's in-process use of the class keeps its collector
    _prepare_to_serve = bentoml.on_startup(prepare_to_serve)

    # BentoML's dispatcher answers 503 when it expects a batch to miss max_latency_ms; a
    # conversation takes milliseconds and a request may carry a thousand, so allow seconds
    @bentoml.api(batchable=True, max_batch_size=2_000, max_latency_ms=5_000)
    def classify_batch(self, conversations: list[StrictConversation]) -> JSON[list[RiskResult]]:
        """Scores conversations; BentoML merges concurrent requests into one batch."""
        out = []
        for conv, assessment in zip(conversations, self.model.assess(conversations), strict=True):
            fields = assessment_fields(assessment)
            out.append(RiskResult(session_id=conv.session_id, platform=conv.platform, **fields))
        return out

    @bentoml.api
    def alerts(
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
        try:
            shown = check_platforms(platforms, func="risk_alerts") if platforms else None
        except ButlerError as exc:
            raise client_error(exc, "platforms") from exc
        try:
            with Store.open(self.settings, read_only=True) as store:
                queue = alert_queue(
                    store,
                    status=None if status == "all" else status,
                    limit=limit,
                    platforms=shown,
                    scenarios=scenarios,
                    severity=severity,
                    since=since,
                    until=until,
                )
        except StoreError as exc:  # no store yet, or locked by a running ingest
            raise ServiceUnavailable(f"store: {exc}") from exc
        except InvalidParameterError as exc:  # since after until
            raise client_error(exc, "since") from exc
        times = ("raised_at", "last_message_at")
        return [
            Alert(
                **{k: row[k] for k in Alert.model_fields if k not in ("evidence", *times)},
                evidence=list(row["evidence"]),
                raised_at=_utc_iso(row["raised_at"]),
                last_message_at=_utc_iso(row["last_message_at"]),
            )
            for row in queue.to_dict("records")
        ]

    @bentoml.api
    def info(self) -> JSON[dict]:
        """The registered model version this service answers with."""
        return self.version


def _utc_iso(value: object) -> str | None:
    """A store time (UTC without zone) as ISO 8601 that says so: ``2026-11-20T02:15:00Z``."""
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).isoformat() + "Z"
