"""Idempotency reservations on Redis over the database's stored responses (real redis-server, SQLite): the
database takes no write for a reservation, a stored response outlives Redis, and while Redis is down the
reservations move to the database, where they are still honoured once Redis is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from membank.storage.ports import RecordStore, StoredResponse
from membank.storage.redis import RedisConnection, RedisIdempotency
from tests.contract.conftest import open_record_store_at
from tests.support.redis import RedisServer

STALE_AFTER = 300.0
RESPONSE = StoredResponse("hash-a", 201, {"data": {"id": "m-1"}})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RecordStore]:
    opened = open_record_store_at("sqlite", str(tmp_path / "records.sqlite3"))
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def idempotency(store: RecordStore, redis_server: RedisServer) -> Iterator[RedisIdempotency]:
    connection = RedisConnection(redis_server.url(), timeout_seconds=1.0, retry_seconds=0.0)
    yield RedisIdempotency(connection, store.idempotency)
    connection.close()


def test_a_reservation_costs_the_database_no_row_and_the_response_one(
    idempotency: RedisIdempotency, store: RecordStore
) -> None:
    assert idempotency.reserve("t1", "k", "hash-a", 1000.0, STALE_AFTER) is None
    assert store.idempotency.get("t1", "k") is None

    idempotency.put("t1", "k", RESPONSE, 1001.0)

    assert store.idempotency.get("t1", "k") == RESPONSE


def test_a_stored_response_outlives_redis(idempotency: RedisIdempotency, redis_server: RedisServer) -> None:
    idempotency.reserve("t1", "k", "hash-a", 1000.0, STALE_AFTER)
    idempotency.put("t1", "k", RESPONSE, 1001.0)
    redis_server.stop()
    redis_server.restart()  # empty

    assert idempotency.reserve("t1", "k", "hash-a", 1002.0, STALE_AFTER) == RESPONSE


def test_with_redis_down_reservations_are_made_and_kept_on_the_database(
    idempotency: RedisIdempotency, redis_server: RedisServer, store: RecordStore
) -> None:
    redis_server.stop()
    assert idempotency.reserve("t1", "k", "hash-a", 1000.0, STALE_AFTER) is None
    held = store.idempotency.get("t1", "k")
    assert held is not None and (held.request_hash, held.status) == ("hash-a", 0)
    running = idempotency.reserve("t1", "k", "hash-a", 1001.0, STALE_AFTER)
    assert running is not None and running.status == 0

    redis_server.restart()
    running = idempotency.reserve("t1", "k", "hash-a", 1002.0, STALE_AFTER)
    assert running is not None and running.status == 0  # the database reservation still holds the key
    idempotency.put("t1", "k", RESPONSE, 1003.0)
    assert idempotency.reserve("t1", "k", "hash-a", 1004.0, STALE_AFTER) == RESPONSE


def test_a_failed_request_releases_its_reservation_even_with_redis_down(
    idempotency: RedisIdempotency, redis_server: RedisServer
) -> None:
    redis_server.stop()
    assert idempotency.reserve("t1", "k", "hash-a", 1000.0, STALE_AFTER) is None

    idempotency.release("t1", "k")

    assert idempotency.reserve("t1", "k", "hash-b", 1001.0, STALE_AFTER) is None
