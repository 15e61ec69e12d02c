"""LoginFailureStore contract over the database (SQLite, PostgreSQL), Redis (real redis-server) and Redis over
the database: the same counts, lockouts, doubling and cap on each, shared by every instance."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from membank.storage.failover_login_failures import FailoverLoginFailures
from membank.storage.ports import LockoutPolicy, LoginFailureRepository, LoginFailureStore
from membank.storage.redis import RedisConnection, RedisLoginFailures
from tests.contract.conftest import open_record_store_at
from tests.contract.racing import run_together

LOCKOUT = LockoutPolicy(max_failures=3, base_seconds=10.0, cap_seconds=25.0)
BACKENDS = ["sqlite", "postgres", "redis", "redis-failover"]
OpenFailures = Callable[[], LoginFailureStore]


@pytest.fixture(params=BACKENDS)
def open_failures(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenFailures]:
    """Opens (or, called again, opens another) view of this test's counts, as another instance would."""
    backend: str = request.param
    closers: list[Callable[[], None]] = []
    place = str(tmp_path / "records.sqlite3")
    if backend == "postgres":
        place = request.getfixturevalue("make_postgres_database")()
    redis_url: str | None = request.getfixturevalue("redis_url") if backend.startswith("redis") else None

    def database() -> LoginFailureRepository:
        store = open_record_store_at("postgres" if backend == "postgres" else "sqlite", place)
        closers.append(store.close)
        store.migrate()
        return store.login_failures

    def shared() -> RedisLoginFailures:
        assert redis_url is not None
        connection = RedisConnection(redis_url, timeout_seconds=2.0, retry_seconds=0.0)
        closers.append(connection.close)
        return RedisLoginFailures(connection)

    def open_() -> LoginFailureStore:
        if backend == "redis":
            return shared()
        if backend == "redis-failover":
            return FailoverLoginFailures(shared(), database())
        return database()

    yield open_
    for close in closers:
        close()


def _seen(store: LoginFailureStore, tenant: str, email: str) -> tuple[int, int, float | None] | None:
    state = store.get(tenant, email)
    return None if state is None else (state.failures, state.lockouts, state.locked_until)


def test_failures_lock_with_a_doubling_capped_duration_and_clear(open_failures: OpenFailures) -> None:
    failures = open_failures()
    tenant, email = "t1", "nobody@acme.example"  # no account needed: failures are per (tenant, email)
    assert failures.get(tenant, email) is None
    states = [failures.record(tenant, email, LOCKOUT, at=100.0) for _ in range(3)]
    assert [(s.failures, s.lockouts, s.locked_until) for s in states] == [
        (1, 0, None),
        (2, 0, None),
        (0, 1, 110.0),
    ]
    assert failures.record(tenant, email, LOCKOUT, at=150.0).locked_until == 110.0  # counting on after it
    for _ in range(2):
        second = failures.record(tenant, email, LOCKOUT, at=200.0)
    assert (second.failures, second.lockouts, second.locked_until) == (0, 2, 220.0)  # doubled
    for _ in range(3):
        third = failures.record(tenant, email, LOCKOUT, at=300.0)
    assert (third.lockouts, third.locked_until) == (3, 325.0)  # capped
    assert _seen(failures, tenant, email) == (0, 3, 325.0)
    assert failures.clear(tenant, email)
    assert not failures.clear(tenant, email)
    assert failures.get(tenant, email) is None
    restarted = failures.record(tenant, email, LOCKOUT, at=400.0)
    assert (restarted.failures, restarted.lockouts, restarted.locked_until) == (1, 0, None)


def test_pairs_are_counted_apart_even_when_their_parts_look_alike(open_failures: OpenFailures) -> None:
    failures = open_failures()
    # Joined with ':' these would be one string: "a:b:c@x".
    for tenant, email in [("a", "b:c@x"), ("a:b", "c@x")]:
        failures.record(tenant, email, LOCKOUT, at=1.0)
    failures.record("a", "b:c@x", LOCKOUT, at=1.0)
    assert _seen(failures, "a", "b:c@x") == (2, 0, None)
    assert _seen(failures, "a:b", "c@x") == (1, 0, None)
    assert failures.get("other", "b:c@x") is None
    assert failures.clear("a:b", "c@x")
    assert _seen(failures, "a", "b:c@x") == (2, 0, None)


def test_two_instances_count_one_pair_together(open_failures: OpenFailures) -> None:
    first, second = open_failures(), open_failures()
    first.record("t1", "x@acme.example", LOCKOUT, at=1.0)
    second.record("t1", "x@acme.example", LOCKOUT, at=2.0)
    locking = first.record("t1", "x@acme.example", LOCKOUT, at=3.0)
    assert locking.locked_until == 13.0
    assert _seen(second, "t1", "x@acme.example") == (0, 1, 13.0)
    assert second.clear("t1", "x@acme.example")
    assert first.get("t1", "x@acme.example") is None


def test_concurrent_failures_each_count(open_failures: OpenFailures) -> None:
    views = [open_failures() for _ in range(4)]
    policy = LockoutPolicy(max_failures=100, base_seconds=1.0, cap_seconds=1.0)

    def fail(view: LoginFailureStore) -> None:
        for _ in range(5):
            view.record("t1", "x@acme.example", policy, at=1.0)

    run_together([lambda view=view: fail(view) for view in views])
    assert _seen(views[0], "t1", "x@acme.example") == (20, 0, None)
