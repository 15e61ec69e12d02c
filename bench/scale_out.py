"""Scale-out side by side: search at N memories on the embedded default and on PostgreSQL + pgvector, and two
API instances against one.

    .venv/bin/python -m bench.scale_out [--memories 100000] [--users 100] [--requests 2000]

Each backend gets a fresh `membank serve` (the embedded default: SQLite + Qdrant Edge in its data dir; the
scale-out one: MEMBANK_STORE=postgres + MEMBANK_VECTOR_INDEX=pgvector on a durable PostgreSQL 16 from
`tests.support.postgres`, fsync on) and the same memories, loaded by batch import (`bench.scale`), spread over
`--users` users of one tenant. Then search with all-distinct queries at concurrency 1 and 8 (p50/p95/p99,
throughput, CPU of the server and of PostgreSQL). Every run (warm-up, c=1, c=8, one instance, two instances) has
queries of its own, never asked before in the benchmark, so no run is served by the ranking or query-vector
caches (measured apart in bench/cache_bench.py); both backends get the same queries.

Two instances: a second `membank serve` on the same PostgreSQL; the same c=8 search load is split over both
(one client process per instance, 4 in flight each) and compared with c=8 on one instance. On 2 cores a
second instance cannot add CPU: the comparison shows what it costs or gains, with the CPU use of each part.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from tests.support.postgres import start_postgres

from bench.common import (
    Server,
    latency_summary,
    log,
    machine_info,
    terminate_on_sigterm,
    wait_for_quiet,
    write_result,
)
from bench.load import SEARCH_PATH, Part, _brief, _run_part_sync, run_load, search_bodies
from bench.scale import load_memories
from bench.stores import DURABLE_SETTINGS, Meter
from bench.texts import TextGen, user_ids

CONCURRENCIES = (1, 8)


Bodies = list[dict[str, Any]]
RUNS = ("warm-up", *(f"c{c}" for c in CONCURRENCIES), "one", "two")


def fresh_queries(users: list[str], requests: int) -> dict[str, Bodies]:
    """Distinct queries for each run, none shared between runs."""
    every = search_bodies(TextGen(seed=7), users, requests * len(RUNS), distinct=True)
    return {name: every[i * requests : (i + 1) * requests] for i, name in enumerate(RUNS)}


def search_runs(
    server: Server, queries: dict[str, Bodies], max_seconds: float, meter: Meter | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    run_load(server, SEARCH_PATH, queries["warm-up"][:200], concurrency=4, max_seconds=10)
    for concurrency in CONCURRENCIES:
        bodies = queries[f"c{concurrency}"]
        cpu: dict[str, Any] = {}
        if meter is None:
            stats = run_load(server, SEARCH_PATH, bodies, concurrency=concurrency, max_seconds=max_seconds)
        else:
            with meter.measure(cpu):
                stats = run_load(
                    server, SEARCH_PATH, bodies, concurrency=concurrency, max_seconds=max_seconds
                )
            stats["postgres_cpu_pct"] = cpu["postgres_cpu_pct"]
        out[f"c{concurrency}"] = stats
        log(f"  search c={concurrency}: {_brief(stats)}")
    return out


def split_load(
    servers: list[Server], bodies: list[dict[str, Any]], *, concurrency: int, max_seconds: float, meter: Meter
) -> dict[str, Any]:
    """The load of `concurrency` in-flight searches split evenly over `servers`, one client process each."""
    start_at = time.time() + 1.0
    share = concurrency // len(servers)
    parts = [
        Part(s.base_url, s.api_key, SEARCH_PATH, bodies[i :: len(servers)], share, max_seconds, start_at, 200)
        for i, s in enumerate(servers)
    ]
    cpu0 = [s.cpu_seconds() for s in servers]
    cpu: dict[str, Any] = {}
    wall0 = time.perf_counter()
    with meter.measure(cpu), ProcessPoolExecutor(max_workers=len(parts)) as pool:
        outcomes = list(pool.map(_run_part_sync, parts))
    wall = time.perf_counter() - wall0
    latencies = [x for o in outcomes for x in o["latencies"]]
    errors = sum(len(o["errors"]) for o in outcomes)
    first = min(o["started"] for o in outcomes)
    elapsed = max(o["started"] + o["elapsed"] for o in outcomes) - first
    summary = latency_summary(latencies, elapsed, errors)
    summary.update(
        concurrency=concurrency,
        instances=len(servers),
        server_cpu_pct=[
            round(100 * (s.cpu_seconds() - c) / wall, 1) for s, c in zip(servers, cpu0, strict=True)
        ],
        postgres_cpu_pct=cpu["postgres_cpu_pct"],
        client_cpu_pct=round(100 * sum(o["client_cpu_s"] for o in outcomes) / elapsed, 1),
        machine_cpu_pct=cpu["machine_cpu_pct"],
        other_cpu_pct=cpu["other_cpu_pct"],
    )
    return summary


def run(
    *, memories: int, users_count: int, requests: int, max_seconds: float, quiet_wait: float
) -> dict[str, Any]:
    users = user_ids(users_count)
    queries = fresh_queries(users, requests)
    result: dict[str, Any] = {
        "machine": machine_info(),
        "settings": {
            "memories": memories,
            "users": users_count,
            "requests": requests,
            "max_seconds": max_seconds,
        },
        "background_cpu_pct_before": wait_for_quiet(max_wait=quiet_wait),
        "backends": {},
    }
    with terminate_on_sigterm():
        log("embedded default (SQLite + Qdrant Edge)")
        with Server() as server:
            entry: dict[str, Any] = {"ingest": load_memories(server, TextGen(seed=2), users, memories)}
            entry["search"] = search_runs(server, queries, max_seconds, None)
            result["backends"]["embedded"] = entry
        with start_postgres(settings=DURABLE_SETTINGS) as postgres:
            env = {
                "MEMBANK_STORE": "postgres",
                "MEMBANK_DATABASE_URL": postgres.url(postgres.create_database()),
                "MEMBANK_VECTOR_INDEX": "pgvector",
            }
            meter = Meter(postgres)
            log("PostgreSQL + pgvector")
            with Server(env=env) as first:
                entry = {"ingest": load_memories(first, TextGen(seed=2), users, memories)}
                entry["search"] = search_runs(first, queries, max_seconds, meter)
                result["backends"]["pgvector"] = entry
                with Server(env=env) as second:
                    one = split_load(
                        [first], queries["one"], concurrency=8, max_seconds=max_seconds, meter=meter
                    )
                    two = split_load(
                        [first, second], queries["two"], concurrency=8, max_seconds=max_seconds, meter=meter
                    )
                    log(f"  one instance c=8: {_brief(one)}")
                    log(f"  two instances c=8: {_brief(two)}")
                    result["instances"] = {"one": one, "two": two}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument(
        "--requests", type=int, default=2000, help="search requests per run (bounded by time)"
    )
    parser.add_argument("--max-seconds", type=float, default=20.0)
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="wait up to N s for an idle machine")
    args = parser.parse_args()
    result = run(
        memories=args.memories,
        users_count=args.users,
        requests=args.requests,
        max_seconds=args.max_seconds,
        quiet_wait=args.wait_quiet,
    )
    log(f"written to {write_result('scale_out', result)}")


if __name__ == "__main__":
    main()
