"""Failed-login counts on Redis failing over to the database and back (real redis-server stopped, restarted
empty and flushed; SQLite): a lockout, once started, holds whichever store is in use."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from membank.storage.failover_login_failures import FailoverLoginFailures
from membank.storage.ports import LockoutPolicy, LoginFailureRepository
from membank.storage.redis import RedisConnection, RedisLoginFailures
from tests.contract.conftest import open_record_store_at
from tests.support.redis import RedisServer

LOCKOUT = LockoutPolicy(max_failures=3, base_seconds=10.0, cap_seconds=100.0)
PAIR = ("t1", "x@acme.example")


@dataclass
class Stores:
    failover: FailoverLoginFailures
    database: LoginFailureRepository


@pytest.fixture
def stores(redis_server: RedisServer, tmp_path: Path) -> Iterator[Stores]:
    connection = RedisConnection(redis_server.url(), timeout_seconds=2.0, retry_seconds=0.0)
    store = open_record_store_at("sqlite", str(tmp_path / "records.sqlite3"))
    store.migrate()
    yield Stores(
        FailoverLoginFailures(RedisLoginFailures(connection), store.login_failures), store.login_failures
    )
    connection.close()
    store.close()


def _fail(stores: Stores, times: int, at: float) -> None:
    for _ in range(times):
        stores.failover.record(*PAIR, LOCKOUT, at=at)


def _locked_until(stores: Stores) -> float | None:
    state = stores.failover.get(*PAIR)
    return None if state is None else state.locked_until


def test_only_the_failure_that_locks_is_written_to_the_database(stores: Stores) -> None:
    _fail(stores, 2, at=1.0)
    assert stores.database.get(*PAIR) is None
    _fail(stores, 1, at=2.0)
    held = stores.database.get(*PAIR)
    assert held is not None and (held.lockouts, held.locked_until) == (1, 12.0)


def test_a_lockout_on_redis_holds_through_an_outage_and_a_restart_that_lost_it(
    stores: Stores, redis_server: RedisServer
) -> None:
    _fail(stores, 3, at=1.0)
    redis_server.stop()
    assert _locked_until(stores) == 11.0
    redis_server.restart()  # empty: it keeps nothing on disk
    assert _locked_until(stores) == 11.0
    redis_server.flush()
    assert _locked_until(stores) == 11.0


def test_failures_during_an_outage_lock_on_the_database_and_hold_when_redis_returns(
    stores: Stores, redis_server: RedisServer
) -> None:
    _fail(stores, 2, at=1.0)  # on Redis, short of a lockout
    redis_server.stop()
    _fail(stores, 2, at=2.0)
    assert _locked_until(stores) is None  # the two counted on Redis are not seen meanwhile
    _fail(stores, 1, at=3.0)
    assert _locked_until(stores) == 13.0
    redis_server.restart()  # empty
    assert _locked_until(stores) == 13.0
    # Redis counts anew; the doubling counted on the database is not carried over (documented).
    _fail(stores, 3, at=20.0)
    assert _locked_until(stores) == 30.0
    held = stores.database.get(*PAIR)
    assert held is not None and (held.lockouts, held.locked_until) == (1, 30.0)


def test_clear_forgets_both_stores_and_during_an_outage_the_database(
    stores: Stores, redis_server: RedisServer
) -> None:
    _fail(stores, 3, at=1.0)
    assert stores.failover.clear(*PAIR)
    assert stores.failover.get(*PAIR) is None and stores.database.get(*PAIR) is None

    _fail(stores, 3, at=50.0)
    redis_server.stop()
    assert stores.failover.clear(*PAIR)  # the database's hold is gone; Redis cannot be reached
    assert stores.failover.get(*PAIR) is None
    assert not stores.failover.clear(*PAIR)
