"""Forecast accuracy: WAPE, MASE, bias, pinball loss and quantile coverage.

All take a long frame of scored rows (``unique_id, y, mean`` and the quantile columns),
pooled over series and weeks, so that big series weigh as much as their volume (WAPE, bias,
scaled pinball) or every series weighs the same (MASE).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["forecast_metrics", "naive_scale"]


def naive_scale(history: pd.DataFrame) -> pd.Series:
    """Each series' in-sample mean absolute one-week change (the MASE denominator)."""
    diff = history.groupby("unique_id", sort=False)["y"].diff().abs()
    return diff.groupby(history["unique_id"]).mean()


def forecast_metrics(
    scored: pd.DataFrame, *, quantiles: dict[str, float], scale: pd.Series | None = None
) -> dict[str, float]:
    """Accuracy of one model's forecasts.

    Args:
        scored: rows ``unique_id, y, mean`` plus the quantile columns named in ``quantiles``
            (NaN quantiles are skipped: point-only models get no pinball or coverage).
        quantiles: column → level, e.g. ``{"p90": 0.9}``.
        scale: per-series MASE denominators (:func:`naive_scale` of the training data);
            None skips MASE.

    Returns:
        ``wape`` (Σ|y − ŷ| / Σ|y|), ``bias`` (Σ(ŷ − y) / Σ|y|), ``mase`` (mean over series
        of their mean absolute error / scale; series with a zero scale left out),
        ``pinball`` (mean pinball loss over the quantile columns, in the target's units),
        ``wql`` (scaled quantile loss: 2 Σ pinball / Σ|y|, averaged over the levels),
        ``coverage_pXX`` (share of rows with y ≤ the quantile) and ``rows``.
    """
    y = scored["y"].to_numpy(dtype="float64")
    yhat = scored["mean"].to_numpy(dtype="float64")
    total = np.abs(y).sum()
    out: dict[str, float] = {"rows": float(len(scored))}
    err = yhat - y
    out["wape"] = float(np.abs(err).sum() / total) if total else float("nan")
    out["bias"] = float(err.sum() / total) if total else float("nan")
    if scale is not None:
        mae = pd.Series(np.abs(err)).groupby(scored["unique_id"].to_numpy()).mean()
        denom = scale.reindex(mae.index)
        ok = denom > 0
        out["mase"] = float((mae[ok] / denom[ok]).mean()) if ok.any() else float("nan")
    losses, wqls = [], []
    for col, level in quantiles.items():
        if col not in scored.columns:
            continue
        q = scored[col].to_numpy(dtype="float64")
        ok = ~np.isnan(q)
        if not ok.any():
            continue
        diff = y[ok] - q[ok]
        loss = np.maximum(level * diff, (level - 1) * diff)
        losses.append(float(loss.mean()))
        scored_total = np.abs(y[ok]).sum()
        wqls.append(float(2 * loss.sum() / scored_total) if scored_total else float("nan"))
        out[f"coverage_{col}"] = float(np.mean(y[ok] <= q[ok]))
    if losses:
        out["pinball"] = float(np.mean(losses))
        out["wql"] = float(np.mean(wqls))
    return out
