"""`butler eval identity`: score identity resolution on a labelled member list.

The list is read and mapped exactly as `butler members dedupe` reads it (a file + a flat YAML
mapping), normalised, and resolved by a model fitted on the list itself without its labels;
the threshold is the config's: by default chosen from the model's own scored pairs
(``models.identity.choose_threshold``), before any label is seen. The truth column is used only
to score: pairwise precision, recall and F1 and B-cubed at the chosen threshold and across
thresholds, against the rule a marketing team uses today (same normalised phone or same
e-mail), plus wall time and records per second.

Usage:
    butler eval identity --data ../shared/data/linkage/febrl3.parquet \\
        --map evaluation/identity_maps/febrl.yaml --truth-col entity_id
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.errors import ContractViolation
from features.identity import normalise_members
from features.member_lists import MemberMap, map_members, read_member_file
from features.members import ID_SEP, store_members
from features.settings import Settings
from features.store import Store
from models.identity import IdentityConfig, IdentityResolver
from models.linkage_metrics import cluster_scores, connected_components

logger = logging.getLogger(__name__)

#: Thresholds of the sweep (match probability).
THRESHOLDS: tuple[float, ...] = (0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999)


@dataclass(frozen=True, slots=True)
class IdentityEvaluation:
    """Figures of one labelled list.

    Attributes:
        data: the file scored.
        n_records: rows of the file (rejected rows are scored as singletons).
        n_rejected: rows that could not be used (no usable field, blank or repeated id).
        threshold: the threshold the model clustered at (chosen without labels by default).
        model: cluster scores of the model at ``threshold`` (see
            :func:`models.linkage_metrics.cluster_scores`).
        rule: the same scores for "same normalised phone or same e-mail".
        sweep: one row per threshold of :data:`THRESHOLDS` with the model's scores.
        seconds: wall time of normalise, fit, predict and cluster.
        timings: the same, step by step.
    """

    data: str
    n_records: int
    n_rejected: int
    threshold: float
    model: dict[str, float]
    rule: dict[str, float]
    sweep: pd.DataFrame
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """Plain figures for ``--json``."""
        return {
            "data": self.data,
            "n_records": self.n_records,
            "n_rejected": self.n_rejected,
            "threshold": self.threshold,
            "model": self.model,
            "rule_phone_or_email": self.rule,
            "sweep": self.sweep.to_dict("records"),
            "seconds": self.seconds,
            "records_per_second": self.n_records / self.seconds if self.seconds else None,
            "timings": self.timings,
        }


def evaluate(
    data: str | Path,
    mapping: str | Path,
    truth_col: str,
    *,
    config: IdentityConfig | None = None,
    phone_region: str = "CN",
    thresholds: Sequence[float] = THRESHOLDS,
) -> IdentityEvaluation:
    """Fit on the list without its labels, resolve, and score against ``truth_col``.

    Raises:
        ContractViolation: the truth column is not in the file, or is mapped as a field.
    """
    cfg = config or IdentityConfig()
    source = read_member_file(data)
    member_map = MemberMap.from_yaml(mapping)
    if truth_col not in source.columns:
        raise ContractViolation(
            f"The truth column {truth_col!r} is not in {data}; its columns are "
            f"{', '.join(map(str, source.columns))}."
        )
    mapped = {c for cols in member_map.fields.values() for c in cols}
    if truth_col in mapped or truth_col == member_map.id_column:
        raise ContractViolation(
            f"The truth column {truth_col!r} is mapped as a member field in {mapping}: "
            "the model must not see the labels it is scored on."
        )
    members_list = map_members(source, member_map)
    labels = pd.Series(source[truth_col].to_numpy(), index=members_list.ids.to_numpy())
    labels = labels[labels.index.notna() & ~labels.index.duplicated()]
    # a row without a true person cannot be scored either way: left out, and said
    blank = labels.isna() | (labels.astype(str).str.strip() == "")
    if blank.all():
        raise ContractViolation(
            f"The truth column {truth_col!r} of {data} is blank on every row: nothing to "
            "score against."
        )
    members = members_list.members
    if blank.any():
        logger.warning(
            "%d of %d rows of %s have no %s: left out of the scoring.",
            int(blank.sum()), len(labels), data, truth_col,
        )  # fmt: skip
        members = members[~members["unique_id"].isin(labels.index[blank])].reset_index(drop=True)
    left_out = int(blank.sum())
    unlabelled = f" ({left_out:,} rows without a truth label left out)" if left_out else ""
    return evaluate_members(
        members,
        labels[~blank],
        data=f"{data}{unlabelled}",
        n_rejected=len(members_list.rejected),
        config=cfg,
        phone_region=phone_region,
        thresholds=thresholds,
    )


def evaluate_store(
    settings: Settings,
    truth_file: str | Path,
    *,
    config: IdentityConfig | None = None,
    thresholds: Sequence[float] = THRESHOLDS,
) -> IdentityEvaluation:
    """Score the store's member accounts against a truth file (``platform,
    platform_user_id, person_id``, as the sample world keeps it aside).

    Only the accounts the file labels are resolved and scored; the report's ``data`` says
    how many of the store's accounts that is.

    Raises:
        StoreError: no member accounts in the store.
        UnreadableFileError: the truth file is missing, empty or unreadable.
        ContractViolation: the truth file lacks one of its columns, or labels fewer than
            10 of the store's accounts.
    """
    truth = read_member_file(truth_file)
    need = ["platform", "platform_user_id", "person_id"]
    if not set(need) <= set(truth.columns):
        raise ContractViolation(
            f"{truth_file} must have the columns platform, platform_user_id, person_id; it has "
            f"{', '.join(map(str, truth.columns))}."
        )
    truth = truth[need].astype(str)
    with Store.open(settings, read_only=True) as store:
        raw = store_members(store)
    key = truth["platform"] + ID_SEP + truth["platform_user_id"]
    labels = pd.Series(truth["person_id"].to_numpy(), index=key)
    labels = labels[~labels.index.duplicated()].reindex(raw["unique_id"])
    labelled = labels.notna().to_numpy()
    if labelled.sum() < 10:
        example = (
            f" (the store's accounts look like {raw['unique_id'].iloc[0]})" if len(raw) else ""
        )
        raise ContractViolation(
            f"{truth_file} labels {labelled.sum():,} of the store's {len(raw):,} member "
            f"accounts; scoring needs at least 10{example}. Use the truth file of the sample "
            "world this store was loaded from."
        )
    scope = "" if labelled.all() else f", the {labelled.sum():,} of {len(raw):,} accounts labelled"
    return evaluate_members(
        raw[labelled].reset_index(drop=True),
        labels[labelled],
        data=f"store at {settings.home}{scope}",
        n_rejected=0,
        config=config,
        thresholds=thresholds,
    )


@dataclass(frozen=True, slots=True)
class TimedResolution:
    """One list normalised, fitted on without labels, scored and clustered, step by step."""

    members: pd.DataFrame
    model: IdentityResolver
    pairs: pd.DataFrame
    clusters: pd.DataFrame
    threshold: float  # the one clustered at (chosen without labels with "auto")
    timings: dict[str, float]  # seconds: normalise, fit, predict, cluster
    seconds: float


def timed_resolution(
    raw: pd.DataFrame, config: IdentityConfig, *, phone_region: str = "CN"
) -> TimedResolution:
    """Normalise ``raw``, fit a model on it, predict and cluster at ``config.threshold``
    (chosen from the scored pairs when it is ``"auto"``) as the model clusters, timing each step."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    members = normalise_members(raw, phone_region=phone_region)
    timings["normalise"] = time.perf_counter() - started
    step = time.perf_counter()
    model = IdentityResolver(config).fit(members)
    timings["fit"] = time.perf_counter() - step
    step = time.perf_counter()
    pairs = model.predict(members)
    timings["predict"] = time.perf_counter() - step
    step = time.perf_counter()
    clusters, threshold = model.persons(members, pairs, config.threshold)
    timings["cluster"] = time.perf_counter() - step
    return TimedResolution(
        members, model, pairs, clusters, threshold, timings, seconds=time.perf_counter() - started
    )


def evaluate_members(
    raw: pd.DataFrame,
    truth: pd.Series,
    *,
    data: str,
    n_rejected: int,
    config: IdentityConfig | None = None,
    phone_region: str = "CN",
    thresholds: Sequence[float] = THRESHOLDS,
) -> IdentityEvaluation:
    """Normalise, fit without labels, resolve and score.

    Args:
        raw: member records (``unique_id`` + Butler member fields).
        truth: true person per record id, every record of the list (rejected ones too:
            they are scored as singletons).
        data: what was scored, for the report.
        n_rejected: rows of the list that could not be used.
    """
    cfg = config or IdentityConfig()
    run = timed_resolution(raw, cfg, phone_region=phone_region)
    members, pairs, clusters = run.members, run.pairs, run.clusters
    all_ids = pd.Index(truth.index.astype(str))

    def score(labels: pd.Series) -> dict[str, float]:
        # rejected rows and rows the clustering did not label are singletons of their own
        predicted = labels.reindex(all_ids)
        predicted = predicted.where(predicted.notna(), pd.Series(all_ids, index=all_ids))
        return cluster_scores(predicted.to_numpy(), truth.to_numpy())

    model_scores = score(clusters.set_index("unique_id")["person_id"])
    rule = score(phone_or_email(members))
    rows = []
    for th, persons in zip(
        thresholds, run.model.persons_at(members, pairs, thresholds), strict=True
    ):
        labels = persons.set_index("unique_id")["person_id"]
        rows.append({"threshold": th, **score(labels)})
    return IdentityEvaluation(
        data=data,
        n_records=len(truth),
        n_rejected=n_rejected,
        threshold=run.threshold,
        model=model_scores,
        rule=rule,
        sweep=pd.DataFrame(rows),
        seconds=run.seconds,
        timings=run.timings,
    )


def phone_or_email(members: pd.DataFrame) -> pd.Series:
    """Today's rule: accounts with the same normalised phone or the same e-mail are one person.

    Args:
        members: normalised records (``unique_id``, ``phone_e164``, ``email``).

    Returns:
        A cluster label per ``unique_id``.
    """
    ids = members["unique_id"].astype(str)
    edges = []
    for col in ("phone_e164", "email"):
        if col not in members.columns:
            continue
        keyed = pd.DataFrame({"unique_id": ids, "key": members[col]}).dropna()
        keyed = keyed.sort_values(["key", "unique_id"])
        same = keyed["key"].to_numpy()[1:] == keyed["key"].to_numpy()[:-1]
        left = keyed["unique_id"].to_numpy()[:-1][same]
        right = keyed["unique_id"].to_numpy()[1:][same]
        edges.append(pd.DataFrame({"unique_id_l": left, "unique_id_r": right}))
    pairs = (
        pd.concat(edges, ignore_index=True)
        if edges
        else pd.DataFrame({"unique_id_l": [], "unique_id_r": []}, dtype=object)
    )
    pairs["match_probability"] = np.ones(len(pairs))
    return connected_components(pairs, pd.Index(ids), 0.5)
