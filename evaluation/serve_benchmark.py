"""Load on Butler's HTTP services: throughput and p50/p95/p99 per endpoint at 1, 8 and 32 clients.

Starts `bentoml serve services.http.gateway:Butler` on a free loopback port over a Butler
home that has the three model families registered (e.g. after `butler demo`), waits for
readiness, then for each endpoint and concurrency runs closed-loop async clients (aiohttp)
for ``--seconds``; prints requests/s (and conversations/s for classification), latency
percentiles, the error rate and the server's memory (resident set of the whole process
tree), then stops the server.

    uv run python -m evaluation.serve_benchmark --home .butler
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import numpy as np
import psutil

from features.chats import store_conversations
from features.members import store_members
from features.settings import Settings
from features.store import Store

KEY = "benchmark-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(
    home: Path, port: int, key: str = KEY, log: Path | None = None
) -> subprocess.Popen:
    """`bentoml serve` of the gateway, in its own process group; its output goes to ``log``
    (None: discarded), where a failed request's id can be looked up."""
    env = os.environ | {"BUTLER_HOME": str(home.resolve()), "BUTLER_API_KEY": key}
    command = [
        sys.executable, "-m", "bentoml", "serve", "services.http.gateway:Butler",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    # the server keeps its own copy of the file
    with log.open("ab") if log is not None else nullcontext(subprocess.DEVNULL) as out:
        return subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_ready(port: int, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError(
        f"the server on port {port} was not ready within {timeout:.0f} s; run `butler serve` "
        "over the same home to see why (a model missing, or trained by another Butler version)"
    )


def tree_rss_mib(pid: int) -> float:
    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20


@dataclass(frozen=True, slots=True)
class LoadResult:
    endpoint: str
    concurrency: int
    requests: int
    errors: int
    error_codes: dict[str, int]
    per_second: float
    items_per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


async def _load(
    url: str, make_body: Callable[[int], dict], concurrency: int, seconds: float
) -> tuple[list[float], dict[str, int]]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    stop = time.monotonic() + seconds
    headers = {"Authorization": f"Bearer {KEY}"}
    # aiohttp, not httpx: the load generator shares the server's two cores, and httpx took
    # 0.64 of a core for 515 one-SKU forecasts a second at 32 clients where aiohttp takes
    # 0.22 for 847 (the same server, one run)
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=0)  # one connection per client, as httpx kept
    async with aiohttp.ClientSession(
        headers=headers, timeout=timeout, connector=connector
    ) as session:

        async def worker(w: int) -> None:
            i = w
            while time.monotonic() < stop:
                started = time.perf_counter()
                try:
                    async with session.post(url, json=make_body(i)) as response:
                        await response.read()
                        code = str(response.status)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    code = type(exc).__name__
                latencies.append((time.perf_counter() - started) * 1000)
                if code != "200":
                    errors[code] = errors.get(code, 0) + 1
                i += concurrency

        await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return latencies, errors


def run_load(
    port: int, endpoint: str, make_body: Callable[[int], dict], items: int, concurrency: int,
    seconds: float,
) -> LoadResult:  # fmt: skip
    # the load generator's own garbage collections pause every request in flight and would
    # be counted as the server's latency: a full collection walked the request bodies and
    # the earlier rows' figures (150k+ objects, one pause of 122 ms seen in a 15 s row), so
    # what exists before a row is frozen out of the collector's reach
    gc.collect()
    gc.freeze()
    started = time.perf_counter()
    try:
        latencies, errors = asyncio.run(
            _load(f"http://127.0.0.1:{port}/{endpoint}", make_body, concurrency, seconds)
        )
    finally:
        gc.unfreeze()  # collectable again (DuckDB's bindings report frozen objects at exit)
    elapsed = time.perf_counter() - started
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) if latencies else (np.nan,) * 3
    return LoadResult(
        endpoint=endpoint,
        concurrency=concurrency,
        requests=len(latencies),
        errors=sum(errors.values()),
        error_codes=errors,
        per_second=len(latencies) / elapsed,
        items_per_second=len(latencies) * items / elapsed,
        p50_ms=float(p50),
        p95_ms=float(p95),
        p99_ms=float(p99),
    )


def request_bodies(home: Path, conversations_per_request: int) -> dict[str, tuple[Any, int]]:
    """Per endpoint: a function of the request number giving its body, and items per request."""
    settings = Settings(home=home)
    with Store.open(settings, read_only=True) as store:
        conversations = [c.model_dump(mode="json") for c in store_conversations(store)]
        members = store_members(store).head(2_000)
        pairs = store.sql(
            "SELECT DISTINCT sku_id FROM inventory_snapshots ORDER BY 1 LIMIT 200"
        ).fetchall()
    skus = [p[0] for p in pairs]
    fields = ["full_name", "phone", "email", "birth_date", "nickname"]
    records = [
        {"record_id": str(r["unique_id"])}
        | {f: (None if r.get(f) is None else str(r[f])) for f in fields if f in r}
        for r in members.to_dict("records")
    ]
    n = conversations_per_request

    def classify(i: int) -> dict:
        start = (i * n) % max(len(conversations) - n, 1)
        return {"conversations": conversations[start : start + n]}

    return {
        "classify": (classify, n),
        "match_member": (lambda i: {"record": records[i % len(records)]}, 1),
        "forecast": (lambda i: {"skus": [skus[i % len(skus)]], "horizon": 8}, 1),
        "ask": (lambda i: {"question": ASK_QUESTIONS[i % len(ASK_QUESTIONS)]}, 1),
    }


#: A mix of operators' questions for the butler's /ask (none of the evaluation sets' own).
ASK_QUESTIONS = (
    "上周天猫卖得最好的是哪个？",
    "How many of our Tmall members are also on JD?",
    "今天有哪些高风险客诉？",
    "Which SKUs are about to oversell?",
    "上周抖音哪个SKU卖爆了？",
    "Revenue by platform last month compared with the month before",
    "近四周各品类销量",
    "forecast SYSK01003-04 for the next 4 weeks",
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(".butler"), help="Butler home.")
    parser.add_argument("--seconds", type=float, default=10.0, help="Load per measurement.")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--conversations", type=int, default=16, help="Per classify request.")
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    parser.add_argument("--endpoints", nargs="+", default=None, help="Only these endpoints.")
    parser.add_argument(
        "--server-log",
        type=Path,
        default=None,
        help="The server's log (default: serve_benchmark.log in the home).",
    )
    args = parser.parse_args(argv)
    log = args.server_log or args.home / "serve_benchmark.log"

    bodies = request_bodies(args.home, args.conversations)
    if args.endpoints:
        bodies = {name: body for name, body in bodies.items() if name in args.endpoints}
    port = free_port()
    server = start_server(args.home, port, log=log)
    print(f"server log: {log}")
    results: list[LoadResult] = []
    try:
        started = time.perf_counter()
        wait_ready(port)
        print(f"server ready in {time.perf_counter() - started:.1f} s; "
              f"memory {tree_rss_mib(server.pid):,.0f} MiB")  # fmt: skip
        for endpoint, (make_body, items) in bodies.items():
            for concurrency in args.concurrency:
                result = run_load(port, endpoint, make_body, items, concurrency, args.seconds)
                results.append(result)
                print(
                    f"{endpoint:13s} c={concurrency:<3d} {result.per_second:8,.1f} req/s "
                    f"({result.items_per_second:9,.1f} items/s)  p50 {result.p50_ms:7.1f} ms  "
                    f"p95 {result.p95_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  "
                    f"errors {result.errors}/{result.requests} {result.error_codes or ''}"
                )
        print(f"server memory after the load: {tree_rss_mib(server.pid):,.0f} MiB")
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
