"""Identity benchmark at scale: resolve a large member list end to end, then match single
new sign-ups against the resolved set; print the figures.

Usage:
    uv run python -m evaluation.identity_benchmark --accounts 1000000 --members /tmp/m1m.parquet

The member accounts are drawn by the sample world's people generator (persons on 1–4
platforms, each platform writing them its own way: masked phones, traditional characters,
typos, nicknames, partial addresses) in a child process and kept in ``--members``, so the
peak memory printed (``ru_maxrss``) is the resolution's own. The true person of every
account is in the file too; the model never sees it.

The figures: wall time per step (normalise, fit, predict, cluster), peak memory, pairwise
and B-cubed scores at the model's threshold against the phone-or-email rule, then the
latency of ``IdentityResolver.matcher(...).match`` for held-out accounts (normalisation
included), p50 / p95 / p99.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from evaluation.identity import timed_resolution
from features.identity import MEMBER_FIELDS, normalise_members
from features.members import ID_SEP
from models.identity import IdentityConfig
from models.linkage_metrics import cluster_scores

#: Accounts held out of the resolved set and matched one at a time.
HELD_OUT = 300


def draw_members(n_accounts: int, seed: int, out: Path) -> None:
    """Draw about ``n_accounts`` member accounts with the sample world's generator and write
    them (Butler member fields, ``unique_id``, true ``person_id``) to ``out``."""
    from features.sample_world.geo import Gazetteer
    from features.sample_world.people import build_people
    from features.schema.vocab import Platform

    platforms = [Platform(p) for p in Platform.channels() if Platform(p) is not Platform.ERP]
    shops = {p: [f"{p.value}-shop"] for p in platforms}
    weights = {p: np.ones(1) for p in platforms}
    rng = np.random.default_rng(seed)
    people = build_people(
        rng, seed, n_accounts, platforms, shops, weights, dt.date(2024, 1, 1), 730,
        Gazetteer.build(),
    )  # fmt: skip
    accounts = people.accounts
    keep = [c for c in MEMBER_FIELDS if c in accounts.columns]
    frame = accounts[keep].astype(object).where(accounts[keep].notna(), None)
    frame.insert(0, "unique_id", accounts["platform"] + ID_SEP + accounts["platform_user_id"])
    frame["person_id"] = accounts["person_id"].to_numpy()
    frame.to_parquet(out, index=False)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--members", type=Path, required=True, help="drawn here if missing")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("splink").setLevel(logging.ERROR)  # per-predict notes on untrained levels

    if not args.members.exists():
        print(f"drawing about {args.accounts:,} accounts into {args.members} …", flush=True)
        started = time.perf_counter()
        code = (
            "import sys; from pathlib import Path; "
            "from evaluation.identity_benchmark import draw_members; "
            "draw_members(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]))"
        )
        subprocess.run(
            [sys.executable, "-c", code, str(args.accounts), str(args.seed), str(args.members)],
            check=True,
        )
        print(f"  drawn in {time.perf_counter() - started:.0f} s", flush=True)

    frame = pd.read_parquet(args.members)
    truth = frame.pop("person_id")
    rng = np.random.default_rng(args.seed)
    held = np.zeros(len(frame), dtype=bool)
    held[rng.choice(len(frame), size=min(HELD_OUT, len(frame) // 10), replace=False)] = True
    raw, new = frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)
    del frame  # the benchmark's own copy: the peak below is the resolution's
    labels = pd.Series(truth[~held].to_numpy(), index=raw["unique_id"])
    print(f"{len(raw):,} accounts of {labels.nunique():,} persons; {len(new)} held out")

    config = IdentityConfig()
    run = timed_resolution(raw, config)
    members, model = run.members, run.model
    figures: dict[str, float] = {"accounts": len(raw), "persons": labels.nunique()}
    figures.update({f"{name}_s": value for name, value in run.timings.items()})
    figures["end_to_end_s"] = run.seconds
    figures["threshold"] = threshold = run.threshold
    figures["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    persons = run.clusters.set_index("unique_id")["person_id"].reindex(labels.index)
    scores = cluster_scores(persons.to_numpy(), labels.to_numpy())
    for key in ("pair_precision", "pair_recall", "pair_f1", "bcubed_f1"):
        figures[key] = scores[key]
    print(
        f"end to end {run.seconds:.0f} s (normalise {figures['normalise_s']:.0f}, fit "
        f"{figures['fit_s']:.0f}, predict {figures['predict_s']:.0f}, cluster "
        f"{figures['cluster_s']:.0f}), peak RSS {figures['peak_rss_gib']:.2f} GiB"
    )
    print(
        f"@ {run.threshold:g}: pairwise P {scores['pair_precision']:.4f} "
        f"R {scores['pair_recall']:.4f} F1 {scores['pair_f1']:.4f}; B³ F1 "
        f"{scores['bcubed_f1']:.4f}"
    )

    step = time.perf_counter()
    resolved = members.assign(person_id=persons.to_numpy())
    matcher = model.matcher(resolved)
    figures["matcher_build_s"] = time.perf_counter() - step
    del run, resolved
    seconds, found = [], 0
    person_of = pd.Series(labels.to_numpy(), index=labels.index)
    true_new = truth[held].to_numpy()
    for i, record in enumerate(new.to_dict("records")):
        begin = time.perf_counter()
        row = normalise_members(pd.DataFrame([record])).iloc[0].to_dict()
        best = matcher.match(row, top=1)
        seconds.append(time.perf_counter() - begin)
        if len(best) and best["match_probability"].iloc[0] >= threshold:
            found += int(person_of.get(best["unique_id"].iloc[0]) == true_new[i])
    ms = np.array(seconds[10:]) * 1000  # the first calls warm the caches
    for q in (50, 95, 99):
        figures[f"match_p{q}_ms"] = float(np.percentile(ms, q))
    known = int(pd.Index(true_new).isin(labels.to_numpy()).sum())
    figures["match_found_known"] = found / max(known, 1)
    print(
        f"single-record match ({len(ms)} calls after 10 warm-up, normalisation included): "
        f"p50 {figures['match_p50_ms']:.1f} ms, p95 {figures['match_p95_ms']:.1f} ms, "
        f"p99 {figures['match_p99_ms']:.1f} ms; matcher built in "
        f"{figures['matcher_build_s']:.0f} s; {found} of the {known} held-out accounts whose "
        f"person is in the set found at ≥ {threshold:g}"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
