"""Ingest benchmark: load a generated world into a fresh store; print rows/s and peak memory.

Usage:
    uv run python -m evaluation.ingest_benchmark --scale large --out /tmp/butler-large

The world is generated in a child process (skipped when ``--out`` already holds one), so the
peak memory printed is the ingest's own (``ru_maxrss`` of this process).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from features.ingest import ingest
from features.settings import Settings
from features.store import Store


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="large", choices=["small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="world folder (generated if missing)")
    parser.add_argument("--home", type=Path, help="Butler home for the store (default: temp)")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix=f"butler-{args.scale}-"))
    if not (out / "_truth" / "world.json").exists():
        print(f"generating the {args.scale} world into {out} …", flush=True)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "services.cli", "generate", "--out", str(out),
             "--scale", args.scale, "--seed", str(args.seed)],
            check=True,
        )  # fmt: skip
        print(f"generated in {time.perf_counter() - started:.0f} s", flush=True)

    home = args.home or Path(tempfile.mkdtemp(prefix="butler-home-"))
    settings = Settings(home=home)
    files = sorted(p for p in out.rglob("*") if p.is_file() and "_truth" not in p.parts)
    size = sum(p.stat().st_size for p in files)
    started = time.perf_counter()
    with Store.open(settings) as store:
        report = ingest([out], store, settings)
        order_lines = store.count("order_lines")
    seconds = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    by_kind: dict[str, int] = defaultdict(int)
    seconds_by_kind: dict[str, float] = defaultdict(float)
    for f in report.files:
        by_kind[f.kind] += f.rows_accepted
        seconds_by_kind[f.kind] += f.seconds
    figures = {
        "files": len(report.files),
        "input_mib": size / 2**20,
        "rows_accepted": report.rows_accepted,
        "rows_quarantined": report.rows_quarantined,
        "order_lines": order_lines,
        "seconds": seconds,
        "rows_per_second": report.rows_accepted / seconds,
        "order_lines_per_second": by_kind["orders"] / seconds,
        "order_lines_per_second_of_order_files": by_kind["orders"] / seconds_by_kind["orders"],
        "rows_per_second_by_kind": {
            k: by_kind[k] / seconds_by_kind[k] for k in by_kind if seconds_by_kind[k]
        },
        "peak_rss_mib": peak_mib,
        "store_mib": settings.duckdb_path.stat().st_size / 2**20,
    }
    print(f"scale={args.scale} files={len(report.files)} input={size / 2**20:,.0f} MiB")
    for kind, rows in sorted(by_kind.items()):
        spent = seconds_by_kind[kind]
        rate = rows / spent if spent else float("nan")
        print(f"  {kind:>16}: {rows:>12,} rows in {spent:7.1f} s = {rate:>9,.0f} rows/s")
    print(f"ingested {report.rows_accepted:,} rows ({report.rows_quarantined:,} quarantined) "
          f"in {seconds:,.1f} s")  # fmt: skip
    per_second = figures["order_lines_per_second"]
    print(f"order lines per second (all files' time counted): {per_second:,.0f}")
    per_order_second = figures["order_lines_per_second_of_order_files"]
    print(f"order lines per second (order files' own time): {per_order_second:,.0f}")
    print(f"all rows per second: {figures['rows_per_second']:,.0f}")
    print(f"peak memory (RSS): {peak_mib:,.0f} MiB; store file {figures['store_mib']:,.0f} MiB")
    if report.failed:
        print(f"FAILED files: {[str(f.path) for f in report.failed]}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
