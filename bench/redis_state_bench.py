"""Cost of the shared state on Redis per request: a rate limit check and a lock acquire.

    .venv/bin/python -m bench.redis_state_bench [--rounds 5000]

Starts a real redis-server on a free loopback port (tests/support/redis.py) and measures, in process and
single-threaded, p50/p99 in µs of: the in-process GCRA check of one request against two rates (key and
tenant), the same check as the Redis Lua script (one EVALSHA round trip), and a lock acquire on Redis.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from tests.support.redis import start_redis

from membank.storage.inprocess import InProcessRateLimits
from membank.storage.ports import Rate
from membank.storage.redis import RedisConnection, RedisLockRepository, RedisRateLimits

# Limits no round reaches: every check is a full check and write, never a refusal.
RATES = [Rate("key:t:k:minute", 10**9, 60.0, 10**9), Rate("tenant:t:minute", 10**9, 60.0, 10**9)]


def _percentiles(call: Callable[[], object], rounds: int) -> str:
    for _ in range(200):
        call()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    return f"p50 {samples[rounds // 2]:.0f} µs, p99 {samples[int(rounds * 0.99)]:.0f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5000)
    args = parser.parse_args()
    local = InProcessRateLimits()
    print("rate limit check, in process (2 rates):", _percentiles(lambda: local.hit(RATES), args.rounds))
    with start_redis() as server:
        connection = RedisConnection(server.url(), timeout_seconds=1.0, retry_seconds=1.0)
        shared = RedisRateLimits(connection)
        locks = RedisLockRepository(connection)
        print("rate limit check, Redis (2 rates):", _percentiles(lambda: shared.hit(RATES), args.rounds))
        print(
            "lock acquire, Redis:",
            _percentiles(lambda: locks.acquire("user:bench", "owner", time.time(), 15.0), args.rounds),
        )
        connection.close()


if __name__ == "__main__":
    main()
