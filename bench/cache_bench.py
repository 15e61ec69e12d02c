"""Cache: search latency with cold caches, a warm L1, and a fresh process on a warm Redis (L2 only).

    .venv/bin/python -m bench.cache_bench [--memories 5000] [--users 50] [--queries 300]

In-process (no HTTP), one SQLite data dir, a real redis-server (tests.support.redis) on loopback. Each query
is a distinct text for one user; each pass runs them one after the other (c=1) through `SearchService`.

1. cold: a fresh process, empty Redis: embedding + index query + load for every query;
2. warm L1: the same queries again in that process: the ranking from L1, one `get_many` to load;
3. fresh process, warm Redis: a new container on the same data dir and Redis: query vectors warmed into L1 at
   start, rankings from Redis;
4. no Redis, fresh process: the baseline of a process with L1 only (as 1, without the Redis writes).

Writes bench/results/cache.json, with the hit ratios of each pass.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.redis import start_redis

from bench.common import latency_summary, log, write_result
from bench.texts import TextGen, user_ids
from membank.auth.keys import issue_key
from membank.bootstrap import Container, build_container
from membank.cache import process_totals
from membank.config import Settings
from membank.memories.schemas import MemoryIn
from membank.models import Principal, new_memory
from membank.search.schemas import SearchIn


async def _ingest(
    container: Container, principal: Principal, gen: TextGen, users: list[str], count: int
) -> None:
    per_user = count // len(users)
    for user in users:
        memories = [
            new_memory(principal, MemoryIn(user_id=user, content=gen.memory(user))) for _ in range(per_user)
        ]
        vectors = await container.embedder.embed([m.content for m in memories])
        await asyncio.to_thread(
            container.store.memories.insert,
            memories,
            vectors.tolist(),
            container.embedder.model_id,
            actor="bench",
        )
    assert container.index_sync is not None
    await asyncio.to_thread(container.index_sync.apply_due)


async def _pass(container: Container, principal: Principal, queries: list[tuple[str, str]]) -> dict[str, Any]:
    assert container.search is not None
    latencies = []
    before = _counts()
    started = time.perf_counter()
    for user, text in queries:
        t0 = time.perf_counter()
        await container.search.search(principal, SearchIn(user_id=user, query=text, limit=10))
        latencies.append(time.perf_counter() - t0)
    summary = latency_summary(latencies, time.perf_counter() - started)
    after = _counts()
    summary["lookups"] = {key: after[key] - before.get(key, 0) for key in after}
    return summary


def _counts() -> dict[str, int]:
    """Hits and misses of every cache and layer so far in this process, as `cache.layer.hits`."""
    out: dict[str, int] = {}
    for name, stats in process_totals().items():
        for layer in ("l1", "l2"):
            out[f"{name}.{layer}.hits"] = stats.hits[layer]
            out[f"{name}.{layer}.misses"] = stats.misses[layer]
    return out


async def _open(settings: Settings, plaintext: str) -> tuple[Container, Principal]:
    container = await asyncio.to_thread(build_container, settings)
    started = time.perf_counter()
    await container.start()
    log(f"  started in {time.perf_counter() - started:.2f} s (with warm-up)")
    return container, await container.auth.authenticate(plaintext)


async def run(options: argparse.Namespace) -> dict[str, Any]:
    gen = TextGen(seed=7)
    users = user_ids(options.users)
    queries = list(gen.queries(users, options.queries, distinct=True))
    result: dict[str, Any] = {
        "memories": options.memories,
        "users": options.users,
        "queries": options.queries,
        "concurrency": 1,
    }
    with start_redis() as redis, tempfile.TemporaryDirectory(prefix="membank-cache-bench-") as tmp:
        base = {"data_dir": Path(tmp), "run_workers": False, "log_level": "WARNING"}
        with_redis = Settings(**base, redis_url=redis.url())
        first = await asyncio.to_thread(build_container, with_redis)
        plaintext = issue_key(first.store.keys, tenant_name="bench", name="cache").plaintext
        await first.start()
        principal = await first.auth.authenticate(plaintext)
        log(f"ingesting {options.memories} memories for {options.users} users")
        await _ingest(first, principal, gen, users, options.memories)
        await first.embedder.aclose()  # the vectors of the documents are not what the queries hit
        await first.aclose()

        container, principal = await _open(with_redis, plaintext)
        result["cold"] = await _pass(container, principal, queries)
        log(f"cold: {result['cold']['p50_ms']} ms p50")
        result["warm_l1"] = await _pass(container, principal, queries)
        log(f"warm L1: {result['warm_l1']['p50_ms']} ms p50")
        await container.aclose()

        container, principal = await _open(with_redis, plaintext)
        result["fresh_process_warm_l2"] = await _pass(container, principal, queries)
        log(f"fresh process, warm Redis: {result['fresh_process_warm_l2']['p50_ms']} ms p50")
        await container.aclose()

        container, principal = await _open(Settings(**base), plaintext)
        result["fresh_process_no_redis"] = await _pass(container, principal, queries)
        log(f"fresh process, no Redis: {result['fresh_process_no_redis']['p50_ms']} ms p50")
        await container.aclose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memories", type=int, default=5000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--queries", type=int, default=300)
    options = parser.parse_args()
    result = asyncio.run(run(options))
    log(f"wrote {write_result('cache', result)}")


if __name__ == "__main__":
    main()
