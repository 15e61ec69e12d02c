"""What checking the API key against the store on every request costs: one authenticated GET, sequential.

    .venv/bin/python -m bench.auth_latency [--requests 2000] [--env NAME=VALUE ...]

A real `membank serve` and one keep-alive httpx client. It times `GET /api/v1/jobs/{unknown id}` (an
authenticated request that does one indexed read of its own and answers 404 JOB_NOT_FOUND) next to
`GET /health/live` (no key, no database) as the floor of the HTTP stack, alternating the two so both see the
same machine load. `--env` passes settings to the server (an older build read MEMBANK_KEY_CACHE_SECONDS).
The HTTP figures are noisy on a shared 2-core machine, so the key check itself is also timed in-process:
`AuthService.authenticate` (thread hop + indexed read + SHA-256) on a real SQLite store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Server, latency_summary
from membank.auth.keys import issue_key
from membank.auth.service import AuthService
from membank.bootstrap import build_store
from membank.config import Settings


def _timed(client: Any, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - started
    if response.status_code not in (200, 404):
        raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
    return elapsed


def run(requests: int, env: dict[str, str]) -> dict[str, Any]:
    with Server(env=env) as server, server.client() as client:
        authenticated: list[float] = []
        floor: list[float] = []
        for _ in range(50):  # warm the connection, the thread pool and SQLite's page cache
            _timed(client, "/api/v1/jobs/00000000-0000-0000-0000-000000000000")
        started = time.perf_counter()
        for _ in range(requests):
            authenticated.append(_timed(client, "/api/v1/jobs/00000000-0000-0000-0000-000000000000"))
            floor.append(_timed(client, "/health/live"))
        elapsed = time.perf_counter() - started
    return {
        "env": env,
        "authenticated_get": latency_summary(authenticated, elapsed),
        "unauthenticated_health_live": latency_summary(floor, elapsed),
    }


def run_in_process(calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="membank-auth-") as folder:
        store = build_store(Settings(data_dir=Path(folder)))
        key = issue_key(store.keys, tenant_name="bench", name="bench").plaintext
        auth = AuthService(store.keys, enabled=True)

        async def loop() -> list[float]:
            timings: list[float] = []
            for _ in range(calls):
                started = time.perf_counter()
                await auth.authenticate(key)
                timings.append(time.perf_counter() - started)
            return timings

        asyncio.run(loop())  # warm-up
        started = time.perf_counter()
        timings = asyncio.run(loop())
        elapsed = time.perf_counter() - started
        store.close()
    return latency_summary(timings, elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    result = run(args.requests, env)
    result["in_process_authenticate"] = run_in_process(args.requests)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
