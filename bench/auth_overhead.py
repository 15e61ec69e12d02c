"""What authentication adds to a request: POST /api/v1/memories/search with auth disabled, with an API key,
and with a JWT access token (once the token issuer exists), on loopback.

    .venv/bin/python -m bench.auth_overhead [--requests 2000] [--memories 200]

Two real `membank serve` processes with identical data (the same memories of one user in the default
tenant): one with MEMBANK_AUTH_ENABLED=false, one with auth on. One keep-alive httpx client per server;
the requests alternate between them (no auth, key, JWT, no auth, ...) so every variant sees the same
machine load. The query is the same each time, so after the first request the search is served from the
result cache. The figure to report is p50(auth) - p50(no auth); the goal is at most 0.3 ms. On a shared
machine the two processes' difference is noisy (either sign, a few tenths of a ms), so the key check alone
is also timed in-process (`AuthService.authenticate` on a real SQLite store, as bench.auth_latency does).

The JWT variant is skipped, with the reason, when the server has no `/.well-known/jwks.json` (no token
issuer yet) or no account can be created and logged in (`membank users create`, `POST /api/v1/auth/login`).

Writes bench/results/auth_overhead.json.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import httpx

from bench.auth_latency import run_in_process
from bench.common import (
    Server,
    create_account,
    latency_summary,
    log,
    seed_memories,
    visited_cities,
    write_result,
)

SEARCH = {"user_id": "bench-user", "query": "where does the user like to travel", "limit": 10}
_EMAIL = "bench-admin@example.com"
_PASSWORD = "bench: a long throwaway passphrase 9041"


def _jwt(server: Server) -> tuple[str | None, str]:
    """An access token of a fresh tenant-admin account, or None and why there is none."""
    with httpx.Client(base_url=server.base_url, timeout=10) as plain:
        if plain.get("/.well-known/jwks.json").status_code != 200:
            return None, "no /.well-known/jwks.json on this build (the token issuer has not landed)"
        failed = create_account(
            server, tenant="default", email=_EMAIL, password=_PASSWORD, role="tenant-admin"
        )
        if failed is not None:
            return None, failed
        login = plain.post(
            "/api/v1/auth/login", json={"tenant": "default", "email": _EMAIL, "password": _PASSWORD}
        )
        if login.status_code != 200:
            return None, f"login answered {login.status_code}: {login.text[:300]}"
        return str(login.json()["data"]["access_token"]), ""


def _timed(client: httpx.Client) -> float:
    started = time.perf_counter()
    response = client.post("/api/v1/memories/search", json=SEARCH)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"search: {response.status_code} {response.text[:200]}")
    return elapsed


def run(requests: int, memories: int) -> dict[str, Any]:
    with (
        Server(env={"MEMBANK_AUTH_ENABLED": "false"}) as open_server,
        Server() as auth_server,
    ):
        clients = {
            "no_auth": httpx.Client(base_url=open_server.base_url, timeout=60),
            "api_key": auth_server.client(),
        }
        for name in ("no_auth", "api_key"):
            seed_memories(clients[name], visited_cities(memories))
        token, jwt_skipped = _jwt(auth_server)
        if token is not None:
            clients["jwt"] = httpx.Client(
                base_url=auth_server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
            )
        else:
            log(f"JWT variant skipped: {jwt_skipped}")
        try:
            timings: dict[str, list[float]] = {name: [] for name in clients}
            for _ in range(100):  # connections, thread pools, the result cache, SQLite's page cache
                for client in clients.values():
                    _timed(client)
            started = time.perf_counter()
            for _ in range(requests):
                for name, client in clients.items():
                    timings[name].append(_timed(client))
            elapsed = time.perf_counter() - started
        finally:
            for client in clients.values():
                client.close()
    result: dict[str, Any] = {
        "requests_per_variant": requests,
        "memories": memories,
        **{name: latency_summary(values, elapsed) for name, values in timings.items()},
    }
    for name in ("api_key", "jwt"):
        if name in result:
            result[f"{name}_overhead_p50_ms"] = round(result[name]["p50_ms"] - result["no_auth"]["p50_ms"], 3)
    if token is None:
        result["jwt_skipped"] = jwt_skipped
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--memories", type=int, default=200)
    args = parser.parse_args()
    result = run(args.requests, args.memories)
    # Two processes differ by more than the key check on a busy machine; the check alone, in-process, is
    # the figure that does not move with the load.
    result["in_process_authenticate"] = run_in_process(args.requests)
    path = write_result("auth_overhead", result)
    for name in ("no_auth", "api_key", "jwt"):
        if name in result:
            log(f"{name}: p50 {result[name]['p50_ms']} ms, p95 {result[name]['p95_ms']} ms")
    for name in ("api_key", "jwt"):
        if f"{name}_overhead_p50_ms" in result:
            log(f"{name} overhead p50: {result[f'{name}_overhead_p50_ms']} ms (goal <= 0.3 ms)")
    log(f"in-process AuthService.authenticate p50: {result['in_process_authenticate']['p50_ms']} ms")
    log(f"written to {path}")


if __name__ == "__main__":
    main()
