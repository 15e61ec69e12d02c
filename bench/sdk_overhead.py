"""What the Python SDK adds to a request: POST /api/v1/memories/search through `MemBank` and `AsyncMemBank`
against raw httpx (`Client` and `AsyncClient` posting the same JSON and decoding the answer), on loopback.

    .venv/bin/python -m bench.sdk_overhead [--requests 2000] [--memories 200]

One real `membank serve` with the memories of one user; four keep-alive clients with the same key. The
requests alternate between them (raw sync, SDK sync, raw async, SDK async, raw sync, ...), c=1, so every
variant sees the same server and machine load; the query is the same each time, so after the first request
the search is served from the result cache and the server's share is as small as it gets. The figures to
report are p50(SDK) - p50(raw) for each twin; the goal is at most 0.2 ms. On a shared machine the
difference of two p50s moves by a few tenths of a ms, so the SDK's own work per call (building the call
and its request, reading the envelope into a `SearchResult` of the real answer) is also timed in process.

Writes bench/results/sdk_overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import numpy as np

from bench.common import Server, latency_summary, log, seed_memories, visited_cities, write_result
from membank.client import AsyncMemBank, MemBank

USER = "bench-user"
QUERY = "where does the user like to travel"
SEARCH = {"user_id": USER, "query": QUERY, "limit": 10}


async def _round(variants: dict[str, Callable[[], Any]], timings: dict[str, list[float]] | None) -> None:
    for name, send in variants.items():
        started = time.perf_counter()
        result = send()
        if isinstance(result, Awaitable):
            result = await result
        elapsed = time.perf_counter() - started
        if timings is not None:
            timings[name].append(elapsed)


def _raw_sync(client: httpx.Client) -> Callable[[], Any]:
    def send() -> Any:
        response = client.post("/api/v1/memories/search", json=SEARCH)
        response.raise_for_status()
        return response.json()["data"]

    return send


def _raw_async(client: httpx.AsyncClient) -> Callable[[], Awaitable[Any]]:
    async def send() -> Any:
        response = await client.post("/api/v1/memories/search", json=SEARCH)
        response.raise_for_status()
        return response.json()["data"]

    return send


def _in_process(sdk: MemBank, calls: int) -> dict[str, Any]:
    """Per search without the network: the SDK's work (the call, its request, the answer read into a
    `SearchResult`) and raw httpx's (building the request, decoding the JSON) on the same real answer."""
    transport = sdk._transport
    answer = transport.http.send(transport.request(transport.http, _call(sdk)))

    def sdk_work() -> None:
        call = _call(sdk)
        transport.request(transport.http, call)
        transport.read(call, answer)

    def raw_work() -> None:
        transport.http.build_request("POST", "/api/v1/memories/search", json=SEARCH)
        answer.json()["data"]

    result: dict[str, Any] = {"calls": calls}
    for name, work in (("sdk", sdk_work), ("raw_httpx", raw_work)):
        timings = []
        for _ in range(calls):
            started = time.perf_counter()
            work()
            timings.append(time.perf_counter() - started)
        result[f"{name}_p50_ms"] = round(float(np.percentile(np.asarray(timings) * 1000.0, 50)), 4)
    result["overhead_p50_ms"] = round(result["sdk_p50_ms"] - result["raw_httpx_p50_ms"], 4)
    return result


def _call(sdk: MemBank) -> Any:
    """The search call as the SDK's method builds it (the endpoint declaration, read from the class)."""
    return type(sdk.memories).search.call(sdk.memories, USER, QUERY, limit=10)


async def _measure(server: Server, requests: int) -> tuple[dict[str, list[float]], float, dict[str, Any]]:
    headers = {"X-API-Key": server.api_key}
    with (
        httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as raw_sync,
        MemBank(server.base_url, api_key=server.api_key, timeout=60) as sdk_sync,
    ):
        async with (
            httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=60) as raw_async,
            AsyncMemBank(server.base_url, api_key=server.api_key, timeout=60) as sdk_async,
        ):
            variants: dict[str, Callable[[], Any]] = {
                "raw_httpx_sync": _raw_sync(raw_sync),
                "membank_sync": lambda: sdk_sync.memories.search(USER, QUERY, limit=10),
                "raw_httpx_async": _raw_async(raw_async),
                "membank_async": lambda: sdk_async.memories.search(USER, QUERY, limit=10),
            }
            for _ in range(100):  # connections, the result cache, the first parses
                await _round(variants, None)
            timings: dict[str, list[float]] = {name: [] for name in variants}
            started = time.perf_counter()
            for _ in range(requests):
                await _round(variants, timings)
            elapsed = time.perf_counter() - started
        in_process = _in_process(sdk_sync, requests)
    return timings, elapsed, in_process


def run(requests: int, memories: int) -> dict[str, Any]:
    with Server() as server:
        with server.client() as seeding:
            seed_memories(seeding, visited_cities(memories), USER)
        timings, elapsed, in_process = asyncio.run(_measure(server, requests))
    result: dict[str, Any] = {
        "requests_per_variant": requests,
        "memories": memories,
        **{name: latency_summary(values, elapsed) for name, values in timings.items()},
        "in_process_sdk_work": in_process,
    }
    for twin in ("sync", "async"):
        overhead = result[f"membank_{twin}"]["p50_ms"] - result[f"raw_httpx_{twin}"]["p50_ms"]
        result[f"{twin}_overhead_p50_ms"] = round(overhead, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--memories", type=int, default=200)
    args = parser.parse_args()
    result = run(args.requests, args.memories)
    path = write_result("sdk_overhead", result)
    for name in ("raw_httpx_sync", "membank_sync", "raw_httpx_async", "membank_async"):
        log(f"{name}: p50 {result[name]['p50_ms']} ms, p95 {result[name]['p95_ms']} ms")
    for twin in ("sync", "async"):
        log(f"{twin} SDK overhead p50: {result[f'{twin}_overhead_p50_ms']} ms (goal <= 0.2 ms)")
    work = result["in_process_sdk_work"]
    log(f"in process, per search p50: SDK {work['sdk_p50_ms']} ms, raw httpx {work['raw_httpx_p50_ms']} ms")
    log(f"written to {path}")


if __name__ == "__main__":
    main()
