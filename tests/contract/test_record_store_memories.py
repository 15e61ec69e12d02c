"""RecordStore contract, memories: insert and read back, tenant scoping, atomic batches, vectors, the
admin iterators. Every write also records an outbox row and bumps the user's revision (same transaction)."""

from __future__ import annotations

import pytest

from membank.errors import LeaseLost
from membank.models import Provenance, now_utc
from membank.storage.ports import JobProgress, RecordStore, sync_token
from tests.contract.conftest import OpenRecordStore
from tests.contract.records import MODEL, job, memory, vector


def test_insert_then_get_returns_the_same_memory(record_store: RecordStore) -> None:
    stored = memory(
        agent_id="agent-7",
        session_id="s-1",
        summary="a summary",
        tags=["a", "b"],
        metadata={"source": "chat", "n": 3, "ok": True, "none": None, "ratio": 0.125},
        entities=["Alice"],
        source_refs=[{"kind": "message", "index": 2}],
        slot="alice/employer",
    )
    record_store.memories.insert([stored], [vector(1.0)], MODEL, actor="tester")

    assert record_store.memories.get("t1", stored.id) == stored
    assert record_store.memories.get_many("t1", [stored.id]) == {stored.id: stored}


def test_insert_writes_a_create_history_entry_an_outbox_row_and_a_revision_each(
    record_store: RecordStore,
) -> None:
    first, second = memory(), memory()
    record_store.memories.insert([first, second], [vector(1.0), vector(2.0)], MODEL, actor="tester")

    for stored in (first, second):
        (entry,) = record_store.memories.history("t1", stored.lineage_id)
        assert (entry.event, entry.memory_id, entry.version) == ("CREATE", stored.id, 1)
        assert (entry.old_content, entry.new_content, entry.actor) == (None, stored.content, "tester")
    outbox = record_store.outbox.items_for([first.id, second.id])
    assert sorted(item.memory_id for item in outbox) == sorted([first.id, second.id])
    assert all(item.tenant_id == "t1" and item.attempts == 0 for item in outbox)
    # One transaction, one bump for the user however many memories it wrote.
    assert record_store.memories.revision("t1", "u1") == 1


def test_provenance_reaches_the_history_entry(record_store: RecordStore) -> None:
    stored = memory()
    origin = Provenance(job_id="job-1", extractor="heuristic", prompt_version="v3")
    record_store.memories.insert([stored], [vector(1.0)], MODEL, actor="worker", provenance=origin)

    (entry,) = record_store.memories.history("t1", stored.lineage_id)
    assert (entry.job_id, entry.extractor, entry.prompt_version) == ("job-1", "heuristic", "v3")


def test_another_tenants_memory_is_absent(record_store: RecordStore) -> None:
    mine, theirs = memory("t1"), memory("t2")
    record_store.memories.insert([mine, theirs], [vector(1.0), vector(2.0)], MODEL, actor="tester")

    assert record_store.memories.get("t1", theirs.id) is None
    assert record_store.memories.get("t2", theirs.id) == theirs
    assert record_store.memories.get_many("t1", [mine.id, theirs.id, "unknown"]) == {mine.id: mine}
    assert record_store.memories.get_many("t1", []) == {}
    assert record_store.memories.history("t1", theirs.lineage_id) == []


def test_with_vectors_returns_the_tenants_memories_that_have_a_vector_each_with_its_own(
    record_store: RecordStore,
) -> None:
    first, second, theirs, erased = memory(), memory(), memory("t2"), memory()
    vectors = [vector(1.0), vector(2.0), vector(3.0), vector(4.0)]
    record_store.memories.insert([first, second, theirs, erased], vectors, MODEL, actor="tester")
    record_store.memories.erase("t1", erased.lineage_id, actor="tester")

    found = record_store.memories.with_vectors("t1", [second.id, first.id, theirs.id, erased.id, "unknown"])

    assert sorted(found, key=lambda pair: pair[0].id) == sorted(
        [(first, vector(1.0)), (second, vector(2.0))], key=lambda pair: pair[0].id
    )
    assert record_store.memories.with_vectors("t2", [theirs.id]) == [(theirs, vector(3.0))]
    assert record_store.memories.with_vectors("t1", []) == []


def test_a_failed_batch_writes_nothing(record_store: RecordStore) -> None:
    existing = memory()
    record_store.memories.insert([existing], [vector(1.0)], MODEL, actor="tester")
    fresh = memory()
    clash = memory()
    clash.id = existing.id  # the second memory of the batch breaks the primary key

    with pytest.raises(Exception):  # noqa: B017 - each engine names the integrity error its own way
        record_store.memories.insert([fresh, clash], [vector(2.0), vector(3.0)], MODEL, actor="tester")

    assert record_store.memories.get("t1", fresh.id) is None
    assert record_store.memories.history("t1", fresh.lineage_id) == []
    assert record_store.outbox.items_for([fresh.id]) == []
    assert record_store.memories.vectors([fresh.id]) == {}
    assert record_store.memories.revision("t1", "u1") == 1
    assert record_store.memories.get("t1", existing.id) == existing


def test_vectors_read_back_as_stored_float32_and_count_as_indexable(record_store: RecordStore) -> None:
    memories = [memory() for _ in range(3)]
    vectors = [vector(float(n)) for n in range(3)]
    record_store.memories.insert(memories, vectors, MODEL, actor="tester")

    found = record_store.memories.vectors([m.id for m in memories] + ["unknown"])
    assert found == {m.id: v for m, v in zip(memories, vectors, strict=True)}
    assert record_store.memories.count_indexable() == 3
    # Float32 storage: a value float32 cannot hold comes back rounded, not as garbage.
    odd = memory()
    record_store.memories.insert([odd], [[0.1, 0.2, 0.3, 0.4]], MODEL, actor="tester")
    assert record_store.memories.vectors([odd.id])[odd.id] == pytest.approx([0.1, 0.2, 0.3, 0.4], rel=1e-6)


def test_vectors_of_many_ids_at_once(record_store: RecordStore) -> None:
    # More ids than one bound parameter list usually takes (SQLite chunks by 500).
    memories = [memory() for _ in range(1203)]
    record_store.memories.insert(memories, [vector(float(n)) for n in range(1203)], MODEL, actor="tester")

    found = record_store.memories.vectors([m.id for m in memories])
    assert len(found) == 1203
    assert found[memories[1202].id] == vector(1202.0)


def test_iter_all_entries_and_newest_entries_see_every_tenant(record_store: RecordStore) -> None:
    memories = [memory("t1"), memory("t2"), memory("t1", "u2")]
    for n, stored in enumerate(memories):
        record_store.memories.insert([stored], [vector(float(n))], MODEL, actor="tester")

    batches = list(record_store.memories.iter_all(2))
    assert [len(batch) for batch in batches] == [2, 1]
    assert sorted(m.id for batch in batches for m in batch) == sorted(m.id for m in memories)
    assert dict(record_store.memories.entries()) == {m.id: sync_token(m) for m in memories}
    newest = record_store.memories.newest_entries(2)
    assert newest == [(m.id, sync_token(m)) for m in (memories[2], memories[1])]


def test_insert_with_progress_of_a_job_not_held_writes_nothing(record_store: RecordStore) -> None:
    stored = memory()
    progress = JobProgress(job_id="no-such-job", worker_id="w1", done=1, checkpoint={"at": 1})

    with pytest.raises(LeaseLost):
        record_store.memories.insert([stored], [vector(1.0)], MODEL, actor="worker", progress=progress)

    assert record_store.memories.get("t1", stored.id) is None
    assert record_store.outbox.items_for([stored.id]) == []
    assert record_store.memories.revision("t1", "u1") == 0


def test_insert_with_progress_saves_the_progress_in_the_same_transaction(record_store: RecordStore) -> None:
    now = now_utc()
    queued = job(kind="import", progress_total=2)
    record_store.jobs.enqueue(queued)
    assert record_store.jobs.claim("w1", now.timestamp() + 1, 60.0) is not None
    stored = memory()
    progress = JobProgress(job_id=queued.id, worker_id="w1", done=1, checkpoint={"next": 1})

    record_store.memories.insert([stored], [vector(1.0)], MODEL, actor="worker", progress=progress)

    saved = record_store.jobs.get("t1", queued.id)
    assert saved is not None
    assert (saved.progress_done, saved.checkpoint) == (1, {"next": 1})
    assert record_store.memories.get("t1", stored.id) == stored


def test_a_second_store_on_the_same_database_sees_committed_writes(
    record_store: RecordStore, open_record_store: OpenRecordStore
) -> None:
    stored = memory()
    record_store.memories.insert([stored], [vector(1.0)], MODEL, actor="tester")
    record_store.close()

    reopened = open_record_store()
    assert reopened.memories.get("t1", stored.id) == stored
    assert reopened.memories.revision("t1", "u1") == 1
    assert reopened.migrate() == []
