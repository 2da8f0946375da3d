"""The chat risk classifier against the hand-labelled development set, next to keyword rules.

One call scores both on the same conversations, so the figures come from one run:
per-label precision, recall and F1, macro and micro F1, the precision of the top 20
alerts, whether the evidence points at a message the reader named, and speed —
throughput in buyer-and-agent messages per second over the whole set in batches, and
the latency of one conversation scored alone (p50, p99).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.chats import Conversation, chat_text
from features.corpora import LabelledSet
from features.errors import ContractViolation, UnreadableFileError
from features.risk_rules import keyword_votes
from models.chat_risk import LABELS, RiskClassifier, choose_thresholds, severity_weighted
from models.risk_metrics import RiskReport, risk_report


@dataclass(frozen=True, slots=True)
class RiskEvaluation:
    """The model and the keyword rules on one labelled set, with speed figures.

    Attributes:
        model: at the model's own thresholds (chosen on the development set by training:
            on that set, in-sample).
        held_out_thresholds: thresholds chosen on one half of the set and scored on the
            other, both ways round — the figure to expect on conversations whose labels
            chose nothing.
        keywords: the keyword rules.
    """

    model: RiskReport
    held_out_thresholds: RiskReport
    keywords: RiskReport
    evidence_hit_rate: float
    messages: int
    messages_per_second: float
    p50_ms: float
    p99_ms: float


def keyword_predictions(labelled: LabelledSet) -> np.ndarray:
    """The keyword rules per conversation: a scenario when any buyer message has a keyword."""
    out = np.zeros((len(labelled.conversations), len(LABELS)), dtype=np.int8)
    for k, conv in enumerate(labelled.conversations):
        texts = [chat_text(t) for _, t in conv.buyer_turns()]
        if texts:
            out[k] = keyword_votes(texts).max(axis=0)
    return out


def evidence_hit_rate(model: RiskClassifier, labelled: LabelledSet) -> float:
    """Share of correctly raised scenarios whose evidence includes a reader-named message."""
    hits = total = 0
    for assessment, truth in zip(
        model.assess(labelled.conversations), labelled.evidence, strict=True
    ):
        for risk in assessment.risks:
            named = truth.get(risk.scenario.value)
            if named:
                total += 1
                hits += bool(set(named) & set(risk.evidence))
    return hits / total if total else float("nan")


def held_out_threshold_report(
    model: RiskClassifier, labelled: LabelledSet, *, seed: int = 0
) -> RiskReport:
    """Figures with thresholds chosen on one random half and applied to the other, both ways."""
    probabilities, _, _ = model.conversation_probabilities(labelled.conversations)
    order = np.random.default_rng(seed).permutation(len(labelled.conversations))
    halves = (order[: len(order) // 2], order[len(order) // 2 :])
    predicted = np.zeros_like(labelled.labels)
    for choose_on, apply_to in (halves, halves[::-1]):
        chosen = choose_thresholds(
            probabilities[choose_on],
            labelled.labels[choose_on],
            min_recall_high=model.config.min_recall_high,
            min_precision_high=model.config.min_precision_high,
        )
        thresholds = np.array([chosen.get(label, model.thresholds_[label]) for label in LABELS])
        predicted[apply_to] = probabilities[apply_to] >= thresholds
    shown = model.calibrated(probabilities)
    return risk_report(labelled.labels, predicted, severity_weighted(shown), shown)


def read_truth(path: str | Path) -> pd.DataFrame:
    """A chat truth CSV (``platform, session_id`` and one 0/1 column per label).

    Raises:
        UnreadableFileError: the file is missing, empty or not CSV.
    """
    path = Path(path)
    if not path.is_file():
        raise UnreadableFileError(f"{path}: no such file. Check the path and try again.")
    try:
        return pd.read_csv(path, dtype={"platform": str, "session_id": str})
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableFileError(
            f"{path}: cannot be read as a UTF-8 CSV with a header row ({problem})."
        ) from exc


def truth_set(conversations: list[Conversation], truth: pd.DataFrame) -> LabelledSet:
    """Conversations labelled by a truth table (platform, session_id, one 0/1 column per label).

    The sample world writes one (``_truth/chats_truth.csv``); sessions without a truth row
    are left out.

    Raises:
        ContractViolation: the table lacks platform, session_id or a label column.
    """
    needed = ["platform", "session_id", *(label.value for label in LABELS)]
    missing = [c for c in needed if c not in truth.columns]
    if missing:
        raise ContractViolation(f"The truth table lacks the columns {', '.join(missing)}.")
    rows = truth.astype({"platform": str, "session_id": str}).set_index(["platform", "session_id"])
    kept = [c for c in conversations if (c.platform, c.session_id) in rows.index]
    if not kept:
        raise ContractViolation(
            f"None of the store's {len(conversations):,} conversations has a row in the truth "
            "table (matched on platform and session_id). Use the truth file of the sample "
            "world this store was loaded from."
        )
    labels = rows.loc[[(c.platform, c.session_id) for c in kept], needed[2:]]
    return LabelledSet(
        conversations=kept,
        labels=labels.to_numpy(dtype=np.int8),
        evidence=[{} for _ in kept],
        source=["store"] * len(kept),
    )


def evaluate(model: RiskClassifier, labelled: LabelledSet, *, repeats: int = 3) -> RiskEvaluation:
    """Score the model and the keyword rules on ``labelled``; time the model."""
    conversations = labelled.conversations
    messages = sum(len(c.messages) for c in conversations)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        model.assess(conversations)
        best = min(best, time.perf_counter() - started)
    latencies = []
    for conv in conversations:
        started = time.perf_counter()
        model.assess([conv])
        latencies.append((time.perf_counter() - started) * 1000)
    model_report = model.report(conversations, labelled.labels)
    held_out = held_out_threshold_report(model, labelled)
    keywords = keyword_predictions(labelled)
    keyword_report = risk_report(labelled.labels, keywords, severity_weighted(keywords * 1.0))
    return RiskEvaluation(
        model=model_report,
        held_out_thresholds=held_out,
        keywords=keyword_report,
        evidence_hit_rate=evidence_hit_rate(model, labelled),
        messages=messages,
        messages_per_second=messages / best,
        p50_ms=float(np.percentile(latencies, 50)),
        p99_ms=float(np.percentile(latencies, 99)),
    )
