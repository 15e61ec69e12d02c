"""Scale: search latency at 10k and 100k memories, cold start and idle memory of the server.

    .venv/bin/python -m bench.scale [--sizes 10000,100000] [--users 100]

Memories are loaded by batch import (jobs of 1000, a few in flight), spread evenly over `--users` users of
one tenant (so 100k memories = 1000 per user and 100k tenant-wide). At each size: search at concurrency 8
(all-distinct queries, and a pool of 100 cycled queries) after the outbox is empty. After the largest size:
the server's idle RSS, then a restart to measure cold start to ready with the data present.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench.common import (
    Server,
    log,
    machine_info,
    submit_batch,
    terminate_on_sigterm,
    wait_for_quiet,
    wait_indexed,
    wait_jobs,
    write_result,
)
from bench.load import SEARCH_PATH, _brief, run_load, run_open_loop, search_bodies
from bench.texts import TextGen, user_ids

JOB_SIZE = 1000
IN_FLIGHT = 3
OPEN_LOOP_RATES = (25, 50, 100)  # searches/s offered at the largest size, whatever the answers


def load_memories(server: Server, gen: TextGen, users: list[str], count: int) -> dict[str, Any]:
    """Import `count` memories in jobs of JOB_SIZE, spread over `users`; waits until searchable."""
    cpu0 = server.cpu_seconds()
    t0 = time.perf_counter()
    pending: list[str] = []
    submitted = 0
    completed_at = t0
    with server.client(timeout=120.0) as client:
        while submitted < count or pending:
            while submitted < count and len(pending) < IN_FLIGHT:
                size = min(JOB_SIZE, count - submitted)
                memories = [gen.memory_body(users[(submitted + i) % len(users)]) for i in range(size)]
                pending.append(submit_batch(client, memories))
                submitted += size
            finished = wait_jobs(client, pending[:1])  # oldest first; jobs run in order
            completed_at = max(finished.values())
            pending = pending[1:]
            done = submitted - JOB_SIZE * len(pending)
            if done % 10_000 == 0 or done >= count:
                rate = done / (time.perf_counter() - t0)
                log(f"  imported {done}/{count} ({rate:.0f}/s)")
        indexed_at = completed_at + wait_indexed(client, timeout=1800)
    return {
        "memories": count,
        "completed_s": round(completed_at - t0, 1),
        "indexed_s": round(indexed_at - t0, 1),
        "memories_per_s": round(count / (completed_at - t0), 1),
        "searchable_per_s": round(count / (indexed_at - t0), 1),
        "server_cpu_pct": round(100 * (server.cpu_seconds() - cpu0) / (indexed_at - t0), 1),
    }


def search_at_size(
    server: Server, gen: TextGen, users: list[str], *, requests: int, max_seconds: float, extra: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    run_load(server, SEARCH_PATH, search_bodies(gen, users, 40, distinct=True), concurrency=4, max_seconds=10)
    concurrencies = (8, 1, 32) if extra else (8,)
    for c in concurrencies:
        bodies = search_bodies(gen, users, requests, distinct=True)
        stats = run_load(server, SEARCH_PATH, bodies, concurrency=c, max_seconds=max_seconds)
        out[f"distinct_c{c}"] = stats
        log(f"  search distinct c={c}: {_brief(stats)}")
    bodies = search_bodies(gen, users, requests, distinct=False)
    stats = run_load(server, SEARCH_PATH, bodies, concurrency=8, max_seconds=max_seconds)
    out["cached_c8"] = stats
    log(f"  search cached (100 queries) c=8: {_brief(stats)}")
    if extra:
        for rate in OPEN_LOOP_RATES:
            seconds = min(max_seconds, 15.0)
            bodies = search_bodies(gen, users, int(rate * seconds) + 1, distinct=True)
            stats = run_open_loop(server, SEARCH_PATH, bodies, rate=rate, seconds=seconds)
            out[f"open_{rate}"] = stats
            log(f"  search distinct at a fixed {rate}/s: {_brief(stats)}, dropped={stats['dropped']}")
    return out


def idle_rss(server: Server, settle: float = 5.0) -> dict[str, float]:
    time.sleep(settle)
    return {"rss_mb": round(server.rss_mb(), 1), "peak_rss_mb": round(server.peak_rss_mb(), 1)}


def run(
    *,
    sizes: tuple[int, ...] = (10_000, 100_000),
    users_count: int = 100,
    requests: int = 3000,
    max_seconds: float = 25.0,
    quiet_wait: float = 0.0,
) -> dict[str, Any]:
    gen = TextGen(seed=2)
    users = user_ids(users_count)
    result: dict[str, Any] = {
        "machine": machine_info(),
        "settings": {
            "users": users_count,
            "tenants": 1,
            "job_size": JOB_SIZE,
            "jobs_in_flight": IN_FLIGHT,
            "search_requests_per_run": requests,
            "max_seconds_per_run": max_seconds,
            "search_limit": 10,
        },
        "sizes": {},
    }
    result["background_cpu_pct_before"] = wait_for_quiet(max_wait=quiet_wait)
    with terminate_on_sigterm(), Server() as server:
        result["cold_start_empty_s"] = round(server.cold_start_seconds or 0, 3)
        result["idle_empty"] = idle_rss(server, settle=2.0)
        log(
            f"server ready in {server.cold_start_seconds:.2f} s, idle RSS {result['idle_empty']['rss_mb']} MiB"
        )
        loaded = 0
        for size in sizes:
            log(f"loading to {size} memories")
            ingest = load_memories(server, gen, users, size - loaded)
            loaded = size
            entry: dict[str, Any] = {
                "per_user": size // users_count,
                "tenant_wide": size,
                "ingest": ingest,
                "idle_after_load": idle_rss(server),
            }
            log(f"  ingest {ingest}; idle {entry['idle_after_load']}")
            entry["search"] = search_at_size(
                server, gen, users, requests=requests, max_seconds=max_seconds, extra=size == sizes[-1]
            )
            entry["rss_after_search_mb"] = round(server.rss_mb(), 1)
            entry["disk"] = server.data_size_mb()
            result["sizes"][str(size)] = entry
        cold = []
        for _ in range(2):
            cold.append(round(server.restart(), 3))
            log(f"restart with {loaded} memories: ready in {cold[-1]} s")
        result["cold_start_loaded_s"] = cold
        result["idle_after_restart"] = idle_rss(server, settle=3.0)
        bodies = search_bodies(gen, users, 200, distinct=True)
        result["first_searches_after_restart"] = run_load(
            server, SEARCH_PATH, bodies, concurrency=1, max_seconds=max_seconds
        )
        log(
            f"after restart: {result['idle_after_restart']}; search {_brief(result['first_searches_after_restart'])}"
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated sizes, ascending")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument(
        "--requests", type=int, default=3000, help="search requests per run (bounded by time)"
    )
    parser.add_argument("--max-seconds", type=float, default=25.0)
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="wait up to N s for an idle machine")
    args = parser.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    result = run(
        sizes=sizes,
        users_count=args.users,
        requests=args.requests,
        max_seconds=args.max_seconds,
        quiet_wait=args.wait_quiet,
    )
    result["command"] = f"python -m bench.scale --sizes {args.sizes} --users {args.users}"
    log(f"wrote {write_result('scale', result)}")


if __name__ == "__main__":
    main()
