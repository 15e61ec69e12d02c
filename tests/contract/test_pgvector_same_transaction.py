"""With the pgvector index in the system of record's database, every memory write brings the index up to date
in its own transaction: searchable at commit from every process, no outbox row; when the index cannot take
it (tables gone), the outbox carries the write as with any index; a maintenance command open beside it
does not take writes off their transaction."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from membank.models import Scope, now_utc
from membank.search.indexing import IndexSync
from membank.storage.pgvector import PgvectorIndex
from membank.storage.sql.store import SqlRecordStore
from tests.contract.records import DIM, MODEL, memory, successor, vector
from tests.support.postgres import PostgresServer

SCOPE = Scope("t1", user_id="u1")


@pytest.fixture
def store_and_index(postgres_url: str) -> Iterator[tuple[SqlRecordStore, PgvectorIndex]]:
    store = SqlRecordStore.postgres(postgres_url)
    store.migrate()
    index = PgvectorIndex(store.db, DIM)
    store.write_index_in_transaction(index.write_in_transaction)
    yield store, index
    index.close()
    store.close()


def _keyword_ids(index: PgvectorIndex, text: str) -> list[str]:
    result = index.search(SCOPE, vector(1.0), text, filter=None, as_of=now_utc().timestamp() + 1, limit=10)
    return [hit.id for hit in result.keyword]


def test_writes_reach_the_index_in_their_transaction_without_an_outbox_row(
    store_and_index: tuple[SqlRecordStore, PgvectorIndex],
) -> None:
    store, index = store_and_index
    first, second = memory(content="User likes green tea"), memory(content="User lives in Lyon")
    store.memories.insert([first, second], [vector(1.0), vector(2.0)], MODEL, actor="test")
    assert store.outbox.pending() == 0
    assert _keyword_ids(index, "green tea") == [first.id]
    old, new = successor(first, "User likes black coffee")
    store.memories.supersede(old, new, vector(3.0), MODEL, actor="test")
    assert store.outbox.pending() == 0
    assert _keyword_ids(index, "coffee") == [new.id]
    assert _keyword_ids(index, "green tea") == []  # the old version is no longer valid now
    gone = replace(
        second, version=second.version + 1, updated_at=now_utc(), valid_to=now_utc(), deleted_at=now_utc()
    )
    store.memories.invalidate(gone, actor="test")
    assert store.outbox.pending() == 0
    sync = IndexSync(index, memories=store.memories, outbox=store.outbox)
    report = sync.check(repair=False)
    assert report.consistent and report.indexed == 3, report


def test_an_erasure_leaves_the_index_at_once_and_keeps_its_outbox_rows(
    store_and_index: tuple[SqlRecordStore, PgvectorIndex],
) -> None:
    store, index = store_and_index
    kept = memory(content="User owns a red bicycle")
    store.memories.insert([kept], [vector(1.0)], MODEL, actor="test")
    erased = store.memories.erase("t1", kept.lineage_id, actor="test")
    assert erased == [kept.id]
    assert index.count() == 0
    assert store.outbox.pending() == 1  # applied after any rebuild that could have put it back
    IndexSync(index, memories=store.memories, outbox=store.outbox).apply_due(ignore_backoff=True)
    assert store.outbox.pending() == 0 and index.count() == 0


def test_an_index_that_cannot_take_the_write_leaves_it_to_the_outbox(
    store_and_index: tuple[SqlRecordStore, PgvectorIndex], postgres_server: PostgresServer, postgres_url: str
) -> None:
    store, index = store_and_index
    database = postgres_url.rsplit("/", 1)[1]
    with postgres_server.connect(database) as conn:
        conn.execute("DROP TABLE vector_index_terms, vector_index_documents")
    written = memory(content="User plays the cello")
    store.memories.insert([written], [vector(1.0)], MODEL, actor="test")  # acknowledged all the same
    assert store.memories.get("t1", written.id) is not None
    assert store.outbox.pending() == 1
    sync = IndexSync(index, memories=store.memories, outbox=store.outbox)
    with pytest.raises(Exception):  # noqa: B017 - the index is missing until its next call recreates it
        index.count()
    assert sync.apply_due(ignore_backoff=True) == 1
    assert _keyword_ids(index, "cello") == [written.id]
    # A maintenance command (`membank reindex`) open beside a server does not take writes off their
    # transaction: the index is shared, so they still reach it at once.
    index.close()
    maintenance = PgvectorIndex(store.db, DIM, maintenance=True)
    server_side = PgvectorIndex(store.db, DIM)
    store.write_index_in_transaction(server_side.write_in_transaction)
    try:
        maintenance.ping()
        beside = memory(content="User speaks Welsh")
        store.memories.insert([beside], [vector(2.0)], MODEL, actor="test")
        assert store.outbox.pending() == 0  # written in its own transaction, no outbox row
        assert _keyword_ids(maintenance, "welsh") == [beside.id]
    finally:
        maintenance.close()
        server_side.close()
