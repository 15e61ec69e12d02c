"""The holder's side of a lock (memories.slots.scope_lock): the lease is renewed while the holder works, and
`ensure()` stops the holder before a write once the lease is lost or may have lapsed (real SQLite, real
redis-server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from membank.errors import LeaseLost
from membank.memories.slots import scope_lock
from membank.storage.ports import LockRepository
from membank.storage.redis import RedisConnection, RedisLockRepository
from tests.contract.conftest import open_record_store_at
from tests.support.redis import RedisServer

TTL = 0.6  # renewed every 0.1 s; ensure() wants 0.3 s left


@pytest.fixture
def sql_locks(tmp_path: Path) -> Iterator[LockRepository]:
    store = open_record_store_at("sqlite", str(tmp_path / "records.sqlite3"))
    store.migrate()
    yield store.locks
    store.close()


async def test_the_lease_is_renewed_while_the_holder_works(sql_locks: LockRepository) -> None:
    async with scope_lock(sql_locks, "user:u1", "holder", ttl=TTL) as lease:
        for _ in range(6):  # 1.5 s: well past the first lease's end
            await asyncio.sleep(0.25)
            lease.ensure()
            assert not sql_locks.acquire("user:u1", "other", time.time(), TTL)

    assert sql_locks.acquire("user:u1", "other", time.time(), TTL)  # released at the end


async def test_a_holder_whose_lease_was_taken_over_may_not_write(sql_locks: LockRepository) -> None:
    async with scope_lock(sql_locks, "user:u1", "holder", ttl=TTL) as lease:
        # As if the holder had stalled past its lease: another process took the name over.
        assert sql_locks.acquire("user:u1", "thief", time.time() + TTL + 1, TTL)
        await asyncio.sleep(0.25)

        with pytest.raises(LeaseLost):
            lease.ensure()

    assert sql_locks.holder("user:u1", time.time()) == "thief"  # the lost lease was not "released"


async def test_a_holder_that_cannot_renew_stops_before_its_lease_may_lapse(redis_server: RedisServer) -> None:
    connection = RedisConnection(redis_server.url(), timeout_seconds=0.5, retry_seconds=0.0)
    try:
        locks = RedisLockRepository(connection)
        async with scope_lock(locks, "user:u1", "holder", ttl=TTL) as lease:
            lease.ensure()
            redis_server.stop()
            await asyncio.sleep(0.15)
            lease.ensure()  # renewals fail, but the lease has more than half its time left
            await asyncio.sleep(0.3)
            with pytest.raises(LeaseLost):
                lease.ensure()
    finally:
        connection.close()
