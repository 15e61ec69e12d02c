"""The JWT request path's session check, in process: `AuthService.authenticate` of a login session's access
token on each system of record, with and without the Redis session cache.

    .venv/bin/python -m bench.session_check [--calls 3000]

Starts a real PostgreSQL (pgserver wheel) and redis-server on free loopback ports (tests/support). Each
variant builds the container a server would (without the vector index), starts one session and times
`calls` checks after a warm-up; with the cache every check after the first is one Redis round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.postgres import start_postgres
from tests.support.redis import start_redis

from bench.common import latency_summary, log, write_result
from membank.accounts.service import NewAccount
from membank.auth.events import RequestOrigin
from membank.bootstrap import build_container
from membank.config import Settings
from membank.models import Principal

_PASSWORD = "a long throwaway passphrase 7319 for the bench"
_ORIGIN = RequestOrigin(ip="127.0.0.1", user_agent="bench")


def _variant(settings: Settings, calls: int) -> dict[str, Any]:
    container = build_container(settings, with_index=False)
    try:
        tenant = container.store.keys.ensure_tenant("bench")
        account = container.account_admin.create(
            Principal.system(tenant.id, "bench"),
            NewAccount("checker@example.com", ["user"], user_ids=["u1"], password=_PASSWORD),
            _ORIGIN,
        )
        issued = asyncio.run(container.sessions.start(account, device="bench", origin=_ORIGIN, mfa_at=None))

        async def loop() -> list[float]:
            timings: list[float] = []
            for _ in range(calls):
                started = time.perf_counter()
                await container.auth.authenticate(issued.access_token)
                timings.append(time.perf_counter() - started)
            return timings

        asyncio.run(loop())  # warm-up: connections, the signing keys, the cache entry
        started = time.perf_counter()
        timings = asyncio.run(loop())
        return latency_summary(timings, time.perf_counter() - started)
    finally:
        asyncio.run(container.aclose())


def run(calls: int) -> dict[str, Any]:
    result: dict[str, Any] = {"calls": calls}
    with start_postgres() as postgres, start_redis() as redis_server:
        for store in ("sqlite", "postgres"):
            for cached in (False, True):
                with tempfile.TemporaryDirectory(prefix="membank-session-bench-") as folder:
                    database_url = postgres.url(postgres.create_database()) if store == "postgres" else None
                    settings = Settings(
                        data_dir=Path(folder),
                        store=store,
                        database_url=database_url,
                        redis_url=redis_server.url() if cached else None,
                        argon2_memory_kib=64,
                        log_level="WARNING",
                    )
                    name = f"{store}{'+redis' if cached else ''}"
                    result[name] = _variant(settings, calls)
                    log(f"{name}: p50 {result[name]['p50_ms']} ms, p95 {result[name]['p95_ms']} ms")
                    redis_server.flush()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args()
    path = write_result("session_check", run(args.calls))
    log(f"written to {path}")


if __name__ == "__main__":
    main()
