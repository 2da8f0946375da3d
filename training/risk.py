"""`butler train risk`: conversations → labelled buyer messages → fit → thresholds → log, register.

* **Message stage**: the store's conversations and, with ``pool``, the real chat pool's,
  every buyer message **weakly labelled** by the labelling functions of
  :mod:`features.risk_rules` (agent turns are never labelled).
* **Conversation stage**, with ``pool``: the **hand-labelled training set**
  (:mod:`features.corpora`). Its conversations are kept out of the message stage, so the
  message scores this stage learns from are the kind it will see on new conversations.
* **Thresholds**, with ``pool``: chosen per scenario on the hand-labelled training set,
  each conversation scored by a conversation stage fitted without it (5-fold); the
  hand-labelled development set is never trained on nor used to choose anything, and its
  figures are logged.

The run logs the data sizes, the config, the thresholds and the figures, and registers
``butler-chat-risk`` with the alias the services load.
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
from features.errors import InvalidParameterError
from features.risk_rules import labelling_votes
from features.settings import Settings
from features.store import Store
from models.chat_risk import (
    LABELS,
    REGISTERED_NAME,
    RiskClassifier,
    RiskConfig,
    choose_thresholds,
)
from models.risk_metrics import RiskReport
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
    #: scenarios too rare in the training chats for the model to ever raise
    undetected: list[str]


def weak_messages(conversations: Sequence[Conversation]) -> tuple[list[str], np.ndarray]:
    """Normalised buyer messages and the labelling functions' votes on them."""
    texts = [chat_text(t) for c in conversations for _, t in c.buyer_turns()]
    return texts, labelling_votes(texts)


def train(
    settings: Settings,
    *,
    pool: Path | None = None,
    config: RiskConfig | None = None,
    promote: bool = True,
) -> RiskRun:
    """Fit the chat risk classifier on the store's chats (and the pool's) and register it
    (and, with ``promote``, point the alias the services load at it).

    Raises:
        InvalidParameterError: there is no buyer message to learn from.
        UnreadableFileError: ``pool`` lacks one of the pool's files.
    """
    cfg = config or RiskConfig()
    tracking.check_writable(settings)
    with Store.open(settings, read_only=True) as store:
        weak = store_conversations(store)
        newest = store.sql("SELECT max(sent_at)::DATE FROM chat_messages").fetchall()[0][0]
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
    if not texts:
        n = sizes["store_conversations"]
        held = (
            f"the store's {n:,} conversations hold no buyer message (only the agents'; check "
            "the exports' sender or role column)"
            if n
            else "the store holds no customer chats"
        )
        raise InvalidParameterError(
            f"There are no buyer messages to learn from: {held}. Ingest the platforms' chat "
            "exports (`butler ingest`), or add the real chat pool with --pool "
            "../shared/data/chats."
        )
    sizes["weak_messages"] = len(texts)
    started = time.perf_counter()
    model = RiskClassifier(cfg).fit_messages(texts, labels)
    report = None
    if hand is not None and dev is not None:
        # thresholds from the hand-labelled set, scored by a stage that did not learn each
        # conversation: its thousands of conversations choose them more steadily than 400
        # would, and the development set stays unseen until it is scored
        held_out = model.held_out_probabilities(hand.conversations, hand.labels)
        model.fit_conversations(hand.conversations, hand.labels)
        model.set_thresholds(
            choose_thresholds(
                held_out,
                hand.labels,
                min_recall_high=cfg.min_recall_high,
                min_precision_high=cfg.min_precision_high,
            )
        )
        model.calibrate(held_out, hand.labels)
        report = model.report(dev.conversations, dev.labels)
    fit_seconds = time.perf_counter() - started
    thresholds = {label.value: t for label, t in model.thresholds_.items()}
    with tracking.run(settings, EXPERIMENT, run_name="chat-risk") as run_id:
        tracking.log_params(cfg.to_params() | {f"size_{k}": v for k, v in sizes.items()})
        tracking.log_trained_on(
            f"{sizes['store_conversations']:,} store chats"
            + (f" to {newest}" if newest else "")
            + (f" + {sizes['pool_conversations']:,} pool chats" if pool is not None else "")
        )
        tracking.log_dict(
            {
                "thresholds": thresholds,
                "weak_positives": model.training_counts_,
                # slope and intercept on the score's log-odds per scenario (identity: 1, 0)
                "calibration": {
                    label.value: [round(float(v), 6) for v in row]
                    for label, row in zip(LABELS, getattr(model, "calibration_", []), strict=False)
                },
            },
            "thresholds.json",
        )
        metrics = {"fit_seconds": fit_seconds, "undetected_scenarios": len(model.undetected_labels)}
        if report is not None:
            metrics |= {f"dev_{k}": v for k, v in report.summary().items()}
        tracking.log_metrics(metrics)
        registered = tracking.log_and_register(
            settings, model, name=REGISTERED_NAME, alias=settings.model_alias if promote else None
        )
    return RiskRun(
        run_id=run_id,
        registered=registered,
        sizes=sizes,
        thresholds=thresholds,
        dev_report=report,
        fit_seconds=fit_seconds,
        undetected=[label.value for label in model.undetected_labels],
    )
