"""HTTP load: single create, batch import and search at concurrency 1, 8 and 32.

    .venv/bin/python -m bench.load [--quick] [--processes N]

A closed-loop generator: `concurrency` tasks each send one request, wait for the answer, send the next
(httpx.AsyncClient, HTTP/1.1 keep-alive, one connection per task). Every scenario is bounded by a request
count and by a time limit. The client runs on the same 2-core machine as the server, so the client's and the
server's CPU use are both recorded (`client_cpu_pct`, `server_cpu_pct`, 100 % = one core); `--processes`
spreads the client over several processes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from bench.common import (
    Server,
    data,
    latency_summary,
    log,
    machine_busy_pct,
    machine_cpu_ticks,
    machine_info,
    submit_batch,
    terminate_on_sigterm,
    wait_for_quiet,
    wait_indexed,
    wait_jobs,
    write_result,
)
from bench.texts import TextGen, user_ids

CREATE_PATH = "/api/v1/memories"
SEARCH_PATH = "/api/v1/memories/search"


@dataclass(frozen=True)
class Part:
    """What one client process runs."""

    base_url: str
    api_key: str
    path: str
    bodies: list[dict[str, Any]]
    concurrency: int
    max_seconds: float
    start_at: float  # time.time() at which to begin, so processes start together
    expected_status: int


async def _run_part(part: Part) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=part.concurrency, max_keepalive_connections=part.concurrency)
    latencies: list[float] = []
    errors: list[str] = []
    next_index = 0
    async with httpx.AsyncClient(
        base_url=part.base_url, headers={"X-API-Key": part.api_key}, timeout=60.0, limits=limits
    ) as client:
        # open the connections before the clock starts
        await asyncio.gather(*(client.get("/health/live") for _ in range(part.concurrency)))
        await asyncio.sleep(max(0.0, part.start_at - time.time()))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        deadline = wall0 + part.max_seconds

        async def worker() -> None:
            nonlocal next_index
            while next_index < len(part.bodies) and time.perf_counter() < deadline:
                body = part.bodies[next_index]
                next_index += 1
                t0 = time.perf_counter()
                try:
                    response = await client.post(part.path, json=body)
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                    continue
                elapsed = time.perf_counter() - t0
                if response.status_code == part.expected_status:
                    latencies.append(elapsed)
                else:
                    errors.append(f"{response.status_code} {response.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(part.concurrency)))
        wall1, cpu1 = time.perf_counter(), time.process_time()
    return {
        "latencies": latencies,
        "errors": errors,
        "started": time.time() - (wall1 - wall0),
        "elapsed": wall1 - wall0,
        "client_cpu_s": cpu1 - cpu0,
    }


def _run_part_sync(part: Part) -> dict[str, Any]:
    return asyncio.run(_run_part(part))


def run_load(
    server: Server,
    path: str,
    bodies: list[dict[str, Any]],
    *,
    concurrency: int,
    max_seconds: float,
    processes: int = 1,
    expected_status: int = 200,
) -> dict[str, Any]:
    """Send `bodies` (at most `max_seconds`) with `concurrency` in-flight requests; returns statistics."""
    processes = max(1, min(processes, concurrency))
    start_at = time.time() + (1.0 if processes > 1 else 0.1)
    shares = [concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)]
    parts = [
        Part(
            server.base_url,
            server.api_key,
            path,
            bodies[i::processes],
            share,
            max_seconds,
            start_at,
            expected_status,
        )
        for i, share in enumerate(shares)
    ]
    server_cpu0 = server.cpu_seconds()
    machine0 = machine_cpu_ticks()
    wall0 = time.perf_counter()
    if processes == 1:
        outcomes = [_run_part_sync(parts[0])]
    else:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            outcomes = list(pool.map(_run_part_sync, parts))
    server_cpu = server.cpu_seconds() - server_cpu0
    wall = time.perf_counter() - wall0
    machine = machine_busy_pct(machine0, machine_cpu_ticks())
    latencies = [x for o in outcomes for x in o["latencies"]]
    errors = [e for o in outcomes for e in o["errors"]]
    first = min(o["started"] for o in outcomes)
    elapsed = max(o["started"] + o["elapsed"] for o in outcomes) - first
    client_cpu = sum(o["client_cpu_s"] for o in outcomes)
    summary = latency_summary(latencies, elapsed, len(errors))
    summary.update(
        concurrency=concurrency,
        client_processes=processes,
        client_cpu_pct=round(100 * client_cpu / elapsed, 1) if elapsed else None,
        # server CPU is measured over the whole call (connection set-up included), a slight overestimate
        server_cpu_pct=round(100 * server_cpu / wall, 1) if wall else None,
        machine_cpu_pct=machine,
    )
    # CPU of processes other than this client and the server (other work on the machine skews results)
    summary["other_cpu_pct"] = round(
        max(0.0, machine - summary["server_cpu_pct"] - 100 * client_cpu / max(wall, 1e-9)), 1
    )
    if errors:
        summary["error_samples"] = sorted(set(errors))[:5]
    return summary


async def _open_loop(
    server: Server, path: str, bodies: list[dict[str, Any]], rate: float, seconds: float, max_in_flight: int
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=max_in_flight, max_keepalive_connections=max_in_flight)
    latencies: list[float] = []
    errors: list[str] = []
    dropped = 0
    in_flight = 0
    tasks: list[asyncio.Task[None]] = []
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"X-API-Key": server.api_key}, timeout=60.0, limits=limits
    ) as client:
        await asyncio.gather(*(client.get("/health/live") for _ in range(min(max_in_flight, 16))))

        async def one(body: dict[str, Any], scheduled: float) -> None:
            nonlocal in_flight
            try:
                response = await client.post(path, json=body)
                if response.status_code == 200:
                    # from the scheduled start: a late send counts against the server (no coordinated omission)
                    latencies.append(time.perf_counter() - scheduled)
                else:
                    errors.append(f"{response.status_code} {response.text[:200]}")
            except httpx.HTTPError as exc:
                errors.append(type(exc).__name__)
            finally:
                in_flight -= 1

        cpu0 = time.process_time()
        start = time.perf_counter() + 0.05
        for i, body in enumerate(bodies):
            scheduled = start + i / rate
            if scheduled - start >= seconds:
                break
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if in_flight >= max_in_flight:
                dropped += 1
                continue
            in_flight += 1
            tasks.append(asyncio.create_task(one(body, scheduled)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
        client_cpu = time.process_time() - cpu0
    summary = latency_summary(latencies, elapsed, len(errors))
    summary.update(
        offered_rps=rate,
        sent=len(tasks),
        dropped=dropped,
        client_cpu_pct=round(100 * client_cpu / elapsed, 1),
    )
    return summary


def run_open_loop(
    server: Server,
    path: str,
    bodies: list[dict[str, Any]],
    *,
    rate: float,
    seconds: float,
    max_in_flight: int = 64,
) -> dict[str, Any]:
    """Send at a fixed rate (requests/s) for `seconds`, whatever the answers; latency from the scheduled
    send time. Requests beyond `max_in_flight` outstanding are dropped and counted (overload)."""
    server_cpu0 = server.cpu_seconds()
    machine0 = machine_cpu_ticks()
    wall0 = time.perf_counter()
    summary = asyncio.run(_open_loop(server, path, bodies, rate, seconds, max_in_flight))
    wall = time.perf_counter() - wall0
    machine = machine_busy_pct(machine0, machine_cpu_ticks())
    summary["server_cpu_pct"] = round(100 * (server.cpu_seconds() - server_cpu0) / wall, 1)
    summary["machine_cpu_pct"] = machine
    summary["other_cpu_pct"] = round(
        max(0.0, machine - summary["server_cpu_pct"] - summary["client_cpu_pct"]), 1
    )
    return summary


# -- scenarios -------------------------------------------------------------------------------------


def batch_import(
    server: Server, gen: TextGen, users: list[str], *, jobs: int, per_job: int, concurrent_jobs: int
) -> dict[str, Any]:
    """Sequential jobs (one at a time), then `concurrent_jobs` submitted together."""
    results: dict[str, Any] = {"per_job": per_job, "sequential": [], "concurrent": None}
    with server.client() as client:
        for j in range(jobs):
            memories = [gen.memory_body(users[i % len(users)]) for i in range(per_job)]
            t0 = time.perf_counter()
            job_id = submit_batch(client, memories)
            accepted = time.perf_counter()
            done = wait_jobs(client, [job_id])[job_id]
            indexed = done + wait_indexed(client)
            job = data(client.get(f"/api/v1/jobs/{job_id}"))
            results["sequential"].append(
                {
                    "accept_ms": round((accepted - t0) * 1000, 1),
                    "completed_s": round(done - t0, 3),
                    "indexed_s": round(indexed - t0, 3),
                    "memories_per_s": round(per_job / (done - t0), 1),
                    "searchable_per_s": round(per_job / (indexed - t0), 1),
                    "created": job["result"]["created"],
                }
            )
            log(f"batch job {j + 1}/{jobs}: {results['sequential'][-1]}")
        if concurrent_jobs:
            batches = [
                [gen.memory_body(users[i % len(users)]) for i in range(per_job)]
                for _ in range(concurrent_jobs)
            ]
            cpu0 = server.cpu_seconds()
            t0 = time.perf_counter()
            job_ids = [submit_batch(client, b) for b in batches]
            done = max(wait_jobs(client, job_ids).values())
            indexed = done + wait_indexed(client)
            total = per_job * concurrent_jobs
            results["concurrent"] = {
                "jobs": concurrent_jobs,
                "memories": total,
                "completed_s": round(done - t0, 3),
                "indexed_s": round(indexed - t0, 3),
                "memories_per_s": round(total / (done - t0), 1),
                "searchable_per_s": round(total / (indexed - t0), 1),
                "server_cpu_pct": round(100 * (server.cpu_seconds() - cpu0) / (indexed - t0), 1),
            }
            log(f"batch concurrent: {results['concurrent']}")
    seq = results["sequential"]
    if seq:
        results["median_memories_per_s"] = sorted(r["memories_per_s"] for r in seq)[len(seq) // 2]
        results["median_searchable_per_s"] = sorted(r["searchable_per_s"] for r in seq)[len(seq) // 2]
    return results


def create_bodies(gen: TextGen, users: list[str], count: int) -> list[dict[str, Any]]:
    return [gen.memory_body(gen.rng.choice(users)) for _ in range(count)]


def search_bodies(
    gen: TextGen, users: list[str], count: int, *, distinct: bool, pool: int = 100
) -> list[dict[str, Any]]:
    """`count` search bodies: all-distinct queries, or `pool` distinct queries cycled."""
    if distinct:
        pairs = list(gen.queries(users, count, distinct=True))
    else:
        base = list(gen.queries(users, pool, distinct=True))
        pairs = [base[i % len(base)] for i in range(count)]
    return [{"user_id": user, "query": query, "limit": 10} for user, query in pairs]


def run(
    *,
    quick: bool = False,
    processes: int = 1,
    concurrencies: tuple[int, ...] = (1, 8, 32),
    max_seconds: float = 20.0,
    quiet_wait: float = 0.0,
) -> dict[str, Any]:
    gen = TextGen(seed=1)
    users = user_ids(50)
    scale = 0.25 if quick else 1.0
    max_seconds = max_seconds * (0.5 if quick else 1.0)
    result: dict[str, Any] = {
        "machine": machine_info(),
        "settings": {
            "users": len(users),
            "max_seconds_per_scenario": max_seconds,
            "client_processes": processes,
            "search_limit": 10,
            "cached_query_pool": 100,
        },
    }
    result["background_cpu_pct_before"] = wait_for_quiet(max_wait=quiet_wait)
    with terminate_on_sigterm(), Server() as server:
        result["cold_start_empty_s"] = round(server.cold_start_seconds or 0, 3)
        log(f"server ready in {server.cold_start_seconds:.2f} s at {server.base_url}")

        result["batch_import"] = batch_import(
            server,
            gen,
            users,
            jobs=3 if not quick else 1,
            per_job=1000,
            concurrent_jobs=4 if not quick else 2,
        )

        # warm-up: both paths once, not counted
        run_load(
            server,
            CREATE_PATH,
            create_bodies(gen, users, 20),
            concurrency=4,
            max_seconds=10,
            expected_status=201,
        )
        run_load(
            server, SEARCH_PATH, search_bodies(gen, users, 20, distinct=True), concurrency=4, max_seconds=10
        )

        result["create"] = {}
        for c in concurrencies:
            count = int({1: 400, 8: 1500, 32: 2500}.get(c, 1500) * scale)
            stats = run_load(
                server,
                CREATE_PATH,
                create_bodies(gen, users, count),
                concurrency=c,
                max_seconds=max_seconds,
                processes=processes,
                expected_status=201,
            )
            result["create"][str(c)] = stats
            log(f"create c={c}: {_brief(stats)}")
        with server.client() as client:
            wait_indexed(client)
        imported = result["batch_import"]
        result["memories_at_search"] = (
            imported["per_job"]
            * (len(imported["sequential"]) + (imported["concurrent"] or {}).get("jobs", 0))
            + 20
            + sum(s["count"] for s in result["create"].values())
        )

        for mode, distinct in (("search_cached", False), ("search_distinct", True)):
            result[mode] = {}
            for c in concurrencies:
                count = int({1: 1000, 8: 3000, 32: 4000}.get(c, 3000) * scale)
                bodies = search_bodies(gen, users, count, distinct=distinct)
                stats = run_load(
                    server, SEARCH_PATH, bodies, concurrency=c, max_seconds=max_seconds, processes=processes
                )
                stats["distinct_queries"] = len({b["query"] for b in bodies[: stats["count"]]})
                result[mode][str(c)] = stats
                log(f"{mode} c={c}: {_brief(stats)}")

        # Is the client the bottleneck? The same load from 2 client processes.
        if processes == 1 and not quick:
            bodies = search_bodies(gen, users, 4000, distinct=True)
            stats = run_load(
                server, SEARCH_PATH, bodies, concurrency=32, max_seconds=max_seconds, processes=2
            )
            result["search_distinct_2proc_c32"] = stats
            log(f"search distinct c=32, 2 client processes: {_brief(stats)}")
        result["server_rss_mb_end"] = round(server.rss_mb(), 1)
        result["server_peak_rss_mb"] = round(server.peak_rss_mb(), 1)
    return result


def _brief(stats: dict[str, Any]) -> str:
    keys = (
        "count",
        "errors",
        "throughput_rps",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "client_cpu_pct",
        "server_cpu_pct",
    )
    return ", ".join(f"{k}={stats.get(k)}" for k in keys)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer requests and shorter scenarios")
    parser.add_argument("--processes", type=int, default=1, help="client processes (default 1)")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="time limit of each scenario")
    parser.add_argument("--wait-quiet", type=float, default=0.0, help="wait up to N s for an idle machine")
    args = parser.parse_args()
    result = run(
        quick=args.quick, processes=args.processes, max_seconds=args.max_seconds, quiet_wait=args.wait_quiet
    )
    result["command"] = "python -m bench.load" + (" --quick" if args.quick else "")
    path = write_result("load", result)
    log(f"wrote {path}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
