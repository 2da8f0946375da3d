"""`butler train planner`: the offline planner's intent model from written example questions.

The examples (``training/planner_examples.yaml``) are templates with slots; each is filled
several times with values from its ``fillers``. Accuracy is estimated by cross-validation
that keeps all fillings of a template in the same fold, so a score never comes from having
seen the same sentence with another SKU in it. The evaluation question set under
``evaluation/`` is not read here.
"""

from __future__ import annotations

import logging
import random
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from features.errors import ContractViolation
from features.settings import Settings
from models.intent import REGISTERED_NAME, IntentClassifier, IntentConfig
from training import tracking

logger = logging.getLogger(__name__)

EXPERIMENT = "planner"
EXAMPLES = "planner_examples.yaml"
_SLOT = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True, slots=True)
class Examples:
    """Filled example questions, their intent and the template each came from."""

    texts: list[str]
    intents: list[str]
    templates: list[int]


def read_examples(path: Path | None = None, *, fills: int = 4, seed: int = 0) -> Examples:
    """The example questions, each template filled ``fills`` times (once if it has no slot).

    Raises:
        ContractViolation: the file lacks ``fillers`` or ``intents``, or a template names a
            slot without fillers.
    """
    text = path.read_text(encoding="utf-8") if path else (
        resources.files("training").joinpath(EXAMPLES).read_text(encoding="utf-8")
    )  # fmt: skip
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or not {"fillers", "intents"} <= set(data):
        raise ContractViolation(f"{path or EXAMPLES} needs two sections: fillers and intents.")
    fillers: dict[str, list[str]] = {k: [str(v) for v in vs] for k, vs in data["fillers"].items()}
    rng = random.Random(seed)
    texts, intents, templates = [], [], []
    number = 0
    for intent, rows in data["intents"].items():
        for template in rows:
            slots = _SLOT.findall(template)
            unknown = sorted(set(slots) - set(fillers))
            if unknown:
                raise ContractViolation(
                    f"The {intent} example {template!r} uses slots {unknown} that have no "
                    "fillers; add them under `fillers`."
                )
            for _ in range(fills if slots else 1):
                filled = _SLOT.sub(lambda m: rng.choice(fillers[m.group(1)]), template)
                texts.append(filled)
                intents.append(intent)
                templates.append(number)
            number += 1
    return Examples(texts=texts, intents=intents, templates=templates)


def cross_validate(examples: Examples, config: IntentConfig, folds: int = 5) -> float:
    """Accuracy over ``folds`` folds that keep each template's fillings together."""
    from sklearn.model_selection import GroupKFold

    texts = np.array(examples.texts, dtype=object)
    labels = np.array(examples.intents, dtype=object)
    correct = 0
    for train, test in GroupKFold(n_splits=folds).split(texts, labels, examples.templates):
        model = IntentClassifier(config).fit(list(texts[train]), list(labels[train]))
        predicted = [intent for intent, _ in model.predict(list(texts[test]))]
        correct += int((np.array(predicted, dtype=object) == labels[test]).sum())
    return correct / len(texts)


@dataclass(frozen=True, slots=True)
class PlannerRun:
    """What one training run produced."""

    registered: tracking.RegisteredModel
    examples: int
    templates: int
    cv_accuracy: float


def train_planner(
    settings: Settings, config: IntentConfig | None = None, *, promote: bool = True
) -> PlannerRun:
    """Fit the intent model on every example, log the cross-validated accuracy, register it
    (and, with ``promote``, point the alias the services load at it)."""
    config = config or IntentConfig()
    tracking.check_writable(settings)
    examples = read_examples()
    accuracy = cross_validate(examples, config)
    model = IntentClassifier(config).fit(examples.texts, examples.intents)
    counts = {i: examples.intents.count(i) for i in sorted(set(examples.intents))}
    with tracking.run(settings, EXPERIMENT, run_name="intent-model"):
        tracking.log_params(config.to_params() | {"examples": len(examples.texts)})
        tracking.log_trained_on(f"{len(examples.texts):,} example questions (prompts)")
        tracking.log_metrics({"cv_accuracy": accuracy})
        tracking.log_dict(counts, "examples_per_intent.json")
        registered = tracking.log_and_register(
            settings, model, name=REGISTERED_NAME, alias=settings.model_alias if promote else None
        )
    logger.info(
        "planner intent model: cv accuracy %.3f on %d examples", accuracy, len(examples.texts)
    )
    return PlannerRun(
        registered=registered,
        examples=len(examples.texts),
        templates=max(examples.templates) + 1,
        cv_accuracy=accuracy,
    )
