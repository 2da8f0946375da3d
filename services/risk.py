"""Chat risk for supervisors: classify conversation files with the registered model.

``classify_file`` reads the JSONL contract of :mod:`features.chats` line by line, scores the
good lines in batches and writes each one back with ``risks`` and ``risk_score`` added; a
line that is not UTF-8, not JSON or breaks the contract is reported with its number and left
out. A line scored other than as written (shortened, roles guessed, an unknown platform read
as none) is reported with its number and how.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from features.chats import (
    JSONL_ERRORS,
    Conversation,
    LineNote,
    LineProblem,
    check_jsonl_layout,
    parse_conversation_line,
)
from features.settings import Settings
from features.text import CJK
from models.chat_risk import REGISTERED_NAME, RiskAssessment, RiskClassifier
from services.registry import ModelNotRegisteredError, load_registered, registered_version

#: Conversations scored per batch while classifying a file.
BATCH = 1_000


def load_risk_model(settings: Settings) -> RiskClassifier:
    """The registered chat risk classifier (``butler train risk`` registers it), if this
    Butler can run it.

    Raises:
        ModelNotRegisteredError: nothing is registered under the settings' alias, or the
            model was trained with another version of the classifier's settings.
    """
    return load_registered(settings, REGISTERED_NAME)


def patrol_label(settings: Settings, model: RiskClassifier) -> str:
    """How the patrol names the registered classifier in its alerts' ``model_version``: its
    registry version and its own (retrained on the same data, the own one repeats)."""
    found = registered_version(settings, REGISTERED_NAME)
    return f"v{found['version']} ({model.version_})"


def older_queue(settings: Settings, store: Any) -> int:
    """Open alerts of ``store`` that a classifier other than the registered one raised (0
    when none is registered): what a rescan would read again."""
    from services.risk_patrol import older_open_alerts

    try:
        found = registered_version(settings, REGISTERED_NAME)
    except ModelNotRegisteredError:
        return 0
    return older_open_alerts(store, f"v{found['version']} (")


def assessment_fields(assessment: RiskAssessment, *, first_message: int = 0) -> dict[str, Any]:
    """The fields a classified conversation gains: ``risks`` and ``risk_score``.

    ``first_message`` is the index, among the messages as sent, of the first message the
    classifier read (a file line shortened to its last messages): evidence indices then
    count the messages as sent.
    """
    return {
        "risks": [
            {
                "scenario": r.scenario.value,
                "probability": r.probability,
                "severity": r.severity.value,
                "evidence": [first_message + i for i in r.evidence],
            }
            for r in assessment.risks
        ],
        "risk_score": assessment.risk_score,
    }


@dataclass(frozen=True, slots=True)
class ClassifyReport:
    """What ``classify_file`` did."""

    scored: int
    flagged: int
    problems: list[LineProblem]
    #: lines scored whose buyer turns hold no Chinese (English, blank): the classifier
    #: learnt from Chinese customer service, so "no risk" there means "not read"
    not_chinese: tuple[int, ...] = ()
    #: lines scored, but not entirely as written (:attr:`features.chats.ReadLine.notes`)
    notes: tuple[LineNote, ...] = ()
    #: ``(line, session_id)`` of each scored line whose platform and session id an earlier
    #: scored line of the file has too; both lines are scored, as written
    repeated: tuple[tuple[int, str], ...] = ()


def classify_file(
    model: RiskClassifier,
    source: Path,
    target: Path,
) -> ClassifyReport:
    """Score every conversation of the JSONL ``source`` into the JSONL ``target``.

    Output lines keep every field of the input line, as given, and add ``risks`` and
    ``risk_score``, in input order. A line that cannot be scored (not UTF-8, not JSON, not a
    conversation) is left out of ``target`` and reported in :attr:`ClassifyReport.problems`.
    A line over the limits of an HTTP request is scored shortened (its last
    :data:`~features.chats.MAX_MESSAGES` messages, an over-long message's two ends) and
    reported in :attr:`ClassifyReport.notes`; its evidence indices count its messages as
    written. A session that appears on several lines is scored on each (a later export of a
    session usually holds more of it) and reported in :attr:`ClassifyReport.repeated`.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        UnreadableFileError: ``source`` is a JSON array or pretty-printed JSON, not JSONL.
    """
    check_jsonl_layout(source)
    problems: list[LineProblem] = []
    notes: list[LineNote] = []
    unread: list[int] = []
    seen: set[tuple[str | None, str]] = set()
    repeated: list[tuple[int, str]] = []
    scored = flagged = 0
    batch: list[tuple[Conversation, dict[str, Any], int]] = []

    def flush(out: Any) -> None:
        nonlocal scored, flagged
        for (_, payload, first), assessment in zip(
            batch, model.assess([c for c, _, _ in batch]), strict=True
        ):
            fields = assessment_fields(assessment, first_message=first)
            out.write(json.dumps(payload | fields, ensure_ascii=False))
            out.write("\n")
            scored += 1
            flagged += bool(assessment.risks)
        batch.clear()

    target.parent.mkdir(parents=True, exist_ok=True)
    # a line in another encoding (a GBK export pasted in) becomes that line's problem
    with (
        source.open(encoding="utf-8-sig", errors=JSONL_ERRORS) as handle,
        target.open("w", encoding="utf-8") as out,
    ):
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            read = parse_conversation_line(number, line)
            item = read.item
            if isinstance(item, LineProblem):
                problems.append(item)
                continue
            notes.extend(LineNote(number, note) for note in read.notes)
            key = (item.platform, item.session_id)
            if key in seen:
                repeated.append((number, item.session_id))
            seen.add(key)
            if not any(CJK.search(text) for _, text in item.buyer_turns()):
                unread.append(number)
            batch.append((item, read.payload, read.first_message))
            if len(batch) >= BATCH:
                flush(out)
        if batch:
            flush(out)
    return ClassifyReport(
        scored=scored,
        flagged=flagged,
        problems=problems,
        not_chinese=tuple(unread),
        notes=tuple(notes),
        repeated=tuple(repeated),
    )
