"""Scores of a deduplication against the truth: pairwise and B-cubed precision, recall, F1.

A deduplication is a cluster label per record; the truth is the true entity per record.
Every count comes from the contingency table of the two labellings (a group of ``n``
records holds ``n (n - 1) / 2`` pairs), so scoring a million records takes well under a
second and never enumerates pairs.

Examples:
    >>> cluster_scores(["x", "x", "y"], [1, 1, 1])["pair_recall"]
    0.3333333333333333
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from features.errors import ContractViolation, InvalidParameterError

__all__ = [
    "bcubed_scores",
    "cluster_scores",
    "connected_components",
    "pairwise_scores",
    "threshold_sweep",
]

logger = logging.getLogger(__name__)

PAIR_COLUMNS = ("unique_id_l", "unique_id_r", "match_probability")


@dataclass(frozen=True, slots=True)
class _Contingency:
    """Per-record sizes of its predicted cluster, its true cluster and their intersection."""

    predicted_size: np.ndarray
    truth_size: np.ndarray
    cell_size: np.ndarray
    n_predicted_clusters: int
    n_true_clusters: int


def pairwise_scores(predicted: ArrayLike, truth: ArrayLike) -> dict[str, float]:
    """Pairwise precision, recall and F1 of a clustering.

    A pair of records is predicted when both share a predicted label, and true when both
    share a true label.

    Args:
        predicted: a cluster label per record (any dtype; a missing label is a singleton).
        truth: the true entity per record, same length (a missing entity is a singleton).

    Returns:
        ``true_pairs``, ``predicted_pairs``, ``correct_pairs``, ``precision`` (1 when no
        pair is predicted), ``recall`` (1 when there is no true pair) and ``f1`` (0 when
        precision and recall are both 0).

    Raises:
        InvalidParameterError: the lengths differ or there are no records.

    Examples:
        >>> pairwise_scores([0, 0, 1], ["a", "a", "a"])["precision"]
        1.0
    """
    return _pairwise(_contingency(predicted, truth))


def bcubed_scores(predicted: ArrayLike, truth: ArrayLike) -> dict[str, float]:
    """B-cubed precision, recall and F1 of a clustering, averaged over records.

    A record's precision is the share of its predicted cluster that is truly its entity,
    and its recall the share of its entity that is in its predicted cluster. F1 is the
    harmonic mean of the averaged precision and recall.

    Args:
        predicted: a cluster label per record (any dtype; a missing label is a singleton).
        truth: the true entity per record, same length (a missing entity is a singleton).

    Returns:
        ``precision``, ``recall`` and ``f1``.

    Raises:
        InvalidParameterError: the lengths differ or there are no records.

    Examples:
        >>> bcubed_scores([0, 1], ["a", "a"])["recall"]
        0.5
    """
    return _bcubed(_contingency(predicted, truth))


def cluster_scores(predicted: ArrayLike, truth: ArrayLike) -> dict[str, float]:
    """Pairwise and B-cubed scores of a clustering, with its size.

    Args:
        predicted: a cluster label per record (any dtype; a missing label is a singleton).
        truth: the true entity per record, same length (a missing entity is a singleton).

    Returns:
        :func:`pairwise_scores` prefixed ``pair_``, :func:`bcubed_scores` prefixed
        ``bcubed_``, and ``n_records``, ``n_true_clusters``, ``n_predicted_clusters``
        (singletons included).

    Raises:
        InvalidParameterError: the lengths differ or there are no records.

    Examples:
        >>> scores = cluster_scores([0, 0, 1], ["a", "a", "b"])
        >>> scores["pair_f1"], scores["bcubed_f1"], scores["n_predicted_clusters"]
        (1.0, 1.0, 2.0)
    """
    table = _contingency(predicted, truth)
    scores = {f"pair_{k}": v for k, v in _pairwise(table).items()}
    scores |= {f"bcubed_{k}": v for k, v in _bcubed(table).items()}
    scores["n_records"] = float(len(table.cell_size))
    scores["n_true_clusters"] = float(table.n_true_clusters)
    scores["n_predicted_clusters"] = float(table.n_predicted_clusters)
    return scores


def threshold_sweep(
    pairs: pd.DataFrame,
    truth: pd.Series,
    thresholds: Sequence[float],
    cluster: Callable[[pd.DataFrame, float], pd.Series],
) -> pd.DataFrame:
    """Score the clustering at each match-probability threshold.

    Args:
        pairs: scored candidate pairs with ``unique_id_l``, ``unique_id_r`` and
            ``match_probability``.
        truth: the true entity of every record, indexed by ``unique_id``; these records
            are the ones scored.
        thresholds: the thresholds to try, in the order wanted in the result.
        cluster: ``cluster(pairs_at_or_above_threshold, threshold)`` → predicted cluster
            label indexed by ``unique_id``. Records it leaves out are singletons.
            ``lambda p, t: connected_components(p, truth.index, t)`` is the usual choice.

    Returns:
        One row per threshold: ``threshold`` then the :func:`cluster_scores` columns.

    Raises:
        ContractViolation: ``pairs`` lacks one of its columns.
        InvalidParameterError: ``truth`` has repeated ids or no records, or a threshold is
            not a number.

    Examples:
        >>> pairs = pd.DataFrame(
        ...     {"unique_id_l": ["a"], "unique_id_r": ["b"], "match_probability": [0.9]}
        ... )
        >>> truth = pd.Series([1, 1, 2], index=["a", "b", "c"])
        >>> sweep = threshold_sweep(
        ...     pairs, truth, [0.5, 0.95], lambda p, t: connected_components(p, truth.index, t)
        ... )
        >>> sweep["pair_recall"].tolist()
        [1.0, 0.0]
    """
    _check_pair_columns(pairs, "threshold_sweep")
    if not truth.index.is_unique:
        repeated = truth.index[truth.index.duplicated()].unique()[:5].tolist()
        raise InvalidParameterError(
            "The `truth` parameter of `threshold_sweep` must have one row per unique_id. "
            f"Got repeated ids {repeated} instead; drop the repeats first."
        )
    probability = pairs["match_probability"].to_numpy(dtype="float64")
    rows = []
    for threshold in thresholds:
        _check_threshold(threshold, "threshold_sweep")
        labels = cluster(pairs[probability >= threshold], float(threshold))
        if not labels.index.is_unique:
            raise InvalidParameterError(
                f"The `cluster` function of `threshold_sweep` returned repeated ids at "
                f"threshold {threshold}; it must return one label per unique_id."
            )
        unknown = ~labels.index.isin(truth.index)
        if unknown.any():
            warnings.warn(
                f"{int(unknown.sum())} of the {len(labels)} ids the clustering returned at "
                f"threshold {threshold} are not in `truth` and are not scored (first: "
                f"{labels.index[unknown][:3].tolist()}); check that both use the same "
                "unique_id values and dtype.",
                stacklevel=2,
            )
        predicted = labels[~unknown].reindex(truth.index)
        scores = cluster_scores(predicted.to_numpy(dtype=object), truth.to_numpy(dtype=object))
        rows.append({"threshold": float(threshold), **scores})
        logger.debug("threshold %.4f: %s", threshold, scores)
    return pd.DataFrame(rows, columns=_sweep_columns())


def connected_components(pairs: pd.DataFrame, ids: pd.Index, threshold: float) -> pd.Series:
    """Cluster records by the connected components of the pairs at or above a threshold.

    Args:
        pairs: scored pairs with ``unique_id_l``, ``unique_id_r`` and ``match_probability``.
        ids: every record to label, once each; records in no kept pair are singletons.
        threshold: the lowest ``match_probability`` that links two records.

    Returns:
        The cluster label of each id, indexed by ``ids``: the smallest ``unique_id`` of its
        component (in the ids' own order, e.g. numeric for integer ids), as text.

    Raises:
        ContractViolation: ``pairs`` lacks one of its columns.
        InvalidParameterError: ``ids`` has repeats, a kept pair names an id not in ``ids``,
            or the threshold is not a number.

    Examples:
        >>> pairs = pd.DataFrame(
        ...     [("b", "a", 0.9), ("c", "d", 0.2)],
        ...     columns=["unique_id_l", "unique_id_r", "match_probability"],
        ... )
        >>> connected_components(pairs, pd.Index(["a", "b", "c", "d"]), 0.5).tolist()
        ['a', 'a', 'c', 'd']
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as _components

    _check_pair_columns(pairs, "connected_components")
    _check_threshold(threshold, "connected_components")
    ids = pd.Index(ids)
    if not ids.is_unique:
        repeated = ids[ids.duplicated()].unique()[:5].tolist()
        raise InvalidParameterError(
            "The `ids` parameter of `connected_components` must list each record once. "
            f"Got repeated ids {repeated} instead."
        )
    kept = pairs[pairs["match_probability"].to_numpy(dtype="float64") >= threshold]
    left = ids.get_indexer(kept["unique_id_l"])
    right = ids.get_indexer(kept["unique_id_r"])
    unknown = (left < 0) | (right < 0)
    if unknown.any():
        names = pd.unique(
            np.concatenate(
                [
                    kept["unique_id_l"].to_numpy()[left < 0],
                    kept["unique_id_r"].to_numpy()[right < 0],
                ]
            )
        )
        raise InvalidParameterError(
            f"{len(names)} ids in the pairs at or above threshold {threshold} are not in "
            f"`ids` (first: {names[:5].tolist()}). Pass every record's unique_id, with the "
            "same dtype as the pairs' ids."
        )
    n = len(ids)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, component = _components(graph, directed=False)
    rank = _order_ranks(ids)
    smallest_rank = pd.Series(rank).groupby(component).min().to_numpy()
    by_rank = np.empty(n, dtype=np.int64)
    by_rank[rank] = np.arange(n)
    names = ids.astype(str).to_numpy(dtype=object)
    return pd.Series(
        names[by_rank[smallest_rank[component]]],
        index=ids.rename("unique_id"),
        name="cluster_id",
        dtype=object,
    )


def _contingency(predicted: ArrayLike, truth: ArrayLike) -> _Contingency:
    pred_codes = _codes(predicted, "predicted")
    true_codes = _codes(truth, "truth")
    if len(pred_codes) != len(true_codes):
        raise InvalidParameterError(
            "`predicted` and `truth` must hold one label per record each. Got "
            f"{len(pred_codes)} and {len(true_codes)} labels instead."
        )
    if len(pred_codes) == 0:
        raise InvalidParameterError(
            "Cannot score a clustering of no records; pass at least one label."
        )
    n_pred = int(pred_codes.max()) + 1
    n_true = int(true_codes.max()) + 1
    # one code per (predicted, true) cell; n_pred * n_true < 2**63 for any realistic n
    cell_codes, _ = pd.factorize(pred_codes * n_true + true_codes)
    pred_count = np.bincount(pred_codes)
    true_count = np.bincount(true_codes)
    cell_count = np.bincount(cell_codes)
    return _Contingency(
        predicted_size=pred_count[pred_codes],
        truth_size=true_count[true_codes],
        cell_size=cell_count[cell_codes],
        n_predicted_clusters=n_pred,
        n_true_clusters=n_true,
    )


def _codes(labels: ArrayLike, name: str) -> np.ndarray:
    """Dense int64 codes 0..k-1 of the labels; each missing label gets a code of its own."""
    values = labels if isinstance(labels, pd.Series | pd.Index) else np.asarray(labels)
    if getattr(values, "ndim", 1) != 1:
        raise InvalidParameterError(
            f"`{name}` must be one label per record (1-D). Got shape {np.shape(values)} instead."
        )
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    codes = codes.astype(np.int64)
    missing = codes < 0
    codes[missing] = len(uniques) + np.arange(int(missing.sum()))
    return codes


def _pair_count(sizes: np.ndarray) -> int:
    """Pairs within groups, from each record's group size."""
    # each of a group's n records adds n - 1, so the sum over records is 2 x n (n - 1) / 2
    return int((sizes.astype(np.int64) - 1).sum() // 2)


def _pairwise(table: _Contingency) -> dict[str, float]:
    true_pairs = _pair_count(table.truth_size)
    predicted_pairs = _pair_count(table.predicted_size)
    correct_pairs = _pair_count(table.cell_size)
    precision = correct_pairs / predicted_pairs if predicted_pairs else 1.0
    recall = correct_pairs / true_pairs if true_pairs else 1.0
    return {
        "true_pairs": float(true_pairs),
        "predicted_pairs": float(predicted_pairs),
        "correct_pairs": float(correct_pairs),
        "precision": precision,
        "recall": recall,
        "f1": _harmonic(precision, recall),
    }


def _bcubed(table: _Contingency) -> dict[str, float]:
    precision = float(np.mean(table.cell_size / table.predicted_size))
    recall = float(np.mean(table.cell_size / table.truth_size))
    return {"precision": precision, "recall": recall, "f1": _harmonic(precision, recall)}


def _harmonic(precision: float, recall: float) -> float:
    total = precision + recall
    return 2 * precision * recall / total if total else 0.0


def _order_ranks(ids: pd.Index) -> np.ndarray:
    """Each id's rank in the ids' natural order; text order when they cannot be compared."""
    try:
        order = np.argsort(ids.to_numpy(), kind="stable")
    except TypeError:
        order = np.argsort(ids.astype(str).to_numpy(), kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    return rank


def _check_pair_columns(pairs: pd.DataFrame, caller: str) -> None:
    missing = [c for c in PAIR_COLUMNS if c not in pairs.columns]
    if missing:
        raise ContractViolation(
            f"The `pairs` parameter of `{caller}` must have the columns "
            f"{', '.join(PAIR_COLUMNS)}. Missing: {', '.join(missing)}; got "
            f"{', '.join(map(str, pairs.columns)) or '(none)'}."
        )


def _check_threshold(threshold: float, caller: str) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number):
        raise InvalidParameterError(
            f"The thresholds of `{caller}` must be numbers. Got {threshold!r} instead."
        )
    if math.isnan(float(threshold)):
        raise InvalidParameterError(
            f"The thresholds of `{caller}` must be numbers, e.g. 0.9. Got NaN instead."
        )


def _sweep_columns() -> list[str]:
    pair = ["true_pairs", "predicted_pairs", "correct_pairs", "precision", "recall", "f1"]
    return (
        ["threshold"]
        + [f"pair_{k}" for k in pair]
        + [f"bcubed_{k}" for k in ("precision", "recall", "f1")]
        + ["n_records", "n_true_clusters", "n_predicted_clusters"]
    )
