"""Memories, their embeddings and history on SQLite and PostgreSQL (the write rules are in writes.py)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, func, literal_column, or_, select

from membank.models import Memory, MemoryVersion, Provenance, Scope, to_epoch
from membank.storage.ports import JobProgress, MemoryPage, sync_token
from membank.storage.sql import tables
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.jobs import save_progress
from membank.storage.sql.memory_stats import user_stats
from membank.storage.sql.rows import dumps, memory_from_row, vector_from_bytes, version_from_row
from membank.storage.sql.writes import (
    IndexWriter,
    history_entry,
    insert_memories,
    insert_versions,
    record_erasure,
    record_writes,
    update_current,
)

__all__ = ["SqlMemoryRepository", "memories_with_vectors", "valid_at"]

M = tables.memories.c
V = tables.memory_versions.c
E = tables.memory_embeddings.c
# Bound parameters per IN list: far below SQLite's (32,766) and PostgreSQL's (65,535) limits per statement.
_CHUNK = 500
_SORTABLE = {"created_at", "updated_at", "importance", "valid_from"}


def valid_at(at: float) -> ColumnElement[bool]:
    """Memories true at `at`: valid_from <= at < valid_to (no valid_to: still true)."""
    return and_(M.valid_from <= at, or_(M.valid_to.is_(None), M.valid_to > at))


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


def memories_with_vectors(
    conn: Connection, tenant_id: str, ids: Sequence[str]
) -> list[tuple[Memory, list[float]]]:
    """(memory, vector) of the memories of `tenant_id` among `ids` that have a vector, read on `conn`."""
    statement = select(tables.memories, E.vector).join(tables.memory_embeddings, E.memory_id == M.id)
    found: list[tuple[Memory, list[float]]] = []
    for chunk in _chunks(ids):
        for row in conn.execute(statement.where(M.id.in_(chunk))).mappings():
            if row["tenant_id"] == tenant_id:  # by id alone, as in get_many
                found.append((memory_from_row(row), vector_from_bytes(row["vector"])))
    return found


class SqlMemoryRepository:
    """The MemoryRepository port (also its versions and revisions) over one SqlDatabase. With an
    `index_writer` (see `writes.IndexWriter`), writes bring that index up to date in their own transaction."""

    def __init__(self, db: SqlDatabase) -> None:
        self._db = db
        self.index_writer: IndexWriter | None = None

    @retry_conflicts
    def insert(
        self,
        memories: Sequence[Memory],
        vectors: Sequence[Sequence[float]],
        model_id: str,
        *,
        actor: str,
        provenance: Provenance | None = None,
        progress: JobProgress | None = None,
    ) -> None:
        versions = [
            history_entry(m, "CREATE", actor, old=None, new=m.content, provenance=provenance)
            for m in memories
        ]
        with self._db.write() as conn:
            if progress is not None:
                save_progress(conn, progress)
            if not memories:
                return
            insert_memories(conn, memories, vectors, model_id)
            insert_versions(conn, versions)
            record_writes(conn, memories, self.index_writer)

    # By id alone, the tenant checked here: the primary key finds each row on both engines, where a
    # tenant_id condition in SQL may lead SQLite's planner to the (tenant_id, ...) index and a scan of
    # the whole tenant.
    def get(self, tenant_id: str, memory_id: str) -> Memory | None:
        return self.get_many(tenant_id, [memory_id]).get(memory_id)

    @retry_reads
    def get_many(self, tenant_id: str, ids: Sequence[str]) -> dict[str, Memory]:
        found: dict[str, Memory] = {}
        with self._db.read() as conn:
            for chunk in _chunks(ids):
                for row in conn.execute(select(tables.memories).where(M.id.in_(chunk))).mappings():
                    if row["tenant_id"] == tenant_id:
                        found[row["id"]] = memory_from_row(row)
        return found

    @retry_conflicts
    def supersede(
        self,
        old: Memory,
        new: Memory,
        vector: Sequence[float],
        model_id: str,
        *,
        actor: str,
        provenance: Provenance | None = None,
    ) -> None:
        closing = history_entry(
            old,
            "SUPERSEDED",
            actor,
            old=old.content,
            new=new.content,
            provenance=provenance,
            changes={"superseded_by": new.id},
        )
        opening = history_entry(
            new,
            "UPDATE",
            actor,
            old=old.content,
            new=new.content,
            provenance=provenance,
            changes={"supersedes": old.id},
        )
        closed_at = to_epoch(old.valid_to or new.valid_from)
        with self._db.write() as conn:
            update_current(
                conn,
                tables.memories.update().values(
                    valid_to=closed_at,
                    superseded_by=new.id,
                    updated_at=to_epoch(old.updated_at),
                    version=old.version,
                ),
                old,
            )
            insert_memories(conn, [new], [vector], model_id)
            insert_versions(conn, [closing, opening])
            record_writes(conn, [old, new], self.index_writer)

    @retry_conflicts
    def update_fields(
        self, memory: Memory, changes: dict[str, Any], *, actor: str, provenance: Provenance | None = None
    ) -> None:
        entry = history_entry(
            memory,
            "UPDATE",
            actor,
            old=memory.content,
            new=memory.content,
            changes=changes,
            provenance=provenance,
        )
        with self._db.write() as conn:
            update_current(
                conn,
                tables.memories.update().values(
                    summary=memory.summary,
                    memory_type=memory.memory_type,
                    importance=memory.importance,
                    tags=dumps(memory.tags),
                    metadata=dumps(memory.metadata),
                    entities=dumps(memory.entities),
                    source_refs=dumps(memory.source_refs),
                    version=memory.version,
                    updated_at=to_epoch(memory.updated_at),
                ),
                memory,
            )
            insert_versions(conn, [entry])
            record_writes(conn, [memory], self.index_writer)

    @retry_conflicts
    def invalidate(self, memory: Memory, *, actor: str, provenance: Provenance | None = None) -> None:
        entry = history_entry(memory, "DELETE", actor, old=memory.content, new=None, provenance=provenance)
        assert memory.valid_to is not None and memory.deleted_at is not None
        with self._db.write() as conn:
            update_current(
                conn,
                tables.memories.update().values(
                    valid_to=to_epoch(memory.valid_to),
                    deleted_at=to_epoch(memory.deleted_at),
                    version=memory.version,
                    updated_at=to_epoch(memory.updated_at),
                ),
                memory,
            )
            insert_versions(conn, [entry])
            record_writes(conn, [memory], self.index_writer)

    @retry_conflicts
    def erase(self, tenant_id: str, lineage_id: str, *, actor: str) -> list[str]:
        with self._db.write() as conn:
            rows = conn.execute(
                select(M.id, M.user_id).where(M.tenant_id == tenant_id, M.lineage_id == lineage_id)
            ).all()
            if not rows:
                return []
            ids = [row.id for row in rows]
            for chunk in _chunks(ids):
                conn.execute(delete(tables.memory_embeddings).where(E.memory_id.in_(chunk)))
                conn.execute(delete(tables.memories).where(M.id.in_(chunk)))
            record_erasure(
                conn,
                tenant_id,
                lineage_id,
                [(row.id, row.user_id) for row in rows],
                actor=actor,
                index_writer=self.index_writer,
            )
            return ids

    @retry_reads
    def history(self, tenant_id: str, lineage_id: str) -> list[MemoryVersion]:
        # Oldest first; the two entries of a supersession share their time, and the closing of the old
        # version comes before the opening of its successor.
        statement = (
            select(tables.memory_versions)
            .where(V.tenant_id == tenant_id, V.lineage_id == lineage_id)
            .order_by(V.created_at, (V.event == "SUPERSEDED").desc(), V.version, V.id)
        )
        with self._db.read() as conn:
            return [version_from_row(row) for row in conn.execute(statement).mappings()]

    @retry_reads
    def list_for_user(
        self,
        tenant_id: str,
        user_id: str,
        *,
        memory_type: str | None,
        include_invalid: bool,
        at: float,
        sort_by: str,
        descending: bool,
        limit: int,
        offset: int,
    ) -> MemoryPage:
        where: list[ColumnElement[bool]] = [M.tenant_id == tenant_id, M.user_id == user_id]
        if memory_type is not None:
            where.append(M.memory_type == memory_type)
        if not include_invalid:
            where.append(valid_at(at))
        column = M[sort_by if sort_by in _SORTABLE else "created_at"]
        order = [column.desc(), M.id.desc()] if descending else [column.asc(), M.id.asc()]
        with self._db.snapshot() as conn:
            total = conn.execute(select(func.count()).select_from(tables.memories).where(*where)).scalar_one()
            rows = conn.execute(
                select(tables.memories).where(*where).order_by(*order).limit(limit).offset(offset)
            ).mappings()
            return MemoryPage([memory_from_row(row) for row in rows], int(total))

    @retry_reads
    def stats(self, tenant_id: str, user_id: str, *, at: float) -> dict[str, Any]:
        with self._db.snapshot() as conn:
            return user_stats(conn, tenant_id, user_id, valid_at(at))

    @retry_reads
    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        with self._db.read() as conn:
            for chunk in _chunks(ids):
                for row in conn.execute(select(E.memory_id, E.vector).where(E.memory_id.in_(chunk))):
                    found[row.memory_id] = vector_from_bytes(row.vector)
        return found

    @retry_reads
    def with_vectors(self, tenant_id: str, ids: Sequence[str]) -> list[tuple[Memory, list[float]]]:
        with self._db.read() as conn:
            return memories_with_vectors(conn, tenant_id, ids)

    @retry_reads
    def existing_hashes(self, tenant_id: str, user_id: str, hashes: Sequence[str], *, at: float) -> set[str]:
        found: set[str] = set()
        with self._db.read() as conn:
            for chunk in _chunks(hashes):
                found.update(
                    conn.execute(
                        select(M.content_hash).where(
                            M.tenant_id == tenant_id,
                            M.user_id == user_id,
                            M.content_hash.in_(chunk),
                            valid_at(at),
                        )
                    ).scalars()
                )
        return found

    def valid_in_slot(self, tenant_id: str, user_id: str, slot: str, *, at: float) -> list[Memory]:
        return self._valid(
            tenant_id, user_id, at, M.slot == slot, order=[M.valid_from.desc(), M.created_at.desc()]
        )

    def valid_with_hash(self, tenant_id: str, user_id: str, content_hash: str, *, at: float) -> list[Memory]:
        return self._valid(
            tenant_id, user_id, at, M.content_hash == content_hash, order=[M.created_at.desc()]
        )

    @retry_reads
    def _valid(
        self, tenant_id: str, user_id: str, at: float, match: ColumnElement[bool], *, order: list[Any]
    ) -> list[Memory]:
        statement = (
            select(tables.memories)
            .where(M.tenant_id == tenant_id, M.user_id == user_id, match, valid_at(at))
            .order_by(*order)
        )
        with self._db.read() as conn:
            return [memory_from_row(row) for row in conn.execute(statement).mappings()]

    @retry_reads
    def newest_valid(self, scope: Scope, *, at: float, limit: int) -> list[Memory]:
        conditions = [M.tenant_id == scope.tenant_id, valid_at(at)]
        for column, value in (
            (M.user_id, scope.user_id),
            (M.agent_id, scope.agent_id),
            (M.session_id, scope.session_id),
        ):
            if value is not None:
                conditions.append(column == value)
        statement = (
            select(tables.memories).where(*conditions).order_by(M.created_at.desc(), M.id).limit(limit)
        )
        with self._db.read() as conn:
            return [memory_from_row(row) for row in conn.execute(statement).mappings()]

    @retry_reads
    def valid_vectors(
        self, tenant_id: str, user_id: str, *, at: float, limit: int
    ) -> tuple[list[str], list[list[float]]]:
        statement = (
            select(M.id, E.vector)
            .join(tables.memory_embeddings, E.memory_id == M.id)
            .where(M.tenant_id == tenant_id, M.user_id == user_id, valid_at(at))
            .order_by(M.created_at.desc())
            .limit(limit)
        )
        ids: list[str] = []
        vectors: list[list[float]] = []
        with self._db.read() as conn:
            for row in conn.execute(statement):
                ids.append(row.id)
                vectors.append(vector_from_bytes(row.vector))
        return ids, vectors

    @retry_reads
    def revision(self, tenant_id: str, user_id: str) -> int:
        r = tables.user_revisions.c
        with self._db.read() as conn:
            found = conn.execute(
                select(r.revision).where(r.tenant_id == tenant_id, r.user_id == user_id)
            ).scalar_one_or_none()
        return int(found) if found is not None else 0

    def iter_all(self, batch_size: int) -> Iterator[list[Memory]]:
        last = ""
        while True:
            # One short read per batch: no transaction stays open while the caller works on a batch.
            with self._db.read() as conn:
                rows = conn.execute(
                    select(tables.memories).where(M.id > last).order_by(M.id).limit(batch_size)
                ).mappings()
                batch = [memory_from_row(row) for row in rows]
            if not batch:
                return
            last = batch[-1].id
            yield batch

    def entries(self) -> Iterator[tuple[str, str]]:
        for batch in self.iter_all(2000):
            for memory in batch:
                yield memory.id, sync_token(memory)

    @retry_reads
    def count_indexable(self) -> int:
        with self._db.read() as conn:
            return int(conn.execute(select(func.count()).select_from(tables.memory_embeddings)).scalar_one())

    @retry_reads
    def newest_entries(self, limit: int) -> list[tuple[str, str]]:
        # SQLite's rowid is insertion order: the newest memories without a scan or an extra index.
        # PostgreSQL has no such order; its creation times are read in one scan (a start-up probe).
        newest = literal_column("rowid").desc() if self._db.dialect == "sqlite" else M.created_at.desc()
        with self._db.read() as conn:
            rows = conn.execute(select(tables.memories).order_by(newest).limit(limit)).mappings()
            return [(memory.id, sync_token(memory)) for memory in map(memory_from_row, rows)]
