"""`membank reindex` and `check --repair` online, beside serving processes, on a shared index (pgvector in the
system of record's PostgreSQL, a Qdrant server through qdrant-client's local mode): search never sees an
empty index, no write made meanwhile is lost (in its transaction or through the outbox), and an orphan is
checked again before it is deleted, so a memory created between the reads stays searchable."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from membank.models import Memory, Scope, now_utc
from membank.search.indexing import IndexSync
from membank.storage.pgvector import PgvectorIndex
from membank.storage.ports import IndexDocument, MemoryRepository, VectorIndex
from membank.storage.qdrant_server import QdrantServerIndex
from membank.storage.sql.store import SqlRecordStore
from tests.contract.records import DIM, MODEL, memory, vector

SCOPE = Scope("t1", user_id="u1")
SEEDED = 60
BATCH = 16


class Interleaved:
    """The real memory repository, running `between_batches` before each batch a rebuild reads and
    `after_entries` once every stored id has been read: where a serving process's writes land mid-way."""

    def __init__(self, memories: MemoryRepository) -> None:
        self.memories = memories
        self.between_batches: Callable[[int, list[Memory]], None] = lambda number, batch: None
        self.after_entries: Callable[[], None] = lambda: None

    def iter_all(self, batch_size: int) -> Iterator[list[Memory]]:
        for number, batch in enumerate(self.memories.iter_all(batch_size)):
            self.between_batches(number, batch)
            yield batch

    def entries(self) -> Iterator[tuple[str, str]]:
        yield from list(self.memories.entries())
        self.after_entries()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.memories, name)


@dataclass
class Cluster:
    """A serving process (`serve`: its store, index and outbox applier) and a maintenance command's view of
    the same system of record and index (`command`), whose memory reads are `interleaved`."""

    store: SqlRecordStore
    worker_store: SqlRecordStore  # a standalone `membank worker`'s: its writes reach the index by the outbox
    index: VectorIndex
    serve: IndexSync
    command_index: VectorIndex
    interleaved: Interleaved
    command: IndexSync

    def write(self, content: str, seed: float) -> Memory:
        """A memory written through the serving process, and made searchable as it makes it (in the memory's
        transaction on pgvector, by its outbox applier otherwise)."""
        written = memory(content=content)
        self.store.memories.insert([written], [vector(seed)], MODEL, actor="test")
        self.serve.apply_due(ignore_backoff=True)
        return written

    def keyword_ids(self, text: str) -> list[str]:
        as_of = now_utc().timestamp() + 1
        result = self.index.search(SCOPE, vector(1.0), text, filter=None, as_of=as_of, limit=SEEDED * 2)
        return [hit.id for hit in result.keyword]


@pytest.fixture(params=["pgvector", "qdrant"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    if request.param == "pgvector":
        store = SqlRecordStore.postgres(request.getfixturevalue("postgres_url"))
        store.migrate()
        index: VectorIndex = PgvectorIndex(store.db, DIM)
        store.write_index_in_transaction(index.write_in_transaction)  # type: ignore[attr-defined]
        command_index: VectorIndex = PgvectorIndex(store.db, DIM, maintenance=True)
        worker_store = SqlRecordStore.postgres(request.getfixturevalue("postgres_url"))
    else:
        store = SqlRecordStore.sqlite(tmp_path / "db.sqlite3")
        store.migrate()
        # qdrant-client's local mode lets one client open a path: both "processes" share it here, as they
        # share one collection on a server.
        index = command_index = QdrantServerIndex.local(tmp_path / "qdrant", DIM)
        worker_store = store  # every write of this store goes through the outbox
    interleaved = Interleaved(store.memories)
    parts = Cluster(
        store=store,
        worker_store=worker_store,
        index=index,
        serve=IndexSync(index, memories=store.memories, outbox=store.outbox),
        command_index=command_index,
        interleaved=interleaved,
        command=IndexSync(command_index, memories=interleaved, outbox=store.outbox),  # type: ignore[arg-type]
    )
    for number in range(SEEDED):
        parts.write(f"User keeps seeded fact number {number}", float(number + 1))
    yield parts
    command_index.close()
    index.close()
    if worker_store is not store:
        worker_store.close()
    store.close()


def test_an_online_reindex_never_empties_search_and_loses_no_write_made_during_it(cluster: Cluster) -> None:
    assert cluster.index.shared and cluster.command_index.shared
    written: list[Memory] = []
    seen_during: list[int] = []

    def between_batches(number: int, batch: list[Memory]) -> None:
        seen_during.append(len(cluster.keyword_ids("seeded")))
        written.append(cluster.write(f"User adds fresh fact number {number}", 100.0 + number))

    cluster.interleaved.between_batches = between_batches
    rebuilt = cluster.command.reindex_command(batch_size=BATCH)
    assert len(seen_during) >= SEEDED // BATCH  # the writes really landed mid-way
    assert min(seen_during) == SEEDED, seen_during  # every seeded memory stayed searchable throughout
    assert rebuilt.count >= SEEDED
    assert sorted(cluster.keyword_ids("fresh")) == sorted(m.id for m in written)
    report = cluster.serve.check(repair=False)
    assert report.consistent and report.indexed == SEEDED + len(written), report


def test_an_online_reindex_leaves_the_outbox_to_the_serving_processes(cluster: Cluster) -> None:
    """A write the serving processes have not applied yet stays queued: forgetting it (as an offline
    rebuild may, having read every memory) would lose one made after the rebuild read its batch."""
    queued_during: list[Memory] = []

    def between_batches(number: int, batch: list[Memory]) -> None:
        if number == 1:
            late = memory(content="User queued a late fact")
            cluster.worker_store.memories.insert([late], [vector(7.0)], MODEL, actor="test")
            queued_during.append(late)

    cluster.interleaved.between_batches = between_batches
    cluster.command.reindex_command(batch_size=BATCH)
    assert cluster.store.outbox.pending() >= 1  # still the serving processes' to apply
    cluster.serve.apply_due(ignore_backoff=True)
    assert cluster.store.outbox.pending() == 0
    assert cluster.keyword_ids("late") == [queued_during[0].id]


@pytest.mark.parametrize("operation", ["reindex", "repair"])
def test_a_memory_created_between_the_reads_is_not_taken_for_an_orphan(
    cluster: Cluster, operation: str
) -> None:
    stray = memory(content="User left a stray document")
    cluster.index.upsert([_document(stray)])  # a real orphan: in the index, never stored
    created: list[Memory] = []

    def after_entries() -> None:
        if not created:  # the stored ids are read; the index's are read next
            created.append(cluster.write("User created a fact between the reads", 55.0))

    cluster.interleaved.after_entries = after_entries
    if operation == "reindex":
        cluster.command.reindex_command(batch_size=BATCH)
    else:
        report = cluster.command.check(repair=True)
        assert created[0].id in report.orphaned and stray.id in report.orphaned  # both looked orphaned
        assert report.repaired
    assert cluster.keyword_ids("between the reads") == [created[0].id]  # rechecked and kept
    assert cluster.keyword_ids("stray") == []  # the real orphan is gone
    assert cluster.serve.check(repair=False).consistent


def test_an_online_reindex_keeps_a_change_made_after_it_read_the_memory(cluster: Cluster) -> None:
    """The index refuses an older state over a newer one, so a rebuild that read memories before a serving
    process changed them cannot undo the changes (pgvector's upsert guard, the Qdrant server's update
    filter)."""
    changed: list[str] = []

    def between_batches(number: int, batch: list[Memory]) -> None:
        if number == 0:  # read by the rebuild, changed before the rebuild writes them
            for current in batch[:3]:
                later = replace(current, importance=9, version=current.version + 1, updated_at=now_utc())
                cluster.store.memories.update_fields(later, {"importance": 9}, actor="test")
                changed.append(current.id)
            cluster.serve.apply_due(ignore_backoff=True)

    cluster.interleaved.between_batches = between_batches
    cluster.command.reindex_command(batch_size=BATCH)
    assert len(changed) == 3
    report = cluster.serve.check(repair=False)
    assert report.consistent, report  # the index holds the changed memories, not the rebuild's stale reads


def _document(stray: Memory) -> IndexDocument:
    return IndexDocument.from_memory(stray, vector(3.0))
