"""RecordStore contract, user revisions: every committed write to a user's memories bumps the user's
revision (caches of derived answers compare it), a failed write does not, and users never share one."""

from __future__ import annotations

import pytest

from membank.errors import MemoryChanged
from membank.storage.ports import RecordStore
from tests.contract.racing import run_together
from tests.contract.records import MODEL, deleted, edited, memory, successor, vector


def test_a_user_without_writes_is_at_revision_zero(record_store: RecordStore) -> None:
    assert record_store.memories.revision("t1", "nobody") == 0


def test_each_kind_of_write_bumps_the_revision_once(record_store: RecordStore) -> None:
    stored = memory()
    revisions = [record_store.memories.revision("t1", "u1")]
    record_store.memories.insert([stored], [vector(1.0)], MODEL, actor="t")
    revisions.append(record_store.memories.revision("t1", "u1"))
    changed = edited(stored, importance=7)
    record_store.memories.update_fields(changed, {"importance": 7}, actor="t")
    revisions.append(record_store.memories.revision("t1", "u1"))
    closed, new = successor(changed, "next")
    record_store.memories.supersede(closed, new, vector(2.0), MODEL, actor="t")
    revisions.append(record_store.memories.revision("t1", "u1"))
    record_store.memories.invalidate(deleted(new), actor="t")
    revisions.append(record_store.memories.revision("t1", "u1"))
    record_store.memories.erase("t1", stored.lineage_id, actor="t")
    revisions.append(record_store.memories.revision("t1", "u1"))

    assert revisions == [0, 1, 2, 3, 4, 5]


def test_revisions_are_per_tenant_and_user(record_store: RecordStore) -> None:
    batch = [memory("t1", "u1"), memory("t1", "u1"), memory("t1", "u2"), memory("t2", "u1")]
    record_store.memories.insert(batch, [vector(float(n)) for n in range(4)], MODEL, actor="t")

    assert record_store.memories.revision("t1", "u1") == 1
    assert record_store.memories.revision("t1", "u2") == 1
    assert record_store.memories.revision("t2", "u1") == 1
    assert record_store.memories.revision("t2", "u2") == 0


def test_a_rejected_write_leaves_the_revision(record_store: RecordStore) -> None:
    stored = memory()
    record_store.memories.insert([stored], [vector(1.0)], MODEL, actor="t")
    closed, new = successor(stored, "first")
    record_store.memories.supersede(closed, new, vector(2.0), MODEL, actor="t")
    closed_again, other = successor(stored, "second")

    with pytest.raises(MemoryChanged):
        record_store.memories.supersede(closed_again, other, vector(3.0), MODEL, actor="t")

    assert record_store.memories.revision("t1", "u1") == 2


def test_concurrent_writers_lose_no_bump(record_store: RecordStore) -> None:
    writers, each = 4, 10

    def write() -> None:
        for n in range(each):
            record_store.memories.insert([memory()], [vector(float(n))], MODEL, actor="t")

    run_together([write] * writers)

    assert record_store.memories.revision("t1", "u1") == writers * each
