"""The two-layer cache on both configurations: L1 only, and L1 over a real Redis (keys, expiry, corrupt
values, warm-up, namespaces, outages)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from membank.cache import JsonCodec, SharedCache, TieredCache, VectorCodec
from membank.cache.redis import RedisCache
from tests.support.redis import RedisServer, start_redis


def redis_cache(url: str, prefix: str = "test:", **overrides: Any) -> RedisCache:
    options: dict[str, Any] = {
        "prefix": prefix,
        "socket_timeout_seconds": 0.25,
        "breaker_seconds": 0.2,
        "breaker_max_seconds": 0.4,
        "recent_limit": 100,
        **overrides,
    }
    return RedisCache(url, **options)


def json_cache(shared: SharedCache | None, *, size: int = 100, ttl: float = 60.0) -> TieredCache[Any]:
    return TieredCache(
        "search", JsonCodec(), l1_size=size, l1_ttl_seconds=ttl, namespace="t:", l2=shared, l2_ttl_seconds=ttl
    )


@pytest.fixture(params=["l1", "l1+redis"])
def shared(request: pytest.FixtureRequest) -> Iterator[SharedCache | None]:
    if request.param == "l1":
        yield None
        return
    server: RedisServer = request.getfixturevalue("redis_server")
    cache = redis_cache(server.url())
    yield cache
    cache.close()


async def test_a_stored_value_comes_back_from_l1_and_counts_as_a_hit(shared: SharedCache | None) -> None:
    cache = json_cache(shared)
    assert await cache.get("k") is None
    await cache.put("k", {"answer": [1, 2]})
    assert await cache.get("k") == {"answer": [1, 2]}
    assert cache.stats.hits["l1"] == 1 and cache.stats.misses["l1"] == 1
    assert cache.stats.hit_ratio == 0.5


async def test_l1_is_bounded_lru_and_size_zero_turns_it_off(shared: SharedCache | None) -> None:
    small = json_cache(shared, size=2)
    for key in ("a", "b", "c"):
        small.put_local(key, key)
    assert len(small) == 2 and small.get_local("a") is None and small.get_local("c") == "c"
    off = json_cache(None, size=0)
    off.put_local("a", 1)
    assert len(off) == 0 and off.get_local("a") is None


async def test_l1_entries_expire_after_their_ttl() -> None:
    cache = json_cache(None, ttl=0.1)
    cache.put_local("k", 1)
    await asyncio.sleep(0.15)
    assert cache.get_local("k") is None


async def test_another_process_finds_the_value_in_redis_and_keeps_it_in_its_l1(
    redis_server: RedisServer,
) -> None:
    writer, reader = redis_cache(redis_server.url()), redis_cache(redis_server.url())
    try:
        await json_cache(writer).put("k", {"v": 1})
        other = json_cache(reader)
        assert await other.get("k") == {"v": 1}
        assert other.stats.misses["l1"] == 1 and other.stats.hits["l2"] == 1
        assert await other.get("k") == {"v": 1}
        assert other.stats.hits["l1"] == 1  # the second read did not go to Redis
    finally:
        writer.close()
        reader.close()


async def test_redis_entries_expire(redis_server: RedisServer) -> None:
    shared = redis_cache(redis_server.url())
    try:
        await json_cache(shared, ttl=0.2).put("k", 1)
        await asyncio.sleep(0.3)
        assert await json_cache(shared).get("k") is None
    finally:
        shared.close()


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00\xff garbage", b"MB1j" + b"\x00" * 8 + b"{}", b"MB1v" + b"\x01" * 20, "héllo".encode()],
)
async def test_garbage_under_our_key_is_a_miss_never_an_answer(
    redis_server: RedisServer, garbage: bytes
) -> None:
    shared = redis_cache(redis_server.url())
    try:
        with redis_server.client() as client:
            client.set("test:t:k", garbage)
            client.rpush("test:t:list", "not a string")  # another type under our key
        cache = json_cache(shared)
        assert await cache.get_many(["k", "list"]) == [None, None]
        assert cache.stats.corrupt == 1
        vectors: TieredCache[Any] = TieredCache(
            "embeddings",
            VectorCodec(4),
            l1_size=10,
            l1_ttl_seconds=60,
            namespace="t:",
            l2=shared,
            l2_ttl_seconds=60,
        )
        assert await vectors.get("k") is None
    finally:
        shared.close()


async def test_a_value_copied_to_another_key_or_read_by_another_codec_is_refused(
    redis_server: RedisServer,
) -> None:
    shared = redis_cache(redis_server.url())
    try:
        await json_cache(shared).put("alice", {"secret": "alice's"})
        with redis_server.client() as client:
            client.set("test:t:bob", client.get("test:t:alice") or b"")
        assert await json_cache(shared).get("bob") is None
        vectors: TieredCache[Any] = TieredCache(
            "embeddings",
            VectorCodec(4),
            l1_size=10,
            l1_ttl_seconds=60,
            namespace="t:",
            l2=shared,
            l2_ttl_seconds=60,
        )
        assert await vectors.get("alice") is None
    finally:
        shared.close()


async def test_vectors_round_trip_read_only_and_of_the_right_dimension(redis_server: RedisServer) -> None:
    shared = redis_cache(redis_server.url())
    try:
        write: TieredCache[Any] = TieredCache(
            "embeddings",
            VectorCodec(3),
            l1_size=10,
            l1_ttl_seconds=60,
            namespace="e:",
            l2=shared,
            l2_ttl_seconds=60,
        )
        await write.put("v", np.array([0.5, -1.0, 2.0], dtype=np.float32))
        read: TieredCache[Any] = TieredCache(
            "embeddings",
            VectorCodec(3),
            l1_size=10,
            l1_ttl_seconds=60,
            namespace="e:",
            l2=shared,
            l2_ttl_seconds=60,
        )
        got = await read.get("v")
        assert got is not None and got.tolist() == [0.5, -1.0, 2.0] and not got.flags.writeable
        other_dim: TieredCache[Any] = TieredCache(
            "embeddings",
            VectorCodec(4),
            l1_size=10,
            l1_ttl_seconds=60,
            namespace="e:",
            l2=shared,
            l2_ttl_seconds=60,
        )
        assert await other_dim.get("v") is None
    finally:
        shared.close()


async def test_deployments_with_other_prefixes_do_not_see_each_others_keys(redis_server: RedisServer) -> None:
    one, two = redis_cache(redis_server.url(), "one:"), redis_cache(redis_server.url(), "two:")
    try:
        await json_cache(one).put("k", "from one")
        assert await json_cache(two).get("k") is None
        with redis_server.client() as client:
            assert {key.decode() for key in client.keys("*")} == {"one:t:k"}
    finally:
        one.close()
        two.close()


async def test_warm_up_loads_the_most_recently_used_entries_bounded_in_count(
    redis_server: RedisServer,
) -> None:
    shared = redis_cache(redis_server.url())

    def vectors() -> TieredCache[Any]:
        return TieredCache(
            "embeddings",
            VectorCodec(2),
            l1_size=100,
            l1_ttl_seconds=60,
            namespace="e:",
            l2=shared,
            l2_ttl_seconds=60,
            track_recent=True,
        )

    try:
        used = vectors()
        for i in range(10):
            await used.put(f"q{i}", np.array([i, i], dtype=np.float32))
            await asyncio.sleep(0.002)  # distinct last-use times
        await used.get_shared(["q0"])  # used again: now the most recent
        with redis_server.client() as client:
            client.set("test:e:q9", b"corrupt")
        fresh = vectors()
        assert await fresh.warm(4, timeout_seconds=2.0) == 3  # q0, q9 (corrupt: skipped), q8, q7
        assert [fresh.get_local(k) is not None for k in ("q0", "q9", "q8", "q7", "q6")] == [
            True,
            False,
            True,
            True,
            False,
        ]
        assert await vectors().warm(0, timeout_seconds=2.0) == 0
    finally:
        shared.close()


async def test_a_down_redis_costs_misses_not_time_and_comes_back_by_itself() -> None:
    with start_redis() as server:
        shared = redis_cache(server.url())
        try:
            cache = json_cache(shared)
            await cache.put("k", 1)
            assert shared.probe().status == "ok"
            server.stop()
            started = time.perf_counter()
            for i in range(50):
                other = json_cache(shared)
                assert await other.get(f"k{i}") is None
                await other.put(f"k{i}", i)  # dropped, no error
            assert time.perf_counter() - started < 2.0
            status = shared.probe()
            assert status.status == "degraded" and status.error and "ConnectionError" in status.error
            assert not shared.available
            server.restart()
            await asyncio.sleep(0.5)  # past the breaker's pause
            await json_cache(shared).put("back", 2)
            assert await json_cache(shared).get("back") == 2
            assert shared.available and shared.probe().status == "ok"
        finally:
            shared.close()


def test_a_password_in_the_url_never_reaches_an_error() -> None:
    password = "Redis-pw-never-shown-91c"
    with start_redis(password=password) as server:
        good = redis_cache(server.url())
        wrong = redis_cache(server.url().replace(password, password + "x"))
        try:
            assert good.probe().status == "ok"
            status = wrong.probe()
            assert status.status == "degraded" and status.error
            assert password not in status.error
            server.stop()
            down = good.probe()
            assert down.error and password not in down.error and "redis://" not in down.error
        finally:
            good.close()
            wrong.close()


async def test_a_hung_redis_costs_one_short_timeout_then_is_skipped() -> None:
    with start_redis() as server:
        shared = redis_cache(server.url(), breaker_seconds=5.0, breaker_max_seconds=5.0)
        try:
            await json_cache(shared).put("k", 1)
            os.kill(server.process.pid, signal.SIGSTOP)  # accepts connections, never answers
            try:
                started = time.perf_counter()
                for i in range(50):
                    assert await json_cache(shared).get(f"k{i}") is None
                # One 0.25 s timeout opens the breaker; without it this would take 50 timeouts (12.5 s).
                assert time.perf_counter() - started < 1.5
                assert not shared.available
            finally:
                os.kill(server.process.pid, signal.SIGCONT)
            status = shared.probe()
            assert status.status == "ok" and shared.available
        finally:
            shared.close()


async def test_a_recency_key_of_another_type_means_no_warm_up_not_an_error(redis_server: RedisServer) -> None:
    shared = redis_cache(redis_server.url())
    try:
        with redis_server.client() as client:
            client.set("test:e:recent", b"a string, not a sorted set")
        cache: TieredCache[Any] = TieredCache(
            "embeddings",
            VectorCodec(2),
            l1_size=10,
            l1_ttl_seconds=60,
            namespace="e:",
            l2=shared,
            l2_ttl_seconds=60,
            track_recent=True,
        )
        assert await cache.warm(10, 1.0) == 0
        await cache.put("q", np.array([1, 2], dtype=np.float32))  # the ZADD fails, the value is stored
        assert (await cache.get_shared(["q"]))[0] is not None
        assert shared.available
    finally:
        shared.close()
