"""The supervisors' chat-risk patrol (``butler risk patrol``): scan new chats, raise alerts once.

Chats reach the store by ingesting platform exports, and a later export can add messages to
a session the store already holds. A patrol reads only what changed since the last one:

* **Incremental.** ``risk_patrol_log`` records, per session, how many messages the patrol has
  read. A patrol scans the sessions that are new or now hold more messages than that, and
  reads each of them whole, because a risk often lies in how a conversation goes on.
* **Idempotent.** ``risk_alerts`` holds one row per (platform, session_id, scenario). A
  scenario found again in a session that already has its alert raises nothing new: an open
  alert gets the newest probability, score and evidence. A supervisor acknowledges alerts;
  a patrol withdraws one only on a rescan.
* **Reopened when the conversation escalates.** An acknowledged alert stays acknowledged
  while the patrol finds its scenario only in messages it had read before: the supervisor
  has seen those. When its evidence holds a message the patrol had not read when it last
  scanned the session (a later export added it), the alert opens again: status ``open``,
  ``acknowledged_at`` cleared, the new probability, score, evidence and classifier, and
  ``raised_at`` now, so it heads today's queue. The log counts messages, not which ones,
  and ``seq`` is the platform's own numbering (it may start above 0 and skip), so the
  messages read before are taken to be the session's first ``messages_scanned`` in ``seq``
  order: exports add a session's later messages. A rescan reading old messages again
  reopens nothing by itself.
* **Rescan after retraining.** ``patrol(rescan=True)`` reads every session again with the
  current classifier: its open alerts get that classifier's figures, and an open alert it
  no longer finds is withdrawn (status ``withdrawn``, kept for the record). Without it, a
  queue raised by an earlier classifier keeps that classifier's findings.
* **Restart-safe.** Sessions are scanned in batches. Each batch's new alerts and its log
  rows commit in one transaction, after the classifier has assessed the whole batch. If the
  process dies, every committed batch is in the log and the next patrol redoes only the
  rest; the alert key keeps a batch that is redone from raising anything twice.

Conversation text is data: it goes to the classifier and is never read as an instruction.
Every value reaches SQL as a parameter or a registered frame, never spliced into a query.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import pandas as pd

from features.chats import Conversation, conversations_from_messages, store_chat_messages
from features.errors import ContractViolation, InvalidParameterError, UnknownEntityError
from features.schema.vocab import RiskLabel, Severity
from features.store import Store

__all__ = [
    "AlertStatus",
    "PatrolReport",
    "QUEUE_COLUMNS",
    "RiskClassifierLike",
    "acknowledge",
    "alert_counts",
    "alert_queue",
    "older_open_alerts",
    "patrol",
]

logger = logging.getLogger(__name__)

#: Columns of :func:`alert_queue`, in order.
QUEUE_COLUMNS = (
    "platform",
    "shop_id",
    "shop_name",  # from the shops table; None for a shop no export names
    "session_id",
    "scenario",
    "severity",
    "probability",
    "risk_score",
    "evidence",
    "status",
    "raised_at",
    "last_message_at",  # the session's newest message (naive UTC): how recent the risk is
    "model_version",  # the classifier that raised or last refreshed the alert
)


class AlertStatus(StrEnum):
    """Where a risk alert stands."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    WITHDRAWN = "withdrawn"  # a rescan by a newer classifier no longer found it


class _Finding(Protocol):
    @property
    def scenario(self) -> RiskLabel: ...
    @property
    def probability(self) -> float: ...
    @property
    def severity(self) -> Severity: ...
    @property
    def evidence(self) -> Sequence[int]: ...


class _Assessment(Protocol):
    @property
    def session_id(self) -> str: ...
    @property
    def platform(self) -> str | None: ...
    @property
    def risks(self) -> Sequence[_Finding]: ...
    @property
    def risk_score(self) -> float: ...


class RiskClassifierLike(Protocol):
    """What the patrol needs of a chat-risk classifier (``models.chat_risk.RiskClassifier``).

    ``assess`` returns one assessment per conversation it was given, each listing only the
    scenarios over their thresholds; ``evidence`` holds message indices inside the
    conversation.
    """

    @property
    def version_(self) -> str: ...

    def assess(self, conversations: list[Conversation]) -> Sequence[_Assessment]: ...


@dataclass(frozen=True, slots=True)
class PatrolReport:
    """What one patrol did.

    Attributes:
        sessions_scanned: sessions read and assessed (new ones and ones with new messages).
        messages_scanned: messages of those sessions, all of them (each is read whole).
        alerts_raised: alerts this patrol created (or found again after a rescan withdrew
            them); findings of existing alerts do not count.
        alerts_open: open alerts in the store after the patrol.
        seconds: wall time of the patrol.
        started_at: when it started (naive UTC): its new alerts were raised at or after it
            (``alert_queue(raised_since=...)`` lists them).
        alerts_withdrawn: open alerts a rescan no longer found (0 without a rescan).
        high_withdrawn: how many of those were high-severity: worth a supervisor's look, as
            a retrained classifier can miss what the earlier one rightly found.
        older_open: open alerts afterwards that an earlier classifier raised and this one
            has not read again (a queue from before retraining: rescan).
        alerts_reopened: acknowledged alerts this patrol opened again, because their
            scenario's evidence now holds messages added since the session was last
            scanned; like new ones, they were raised at or after ``started_at``.
    """

    sessions_scanned: int
    messages_scanned: int
    alerts_raised: int
    alerts_open: int
    seconds: float
    started_at: dt.datetime | None = None
    alerts_withdrawn: int = 0
    older_open: int = 0
    high_withdrawn: int = 0
    alerts_reopened: int = 0


def patrol(
    store: Store,
    classifier: RiskClassifierLike,
    *,
    batch_sessions: int = 2000,
    progress: Callable[[int, int], None] | None = None,
    rescan: bool = False,
    version: str | None = None,
) -> PatrolReport:
    """Scan the chat sessions that are new or gained messages, and raise their new alerts.

    An acknowledged alert whose scenario is found in messages added since its session was
    last scanned opens again (see the module docstring); one found only in messages read
    before stays acknowledged.

    Args:
        store: a writable store.
        classifier: a fitted chat-risk classifier (see :class:`RiskClassifierLike`).
        batch_sessions: sessions assessed, and committed, together.
        progress: called after each batch with (sessions done, sessions to scan).
        rescan: read every session again, not only new ones, and withdraw the open alerts
            this classifier no longer finds (after retraining it). An interrupted rescan is
            finished by running it again. Messages read before reopen nothing.
        version: the classifier's name in the alerts' ``model_version`` (the CLI gives its
            registry version too); None = ``classifier.version_``.

    Returns:
        The :class:`PatrolReport`.

    Raises:
        InvalidParameterError: ``batch_sessions`` is not a positive integer.
        ContractViolation: the classifier returned an assessment for a session it was not
            given. Batches committed before it stay committed.

    Examples:
        >>> report = patrol(store, registered_classifier)          # doctest: +SKIP
        >>> report.alerts_raised, report.alerts_reopened, report.alerts_open  # doctest: +SKIP
        (12, 1, 40)
    """
    if (
        isinstance(batch_sessions, bool)
        or not isinstance(batch_sessions, int)
        or batch_sessions < 1
    ):
        raise InvalidParameterError(
            "The `batch_sessions` parameter of `patrol` must be a positive integer. "
            f"Got {batch_sessions!r} instead."
        )
    started, started_at = time.perf_counter(), _utc_now()
    version = version or str(classifier.version_)
    pending = _sessions_to_scan(store, everything=rescan)
    total = len(pending)
    logger.info("Risk patrol: %d sessions to scan with model %s", total, version)
    messages_scanned = raised = reopened = 0
    for start in range(0, total, batch_sessions):
        batch = pending.iloc[start : start + batch_sessions]
        messages = store_chat_messages(store, sessions=batch)
        conversations = conversations_from_messages(messages)
        assessments = classifier.assess(conversations) if conversations else []
        read_before = {
            (p, s): int(n)
            for p, s, n in zip(batch["platform"], batch["session_id"], batch["read_before"],
                               strict=True)
        }  # fmt: skip
        alerts = _alert_rows(messages, conversations, assessments, version, read_before)
        scanned = (
            messages.groupby(["platform", "session_id"], sort=False)
            .size()
            .rename("messages_scanned")
            .reset_index()
        )
        with store.transaction():
            new, opened = _write_batch(store, alerts, scanned, version)
        raised, reopened = raised + new, reopened + opened
        messages_scanned += len(messages)
        done = min(start + batch_sessions, total)
        logger.debug("Risk patrol: %d of %d sessions scanned", done, total)
        if progress is not None:
            progress(done, total)
    withdrawn = high_withdrawn = 0
    if rescan:  # every session was read again: an open alert not refreshed was not found
        with store.transaction():
            withdrawn, high_withdrawn = store.sql(
                "SELECT count(*), count(*) FILTER (WHERE severity = 'high') FROM risk_alerts "
                "WHERE status = ? AND model_version <> ?",
                [AlertStatus.OPEN.value, version],
            ).fetchall()[0]
            store.sql(
                "UPDATE risk_alerts SET status = ? WHERE status = ? AND model_version <> ?",
                [AlertStatus.WITHDRAWN.value, AlertStatus.OPEN.value, version],
            )
    open_alerts, older = store.sql(
        "SELECT count(*), count(*) FILTER (WHERE model_version <> ?) FROM risk_alerts "
        "WHERE status = ?",
        [version, AlertStatus.OPEN.value],
    ).fetchall()[0]
    report = PatrolReport(
        sessions_scanned=total,
        messages_scanned=messages_scanned,
        alerts_raised=raised,
        alerts_open=int(open_alerts),
        seconds=time.perf_counter() - started,
        started_at=started_at,
        alerts_withdrawn=int(withdrawn),
        high_withdrawn=int(high_withdrawn),
        older_open=int(older),
        alerts_reopened=reopened,
    )
    logger.info(
        "Risk patrol: %d sessions, %d messages, %d alerts raised, %d reopened, %d open",
        report.sessions_scanned,
        report.messages_scanned,
        report.alerts_raised,
        report.alerts_reopened,
        report.alerts_open,
    )
    return report


def alert_queue(
    store: Store,
    *,
    status: AlertStatus | str | None = AlertStatus.OPEN,
    limit: int | None = 50,
    raised_since: dt.datetime | None = None,
    platforms: Sequence[str] | None = None,
    shops: Sequence[str] | None = None,
    scenarios: Sequence[RiskLabel | str] | None = None,
    severity: Severity | str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> pd.DataFrame:
    """The alerts in the order a supervisor should look at them.

    High severity first; then the newest conversations (by the day, in Asia/Shanghai, of
    the session's last message: a threat made today comes before one made last year); then
    the scenario's probability, the session's risk score, and the newest alert.

    Args:
        store: the store.
        status: ``"open"``, ``"acknowledged"``, or ``None`` for both.
        limit: most rows returned; ``None`` for all.
        raised_since: only alerts raised at or after this moment (naive UTC), e.g. a
            patrol's ``started_at``; ``None`` for all.
        platforms: only these platform codes (``jd``); None = all.
        shops: only these shop ids (give ``platforms`` too: one id can be a shop on two);
            None = all.
        scenarios: only these scenarios (any letter case); None = all.
        severity: only ``"high"`` or ``"medium"`` alerts; None = both.
        since, until: only sessions whose last message fell on these days or between
            them (Asia/Shanghai); None = open-ended.

    Returns:
        One row per alert with :data:`QUEUE_COLUMNS`; ``evidence`` is a list of the seq
        numbers (``chat_messages.seq``) of the messages that show the risk.

    Raises:
        InvalidParameterError: an unknown ``status``, scenario or severity, or a ``limit``
            below 1.
    """
    conditions, params = [], []
    if status is not None:
        conditions, params = ["status = ?"], [_status(status).value]
    if raised_since is not None:
        conditions, params = [*conditions, "raised_at >= ?"], [*params, raised_since]
    if platforms is not None:
        conditions, params = [*conditions, "list_contains(?, platform)"], [*params, list(platforms)]
    if shops is not None:
        conditions, params = [*conditions, "list_contains(?, shop_id)"], [*params, list(shops)]
    if scenarios is not None:
        wanted = [_scenario(s, "alert_queue").value for s in scenarios]
        conditions, params = [*conditions, "list_contains(?, scenario)"], [*params, wanted]
    if severity is not None:
        conditions, params = [*conditions, "severity = ?"], [*params, _severity(severity).value]
    if since is not None and until is not None and since > until:
        raise InvalidParameterError(
            f"The `since` day of `alert_queue` ({since}) is after its `until` day ({until}): "
            "give the earlier day first."
        )
    for day, op in ((since, ">="), (until, "<=")):
        if day is not None:
            conditions, params = [*conditions, f"{_LAST_DAY} {op} ?"], [*params, day]
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidParameterError(
            "The `limit` parameter of `alert_queue` must be a positive integer or None. "
            f"Got {limit!r} instead."
        )
    tail = ""
    if limit is not None:
        tail, params = "LIMIT ?", [*params, limit]
    if not _has_alerts(store):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in QUEUE_COLUMNS})
    frame = store.sql(
        "WITH last AS ("
        "  SELECT platform, session_id, max(sent_at) AS last_message_at FROM chat_messages "
        "  SEMI JOIN risk_alerts USING (platform, session_id) GROUP BY ALL"
        ") "
        f"SELECT {', '.join(QUEUE_COLUMNS)} FROM risk_alerts "
        f"LEFT JOIN shops USING (platform, shop_id) LEFT JOIN last USING (platform, session_id) "
        f"{where} ORDER BY severity = 'high' DESC, {_LAST_DAY} DESC NULLS LAST, "
        "probability DESC, risk_score DESC, raised_at DESC, "
        f"platform, session_id, scenario {tail}",
        params,
    ).df()
    frame["evidence"] = [json.loads(e) for e in frame["evidence"]]
    return frame.reset_index(drop=True)


#: The day (Asia/Shanghai) of a queued alert's last message, in SQL.
_LAST_DAY = "CAST(last_message_at + INTERVAL 8 HOUR AS DATE)"


def alert_counts(store: Store) -> dict[str, int]:
    """How many alerts stand in each status (every status, zeros before the first patrol)."""
    counts = dict.fromkeys((s.value for s in AlertStatus), 0)
    if _has_alerts(store):
        rows = store.sql("SELECT status, count(*) FROM risk_alerts GROUP BY status").fetchall()
        counts |= {status: int(n) for status, n in rows}
    return counts


def older_open_alerts(store: Store, version: str) -> int:
    """How many open alerts a classifier other than ``version`` raised or last refreshed:
    their ``model_version`` does not start with it (0 before the first patrol)."""
    if not _has_alerts(store):
        return 0
    return int(
        store.sql(
            "SELECT count(*) FROM risk_alerts "
            "WHERE status = ? AND NOT starts_with(model_version, ?)",
            [AlertStatus.OPEN.value, version],
        ).fetchall()[0][0]
    )


def acknowledge(
    store: Store, platform: str, session_id: str, scenario: RiskLabel | str | None = None
) -> int:
    """Mark a session's open alerts acknowledged (one scenario's, or all of them).

    Acknowledging is idempotent: an alert acknowledged before keeps its first
    ``acknowledged_at`` and is not counted again. It holds for what the supervisor has
    seen: a later patrol that finds the scenario in messages added afterwards opens the
    alert again (see :func:`patrol`).

    Args:
        store: a writable store.
        platform: platform code of the session, e.g. ``jd``.
        session_id: the platform's session id, exactly (its letter case counts).
        scenario: one risk scenario, in any letter case, spaces around it ignored;
            ``None`` for every alert of the session.

    Returns:
        How many alerts this call acknowledged.

    Raises:
        InvalidParameterError: ``scenario`` is not a risk scenario.
        UnknownEntityError: the session has no alert (for that scenario); when it has
            none at all but a session id differing only in letter case has, the message
            names that one.
    """
    where = "platform = ? AND session_id = ?"
    params: list[object] = [platform, session_id]
    if scenario is not None:
        scenario = _scenario(scenario)
        where += " AND scenario = ?"
        params.append(scenario.value)
    with store.transaction():
        existing = store.sql(f"SELECT count(*) FROM risk_alerts WHERE {where}", params)
        if existing.fetchall()[0][0] == 0:
            which = f" for scenario `{scenario}`" if scenario is not None else ""
            raise UnknownEntityError(
                f"There is no risk alert{which} in session `{session_id}` on platform "
                f"`{platform}`.{_other_case(store, platform, session_id)} List the alerts "
                "with `butler risk patrol` and copy the platform, session id and scenario "
                "from there."
            )
        changed = store.sql(
            f"UPDATE risk_alerts SET status = ?, acknowledged_at = ? WHERE {where} AND status = ?",
            [AlertStatus.ACKNOWLEDGED.value, _utc_now(), *params, AlertStatus.OPEN.value],
        ).fetchall()[0][0]
    return int(changed)


# -- internals -----------------------------------------------------------------------------------


def _has_alerts(store: Store) -> bool:
    """Whether the store has its alerts table: one opened read-only before its first patrol
    was never migrated to add it."""
    found = store.sql("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'risk_alerts'")
    return bool(found.fetchall()[0][0])


def _other_case(store: Store, platform: str, session_id: str) -> str:
    """`` Did you mean `s1`?`` when the session has no alert and only ids differing from
    it in letter case have; else empty. Session ids are the platforms' own, so the store
    keeps their case: ``S1`` and ``s1`` may be two sessions."""
    rows = store.sql(
        "SELECT DISTINCT session_id FROM risk_alerts WHERE platform = ? "
        "AND lower(session_id) = lower(?) ORDER BY session_id",
        [platform, session_id],
    ).fetchall()
    others = [s for (s,) in rows if s != session_id]
    if not others or len(others) < len(rows):  # none, or the session has alerts itself
        return ""
    return " Did you mean " + " or ".join(f"`{s}`" for s in others) + "?"


def _sessions_to_scan(store: Store, *, everything: bool = False) -> pd.DataFrame:
    """Sessions with more messages than the log says were scanned (every session with
    ``everything``), in key order, with ``read_before``: the log's count (0 if none)."""
    return store.sql(
        "WITH have AS ("
        "  SELECT platform, session_id, count(*) AS n_messages"
        "  FROM chat_messages GROUP BY platform, session_id"
        ") "
        "SELECT h.platform, h.session_id, h.n_messages, "
        "coalesce(l.messages_scanned, 0) AS read_before FROM have h "
        "LEFT JOIN risk_patrol_log l USING (platform, session_id) "
        "WHERE ? OR l.messages_scanned IS NULL OR h.n_messages > l.messages_scanned "
        "ORDER BY h.platform, h.session_id",
        [everything],
    ).df()


def _alert_rows(
    messages: pd.DataFrame,
    conversations: list[Conversation],
    assessments: Sequence[_Assessment],
    version: str,
    read_before: dict[tuple[str, str], int],
) -> pd.DataFrame:
    """One row per finding, evidence turned from message indices into ``seq`` numbers;
    ``fresh`` says whether the evidence holds a message past the first ``read_before`` of
    its session (in ``seq`` order), i.e. one the patrol had not read before."""
    seqs = {
        key: rows.tolist()
        for key, rows in messages.groupby(["platform", "session_id"], sort=False)["seq"]
    }
    shops = {(c.platform, c.session_id): c.shop_id for c in conversations}
    by_id: dict[str, list[tuple[str, str]]] = {}
    for platform, session in shops:
        by_id.setdefault(session, []).append((platform, session))
    rows = []
    for assessment in assessments:
        key = (assessment.platform, assessment.session_id)
        if key not in shops and assessment.platform is None:
            candidates = by_id.get(assessment.session_id, [])
            key = candidates[0] if len(candidates) == 1 else key
        if key not in shops:
            raise ContractViolation(
                f"The classifier returned an assessment of session `{assessment.session_id}` "
                f"(platform `{assessment.platform}`), which it was not given in this batch. "
                "Its `assess` must return one assessment per conversation it is given."
            )
        seq = seqs[key]
        for finding in assessment.risks:
            scenario = RiskLabel(finding.scenario)
            evidence = sorted({seq[i] for i in finding.evidence if 0 <= i < len(seq)})
            if len(evidence) < len(set(finding.evidence)):
                logger.warning(
                    "Risk patrol: the classifier cited messages outside session %s (%d "
                    "messages): %s; those are left out of the evidence.",
                    key[1],
                    len(seq),
                    sorted(set(finding.evidence)),
                )
            unread = set(seq[read_before.get(key, 0) :])
            rows.append(
                {
                    "platform": key[0],
                    "session_id": key[1],
                    "scenario": scenario.value,
                    "shop_id": shops[key],
                    "severity": Severity(finding.severity).value,
                    "probability": float(finding.probability),
                    "risk_score": float(assessment.risk_score),
                    "evidence": json.dumps([int(s) for s in evidence]),
                    "model_version": version,
                    "fresh": not unread.isdisjoint(evidence),
                }
            )
    columns = [
        "platform",
        "session_id",
        "scenario",
        "shop_id",
        "severity",
        "probability",
        "risk_score",
        "evidence",
        "model_version",
        "fresh",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    # a classifier listing a scenario twice must not make the insert trip over its own key
    return frame.drop_duplicates(["platform", "session_id", "scenario"], keep="first")


def _write_batch(
    store: Store, alerts: pd.DataFrame, scanned: pd.DataFrame, version: str
) -> tuple[int, int]:
    """Insert the batch's new alerts, refresh its open ones, open again the withdrawn ones
    it finds and the acknowledged ones it finds in messages not read before, and log its
    sessions; return the numbers of new (or found again after withdrawal) and of reopened
    acknowledged alerts. Runs inside the caller's transaction."""
    now = _utc_now()
    raised = reopened = 0
    if not alerts.empty:
        store.con.register("_patrol_alerts", alerts)
        try:
            # new: no alert of that key yet, or one a rescan withdrew and this finds again
            raised, reopened = (
                int(n)
                for n in store.sql(
                    "SELECT count(*) FILTER (WHERE r.status IS NULL OR r.status = ?), "
                    "count(*) FILTER (WHERE r.status = ? AND a.fresh) "
                    "FROM _patrol_alerts a LEFT JOIN risk_alerts r "
                    "USING (platform, session_id, scenario)",
                    [AlertStatus.WITHDRAWN.value, AlertStatus.ACKNOWLEDGED.value],
                ).fetchall()[0]
            )
            # the conversation went on after the supervisor looked: theirs to see again
            store.sql(
                "UPDATE risk_alerts SET status = ?, acknowledged_at = NULL, raised_at = ? "
                "FROM _patrol_alerts a WHERE risk_alerts.platform = a.platform "
                "AND risk_alerts.session_id = a.session_id "
                "AND risk_alerts.scenario = a.scenario AND risk_alerts.status = ? AND a.fresh",
                [AlertStatus.OPEN.value, now, AlertStatus.ACKNOWLEDGED.value],
            )
            # ...and, open now, it takes this patrol's figures with the open ones
            store.sql(
                "INSERT INTO risk_alerts (platform, session_id, scenario, shop_id, severity, "
                "probability, risk_score, evidence, status, raised_at, acknowledged_at, "
                "model_version) "
                "SELECT platform, session_id, scenario, shop_id, severity, probability, "
                "risk_score, evidence, ?, ?, NULL, model_version FROM _patrol_alerts "
                "ON CONFLICT (platform, session_id, scenario) DO UPDATE SET "
                "probability = excluded.probability, risk_score = excluded.risk_score, "
                "evidence = excluded.evidence, model_version = excluded.model_version, "
                "status = ?, raised_at = CASE WHEN risk_alerts.status = ? THEN ? "
                "ELSE risk_alerts.raised_at END "
                "WHERE risk_alerts.status IN (?, ?)",
                [AlertStatus.OPEN.value, now, AlertStatus.OPEN.value,
                 AlertStatus.WITHDRAWN.value, now, AlertStatus.OPEN.value,
                 AlertStatus.WITHDRAWN.value],
            )  # fmt: skip
        finally:
            store.con.unregister("_patrol_alerts")
    if not scanned.empty:
        store.con.register("_patrol_scanned", scanned)
        try:
            store.sql(
                "INSERT OR REPLACE INTO risk_patrol_log "
                "SELECT platform, session_id, messages_scanned, ?, ? FROM _patrol_scanned",
                [now, version],
            )
        finally:
            store.con.unregister("_patrol_scanned")
    return raised, reopened


def _status(status: AlertStatus | str) -> AlertStatus:
    try:
        return AlertStatus(status)
    except ValueError:
        raise InvalidParameterError(
            "The `status` parameter of `alert_queue` must be one of "
            f"{[s.value for s in AlertStatus]} or None. Got {status!r} instead."
        ) from None


def _scenario(scenario: RiskLabel | str, func: str = "acknowledge") -> RiskLabel:
    """The risk scenario named, in any letter case and with spaces around it allowed
    (``Refund_Dispute``, `` legal_threat``), as supervisors type them."""
    try:
        return RiskLabel(scenario.strip().lower() if isinstance(scenario, str) else scenario)
    except ValueError:
        raise InvalidParameterError(
            f"The `scenario` parameter of `{func}` must be a risk scenario, one of "
            f"{[s.value for s in RiskLabel]}, or None for all. Got {scenario!r} instead."
        ) from None


def _severity(severity: Severity | str) -> Severity:
    try:
        return Severity(severity)
    except ValueError:
        raise InvalidParameterError(
            "The `severity` parameter of `alert_queue` must be one of "
            f"{[s.value for s in Severity]} or None. Got {severity!r} instead."
        ) from None


def _utc_now() -> dt.datetime:
    """Now in UTC, without zone (the store's convention for ``*_at`` columns)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)
