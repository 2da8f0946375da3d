"""The customer-chat risk classifier: which conversations a supervisor must read first, and why.

Multi-label over :class:`~features.schema.vocab.RiskLabel`, in two stages.

* **Message stage.** Each buyer message is read as character n-grams (1–3, TF-IDF; Chinese
  needs no word segmentation) and scored by one logistic regression per scenario, learnt
  from the labelling functions' votes (weak supervision, :mod:`features.risk_rules`): the
  regression picks up the n-grams around the rules' words and scores wordings the rules
  never listed. A long message is also read clause by clause and scores, per scenario, the
  highest of itself and its clauses, so a risk sentence after a paragraph of complaints is
  not diluted away (the regressions still learn from whole messages, which the votes
  label). A conversation's message score is the highest of its buyer messages, so a
  risk that appears only in the third message still counts; the messages that score at
  least half as high as the best are the evidence.
* **Conversation stage** (:meth:`RiskClassifier.fit_conversations`). Learnt from
  hand-labelled conversations: per scenario, a logistic regression over the message
  scores, the rules' votes on the whole buyer side and its n-grams. It learns what the
  readers mean by the soft scenarios (when anger is "extreme", when a contact is a repeat)
  that the rules only approximate.

Agent turns are context only: never scored, so an agent writing "投诉工单" raises nothing.
Per-scenario thresholds are chosen on hand-labelled conversations
(:func:`choose_thresholds`, on :meth:`RiskClassifier.held_out_probabilities`); without any,
each stays at ``config.default_threshold``. The stages weigh rare positives up, so their
scores overstate how often a scenario is real: :meth:`RiskClassifier.calibrate` learns, from
the same held-out scores, the probability each score stands for (Platt scaling), and that
is what an assessment shows and ranks by; the thresholds apply to the scores, so calibration
changes no decision. Scoring is two sparse products per stage and
the rules over the buyer side: a conversation takes a few milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Self

import numpy as np

from features.chats import Conversation, chat_text
from features.errors import InvalidParameterError, NotFittedError
from features.risk_rules import LABELLING_FUNCTIONS, labelling_votes
from features.schema.vocab import RiskLabel, Severity
from models.risk_metrics import RiskReport, risk_report

#: Name the model is registered under in MLflow.
REGISTERED_NAME = "butler-chat-risk"

LABELS: tuple[RiskLabel, ...] = tuple(RiskLabel)
_RULES = {lf.label: lf for lf in LABELLING_FUNCTIONS}
_MIN_EVIDENCE_SCORE = 0.05  # below it the message stage has no opinion on the scenario
_SEVERITY_WEIGHT = {Severity.HIGH: 1.0, Severity.MEDIUM: 0.6}


@dataclass(frozen=True, slots=True)
class RiskConfig:
    """Settings of the classifier; ``version`` changes whenever their meaning does.

    Attributes:
        ngram_range: character n-gram lengths.
        min_df: an n-gram must occur in this many training messages to count.
        max_features: most n-grams kept (by frequency).
        c: inverse regularisation strength of each logistic regression.
        class_weight: ``"balanced"`` weighs the rare positive messages up.
        min_positives: a scenario with fewer weakly labelled messages gets no model (it
            then never fires) and is reported as untrained.
        default_threshold: probability over which a scenario is raised, until a development
            set chooses per-scenario thresholds.
        min_recall_high: thresholds of high-severity scenarios keep at least this recall on
            the labelled set where that is reachable at ``min_precision_high``.
        min_precision_high: the precision a high-severity scenario may not drop below to
            reach ``min_recall_high``.
        conversation_c: inverse regularisation of the conversation stage's regressions.
        conversation_min_positives: hand-labelled conversations a scenario needs before the
            conversation stage takes it over; rarer ones keep the message stage, whose
            rules cover them better than a handful of examples.
        conversation_max_features: n-grams the conversation stage keeps.
        clause_min_chars: a buyer message longer than this (normalised) is also read clause
            by clause, and each scenario takes the highest score of the message and its
            clauses: one TF-IDF vector over a long message dilutes a risk sentence inside
            it. ``0`` reads whole messages only.
        clause_merge_chars: a clause shorter than this joins the next one (the last joins
            the one before), so "好的," or "在吗?" is not read alone.
        clause_max_chars: a clause longer than this (no punctuation in it) is also read in
            windows of this many characters, each overlapping the next by half; ``0`` for
            none.
    """

    ngram_range: tuple[int, int] = (1, 3)
    min_df: int = 2
    max_features: int = 300_000
    c: float = 4.0
    class_weight: str | None = "balanced"
    min_positives: int = 5
    default_threshold: float = 0.5
    min_recall_high: float = 0.85
    min_precision_high: float = 0.5
    conversation_c: float = 4.0
    conversation_min_positives: int = 30
    conversation_max_features: int = 100_000
    # 2026.11.5: the labelling functions, whose votes the conversation stage reads, changed
    # 2026.11.6: messages over clause_min_chars are also read clause by clause (a clause
    # counts where a rule recognises its scenario), and chat_text reads HTML and [图片]
    version: str = "2026.11.6"
    # after ``version``: a config pickled without them restores positionally, leaves them
    # unset, and such a model reads whole messages as it did (``_clause_reading``)
    clause_min_chars: int = 20
    clause_merge_chars: int = 4
    clause_max_chars: int = 40

    def __post_init__(self) -> None:
        for name in ("clause_min_chars", "clause_merge_chars", "clause_max_chars"):
            if getattr(self, name) < 0:
                raise InvalidParameterError(
                    f"The `{name}` parameter of `RiskConfig` must be 0 or more. "
                    f"Got {getattr(self, name)} instead."
                )

    def to_params(self) -> dict[str, str | float | int]:
        """Flat parameters for experiment tracking."""
        out = asdict(self)
        out["ngram_range"] = f"{self.ngram_range[0]}-{self.ngram_range[1]}"
        out["class_weight"] = str(self.class_weight)
        return out


@dataclass(frozen=True, slots=True)
class RiskFinding:
    """One scenario raised on a conversation."""

    scenario: RiskLabel
    probability: float
    severity: Severity
    evidence: list[int] = field(default_factory=list)  # message indices in the conversation


@dataclass(frozen=True, slots=True)
class RiskAssessment:
    """What the classifier found in one conversation.

    Attributes:
        session_id: the conversation's id.
        platform: its platform, when known.
        risks: the scenarios over their thresholds, highest probability first.
        risk_score: 0–1 for ranking: the highest severity-weighted probability, nudged up
            by each further scenario raised.
        probabilities: every scenario's probability, raised or not.
    """

    session_id: str
    platform: str | None
    risks: list[RiskFinding]
    risk_score: float
    probabilities: dict[str, float]


def severity_weighted(probabilities: np.ndarray) -> np.ndarray:
    """Probabilities (… × ``LABELS``) weighted by severity: how urgent each alert is."""
    return probabilities * np.array([_SEVERITY_WEIGHT[label.severity] for label in LABELS])


def risk_score(probabilities: np.ndarray, raised: np.ndarray) -> float:
    """Severity-weighted score of one conversation: max weighted p, +5% per further risk."""
    weighted = severity_weighted(probabilities)
    if not raised.any():
        return float(weighted.max(initial=0.0) * 0.5)  # unraised risks rank below raised ones
    best = float(weighted[raised].max())
    extra = int(raised.sum()) - 1
    return min(1.0, 0.5 + 0.5 * best + 0.05 * extra)


@dataclass(frozen=True, slots=True)
class _Stacked:
    """The conversation stage's regressions as one matrix product: the scenarios it took
    over (``columns``), their weights side by side (features × scenarios) and intercepts.

    Stacked once at fit, not per call: for one conversation, stacking the ~100k-long weight
    vectors took more time than scoring it (evaluation/RESULTS.md).
    """

    columns: list[int]
    weights: np.ndarray
    intercepts: np.ndarray

    @classmethod
    def of(cls, models: dict[int, tuple[np.ndarray, float]]) -> _Stacked:
        columns = list(models)
        if not columns:
            return cls(columns=[], weights=np.zeros((0, 0)), intercepts=np.zeros(0))
        return cls(
            columns=columns,
            weights=np.column_stack([models[j][0] for j in columns]),
            intercepts=np.array([models[j][1] for j in columns]),
        )


class RiskClassifier:
    """Character n-gram logistic regressions over buyer messages, one per scenario.

    Examples:
        >>> model = RiskClassifier().fit(conversations)  # doctest: +SKIP
        >>> model.assess([conversation])[0].risks  # doctest: +SKIP
    """

    def __init__(self, config: RiskConfig | None = None) -> None:
        self.config = config or RiskConfig()

    # -- training ---------------------------------------------------------------------------

    def fit(self, conversations: Sequence[Conversation]) -> Self:
        """Learn from the buyer messages of ``conversations``, weakly labelled by the rules.

        Raises:
            InvalidParameterError: there are no buyer messages to learn from.
        """
        texts = [chat_text(t) for c in conversations for _, t in c.buyer_turns()]
        return self.fit_messages(texts, labelling_votes(texts))

    def _vectoriser(self, max_features: int, n_texts: int) -> Any:
        """Character n-gram TF-IDF over ``chat_text`` (already lower-case)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        return TfidfVectorizer(
            analyzer="char",
            ngram_range=self.config.ngram_range,
            min_df=min(self.config.min_df, n_texts),
            max_features=max_features,
            sublinear_tf=True,
            dtype=np.float32,
            lowercase=False,
        )

    def fit_messages(
        self, texts: list[str], labels: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> Self:
        """Learn from normalised buyer messages and their labels (messages × ``LABELS``).

        ``sample_weight`` weighs messages, e.g. hand-labelled ones above weakly labelled ones.

        Raises:
            InvalidParameterError: no messages, or a label matrix of the wrong shape.
        """
        from sklearn.linear_model import LogisticRegression

        cfg = self.config
        if not texts:
            raise InvalidParameterError("There are no buyer messages to learn from.")
        if labels.shape != (len(texts), len(LABELS)):
            raise InvalidParameterError(
                f"labels must be {len(texts)} × {len(LABELS)}, got {labels.shape}."
            )
        vectoriser = self._vectoriser(cfg.max_features, len(texts))
        x = vectoriser.fit_transform(texts)
        weights = np.zeros((x.shape[1], len(LABELS)), dtype=np.float64)
        intercepts = np.full(len(LABELS), -30.0)  # untrained scenarios never fire
        positives = (labels > 0).sum(axis=0)
        trained = []
        for j, label in enumerate(LABELS):
            if positives[j] < cfg.min_positives or positives[j] == len(texts):
                continue
            lr = LogisticRegression(
                C=cfg.c, class_weight=cfg.class_weight, solver="liblinear", max_iter=200
            )
            lr.fit(x, labels[:, j], sample_weight=sample_weight)
            weights[:, j] = lr.coef_[0]
            intercepts[j] = lr.intercept_[0]
            trained.append(label)
        self.vectoriser_ = vectoriser
        self.weights_ = weights
        self.intercepts_ = intercepts
        self.trained_labels_ = trained
        self.thresholds_ = {label: cfg.default_threshold for label in LABELS}
        self.training_counts_ = {
            label.value: int(n) for label, n in zip(LABELS, positives, strict=True)
        }
        self.n_messages_ = len(texts)
        return self

    # -- scoring -----------------------------------------------------------------------------

    def _check(self) -> None:
        if not hasattr(self, "weights_"):
            raise NotFittedError("The risk classifier is not fitted; call fit() first.")

    def message_probabilities(self, texts: list[str]) -> np.ndarray:
        """Probabilities of normalised buyer messages, messages × ``LABELS``.

        A message longer than ``config.clause_min_chars`` scores, per scenario, the highest
        of the whole message and those of its clauses (:func:`clauses`) in which a labelling
        function recognises the scenario, so "…客服也不回消息，再不退款我就找律师起诉"
        scores as its last clause does. Scoring, the conversation stage's
        training and the evidence all read these scores, one row per message.
        """
        self._check()
        if not texts:
            return np.zeros((0, len(LABELS)))
        out = self._probabilities(texts)
        min_chars, merge_chars, max_chars = _clause_reading(self.config)
        if min_chars:
            owners: list[int] = []
            parts: list[str] = []
            for i, text in enumerate(texts):
                if len(text) > min_chars:
                    found = clauses(text, merge_chars=merge_chars, max_chars=max_chars)
                    owners.extend([i] * len(found))
                    parts.extend(found)
            if parts:
                # a clause counts alone only for a scenario a rule recognises in it: read
                # alone, a short clause ("太过分了,") scores noise, and a scenario with a low
                # threshold (legal threat, chosen on 5 examples) would take it as an alert
                found = self._probabilities(parts) * (labelling_votes(parts) > 0)
                np.maximum.at(out, np.array(owners), found)
        return out

    def _probabilities(self, texts: list[str]) -> np.ndarray:
        z = self.vectoriser_.transform(texts) @ self.weights_ + self.intercepts_
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def _message_scores(
        self, conversations: Sequence[Conversation]
    ) -> tuple[np.ndarray, list[list[int]], np.ndarray, list[str], list[str]]:
        """Message stage: each conversation's max over its buyer messages, the messages' own
        scores, their indices, the joined buyer text the conversation stage reads, and the
        messages' normalised texts."""
        indices = [[i for i, _ in c.buyer_turns()] for c in conversations]
        texts = [chat_text(t) for c in conversations for _, t in c.buyer_turns()]
        per_message = self.message_probabilities(texts)
        out = np.zeros((len(conversations), len(LABELS)))
        joined = []
        start = 0
        for k, idx in enumerate(indices):
            if idx:
                out[k] = per_message[start : start + len(idx)].max(axis=0)
            joined.append(" | ".join(texts[start : start + len(idx)]))
            start += len(idx)
        return out, indices, per_message, joined, texts

    @staticmethod
    def _conversation_features(message_max: np.ndarray, joined: list[str], vectoriser: Any) -> Any:
        from scipy import sparse

        clipped = np.clip(message_max, 1e-4, 1 - 1e-4)
        votes = labelling_votes(joined)  # the rules on the whole buyer side
        dense = np.hstack([np.log(clipped / (1 - clipped)), votes])
        return sparse.hstack([sparse.csr_matrix(dense), vectoriser.transform(joined)]).tocsr()

    def _fit_conversation_stage(
        self, message_max: np.ndarray, joined: list[str], labels: np.ndarray
    ) -> tuple[Any, dict[int, tuple[np.ndarray, float]]]:
        """The conversation stage's vectoriser and, per scenario it takes over, its weights."""
        from sklearn.linear_model import LogisticRegression

        cfg = self.config
        vectoriser = self._vectoriser(cfg.conversation_max_features, len(joined)).fit(joined)
        x = self._conversation_features(message_max, joined, vectoriser)
        models: dict[int, tuple[np.ndarray, float]] = {}
        for j in range(len(LABELS)):
            positives = int(labels[:, j].sum())
            if positives < cfg.conversation_min_positives or positives == len(labels):
                continue
            # liblinear, as in the message stage: on these few thousand wide rows it fits in
            # an eighth of lbfgs's time to the same figures (evaluation/RESULTS.md)
            lr = LogisticRegression(
                C=cfg.conversation_c,
                class_weight=cfg.class_weight,
                solver="liblinear",
                max_iter=200,
            ).fit(x, labels[:, j])
            models[j] = (lr.coef_[0], float(lr.intercept_[0]))
        return vectoriser, models

    def _apply_conversation_stage(
        self, message_max: np.ndarray, joined: list[str], vectoriser: Any, stage: _Stacked
    ) -> np.ndarray:
        if not stage.columns or not len(joined):
            return message_max
        x = self._conversation_features(message_max, joined, vectoriser)
        z = x @ stage.weights + stage.intercepts
        out = message_max.copy()
        out[:, stage.columns] = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        return out

    def _check_labels(self, conversations: Sequence[Conversation], labels: np.ndarray) -> None:
        self._check()
        if labels.shape != (len(conversations), len(LABELS)):
            raise InvalidParameterError(
                f"labels must be {len(conversations)} × {len(LABELS)}, got {labels.shape}."
            )

    @property
    def undetected_labels(self) -> list[RiskLabel]:
        """Scenarios the fitted model can never raise: too few weakly labelled messages for
        the message stage, and no conversation-stage regression either."""
        self._check()
        taken = set(getattr(self, "conversation_models_", {}))
        return [
            label
            for j, label in enumerate(LABELS)
            if label not in self.trained_labels_ and j not in taken
        ]

    def fit_conversations(self, conversations: Sequence[Conversation], labels: np.ndarray) -> Self:
        """Conversation stage: learn, from hand-labelled conversations, how the message
        scores, the rules' votes and the n-grams of the whole buyer side map to each label.

        Fit the message stage first, on messages that exclude these conversations, so that
        the scores it learns from are the ones it will see on new conversations. A scenario
        with fewer than ``conversation_min_positives`` labelled conversations keeps the
        message stage.

        Raises:
            InvalidParameterError: labels of the wrong shape.
        """
        self._check_labels(conversations, labels)
        message_max, _, _, joined, _ = self._message_scores(conversations)
        self.conversation_vectoriser_, self.conversation_models_ = self._fit_conversation_stage(
            message_max, joined, labels
        )
        self.conversation_stage_ = _Stacked.of(self.conversation_models_)
        self.n_conversations_ = len(conversations)
        return self

    def held_out_probabilities(
        self,
        conversations: Sequence[Conversation],
        labels: np.ndarray,
        *,
        folds: int = 5,
        seed: int = 0,
    ) -> np.ndarray:
        """Each labelled conversation's probabilities from a conversation stage that did not
        learn from it (``folds``-fold), for choosing thresholds on the whole labelled set.

        The message stage must not have learnt from these conversations either. The model
        itself is left as it is.

        Raises:
            InvalidParameterError: labels of the wrong shape, or fewer conversations than
                folds.
        """
        self._check_labels(conversations, labels)
        if len(conversations) < folds:
            raise InvalidParameterError(
                f"{len(conversations)} conversations cannot be split into {folds} folds."
            )
        message_max, _, _, joined, _ = self._message_scores(conversations)
        fold_of = np.random.default_rng(seed).permutation(len(conversations)) % folds
        out = message_max.copy()
        for k in range(folds):
            learn, score = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
            vectoriser, models = self._fit_conversation_stage(
                message_max[learn], [joined[i] for i in learn], labels[learn]
            )
            out[score] = self._apply_conversation_stage(
                message_max[score], [joined[i] for i in score], vectoriser, _Stacked.of(models)
            )
        return out

    def calibrate(self, scores: np.ndarray, labels: np.ndarray, *, min_examples: int = 10) -> Self:
        """Learn the probability each scenario's score stands for (Platt scaling).

        Per scenario, a logistic regression on the score's log-odds, fitted on scores the
        model gave labelled conversations it did not learn from
        (:meth:`held_out_probabilities`). The mapping only rises, and the thresholds stay on
        the scores, so the same scenarios are raised as before; what changes is the
        probability an assessment shows (an alert shown at 0.8 should be right about 4 times
        in 5 on conversations like the labelled ones) and the ranking across scenarios. A
        scenario with fewer than ``min_examples`` positive or negative conversations keeps
        its score as its probability.

        Args:
            scores: conversations × ``LABELS`` held-out scores.
            labels: conversations × ``LABELS`` 0/1 truth.

        Raises:
            InvalidParameterError: scores and labels of different shapes.
        """
        from sklearn.linear_model import LogisticRegression

        self._check()
        if scores.shape != labels.shape or scores.shape[1:] != (len(LABELS),):
            raise InvalidParameterError(
                f"scores and labels must both be conversations × {len(LABELS)}; got "
                f"{scores.shape} and {labels.shape}."
            )
        z = _log_odds(scores)
        calibration = np.tile([1.0, 0.0], (len(LABELS), 1))  # slope, intercept: identity
        for j in range(len(LABELS)):
            positives = int(labels[:, j].sum())
            if min(positives, len(labels) - positives) < min_examples:
                continue
            lr = LogisticRegression(C=1e4).fit(z[:, [j]], labels[:, j])
            slope, intercept = float(lr.coef_[0, 0]), float(lr.intercept_[0])
            if slope > 0:  # a falling map would reorder the scores: keep the score
                calibration[j] = slope, intercept
        self.calibration_ = calibration
        return self

    def calibrated(self, scores: np.ndarray) -> np.ndarray:
        """The probabilities scores (… × ``LABELS``) stand for (:meth:`calibrate`); the
        scores themselves for a model never calibrated."""
        calibration = getattr(self, "calibration_", None)
        if calibration is None:
            return scores
        z = _log_odds(scores) * calibration[:, 0] + calibration[:, 1]
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def conversation_probabilities(
        self, conversations: Sequence[Conversation]
    ) -> tuple[np.ndarray, list[list[int]], np.ndarray]:
        """Per conversation, each scenario's score: what the thresholds apply to
        (:meth:`calibrated` turns it into a probability).

        The conversation stage's where it was fitted for the scenario, else the highest
        score of the conversation's buyer messages.

        Returns:
            conversations × ``LABELS`` probabilities, each conversation's buyer message
            indices, and the messages' own scores (all conversations' buyer messages
            stacked in order).
        """
        out, indices, per_message, _ = self._scores(conversations)
        return out, indices, per_message

    def _scores(
        self, conversations: Sequence[Conversation]
    ) -> tuple[np.ndarray, list[list[int]], np.ndarray, list[str]]:
        out, indices, per_message, joined, texts = self._message_scores(conversations)
        stage = getattr(self, "conversation_stage_", None)
        if stage is None and getattr(self, "conversation_models_", None):
            # a model saved before the stacked weights were kept: stack them once
            stage = self.conversation_stage_ = _Stacked.of(self.conversation_models_)
        if stage is not None:
            out = self._apply_conversation_stage(out, joined, self.conversation_vectoriser_, stage)
        return out, indices, per_message, texts

    def assess(self, conversations: Sequence[Conversation]) -> list[RiskAssessment]:
        """The scenarios raised on each conversation, with evidence and a ranking score."""
        scores, indices, per_message, texts = self._scores(conversations)
        probs = self.calibrated(scores)
        thresholds = np.array([self.thresholds_[label] for label in LABELS])
        out = []
        start = 0
        for k, conv in enumerate(conversations):
            rows = per_message[start : start + len(indices[k])]
            said = texts[start : start + len(indices[k])]
            start += len(indices[k])
            raised = (scores[k] >= thresholds) & bool(indices[k])  # agent-only: nothing
            risks = []
            for j in np.flatnonzero(raised):
                evidence = _evidence(rows[:, j], indices[k], said, LABELS[j])
                risks.append(
                    RiskFinding(
                        scenario=LABELS[j],
                        probability=round(float(probs[k, j]), 4),
                        severity=LABELS[j].severity,
                        evidence=evidence,
                    )
                )
            risks.sort(key=lambda r: (r.severity is not Severity.HIGH, -r.probability))
            out.append(
                RiskAssessment(
                    session_id=conv.session_id,
                    platform=conv.platform,
                    risks=risks,
                    risk_score=round(risk_score(probs[k], raised), 4),
                    probabilities={
                        label.value: round(float(p), 4)
                        for label, p in zip(LABELS, probs[k], strict=True)
                    },
                )
            )
        return out

    def report(self, conversations: Sequence[Conversation], labels: np.ndarray) -> RiskReport:
        """Figures on labelled conversations at the current thresholds (alerts ranked by
        severity-weighted probability, as :meth:`assess` ranks them)."""
        scores, _, _ = self.conversation_probabilities(conversations)
        thresholds = np.array([self.thresholds_[label] for label in LABELS])
        probabilities = self.calibrated(scores)
        return risk_report(
            labels, scores >= thresholds, severity_weighted(probabilities), probabilities
        )

    def set_thresholds(self, thresholds: dict[RiskLabel, float]) -> Self:
        """Use these per-scenario thresholds (others keep theirs)."""
        self._check()
        for label, value in thresholds.items():
            if not 0.0 < value < 1.0:
                raise InvalidParameterError(
                    f"The threshold of {label} must be in (0, 1). Got {value} instead."
                )
        for label, value in thresholds.items():
            self.thresholds_[RiskLabel(label)] = float(value)
        return self

    @property
    def version_(self) -> str:
        """The config version and how much it learnt from (messages, hand conversations)."""
        self._check()
        hand = getattr(self, "n_conversations_", 0)
        return f"{self.config.version}+{self.n_messages_}msg+{hand}conv"


_CLAUSE = re.compile(r"[^。！？!?；;，,\s]+[。！？!?；;，,\s]*")  # a clause and the marks ending it


def clauses(text: str, *, merge_chars: int = 4, max_chars: int = 0) -> list[str]:
    """The clauses of a normalised message, split after sentence punctuation and spaces
    (:func:`~features.chats.chat_text` turns line breaks into spaces).

    A clause shorter than ``merge_chars`` joins the next one (the last joins the one
    before); a clause longer than ``max_chars`` (when not 0) is also given as windows of
    ``max_chars`` overlapping by half, so a sentence without punctuation is read in parts.
    A message of one clause has none: it is read whole.

    Examples:
        >>> clauses("好的,快递三天都没到,客服也不回,再不退款我就找律师起诉")
        ['好的,快递三天都没到,', '客服也不回,', '再不退款我就找律师起诉']
    """
    merged: list[str] = []
    carry = ""
    for part in _CLAUSE.findall(text):
        carry += part
        if len(carry.strip()) >= merge_chars:
            merged.append(carry.strip())
            carry = ""
    if carry.strip():
        if merged:
            merged[-1] += carry.rstrip()
        else:
            merged.append(carry.strip())
    out = merged if len(merged) > 1 else []
    if max_chars:
        step = max(max_chars // 2, 1)
        out += [
            clause[i : i + max_chars]
            for clause in merged
            if len(clause) > max_chars
            for i in range(0, len(clause) - step, step)
        ]
    return out


def _clause_reading(config: RiskConfig) -> tuple[int, int, int]:
    """The config's clause settings; a model pickled before they existed reads whole messages."""
    return (
        getattr(config, "clause_min_chars", 0),
        getattr(config, "clause_merge_chars", 4),
        getattr(config, "clause_max_chars", 0),
    )


def _evidence(
    scores: np.ndarray, indices: list[int], texts: list[str], label: RiskLabel
) -> list[int]:
    """The messages that drove a scenario: those its labelling function votes for, and those
    the message stage scores at least half as high as the best; the best one if none."""
    if not len(scores):
        return []
    rule = _RULES[label]
    best = float(scores.max())
    keep = [
        indices[i]
        for i in range(len(scores))
        if rule(texts[i]) or (best >= _MIN_EVIDENCE_SCORE and scores[i] >= best / 2)
    ]
    return keep or [indices[int(scores.argmax())]]


def _log_odds(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped))


def choose_thresholds(
    probabilities: np.ndarray,
    labels: np.ndarray,
    *,
    min_recall_high: float = 0.85,
    min_precision_high: float = 0.5,
    grid: np.ndarray | None = None,
) -> dict[RiskLabel, float]:
    """Per-scenario thresholds that maximise F1 on a labelled set.

    High-severity scenarios keep a recall of at least ``min_recall_high`` where some
    threshold reaches it with a precision of at least ``min_precision_high``: the best F1
    among those thresholds is taken. Where recall costs more precision than that, the
    best-F1 threshold is kept, because an alert that is wrong more often than right floods
    the supervisor's queue. Scenarios with no positive example in the set are left out
    (they keep their current threshold).

    Args:
        probabilities: conversations × ``LABELS`` scores.
        labels: conversations × ``LABELS`` 0/1 truth.
    """
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2) if grid is None else grid
    chosen: dict[RiskLabel, float] = {}
    for j, label in enumerate(LABELS):
        truth = labels[:, j].astype(bool)
        if not truth.any():
            continue
        best_f1: tuple[float, float] | None = None  # (f1, threshold)
        best_with_recall: tuple[float, float] | None = None
        for t in grid:
            pred = probabilities[:, j] >= t
            tp = float((pred & truth).sum())
            precision = tp / max(pred.sum(), 1)
            recall = tp / truth.sum()
            f1 = 2 * precision * recall / max(precision + recall, 1e-12)
            if best_f1 is None or f1 > best_f1[0]:
                best_f1 = (f1, float(t))
            if (
                recall >= min_recall_high
                and precision >= min_precision_high
                and (best_with_recall is None or f1 > best_with_recall[0])
            ):
                best_with_recall = (f1, float(t))
        use_floor = label.severity is Severity.HIGH and best_with_recall is not None
        chosen[label] = (best_with_recall if use_floor else best_f1)[1]  # type: ignore[index]
    return chosen
