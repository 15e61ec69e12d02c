"""Locks on Redis failing over to the database and back (real redis-server stopped and restarted, SQLite):
no moment at which two holders overlap."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from membank.storage.failover_locks import FailoverLockRepository
from membank.storage.redis import RedisConnection, RedisLockRepository
from tests.contract.conftest import open_record_store_at
from tests.support.redis import RedisServer

TTL = 30.0
OpenProcess = Callable[[], FailoverLockRepository]


@pytest.fixture
def open_process(redis_server: RedisServer, tmp_path: Path) -> Iterator[OpenProcess]:
    """The locks of one more process: its own Redis client and its own store on the shared database."""
    closers: list[Callable[[], None]] = []
    place = str(tmp_path / "records.sqlite3")

    def open_() -> FailoverLockRepository:
        connection = RedisConnection(redis_server.url(), timeout_seconds=2.0, retry_seconds=0.0)
        store = open_record_store_at("sqlite", place)
        store.migrate()
        closers.extend([connection.close, store.close])
        return FailoverLockRepository(RedisLockRepository(connection), store.locks)

    yield open_
    for close in closers:
        close()


def test_with_redis_down_a_newcomer_waits_out_one_lease_then_locks_on_the_database(
    open_process: OpenProcess, redis_server: RedisServer
) -> None:
    a, b = open_process(), open_process()
    assert a.acquire("user:u1", "a", 1000.0, TTL)  # on Redis
    redis_server.stop()

    # a's Redis lease may still run until 1030: b's first try sees the outage at 1001 and waits a lease.
    assert not b.acquire("user:u1", "b", 1001.0, TTL)
    assert not b.acquire("user:u1", "b", 1030.0, TTL)
    assert b.on_fallback
    assert b.acquire("user:u1", "b", 1031.5, TTL)  # on the database now
    assert not open_process().acquire("user:u1", "c", 1070.0, TTL)


def test_a_holder_moves_its_live_lease_to_the_database_and_keeps_others_out(
    open_process: OpenProcess, redis_server: RedisServer
) -> None:
    a, b = open_process(), open_process()
    assert a.acquire("user:u1", "a", 1000.0, TTL)
    redis_server.stop()

    assert a.acquire("user:u1", "a", 1010.0, TTL)  # its own Redis lease was live: renewed on the database
    assert a.acquire("user:u1", "a", 1035.0, TTL)  # until 1065
    assert not b.acquire("user:u1", "b", 1020.0, TTL)
    assert not b.acquire("user:u1", "b", 1060.0, TTL)  # past b's wait, but a holds the database lease

    a.release("user:u1", "a")
    assert b.acquire("user:u1", "b", 1061.0, TTL)


def test_when_redis_returns_a_database_lease_still_keeps_redis_grants_out(
    open_process: OpenProcess, redis_server: RedisServer
) -> None:
    a = open_process()
    redis_server.stop()
    assert not a.acquire("user:u1", "a", 1000.0, TTL)
    assert a.acquire("user:u1", "a", 1031.0, TTL)  # database lease until 1061
    redis_server.restart()

    b = open_process()  # a process that never saw the outage
    assert not b.acquire("user:u1", "b", 1040.0, TTL)
    assert b.holder("user:u1", 1040.0) == "a"
    a.release("user:u1", "a")
    assert b.acquire("user:u1", "b", 1041.0, TTL)  # on Redis again
    assert not a.acquire("user:u1", "a", 1042.0, TTL)
    assert not a.on_fallback
