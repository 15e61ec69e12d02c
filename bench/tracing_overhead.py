"""What tracing costs a search: POST /api/v1/memories/search with tracing off, on with every trace sampled,
and on with 1 % sampled (the setting to run in production), on loopback.

    .venv/bin/python -m bench.tracing_overhead [--requests 600] [--throughput-requests 800] [--memories 200]

Three real `membank serve` processes with identical data; the two traced ones export over OTLP/HTTP to a
real receiver in this process (tests/support/otlp.py decodes every export, so the exporter does its whole
job). Every query is new (its own embedding, index search, store reads and ranking: the full span tree), and
the three servers get the same queries in the same order.

- c=1 latency: the requests alternate between the servers (off, 100 %, 1 %, off, ...) so every variant sees
  the same machine load; the figure is p50 of each and the overhead in % of p50(off).
- c=8 throughput: 8 threads with a client each against one server at a time, in rounds (off, 100 %, 1 %,
  then again) so a drifting machine load hits every variant alike; the figure is the mean requests/s of the
  rounds.

Goal: at most 5 % overhead at 1 % sampling. Writes bench/results/tracing_overhead.json.
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
from tests.support.otlp import otlp_receiver

from bench.common import Server, latency_summary, log, seed_memories, wait_for_quiet, write_result

VARIANTS = ("off", "sampled_100", "sampled_1")
_RATIOS = {"sampled_100": "1.0", "sampled_1": "0.01"}
_CITIES = ("Lisbon", "Kyoto", "Quito", "Oslo", "Hanoi", "Dakar", "Perth", "Lima", "Riga", "Cusco")


def _queries() -> Iterator[str]:
    """Queries never asked before in the run (so no result or embedding cache answers them)."""
    for n in itertools.count():
        yield f"what did the user think of {_CITIES[n % len(_CITIES)]} on trip number {n}"


def _trips(memories: int) -> list[str]:
    return [
        f"Fact {i}: the user visited {_CITIES[i % len(_CITIES)]} on trip {i} and liked it."
        for i in range(memories)
    ]


def _timed(client: httpx.Client, query: str) -> float:
    started = time.perf_counter()
    response = client.post(
        "/api/v1/memories/search", json={"user_id": "bench-user", "query": query, "limit": 10}
    )
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"search: {response.status_code} {response.text[:200]}")
    return elapsed


def _latency(servers: dict[str, Server], queries: Iterator[str], requests: int) -> dict[str, Any]:
    clients = {name: server.client() for name, server in servers.items()}
    try:
        timings: dict[str, list[float]] = {name: [] for name in clients}
        for _ in range(50):  # connections, thread pools, the model's first calls, SQLite's page cache
            query = next(queries)
            for client in clients.values():
                _timed(client, query)
        started = time.perf_counter()
        for _ in range(requests):
            query = next(queries)
            for name, client in clients.items():
                timings[name].append(_timed(client, query))
        elapsed = time.perf_counter() - started
    finally:
        for client in clients.values():
            client.close()
    return {name: latency_summary(values, elapsed) for name, values in timings.items()}


def _throughput(server: Server, queries: list[str], concurrency: int) -> float:
    """Requests per second of `concurrency` threads sharing `queries` against one server."""
    lock = threading.Lock()
    pending = iter(queries)
    errors: list[BaseException] = []

    def drive() -> None:
        with server.client() as client:
            while True:
                with lock:
                    query = next(pending, None)
                if query is None:
                    return
                try:
                    _timed(client, query)
                except BaseException as exc:  # reported after the run, not lost in a thread
                    errors.append(exc)
                    return

    threads = [threading.Thread(target=drive) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, the first: {errors[0]!r}")
    return len(queries) / elapsed


def run(requests: int, throughput_requests: int, memories: int, rounds: int = 2) -> dict[str, Any]:
    with otlp_receiver() as receiver:
        envs = {
            "off": {},
            **{
                name: {"MEMBANK_OTLP_ENDPOINT": receiver.endpoint, "MEMBANK_TRACE_SAMPLE_RATIO": ratio}
                for name, ratio in _RATIOS.items()
            },
        }
        servers = {name: Server(env={"MEMBANK_AUTH_ENABLED": "false", **envs[name]}) for name in VARIANTS}
        try:
            for server in servers.values():
                server.start()
                with server.client() as client:
                    seed_memories(client, _trips(memories))
            busy = wait_for_quiet(max_wait=60)
            queries = _queries()
            latency = _latency(servers, queries, requests)
            throughput: dict[str, list[float]] = {name: [] for name in VARIANTS}
            for _ in range(rounds):
                batch = [next(queries) for _ in range(throughput_requests)]
                for name in VARIANTS:
                    throughput[name].append(_throughput(servers[name], batch, 8))
        finally:
            for server in servers.values():
                server.close()
        spans_received = len(receiver.spans)
    off_p50 = latency["off"]["p50_ms"]
    off_rps = sum(throughput["off"]) / rounds
    result: dict[str, Any] = {
        "requests_per_variant": requests,
        "throughput_requests_per_round": throughput_requests,
        "rounds": rounds,
        "memories": memories,
        "background_cpu_pct_before": round(busy, 1),
        "spans_received": spans_received,
        "c1": latency,
        "c8_rps": {name: [round(value, 1) for value in values] for name, values in throughput.items()},
    }
    for name in ("sampled_100", "sampled_1"):
        p50 = latency[name]["p50_ms"]
        rps = sum(throughput[name]) / rounds
        result[f"{name}_c1_p50_overhead_pct"] = round(100 * (p50 - off_p50) / off_p50, 1)
        result[f"{name}_c8_throughput_loss_pct"] = round(100 * (off_rps - rps) / off_rps, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--throughput-requests", type=int, default=800)
    parser.add_argument("--memories", type=int, default=200)
    args = parser.parse_args()
    result = run(args.requests, args.throughput_requests, args.memories)
    path = write_result("tracing_overhead", result)
    for name in VARIANTS:
        c1 = result["c1"][name]
        log(f"{name}: c=1 p50 {c1['p50_ms']} ms, p95 {c1['p95_ms']} ms; c=8 {result['c8_rps'][name]} req/s")
    for name in ("sampled_100", "sampled_1"):
        log(
            f"{name}: c=1 p50 overhead {result[f'{name}_c1_p50_overhead_pct']} %, c=8 throughput loss"
            f" {result[f'{name}_c8_throughput_loss_pct']} % (goal <= 5 % at 1 %)"
        )
    log(f"spans received: {result['spans_received']}; written to {path}")


if __name__ == "__main__":
    main()
