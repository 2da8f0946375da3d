"""Figures of a multi-label risk classifier against labelled conversations.

Used by training (logged to MLflow) and by evaluation (the development-set report), so
both print the same numbers for the same predictions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.schema.vocab import RiskLabel

_LABELS = tuple(RiskLabel)


@dataclass(frozen=True, slots=True)
class RiskReport:
    """Per-label and overall figures.

    Attributes:
        per_label: one row per scenario: support, predicted, precision, recall, f1, severity.
        macro_f1: mean F1 over the scenarios present in the truth.
        micro_f1: F1 over all (conversation, scenario) decisions of those scenarios.
        top_k_precision: share of the ``k`` highest-ranked alerts that are true.
        k: the ``k`` of ``top_k_precision``.
        high_recall_min: lowest recall among present high-severity scenarios (nan if none).
        brier: mean squared error of the probabilities over every (conversation, scenario)
            of the present scenarios (nan without probabilities).
        calibration_error: expected calibration error of the raised alerts: their
            probabilities in ten equal-width bins, each bin's |mean probability − share
            true| weighted by its alerts (nan without probabilities or alerts).
        alert_probability: mean probability of the raised alerts, to set beside
            ``alert_precision``, the share of them that is true.
    """

    per_label: pd.DataFrame
    macro_f1: float
    micro_f1: float
    top_k_precision: float
    k: int
    high_recall_min: float
    brier: float = float("nan")
    calibration_error: float = float("nan")
    alert_probability: float = float("nan")
    alert_precision: float = float("nan")

    def summary(self) -> dict[str, float]:
        """Flat figures for tracking: overall and each present label's P/R/F1."""
        out = {
            "macro_f1": self.macro_f1,
            "micro_f1": self.micro_f1,
            f"top{self.k}_precision": self.top_k_precision,
        }
        if not np.isnan(self.brier):
            out |= {
                "brier": self.brier,
                "calibration_error": self.calibration_error,
                "alert_probability": self.alert_probability,
                "alert_precision": self.alert_precision,
            }
        for row in self.per_label[self.per_label["support"] > 0].itertuples():
            out |= {f"{row.label}_{m}": getattr(row, m) for m in ("precision", "recall", "f1")}
        return out


def _prf(tp: float, pred: float, support: float) -> tuple[float, float, float]:
    precision = tp / pred if pred else 0.0
    recall = tp / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def risk_report(
    truth: np.ndarray,
    predicted: np.ndarray,
    alert_scores: np.ndarray,
    probabilities: np.ndarray | None = None,
    *,
    k: int = 20,
) -> RiskReport:
    """Score ``predicted`` (conversations × labels, 0/1) against ``truth``.

    Args:
        truth: conversations × ``RiskLabel`` 0/1.
        predicted: conversations × ``RiskLabel`` 0/1 (the raised scenarios).
        alert_scores: conversations × ``RiskLabel`` ranking scores; each raised
            (conversation, scenario) is an alert, ranked by its score.
        probabilities: conversations × ``RiskLabel`` probabilities the model shows, for the
            calibration figures; None = none.
        k: how many top alerts ``top_k_precision`` looks at.
    """
    truth = truth.astype(bool)
    predicted = predicted.astype(bool)
    rows = []
    for j, label in enumerate(_LABELS):
        tp = float((truth[:, j] & predicted[:, j]).sum())
        support, pred = float(truth[:, j].sum()), float(predicted[:, j].sum())
        precision, recall, f1 = _prf(tp, pred, support)
        rows.append(
            {
                "label": label.value,
                "severity": label.severity.value,
                "support": int(support),
                "predicted": int(pred),
                "precision": precision,
                "recall": recall,
                "f1": f1,
            }
        )
    per_label = pd.DataFrame(rows)
    present = truth.any(axis=0)
    macro = float(per_label.loc[present, "f1"].mean()) if present.any() else float("nan")
    tp = float((truth[:, present] & predicted[:, present]).sum())
    _, _, micro = _prf(tp, float(predicted[:, present].sum()), float(truth[:, present].sum()))
    alerts = np.argwhere(predicted)
    if len(alerts):
        order = np.argsort(-alert_scores[predicted], kind="stable")[:k]
        top = alerts[order]
        top_k = float(truth[top[:, 0], top[:, 1]].mean())
    else:
        top_k = float("nan")
    high = per_label[(per_label["severity"] == "high") & present]
    return RiskReport(
        per_label=per_label,
        macro_f1=macro,
        micro_f1=micro,
        top_k_precision=top_k,
        k=k,
        high_recall_min=float(high["recall"].min()) if len(high) else float("nan"),
        **(_calibration(truth[:, present], predicted[:, present], probabilities[:, present])
           if probabilities is not None and present.any() else {}),
    )  # fmt: skip


def _calibration(truth: np.ndarray, predicted: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Brier score over every cell; calibration error, mean probability and precision of the
    raised alerts."""
    out = {"brier": float(np.mean((p - truth) ** 2))}
    alert_p, alert_true = p[predicted], truth[predicted].astype(float)
    if not len(alert_p):
        return out
    bins = np.minimum((alert_p * 10).astype(int), 9)
    gap = sum(
        abs(alert_p[bins == b].mean() - alert_true[bins == b].mean()) * (bins == b).sum()
        for b in np.unique(bins)
    )
    return out | {
        "calibration_error": float(gap / len(alert_p)),
        "alert_probability": float(alert_p.mean()),
        "alert_precision": float(alert_true.mean()),
    }
