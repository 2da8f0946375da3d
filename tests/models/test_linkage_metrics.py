"""Linkage metrics: hand-computed cases, a brute-force pair oracle, sweeps and components."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from features.errors import ContractViolation, InvalidParameterError
from models.linkage_metrics import (
    bcubed_scores,
    cluster_scores,
    connected_components,
    pairwise_scores,
    threshold_sweep,
)

# Truth for the hand-checked cases: entities a (2 records), b (1), c (3) → 1 + 0 + 3 = 4 pairs.
TRUTH = ["a", "a", "b", "c", "c", "c"]


def _approx(scores: dict[str, float], expected: dict[str, float]) -> None:
    for key, value in expected.items():
        assert scores[key] == pytest.approx(value), key


def test_perfect_clustering():
    predicted = [1, 1, 2, 3, 3, 3]  # same partition, other names

    scores = cluster_scores(predicted, TRUTH)

    _approx(
        scores,
        {
            "pair_true_pairs": 4,
            "pair_predicted_pairs": 4,
            "pair_correct_pairs": 4,
            "pair_precision": 1,
            "pair_recall": 1,
            "pair_f1": 1,
            "bcubed_precision": 1,
            "bcubed_recall": 1,
            "bcubed_f1": 1,
            "n_records": 6,
            "n_true_clusters": 3,
            "n_predicted_clusters": 3,
        },
    )


def test_all_singletons():
    # no pair predicted → precision 1 by convention; recall 0/4; f1 = 2·1·0/(1+0) = 0.
    # B-cubed: every record is pure (precision 1); recall per record = 1/|entity|:
    # a: 1/2, 1/2; b: 1; c: 1/3 ×3 → (0.5 + 0.5 + 1 + 1) / 6 = 0.5; f1 = 2·1·0.5/1.5 = 2/3.
    scores = cluster_scores(range(6), TRUTH)

    _approx(
        scores,
        {
            "pair_predicted_pairs": 0,
            "pair_correct_pairs": 0,
            "pair_precision": 1,
            "pair_recall": 0,
            "pair_f1": 0,
            "bcubed_precision": 1,
            "bcubed_recall": 0.5,
            "bcubed_f1": 2 / 3,
            "n_predicted_clusters": 6,
        },
    )


def test_all_merged():
    # one cluster of 6 → 15 predicted pairs, 4 correct: precision 4/15, recall 1,
    # f1 = 2·(4/15)/(19/15) = 8/19.
    # B-cubed precision per record = |entity|/6: (2·2 + 1 + 3·3) / 36 = 14/36 = 7/18;
    # recall 1; f1 = 2·(7/18)/(25/18) = 14/25.
    scores = cluster_scores(["all"] * 6, TRUTH)

    _approx(
        scores,
        {
            "pair_predicted_pairs": 15,
            "pair_correct_pairs": 4,
            "pair_precision": 4 / 15,
            "pair_recall": 1,
            "pair_f1": 8 / 19,
            "bcubed_precision": 7 / 18,
            "bcubed_recall": 1,
            "bcubed_f1": 14 / 25,
            "n_predicted_clusters": 1,
        },
    )


def test_one_wrong_merge():
    # b is merged into c's cluster {b, c, c, c}: predicted pairs 1 + 6 = 7, correct 1 + 3 = 4;
    # precision 4/7, recall 4/4 = 1, f1 = 2·(4/7)/(11/7) = 8/11.
    # B-cubed precision: a, a: 1 each; b: 1/4; c ×3: 3/4 each → (2 + 0.25 + 2.25)/6 = 0.75;
    # recall 1; f1 = 2·0.75/1.75 = 6/7.
    scores = cluster_scores([1, 1, 3, 3, 3, 3], TRUTH)

    _approx(
        scores,
        {
            "pair_true_pairs": 4,
            "pair_predicted_pairs": 7,
            "pair_correct_pairs": 4,
            "pair_precision": 4 / 7,
            "pair_recall": 1,
            "pair_f1": 8 / 11,
            "bcubed_precision": 0.75,
            "bcubed_recall": 1,
            "bcubed_f1": 6 / 7,
        },
    )


def test_no_true_pairs_and_no_predicted_pairs_score_one():
    _approx(pairwise_scores([1, 2, 3], ["x", "y", "z"]), {"precision": 1, "recall": 1, "f1": 1})


def test_missing_truth_is_a_singleton_and_labels_may_be_any_dtype():
    # truth pairs: only (0, 1); the two NaN records are two singletons, so the predicted
    # pair (2, 3) is wrong: precision 1/2, recall 1.
    truth = pd.Series([7, 7, np.nan, None], dtype=object)
    scores = pairwise_scores(np.array(["x", "x", "y", "y"]), truth)
    _approx(scores, {"true_pairs": 1, "predicted_pairs": 2, "correct_pairs": 1, "precision": 0.5})

    as_ints = cluster_scores([0, 0, 1, 1], [10, 10, 20, 20])
    as_text = cluster_scores(pd.Index(["p", "p", "q", "q"]), pd.Series(["10", "10", "20", "20"]))
    assert as_ints == as_text
    assert cluster_scores([1.0, np.nan, np.nan], [1, 2, 3])["pair_predicted_pairs"] == 0
    assert cluster_scores(["x", "x", "y"], [1.5, 1.5, np.nan])["n_true_clusters"] == 2


def _brute_force(predicted: list, truth: list) -> dict[str, float]:
    n = len(truth)
    pred_pairs = {
        (i, j) for i, j in itertools.combinations(range(n), 2) if predicted[i] == predicted[j]
    }
    true_pairs = {(i, j) for i, j in itertools.combinations(range(n), 2) if truth[i] == truth[j]}
    correct = pred_pairs & true_pairs
    precision = len(correct) / len(pred_pairs) if pred_pairs else 1.0
    recall = len(correct) / len(true_pairs) if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    b_precision = np.mean(
        [
            sum(predicted[j] == predicted[i] and truth[j] == truth[i] for j in range(n))
            / sum(predicted[j] == predicted[i] for j in range(n))
            for i in range(n)
        ]
    )
    b_recall = np.mean(
        [
            sum(predicted[j] == predicted[i] and truth[j] == truth[i] for j in range(n))
            / sum(truth[j] == truth[i] for j in range(n))
            for i in range(n)
        ]
    )
    return {
        "pair_true_pairs": len(true_pairs),
        "pair_predicted_pairs": len(pred_pairs),
        "pair_correct_pairs": len(correct),
        "pair_precision": precision,
        "pair_recall": recall,
        "pair_f1": f1,
        "bcubed_precision": b_precision,
        "bcubed_recall": b_recall,
        "bcubed_f1": 2 * b_precision * b_recall / (b_precision + b_recall),
    }


@pytest.mark.parametrize("seed", range(8))
def test_agrees_with_brute_force_pair_enumeration(seed):
    rng = np.random.default_rng(seed)
    n = 60
    truth = rng.integers(0, rng.integers(5, 40), n).tolist()
    predicted = [f"p{v}" for v in rng.integers(0, rng.integers(3, 50), n)]

    expected = _brute_force(predicted, truth)

    _approx(cluster_scores(predicted, truth), expected)
    for prefix, score in (("pair_", pairwise_scores), ("bcubed_", bcubed_scores)):
        own = {k.removeprefix(prefix): v for k, v in expected.items() if k.startswith(prefix)}
        _approx(score(predicted, truth), own)


def test_bad_inputs():
    with pytest.raises(InvalidParameterError, match="3 and 2 labels"):
        pairwise_scores([1, 2, 3], [1, 2])
    with pytest.raises(InvalidParameterError, match="no records"):
        cluster_scores([], [])
    with pytest.raises(InvalidParameterError, match="1-D"):
        bcubed_scores([[1, 2]], [[1, 2]])


def _chain_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        [("a", "b", 0.9), ("b", "c", 0.8), ("c", "d", 0.3)],
        columns=["unique_id_l", "unique_id_r", "match_probability"],
    )


def test_connected_components_on_a_chain():
    ids = pd.Index(["d", "c", "b", "a", "e"])

    labels = connected_components(_chain_pairs(), ids, 0.5)

    assert labels.index.equals(ids)
    assert labels.to_dict() == {"a": "a", "b": "a", "c": "a", "d": "d", "e": "e"}
    assert connected_components(_chain_pairs(), ids, 0.3)["d"] == "a"  # at the threshold: kept
    assert connected_components(_chain_pairs(), ids, 0.95).tolist() == list(ids)


def test_connected_components_label_is_the_smallest_id_in_its_own_order():
    pairs = pd.DataFrame(
        {"unique_id_l": [10, 3], "unique_id_r": [2, 4], "match_probability": [1.0, 1.0]}
    )

    labels = connected_components(pairs, pd.Index([10, 2, 3, 4]), 0.5)

    assert labels.tolist() == ["2", "2", "3", "3"]  # numeric order: 2 < 10


def test_connected_components_errors():
    with pytest.raises(InvalidParameterError, match=r"not in `ids`.*'a'"):
        connected_components(_chain_pairs(), pd.Index(["b", "c", "d"]), 0.5)
    with pytest.raises(InvalidParameterError, match="repeated ids"):
        connected_components(_chain_pairs(), pd.Index(["a", "a", "b", "c", "d"]), 0.5)
    with pytest.raises(ContractViolation, match="match_probability"):
        connected_components(_chain_pairs().drop(columns="match_probability"), pd.Index([]), 0.5)
    with pytest.raises(InvalidParameterError, match="NaN"):
        connected_components(_chain_pairs(), pd.Index(list("abcd")), math.nan)


def test_threshold_sweep_is_monotone_in_predicted_pairs():
    rng = np.random.default_rng(0)
    ids = pd.Index([f"r{i}" for i in range(80)])
    truth = pd.Series(rng.integers(0, 25, len(ids)), index=ids)
    left, right = rng.integers(0, len(ids), (2, 400))
    pairs = pd.DataFrame(
        {
            "unique_id_l": ids[left],
            "unique_id_r": ids[right],
            "match_probability": rng.random(400),
        }
    )
    thresholds = [0.0, 0.5, 0.9, 0.99, 0.999, 1.01]

    sweep = threshold_sweep(pairs, truth, thresholds, lambda p, t: connected_components(p, ids, t))

    assert sweep["threshold"].tolist() == thresholds
    assert sweep["pair_predicted_pairs"].is_monotonic_decreasing
    assert sweep["pair_recall"].is_monotonic_decreasing
    assert sweep["n_predicted_clusters"].is_monotonic_increasing
    assert sweep["n_records"].eq(80).all()
    assert sweep.iloc[-1]["pair_predicted_pairs"] == 0  # nothing at or above 1.01
    first = connected_components(pairs, ids, 0.0)
    assert sweep.iloc[0].drop("threshold").to_dict() == cluster_scores(first, truth)


def test_threshold_sweep_records_left_out_are_singletons_and_strangers_warn():
    truth = pd.Series(["e1", "e1", "e2"], index=["a", "b", "c"])
    pairs = _chain_pairs()

    def partial(_pairs: pd.DataFrame, _threshold: float) -> pd.Series:
        return pd.Series({"a": "k", "b": "k", "zz": "k"})  # c missing, zz unknown

    with pytest.warns(UserWarning, match="1 of the 3 ids.*'zz'"):
        sweep = threshold_sweep(pairs, truth, [0.5], partial)

    row = sweep.iloc[0]
    assert row["pair_predicted_pairs"] == 1 and row["pair_precision"] == 1
    assert row["n_predicted_clusters"] == 2


def test_threshold_sweep_bad_inputs():
    truth = pd.Series([1, 1], index=["a", "a"])
    with pytest.raises(InvalidParameterError, match="repeated ids"):
        threshold_sweep(_chain_pairs(), truth, [0.5], lambda p, t: pd.Series(dtype=object))
    with pytest.raises(ContractViolation, match="unique_id_l"):
        threshold_sweep(
            _chain_pairs().drop(columns="unique_id_l"),
            pd.Series([1], index=["a"]),
            [0.5],
            lambda p, t: pd.Series(dtype=object),
        )
