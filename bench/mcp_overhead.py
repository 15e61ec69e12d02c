"""What MCP adds to a search: the search_memories tool called through the official MCP client over streamable
HTTP (/mcp) against POST /api/v1/memories/search, on one real `membank serve`, on loopback.

    .venv/bin/python -m bench.mcp_overhead [--requests 1000] [--memories 200]

Each goes through one keep-alive HTTP client, in the same event loop, alternating (REST, MCP, raw MCP, ...)
so all see the same machine load. "Raw MCP" posts the same tools/call as JSON-RPC with plain httpx: the
server's share of a tool call, without the MCP client's own work (it validates the result against the tool's
output schema, among other things). The query is the same each time, so after the first request the search is
served from the result cache: what is left is the request path, which is what MCP adds to. A tool call is an
MCP request (JSON-RPC, the SDK's validation of arguments and output) plus the REST call it stands for, made
in-process. The goal: p50(MCP) <= 2 x p50(REST).

Writes bench/results/mcp_overhead.json.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from bench.common import Server, latency_summary, log, seed_memories, visited_cities, write_result

SEARCH = {"user_id": "bench-user", "query": "where does the user like to travel", "limit": 10}


async def _measure(server: Server, requests: int) -> dict[str, list[float]]:
    headers = {"X-API-Key": server.api_key}
    timings: dict[str, list[float]] = {"rest": [], "mcp": [], "mcp_raw": []}
    mcp_http = httpx2.AsyncClient(headers=headers, timeout=60)
    async with (
        httpx.AsyncClient(base_url=server.base_url, headers=headers, timeout=60) as rest,
        mcp_http,
        Client(streamable_http_client(f"{server.base_url}/mcp", http_client=mcp_http)) as mcp,
    ):

        async def rest_search() -> None:
            answer = await rest.post("/api/v1/memories/search", json=SEARCH)
            if answer.status_code != 200:
                raise RuntimeError(f"REST search: {answer.status_code} {answer.text[:200]}")

        async def mcp_search() -> None:
            result = await mcp.call_tool("search_memories", SEARCH)
            if result.is_error or not result.structured_content:
                raise RuntimeError(f"MCP search failed: {result.content}")

        tool_call = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "search_memories", "arguments": SEARCH},
        }

        async def raw_mcp_search() -> None:
            answer = await rest.post(
                "/mcp", json=tool_call, headers={"Accept": "application/json, text/event-stream"}
            )
            if answer.status_code != 200 or answer.json()["result"].get("isError"):
                raise RuntimeError(f"raw MCP search: {answer.status_code} {answer.text[:200]}")

        calls = {"rest": rest_search, "mcp": mcp_search, "mcp_raw": raw_mcp_search}
        for _ in range(100):  # connections, thread pools, the result cache
            for call in calls.values():
                await call()
        for _ in range(requests):
            for name, call in calls.items():
                started = time.perf_counter()
                await call()
                timings[name].append(time.perf_counter() - started)
    return timings


def run(requests: int, memories: int) -> dict[str, Any]:
    with Server() as server:
        with server.client() as client:
            seed_memories(client, visited_cities(memories))
        started = time.perf_counter()
        timings = asyncio.run(_measure(server, requests))
        elapsed = time.perf_counter() - started
    rest, mcp, raw = (latency_summary(timings[name], elapsed) for name in ("rest", "mcp", "mcp_raw"))
    return {
        "requests_per_variant": requests,
        "memories": memories,
        "rest": rest,
        "mcp": mcp,
        "mcp_raw": raw,
        "mcp_over_rest_p50": round(mcp["p50_ms"] / rest["p50_ms"], 2),
        "mcp_raw_over_rest_p50": round(raw["p50_ms"] / rest["p50_ms"], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--memories", type=int, default=200)
    args = parser.parse_args()
    result = run(args.requests, args.memories)
    path = write_result("mcp_overhead", result)
    log(f"REST search p50 {result['rest']['p50_ms']} ms, p95 {result['rest']['p95_ms']} ms")
    log(f"MCP search_memories p50 {result['mcp']['p50_ms']} ms, p95 {result['mcp']['p95_ms']} ms")
    log(f"raw JSON-RPC tools/call p50 {result['mcp_raw']['p50_ms']} ms, p95 {result['mcp_raw']['p95_ms']} ms")
    log(
        f"MCP / REST at p50: {result['mcp_over_rest_p50']} with the MCP client, {result['mcp_raw_over_rest_p50']} raw (goal <= 2)"
    )
    log(f"written to {path}")


if __name__ == "__main__":
    main()
