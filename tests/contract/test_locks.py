"""LockRepository contract, over every lock backend (the database leases on SQLite and PostgreSQL, Redis, and
Redis failing over to the database): one holder at a time, re-acquiring extends, expiry frees, release only
by the holder; racing threads of two "processes" get exactly one holder."""

from __future__ import annotations

from functools import partial

from membank.storage.ports import LockRepository
from tests.contract.conftest import OpenLocks
from tests.contract.racing import run_together


def test_a_held_lock_is_refused_to_others_until_it_expires(locks: LockRepository) -> None:
    assert locks.acquire("user:u1", "worker-a", 1000.0, 30.0)

    assert not locks.acquire("user:u1", "worker-b", 1029.0, 30.0)
    assert locks.acquire("user:u1", "worker-b", 1030.5, 30.0)
    assert not locks.acquire("user:u1", "worker-a", 1031.0, 30.0)


def test_the_holder_extends_its_lease_by_acquiring_again(locks: LockRepository) -> None:
    assert locks.acquire("user:u1", "worker-a", 1000.0, 30.0)
    assert locks.acquire("user:u1", "worker-a", 1020.0, 30.0)

    # Without the extension this would have expired at 1030.
    assert not locks.acquire("user:u1", "worker-b", 1045.0, 30.0)
    assert locks.acquire("user:u1", "worker-b", 1051.0, 30.0)


def test_release_frees_the_lock_only_for_its_holder(locks: LockRepository) -> None:
    locks.acquire("user:u1", "worker-a", 1000.0, 30.0)

    locks.release("user:u1", "worker-b")
    assert not locks.acquire("user:u1", "worker-b", 1001.0, 30.0)

    locks.release("user:u1", "worker-a")
    assert locks.acquire("user:u1", "worker-b", 1002.0, 30.0)
    locks.release("nobody-holds-this", "worker-a")


def test_locks_of_different_names_are_independent(locks: LockRepository) -> None:
    assert locks.acquire("user:u1", "worker-a", 1000.0, 30.0)
    assert locks.acquire("user:u2", "worker-b", 1000.0, 30.0)
    assert not locks.acquire("user:u2", "worker-a", 1000.0, 30.0)


def test_a_lock_is_shared_by_stores_on_the_same_database(
    locks: LockRepository, open_locks: OpenLocks
) -> None:
    other_process = open_locks()
    assert locks.acquire("user:u1", "worker-a", 1000.0, 30.0)

    assert not other_process.acquire("user:u1", "worker-b", 1001.0, 30.0)
    locks.release("user:u1", "worker-a")
    assert other_process.acquire("user:u1", "worker-b", 1002.0, 30.0)


def test_of_threads_racing_for_a_free_lock_exactly_one_gets_it(
    locks: LockRepository, open_locks: OpenLocks
) -> None:
    racers = 8
    stores = [locks, open_locks()]  # half of the racers come from "another process"
    for round_ in range(5):
        name = f"lock-{round_}"

        def take(owner: int, name: str = name) -> bool:
            return stores[owner % 2].acquire(name, f"owner-{owner}", 1000.0, 30.0)

        taken = run_together([partial(take, n) for n in range(racers)])

        winners = [n for n, won in enumerate(taken) if won]
        assert len(winners) == 1
        # The winner holds it: it extends its lease, and nobody else gets it before that expires.
        assert locks.acquire(name, f"owner-{winners[0]}", 1010.0, 30.0)
        assert not locks.acquire(name, f"owner-{(winners[0] + 1) % racers}", 1039.0, 30.0)


def test_holder_names_the_owner_of_a_live_lease_only(locks: LockRepository) -> None:
    assert locks.holder("user:u1", 1000.0) is None
    locks.acquire("user:u1", "worker-a", 1000.0, 30.0)

    assert locks.holder("user:u1", 1030.0) == "worker-a"
    assert locks.holder("user:u1", 1030.5) is None
    locks.release("user:u1", "worker-a")
    assert locks.holder("user:u1", 1001.0) is None
