"""RecordStore contract, named locks (leases shared by every process on the store): one holder at a time,
re-acquiring extends, expiry frees, release only by the holder; racing threads get exactly one holder."""

from __future__ import annotations

from functools import partial

from membank.storage.ports import RecordStore
from tests.contract.conftest import OpenRecordStore
from tests.contract.racing import run_together


def test_a_held_lock_is_refused_to_others_until_it_expires(record_store: RecordStore) -> None:
    assert record_store.locks.acquire("user:u1", "worker-a", 1000.0, 30.0)

    assert not record_store.locks.acquire("user:u1", "worker-b", 1029.0, 30.0)
    assert record_store.locks.acquire("user:u1", "worker-b", 1030.5, 30.0)
    assert not record_store.locks.acquire("user:u1", "worker-a", 1031.0, 30.0)


def test_the_holder_extends_its_lease_by_acquiring_again(record_store: RecordStore) -> None:
    assert record_store.locks.acquire("user:u1", "worker-a", 1000.0, 30.0)
    assert record_store.locks.acquire("user:u1", "worker-a", 1020.0, 30.0)

    # Without the extension this would have expired at 1030.
    assert not record_store.locks.acquire("user:u1", "worker-b", 1045.0, 30.0)
    assert record_store.locks.acquire("user:u1", "worker-b", 1051.0, 30.0)


def test_release_frees_the_lock_only_for_its_holder(record_store: RecordStore) -> None:
    record_store.locks.acquire("user:u1", "worker-a", 1000.0, 30.0)

    record_store.locks.release("user:u1", "worker-b")
    assert not record_store.locks.acquire("user:u1", "worker-b", 1001.0, 30.0)

    record_store.locks.release("user:u1", "worker-a")
    assert record_store.locks.acquire("user:u1", "worker-b", 1002.0, 30.0)
    record_store.locks.release("nobody-holds-this", "worker-a")


def test_locks_of_different_names_are_independent(record_store: RecordStore) -> None:
    assert record_store.locks.acquire("user:u1", "worker-a", 1000.0, 30.0)
    assert record_store.locks.acquire("user:u2", "worker-b", 1000.0, 30.0)
    assert not record_store.locks.acquire("user:u2", "worker-a", 1000.0, 30.0)


def test_a_lock_is_shared_by_stores_on_the_same_database(
    record_store: RecordStore, open_record_store: OpenRecordStore
) -> None:
    other_process = open_record_store()
    assert record_store.locks.acquire("user:u1", "worker-a", 1000.0, 30.0)

    assert not other_process.locks.acquire("user:u1", "worker-b", 1001.0, 30.0)
    record_store.locks.release("user:u1", "worker-a")
    assert other_process.locks.acquire("user:u1", "worker-b", 1002.0, 30.0)


def test_of_threads_racing_for_a_free_lock_exactly_one_gets_it(
    record_store: RecordStore, open_record_store: OpenRecordStore
) -> None:
    racers = 8
    stores = [record_store, open_record_store()]  # half of the racers come from "another process"
    for round_ in range(5):
        name = f"lock-{round_}"

        def take(owner: int, name: str = name) -> bool:
            return stores[owner % 2].locks.acquire(name, f"owner-{owner}", 1000.0, 30.0)

        taken = run_together([partial(take, n) for n in range(racers)])

        winners = [n for n, won in enumerate(taken) if won]
        assert len(winners) == 1
        # The winner holds it: it extends its lease, and nobody else gets it before that expires.
        assert record_store.locks.acquire(name, f"owner-{winners[0]}", 1010.0, 30.0)
        assert not record_store.locks.acquire(name, f"owner-{(winners[0] + 1) % racers}", 1039.0, 30.0)
