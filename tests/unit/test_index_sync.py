"""The outbox keeps the index in step with SQLite, through index failures, drift and rebuilds."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from membank.models import Memory, Scope, content_hash, now_utc
from membank.search.indexing import IndexSync
from membank.storage.ports import IndexDocument
from membank.storage.qdrant_edge import QdrantEdgeIndex
from membank.storage.sql.store import SqlRecordStore

DIM = 8


class FailingUpserts:
    """The real index, with upserts that fail while `failing` is set (fault injection)."""

    def __init__(self, index: QdrantEdgeIndex) -> None:
        self.index = index
        self.failing = False

    def upsert(self, documents: Sequence[IndexDocument]) -> None:
        if self.failing:
            raise OSError("disk full")
        self.index.upsert(documents)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[SqlRecordStore, FailingUpserts]]:
    store = SqlRecordStore.sqlite(tmp_path / "db.sqlite3")
    store.migrate()
    index = FailingUpserts(QdrantEdgeIndex(tmp_path / "vectors", DIM))
    yield store, index
    index.close()
    store.close()


def _add(store: SqlRecordStore, text: str, axis: int) -> Memory:
    now = now_utc()
    memory_id = str(uuid.uuid4())
    memory = Memory(
        id=memory_id,
        tenant_id="t",
        user_id="u",
        content=text,
        memory_type="factual",
        importance=5,
        created_at=now,
        updated_at=now,
        valid_from=now,
        content_hash=content_hash(text),
        lineage_id=memory_id,
    )
    vector = [0.0] * DIM
    vector[axis] = 1.0
    store.memories.insert([memory], [vector], "test", actor="test")
    return memory


def _found(index: FailingUpserts) -> set[str]:
    return index.filter_ids(Scope("t", "u"), filter=None, as_of=None)


def test_index_failure_keeps_the_write_and_retries_until_applied(
    parts: tuple[SqlRecordStore, FailingUpserts],
) -> None:
    store, index = parts
    sync = IndexSync(index, memories=store.memories, outbox=store.outbox)  # type: ignore[arg-type]
    index.failing = True
    memory = _add(store, "User likes tea", 0)
    assert sync.apply_due() == 0
    assert store.outbox.pending() == 1 and store.memories.get("t", memory.id) is not None
    assert _found(index) == set()
    index.failing = False
    assert sync.apply_due() == 0, "a failed item waits for its backoff"
    time.sleep(1.1)
    assert sync.apply_due() == 1
    assert store.outbox.pending() == 0 and _found(index) == {memory.id}


def test_check_finds_and_repairs_missing_stale_and_orphaned(
    parts: tuple[SqlRecordStore, FailingUpserts],
) -> None:
    store, index = parts
    sync = IndexSync(index, memories=store.memories, outbox=store.outbox)  # type: ignore[arg-type]
    kept, lost, changed = (_add(store, f"fact {i}", i) for i in range(3))
    sync.apply_due()
    assert sync.check(repair=False).consistent
    index.delete([lost.id])
    orphan = IndexDocument.from_memory(kept, [1.0] + [0.0] * (DIM - 1))
    orphan.id = str(uuid.uuid4())
    index.upsert([orphan])
    changed.importance = 9
    changed.version = 2
    changed.updated_at = now_utc()
    store.memories.update_fields(changed, {"importance": 9}, actor="test")
    store.outbox.complete([item.id for item in store.outbox.due(time.time() + 10, 100)])
    report = sync.check(repair=True)
    assert report.missing == [lost.id] and report.stale == [changed.id] and report.orphaned == [orphan.id]
    assert report.repaired and sync.check(repair=False).consistent
    assert _found(index) == {kept.id, lost.id, changed.id}


def test_reindex_rebuilds_from_the_system_of_record(parts: tuple[SqlRecordStore, FailingUpserts]) -> None:
    store, index = parts
    sync = IndexSync(index, memories=store.memories, outbox=store.outbox)  # type: ignore[arg-type]
    ids = {_add(store, f"fact {i}", i % DIM).id for i in range(20)}
    index.clear()
    assert _found(index) == set()
    assert sync.reindex(batch_size=7).count == 20
    assert _found(index) == ids and sync.check(repair=False).consistent


def test_apply_for_indexes_only_the_given_memories(parts: tuple[SqlRecordStore, FailingUpserts]) -> None:
    store, index = parts
    sync = IndexSync(index, memories=store.memories, outbox=store.outbox)  # type: ignore[arg-type]
    backlog = [_add(store, f"bulk {i}", i % DIM) for i in range(5)]
    mine = _add(store, "my fact", 1)
    assert sync.apply_for([mine.id])
    assert _found(index) == {mine.id}
    assert store.outbox.pending() == len(backlog)
    assert sync.apply_due() == len(backlog)
    assert _found(index) == {m.id for m in [*backlog, mine]}
