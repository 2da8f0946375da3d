"""`butler train risk`: conversations → labelled buyer messages → fit → thresholds → log, register.

Training data, all buyer messages (agent turns are never labelled):

* the store's conversations and, with ``pool``, the real chat pool, **weakly labelled** by
  the labelling functions of :mod:`features.risk_rules`;
* with ``pool``, the **hand-labelled training set** (:mod:`features.corpora`): a message is
  positive for a scenario when the reader named it as that scenario's evidence. These
  messages weigh ``config.hand_label_weight`` times a weak one.

With ``pool``, the per-scenario thresholds are chosen on the hand-labelled development set,
which is never trained on, and its figures are logged. The run logs the data sizes, the
config, the thresholds and the figures, and registers ``butler-chat-risk`` with the alias
the services load.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features.chats import Conversation, chat_text, store_conversations
from features.corpora import LabelledSet, labelled_ids, read_chat_pool, read_labelled_set
from features.risk_rules import labelling_votes
from features.settings import Settings
from features.store import Store
from models.chat_risk import (
    LABELS,
    REGISTERED_NAME,
    RiskClassifier,
    RiskConfig,
    choose_thresholds,
    severity_weighted,
)
from models.risk_metrics import RiskReport, risk_report
from training import tracking

logger = logging.getLogger(__name__)

EXPERIMENT = "chat-risk"


@dataclass(frozen=True, slots=True)
class RiskRun:
    """What one training run produced."""

    run_id: str
    registered: tracking.RegisteredModel
    sizes: dict[str, int]
    thresholds: dict[str, float]
    dev_report: RiskReport | None
    fit_seconds: float


def weak_messages(conversations: Sequence[Conversation]) -> tuple[list[str], np.ndarray]:
    """Normalised buyer messages and the labelling functions' votes on them."""
    texts = [chat_text(t) for c in conversations for _, t in c.buyer_turns()]
    return texts, labelling_votes(texts)


def hand_messages(labelled: LabelledSet) -> tuple[list[str], np.ndarray]:
    """Normalised buyer messages of a hand-labelled set, positive where they are evidence.

    A label given to a conversation without evidence marks all its buyer messages.
    """
    column = {label.value: j for j, label in enumerate(LABELS)}
    texts, rows = [], []
    for conv, evidence, truth in zip(
        labelled.conversations, labelled.evidence, labelled.labels, strict=True
    ):
        turns = conv.buyer_turns()
        for i, text in turns:
            row = np.zeros(len(LABELS), dtype=np.int8)
            for label, where in evidence.items():
                if i in where or not where:
                    row[column[label]] = 1
            texts.append(chat_text(text))
            rows.append(row)
        missing = truth.astype(bool) & ~np.isin(
            np.arange(len(LABELS)), [column[k] for k in evidence]
        )
        if missing.any() and turns:  # labelled but no evidence entry: every buyer turn
            for row in rows[-len(turns) :]:
                row[missing] = 1
    return texts, np.array(rows, dtype=np.int8).reshape(-1, len(LABELS))


def train(
    settings: Settings, *, pool: Path | None = None, config: RiskConfig | None = None
) -> RiskRun:
    """Fit the chat risk classifier on the store's chats (and the pool's) and register it.

    Raises:
        InvalidParameterError: there is no buyer message to learn from.
        UnreadableFileError: ``pool`` lacks one of the pool's files.
    """
    cfg = config or RiskConfig()
    with Store.open(settings, read_only=True) as store:
        weak = store_conversations(store)
    sizes = {"store_conversations": len(weak)}
    hand: LabelledSet | None = None
    dev: LabelledSet | None = None
    if pool is not None:
        held_out = labelled_ids("dev") | labelled_ids("train")
        pool_conversations = read_chat_pool(pool, exclude=held_out)
        sizes["pool_conversations"] = len(pool_conversations)
        weak = [*weak, *pool_conversations]
        hand = read_labelled_set(pool, "train")
        dev = read_labelled_set(pool, "dev")
        sizes["hand_conversations"] = len(hand.conversations)
        sizes["dev_conversations"] = len(dev.conversations)
    texts, labels = weak_messages(weak)
    weights = np.ones(len(texts))
    sizes["weak_messages"] = len(texts)
    if hand is not None:
        hand_texts, hand_labels = hand_messages(hand)
        texts += hand_texts
        labels = np.vstack([labels, hand_labels])
        weights = np.concatenate([weights, np.full(len(hand_texts), cfg.hand_label_weight)])
        sizes["hand_messages"] = len(hand_texts)
    started = time.perf_counter()
    model = RiskClassifier(cfg).fit_messages(texts, labels, sample_weight=weights)
    report = None
    if dev is not None:
        probabilities, _, _ = model.conversation_probabilities(dev.conversations)
        model.set_thresholds(
            choose_thresholds(probabilities, dev.labels, min_recall_high=cfg.min_recall_high)
        )
        report = dev_report(model, dev)
    fit_seconds = time.perf_counter() - started
    thresholds = {label.value: t for label, t in model.thresholds_.items()}
    with tracking.run(settings, EXPERIMENT, run_name="chat-risk") as run_id:
        tracking.log_params(cfg.to_params() | {f"size_{k}": v for k, v in sizes.items()})
        tracking.log_dict(
            {"thresholds": thresholds, "weak_positives": model.training_counts_},
            "thresholds.json",
        )
        metrics = {"fit_seconds": fit_seconds}
        if report is not None:
            metrics |= {f"dev_{k}": v for k, v in report.summary().items()}
        tracking.log_metrics(metrics)
        registered = tracking.log_and_register(
            settings, model, name=REGISTERED_NAME, alias=settings.model_alias
        )
    return RiskRun(
        run_id=run_id,
        registered=registered,
        sizes=sizes,
        thresholds=thresholds,
        dev_report=report,
        fit_seconds=fit_seconds,
    )


def dev_report(model: RiskClassifier, dev: LabelledSet) -> RiskReport:
    """The model's figures on a labelled set, at its current thresholds."""
    probabilities, _, _ = model.conversation_probabilities(dev.conversations)
    thresholds = np.array([model.thresholds_[label] for label in LABELS])
    return risk_report(dev.labels, probabilities >= thresholds, severity_weighted(probabilities))
