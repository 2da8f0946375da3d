"""The offline planner's intent model: which tool an operator's question calls for.

Character n-grams (1–3) of the normalised question, TF-IDF weighted, into a multinomial
logistic regression: Chinese needs no word segmentation this way, and English words,
SKU-like ids and mixed text all reduce to the same features. Trained on written example
questions (``training/planner.py``), never on the evaluation question set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Self

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from features.errors import InvalidParameterError, NotFittedError
from features.question_slots import delexicalise

REGISTERED_NAME = "butler-planner"


def intent_text(question: str) -> str:
    """A question as the intent model reads it: its first line, delexicalised.

    Only the first line counts: what follows a line break is pasted material (a chat to
    classify), whose words say nothing about what the operator wants done with it.

    Examples:
        >>> intent_text("ＳＫＵ SYSK01003-04 下周要补多少？")
        'sku # 下周要补多少?'
    """
    first = question.strip().split("\n", 1)[0]
    return " ".join(delexicalise(first).split())


@dataclass(frozen=True, slots=True)
class IntentConfig:
    """Settings of the intent model.

    Attributes:
        version: bumped whenever features or labels change; a registered model of another
            version is retrained, not served.
        ngram_max: longest character n-gram.
        c: inverse regularisation of the logistic regression.
        min_confidence: below this probability the planner asks the operator to rephrase.
    """

    version: str = "2026.11.1"
    ngram_max: int = 2
    c: float = 30.0
    min_confidence: float = 0.35

    def __post_init__(self) -> None:
        if self.ngram_max < 1:
            raise InvalidParameterError(f"ngram_max must be >= 1; got {self.ngram_max}.")
        if self.c <= 0:
            raise InvalidParameterError(f"c must be > 0; got {self.c}.")
        if not 0 <= self.min_confidence < 1:
            raise InvalidParameterError(
                f"min_confidence must be in [0, 1); got {self.min_confidence}."
            )

    def to_params(self) -> dict[str, object]:
        """Flat parameters for MLflow."""
        return asdict(self)


class IntentClassifier:
    """Question → intent, with a probability.

    Examples:
        >>> model = IntentClassifier().fit(["上周卖了多少", "明天天气"], ["sales", "other"])
        >>> model.predict(["上个月卖了多少"])[0][0]
        'sales'
    """

    def __init__(self, config: IntentConfig | None = None) -> None:
        self.config = config or IntentConfig()
        self.pipeline_: Pipeline | None = None

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> Self:
        """Learn intents from example questions.

        Raises:
            InvalidParameterError: lengths differ, or fewer than two intents.
        """
        if len(texts) != len(labels):
            raise InvalidParameterError(
                f"fit got {len(texts)} texts and {len(labels)} labels; give one label per text."
            )
        if len(set(labels)) < 2:
            raise InvalidParameterError("fit needs examples of at least two intents.")
        self.pipeline_ = Pipeline(
            [
                (
                    "tfidf",
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=(1, self.config.ngram_max),
                        sublinear_tf=True,
                        min_df=1,
                    ),
                ),
                ("clf", LogisticRegression(C=self.config.c, max_iter=2_000)),
            ]
        )
        self.pipeline_.fit([intent_text(t) for t in texts], list(labels))
        return self

    @property
    def intents(self) -> list[str]:
        """The intents the model knows."""
        return list(self._fitted().classes_)

    def _fitted(self) -> LogisticRegression:
        if self.pipeline_ is None:
            raise NotFittedError("This IntentClassifier is not fitted yet; call fit first.")
        return self.pipeline_.named_steps["clf"]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probability of each intent (columns in :attr:`intents` order)."""
        self._fitted()
        return self.pipeline_.predict_proba([intent_text(t) for t in texts])

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """The most likely intent of each text and its probability."""
        proba = self.predict_proba(texts)
        best = proba.argmax(axis=1)
        names = self.intents
        return [(names[i], float(proba[row, i])) for row, i in enumerate(best)]
