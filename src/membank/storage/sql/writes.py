"""The rules every write to memories follows, once for every engine.

Inside the transaction of the write: a history row per change, an outbox row per touched memory (the
derived indexes catch up from it, whichever process wrote), a bump of each touched user's revision, and a
guard that the row changed was still current (else `MemoryChanged`, and the transaction rolls back).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, CursorResult, Update, insert

from membank.errors import MemoryChanged
from membank.models import Memory, MemoryVersion, Provenance
from membank.storage.sql import tables
from membank.storage.sql.rows import dumps, memory_values, vector_bytes, version_values
from membank.storage.sql.upsert import upsert_insert

__all__ = [
    "IndexWriter",
    "bump_revisions",
    "history_entry",
    "insert_memories",
    "insert_versions",
    "record_erasure",
    "record_writes",
    "update_current",
]

IndexWriter = Callable[[Connection, Sequence[tuple[str, str]]], None]
"""Brings a derived index that lives in this database up to date with these (tenant_id, memory_id) inside the
caller's transaction (reading what the transaction wrote): upserts the memories found, removes the others.
It raises when it cannot, and the outbox row is written instead."""


def history_entry(
    memory: Memory,
    event: str,
    actor: str,
    *,
    old: str | None,
    new: str | None,
    provenance: Provenance | None = None,
    changes: dict[str, Any] | None = None,
) -> MemoryVersion:
    """The history row of one change to `memory` (already carrying its new version and update time)."""
    origin = provenance or Provenance()
    return MemoryVersion(
        id=str(uuid.uuid4()),
        memory_id=memory.id,
        lineage_id=memory.lineage_id,
        tenant_id=memory.tenant_id,
        version=memory.version,
        event=event,
        old_content=old,
        new_content=new,
        actor=actor,
        created_at=memory.updated_at,
        job_id=origin.job_id,
        changes=changes or {},
        extractor=origin.extractor,
        prompt_version=origin.prompt_version,
    )


def insert_memories(
    conn: Connection, memories: Sequence[Memory], vectors: Sequence[Sequence[float]], model_id: str
) -> None:
    conn.execute(insert(tables.memories), [memory_values(m) for m in memories])
    conn.execute(
        insert(tables.memory_embeddings),
        [
            {"memory_id": m.id, "model": model_id, "dim": len(v), "vector": vector_bytes(v)}
            for m, v in zip(memories, vectors, strict=True)
        ],
    )


def insert_versions(conn: Connection, versions: Sequence[MemoryVersion]) -> None:
    conn.execute(insert(tables.memory_versions), [version_values(v) for v in versions])


def update_current(conn: Connection, statement: Update, memory: Memory) -> None:
    """Run an UPDATE of `memory` restricted to its current row (neither superseded nor deleted); a row
    changed meanwhile by another writer matches nothing and the write is refused."""
    m = tables.memories.c
    guarded = statement.where(
        m.id == memory.id, m.tenant_id == memory.tenant_id, m.superseded_by.is_(None), m.deleted_at.is_(None)
    )
    result: CursorResult[Any] = conn.execute(guarded)
    if result.rowcount != 1:
        raise MemoryChanged(f"memory {memory.id} was superseded or deleted concurrently")


def record_writes(
    conn: Connection, memories: Sequence[Memory], index_writer: IndexWriter | None = None
) -> None:
    """Outbox rows for the derived indexes and revision bumps for the users of the written memories. With an
    `index_writer` (an index in this database), the index rows are written in this transaction instead, and
    no outbox row is needed; if the writer fails, the outbox row is written as always."""
    items = [(m.tenant_id, m.id) for m in memories]
    if not _index_in_transaction(conn, items, index_writer):
        _enqueue(conn, items, time.time())
    bump_revisions(conn, {(m.tenant_id, m.user_id) for m in memories})


def record_erasure(
    conn: Connection,
    tenant_id: str,
    lineage_id: str,
    erased: Sequence[tuple[str, str]],
    *,
    actor: str,
    index_writer: IndexWriter | None = None,
) -> None:
    """Blank the content kept in the lineage's history, add its ERASE entry, and queue the removal of the
    erased (memory id, user id) pairs from the indexes. With an `index_writer` they are also removed in this
    transaction, and the outbox rows are still written: a rebuild or another process's applier that read the
    memories before the erasure could put them back, and the outbox removes them again after it."""
    now = time.time()
    v = tables.memory_versions.c
    conn.execute(
        tables.memory_versions.update()
        .where(v.tenant_id == tenant_id, v.lineage_id == lineage_id)
        .values(old_content=None, new_content=None, changes="{}")
    )
    conn.execute(
        insert(tables.memory_versions).values(
            id=str(uuid.uuid4()),
            memory_id=lineage_id,
            lineage_id=lineage_id,
            tenant_id=tenant_id,
            version=0,
            event="ERASE",
            actor=actor,
            changes=dumps({"erased_ids": [memory_id for memory_id, _ in erased]}),
            created_at=now,
        )
    )
    items = [(tenant_id, memory_id) for memory_id, _ in erased]
    _index_in_transaction(conn, items, index_writer)
    _enqueue(conn, items, now)
    bump_revisions(conn, {(tenant_id, user_id) for _, user_id in erased})


def bump_revisions(conn: Connection, users: Iterable[tuple[str, str]]) -> None:
    # Every write bumps its user's revision in the same transaction: caches of derived answers (synthesized
    # contexts) compare it and can never serve a result older than a committed write, whichever process wrote.
    # Sorted, so that concurrent writers lock the rows in one order (no deadlock on PostgreSQL).
    rows = [{"tenant_id": tenant, "user_id": user, "revision": 1} for tenant, user in sorted(set(users))]
    if not rows:
        return
    statement = upsert_insert(conn, tables.user_revisions)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "user_id"],
            set_={"revision": tables.user_revisions.c.revision + 1},
        ),
        rows,
    )


def _index_in_transaction(
    conn: Connection, items: Sequence[tuple[str, str]], writer: IndexWriter | None
) -> bool:
    """Run the writer under a savepoint: True when the index rows are written; on any failure of the index
    its part is rolled back (the memory write goes on) and False says the outbox must carry the items."""
    if writer is None or not items:
        return False
    try:
        with conn.begin_nested():
            writer(conn, items)
    except Exception:
        # A dead connection fails the outbox insert that follows too: then the whole write fails (503).
        return False
    return True


def _enqueue(conn: Connection, items: Sequence[tuple[str, str]], now: float) -> None:
    if items:
        conn.execute(
            insert(tables.outbox),
            [
                {"memory_id": memory_id, "tenant_id": tenant, "created_at": now, "next_attempt_at": now}
                for tenant, memory_id in items
            ],
        )
