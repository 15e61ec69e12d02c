"""RecordStore contract, the outbox: what is due and in what order, completion, retries with their attempt
count, items of given memories, manual enqueues (from a consistency check), pending counts per tenant."""

from __future__ import annotations

import time

from membank.storage.ports import RecordStore
from tests.contract.records import MODEL, memory, vector


def _written(store: RecordStore, tenant: str = "t1") -> str:
    stored = memory(tenant)
    store.memories.insert([stored], [vector(1.0)], MODEL, actor="tester")
    return stored.id


def test_due_items_come_oldest_first_up_to_the_limit(record_store: RecordStore) -> None:
    ids = [_written(record_store) for _ in range(3)]

    due = record_store.outbox.due(time.time() + 1, 2)

    assert [item.memory_id for item in due] == ids[:2]
    assert due[0].id < due[1].id
    assert [item.memory_id for item in record_store.outbox.due(time.time() + 1, 10)] == ids


def test_completed_items_are_forgotten(record_store: RecordStore) -> None:
    first, second = _written(record_store), _written(record_store)
    (item, *_) = record_store.outbox.items_for([first])

    record_store.outbox.complete([item.id])

    assert record_store.outbox.items_for([first]) == []
    assert [i.memory_id for i in record_store.outbox.items_for([first, second])] == [second]
    assert record_store.outbox.pending() == 1
    record_store.outbox.complete([])
    assert record_store.outbox.pending() == 1


def test_retry_later_counts_the_attempt_and_hides_the_item_until_then(record_store: RecordStore) -> None:
    memory_id = _written(record_store)
    (item,) = record_store.outbox.items_for([memory_id])
    now = time.time()

    record_store.outbox.retry_later([item.id], "index unavailable", now + 60)

    assert record_store.outbox.due(now + 1, 10) == []
    (later,) = record_store.outbox.due(now + 61, 10)
    assert (later.id, later.attempts) == (item.id, 1)
    record_store.outbox.retry_later([item.id], "still unavailable", now + 120)
    assert record_store.outbox.items_for([memory_id])[0].attempts == 2
    assert record_store.outbox.pending() == 1


def test_enqueued_items_are_due_at_once(record_store: RecordStore) -> None:
    record_store.outbox.enqueue([("t1", "m-1"), ("t2", "m-2")])

    due = record_store.outbox.due(time.time(), 10)

    assert [(item.tenant_id, item.memory_id, item.attempts) for item in due] == [
        ("t1", "m-1", 0),
        ("t2", "m-2", 0),
    ]
    assert record_store.outbox.pending() == 2


def test_has_pending_is_per_tenant(record_store: RecordStore) -> None:
    memory_id = _written(record_store, "t1")

    assert record_store.outbox.has_pending("t1")
    assert not record_store.outbox.has_pending("t2")
    record_store.outbox.complete([item.id for item in record_store.outbox.items_for([memory_id])])
    assert not record_store.outbox.has_pending("t1")
    assert record_store.outbox.pending() == 0


def test_items_for_no_memory_is_empty(record_store: RecordStore) -> None:
    _written(record_store)

    assert record_store.outbox.items_for([]) == []
    assert record_store.outbox.items_for(["unknown"]) == []
