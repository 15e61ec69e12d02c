"""Memories, embeddings and history in SQLite; every write records an outbox row in its transaction."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from membank.errors import LeaseLost, MemoryChanged
from membank.models import Memory, MemoryVersion, Provenance, now_utc, to_epoch
from membank.storage.ports import JobProgress, MemoryPage, sync_token
from membank.storage.sqlite.database import SqliteDatabase
from membank.storage.sqlite.rows import (
    MEMORY_COLUMNS,
    dumps,
    memory_from_row,
    memory_params,
    version_from_row,
    version_params,
)

_INSERT_MEMORY = f"INSERT INTO memories ({MEMORY_COLUMNS}) VALUES ({', '.join('?' * 24)})"
_INSERT_VERSION = "INSERT INTO memory_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_INSERT_OUTBOX = "INSERT INTO outbox (memory_id, tenant_id, created_at, next_attempt_at) VALUES (?, ?, ?, ?)"
_VALID = "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
_VALID_M = "m.valid_from <= ? AND (m.valid_to IS NULL OR m.valid_to > ?)"
_SORTABLE = {"created_at", "updated_at", "importance", "valid_from"}


def _version(
    memory: Memory,
    event: str,
    actor: str,
    *,
    old: str | None,
    new: str | None,
    provenance: Provenance | None = None,
    changes: dict[str, Any] | None = None,
) -> MemoryVersion:
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


def _touch_outbox(conn: sqlite3.Connection, memories: Sequence[Memory]) -> None:
    now = to_epoch(now_utc())
    conn.executemany(_INSERT_OUTBOX, [(m.id, m.tenant_id, now, now) for m in memories])
    _bump_revisions(conn, {(m.tenant_id, m.user_id) for m in memories})


def _bump_revisions(conn: sqlite3.Connection, users: set[tuple[str, str]]) -> None:
    # Every write bumps its user's revision in the same transaction: caches of derived answers (synthesized
    # contexts) compare it and can never serve a result older than a committed write, whichever process wrote.
    conn.executemany(
        "INSERT INTO user_revisions VALUES (?, ?, 1) "
        "ON CONFLICT (tenant_id, user_id) DO UPDATE SET revision = revision + 1",
        sorted(users),
    )


def _vector_blob(vector: Sequence[float]) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


class SqliteMemoryRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

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
            _version(m, "CREATE", actor, old=None, new=m.content, provenance=provenance) for m in memories
        ]
        with self._db.write() as conn:
            if progress is not None:
                save_progress(conn, progress)
            conn.executemany(_INSERT_MEMORY, [memory_params(m) for m in memories])
            conn.executemany(
                "INSERT INTO memory_embeddings VALUES (?, ?, ?, ?)",
                [(m.id, model_id, len(v), _vector_blob(v)) for m, v in zip(memories, vectors, strict=True)],
            )
            conn.executemany(_INSERT_VERSION, [version_params(v) for v in versions])
            _touch_outbox(conn, memories)

    # `+tenant_id` keeps SQLite on the primary key: without it the planner may pick the (tenant_id, ...)
    # index and scan the whole tenant to find a few ids.
    def get(self, tenant_id: str, memory_id: str) -> Memory | None:
        row = (
            self._db.read()
            .execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE +tenant_id = ? AND id = ?",
                (tenant_id, memory_id),
            )
            .fetchone()
        )
        return memory_from_row(row) if row else None

    def get_many(self, tenant_id: str, ids: Sequence[str]) -> dict[str, Memory]:
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self._db.read().execute(
            f"SELECT {MEMORY_COLUMNS} FROM memories WHERE +tenant_id = ? AND id IN ({marks})",
            (tenant_id, *ids),
        )
        return {row["id"]: memory_from_row(row) for row in rows}

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
        closing = _version(
            old,
            "SUPERSEDED",
            actor,
            old=old.content,
            new=new.content,
            provenance=provenance,
            changes={"superseded_by": new.id},
        )
        opening = _version(
            new,
            "UPDATE",
            actor,
            old=old.content,
            new=new.content,
            provenance=provenance,
            changes={"supersedes": old.id},
        )
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE memories SET valid_to = ?, superseded_by = ?, updated_at = ?, version = ? "
                "WHERE +tenant_id = ? AND id = ? AND superseded_by IS NULL AND deleted_at IS NULL",
                (
                    to_epoch(old.valid_to or new.valid_from),
                    new.id,
                    to_epoch(old.updated_at),
                    old.version,
                    old.tenant_id,
                    old.id,
                ),
            )
            if cursor.rowcount != 1:
                raise MemoryChanged(f"memory {old.id} was superseded or deleted concurrently")
            conn.execute(_INSERT_MEMORY, memory_params(new))
            conn.execute(
                "INSERT INTO memory_embeddings VALUES (?, ?, ?, ?)",
                (new.id, model_id, len(vector), _vector_blob(vector)),
            )
            conn.executemany(_INSERT_VERSION, [version_params(closing), version_params(opening)])
            _touch_outbox(conn, [old, new])

    def update_fields(
        self, memory: Memory, changes: dict[str, Any], *, actor: str, provenance: Provenance | None = None
    ) -> None:
        entry = _version(
            memory,
            "UPDATE",
            actor,
            old=memory.content,
            new=memory.content,
            changes=changes,
            provenance=provenance,
        )
        with self._db.write() as conn:
            conn.execute(
                "UPDATE memories SET summary = ?, memory_type = ?, importance = ?, tags = ?, metadata = ?, "
                "entities = ?, source_refs = ?, version = ?, updated_at = ? WHERE +tenant_id = ? AND id = ?",
                (
                    memory.summary,
                    memory.memory_type,
                    memory.importance,
                    dumps(memory.tags),
                    dumps(memory.metadata),
                    dumps(memory.entities),
                    dumps(memory.source_refs),
                    memory.version,
                    to_epoch(memory.updated_at),
                    memory.tenant_id,
                    memory.id,
                ),
            )
            conn.execute(_INSERT_VERSION, version_params(entry))
            _touch_outbox(conn, [memory])

    def invalidate(self, memory: Memory, *, actor: str, provenance: Provenance | None = None) -> None:
        entry = _version(memory, "DELETE", actor, old=memory.content, new=None, provenance=provenance)
        assert memory.valid_to is not None and memory.deleted_at is not None
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE memories SET valid_to = ?, deleted_at = ?, version = ?, updated_at = ? "
                "WHERE +tenant_id = ? AND id = ? AND superseded_by IS NULL AND deleted_at IS NULL",
                (
                    to_epoch(memory.valid_to),
                    to_epoch(memory.deleted_at),
                    memory.version,
                    to_epoch(memory.updated_at),
                    memory.tenant_id,
                    memory.id,
                ),
            )
            if cursor.rowcount != 1:
                raise MemoryChanged(f"memory {memory.id} was superseded or deleted concurrently")
            conn.execute(_INSERT_VERSION, version_params(entry))
            _touch_outbox(conn, [memory])

    def erase(self, tenant_id: str, lineage_id: str, *, actor: str) -> list[str]:
        now = to_epoch(now_utc())
        with self._db.write() as conn:
            rows = conn.execute(
                "SELECT id, user_id FROM memories WHERE tenant_id = ? AND lineage_id = ?",
                (tenant_id, lineage_id),
            ).fetchall()
            if not rows:
                return []
            ids = [row[0] for row in rows]
            _bump_revisions(conn, {(tenant_id, row[1]) for row in rows})
            marks = ", ".join("?" * len(ids))
            conn.execute(f"DELETE FROM memory_embeddings WHERE memory_id IN ({marks})", ids)
            conn.execute(f"DELETE FROM memories WHERE id IN ({marks})", ids)
            conn.execute(
                "UPDATE memory_versions SET old_content = NULL, new_content = NULL, changes = '{}' "
                "WHERE tenant_id = ? AND lineage_id = ?",
                (tenant_id, lineage_id),
            )
            conn.execute(
                "INSERT INTO memory_versions VALUES (?, ?, ?, ?, 0, 'ERASE', NULL, NULL, ?, NULL, ?, ?, NULL, NULL)",
                (
                    str(uuid.uuid4()),
                    lineage_id,
                    lineage_id,
                    tenant_id,
                    actor,
                    dumps({"erased_ids": ids}),
                    now,
                ),
            )
            conn.executemany(_INSERT_OUTBOX, [(i, tenant_id, now, now) for i in ids])
            return ids

    def history(self, tenant_id: str, lineage_id: str) -> list[MemoryVersion]:
        rows = self._db.read().execute(
            "SELECT * FROM memory_versions WHERE tenant_id = ? AND lineage_id = ? ORDER BY created_at, rowid",
            (tenant_id, lineage_id),
        )
        return [version_from_row(row) for row in rows]

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
        where = ["tenant_id = ?", "user_id = ?"]
        params: list[Any] = [tenant_id, user_id]
        if memory_type is not None:
            where.append("memory_type = ?")
            params.append(memory_type)
        if not include_invalid:
            where.append("valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)")
            params += [at, at]
        clause = " AND ".join(where)
        column = sort_by if sort_by in _SORTABLE else "created_at"
        order = "DESC" if descending else "ASC"
        conn = self._db.read()
        total = conn.execute(f"SELECT COUNT(*) FROM memories WHERE {clause}", params).fetchone()[0]
        rows = conn.execute(
            f"SELECT {MEMORY_COLUMNS} FROM memories WHERE {clause} ORDER BY {column} {order}, id {order} "
            "LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return MemoryPage([memory_from_row(row) for row in rows], total)

    def stats(self, tenant_id: str, user_id: str, *, at: float) -> dict[str, Any]:
        conn = self._db.read()
        valid = "valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)"
        row = conn.execute(
            f"SELECT COUNT(*) AS total, SUM(CASE WHEN {valid} THEN 1 ELSE 0 END) AS active, "
            "SUM(CASE WHEN superseded_by IS NOT NULL THEN 1 ELSE 0 END) AS superseded, "
            "SUM(CASE WHEN deleted_at IS NOT NULL THEN 1 ELSE 0 END) AS deleted, "
            f"AVG(CASE WHEN {valid} THEN importance END) AS avg_importance, "
            "MIN(created_at) AS first, MAX(created_at) AS last "
            "FROM memories WHERE tenant_id = ? AND user_id = ?",
            (at, at, at, at, tenant_id, user_id),
        ).fetchone()
        by_type = {
            r[0]: r[1]
            for r in conn.execute(
                f"SELECT memory_type, COUNT(*) FROM memories WHERE tenant_id = ? AND user_id = ? AND {valid} "
                "GROUP BY memory_type",
                (tenant_id, user_id, at, at),
            )
        }
        return {
            "total": row["total"],
            "active": row["active"] or 0,
            "superseded": row["superseded"] or 0,
            "deleted": row["deleted"] or 0,
            "by_type": by_type,
            "average_importance": round(row["avg_importance"], 3)
            if row["avg_importance"] is not None
            else None,
            "first_created_at": row["first"],
            "last_created_at": row["last"],
        }

    def vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        found: dict[str, list[float]] = {}
        conn = self._db.read()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in conn.execute(
                f"SELECT memory_id, vector FROM memory_embeddings WHERE memory_id IN ({marks})", chunk
            ):
                found[row[0]] = np.frombuffer(row[1], dtype=np.float32).tolist()
        return found

    def existing_hashes(self, tenant_id: str, user_id: str, hashes: Sequence[str], *, at: float) -> set[str]:
        found: set[str] = set()
        conn = self._db.read()
        for start in range(0, len(hashes), 500):
            chunk = list(hashes[start : start + 500])
            marks = ", ".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT content_hash FROM memories WHERE tenant_id = ? AND user_id = ? AND content_hash IN ({marks}) "
                "AND valid_from <= ? AND (valid_to IS NULL OR valid_to > ?)",
                (tenant_id, user_id, *chunk, at, at),
            )
            found.update(row[0] for row in rows)
        return found

    def valid_in_slot(self, tenant_id: str, user_id: str, slot: str, *, at: float) -> list[Memory]:
        rows = self._db.read().execute(
            f"SELECT {MEMORY_COLUMNS} FROM memories WHERE tenant_id = ? AND user_id = ? AND slot = ? "
            f"AND {_VALID} ORDER BY valid_from DESC, created_at DESC",
            (tenant_id, user_id, slot, at, at),
        )
        return [memory_from_row(row) for row in rows]

    def valid_with_hash(self, tenant_id: str, user_id: str, content_hash: str, *, at: float) -> list[Memory]:
        rows = self._db.read().execute(
            f"SELECT {MEMORY_COLUMNS} FROM memories WHERE tenant_id = ? AND user_id = ? AND content_hash = ? "
            f"AND {_VALID} ORDER BY created_at DESC",
            (tenant_id, user_id, content_hash, at, at),
        )
        return [memory_from_row(row) for row in rows]

    def valid_vectors(
        self, tenant_id: str, user_id: str, *, at: float, limit: int
    ) -> tuple[list[str], list[list[float]]]:
        rows = self._db.read().execute(
            "SELECT m.id, e.vector FROM memories m JOIN memory_embeddings e ON e.memory_id = m.id "
            f"WHERE m.tenant_id = ? AND m.user_id = ? AND {_VALID_M} ORDER BY m.created_at DESC LIMIT ?",
            (tenant_id, user_id, at, at, limit),
        )
        ids: list[str] = []
        vectors: list[list[float]] = []
        for row in rows:
            ids.append(row[0])
            vectors.append(np.frombuffer(row[1], dtype=np.float32).tolist())
        return ids, vectors

    def revision(self, tenant_id: str, user_id: str) -> int:
        row = (
            self._db.read()
            .execute(
                "SELECT revision FROM user_revisions WHERE tenant_id = ? AND user_id = ?",
                (tenant_id, user_id),
            )
            .fetchone()
        )
        return int(row[0]) if row else 0

    def iter_all(self, batch_size: int) -> Iterator[list[Memory]]:
        last = ""
        conn = self._db.read()
        while True:
            rows = conn.execute(
                f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id > ? ORDER BY id LIMIT ?", (last, batch_size)
            ).fetchall()
            if not rows:
                return
            last = rows[-1]["id"]
            yield [memory_from_row(row) for row in rows]

    def entries(self) -> Iterator[tuple[str, str]]:
        for batch in self.iter_all(2000):
            for memory in batch:
                yield memory.id, sync_token(memory)

    def count_indexable(self) -> int:
        row = self._db.read().execute("SELECT COUNT(*) FROM memory_embeddings").fetchone()
        return int(row[0])

    def newest_entries(self, limit: int) -> list[tuple[str, str]]:
        # rowid order is insertion order: the newest memories without a scan or an extra index.
        rows = self._db.read().execute(
            f"SELECT {MEMORY_COLUMNS} FROM memories ORDER BY rowid DESC LIMIT ?", (limit,)
        )
        return [(memory.id, sync_token(memory)) for memory in map(memory_from_row, rows)]


def save_progress(conn: sqlite3.Connection, progress: JobProgress) -> None:
    cursor = conn.execute(
        "UPDATE jobs SET progress_done = ?, checkpoint = ?, updated_at = ? "
        "WHERE id = ? AND lease_owner = ? AND status = 'processing'",
        (progress.done, dumps(progress.checkpoint), to_epoch(now_utc()), progress.job_id, progress.worker_id),
    )
    if cursor.rowcount != 1:
        raise LeaseLost(f"job {progress.job_id} is no longer leased by {progress.worker_id}")
    conn.executemany(
        "INSERT OR REPLACE INTO job_items VALUES (?, ?, ?, ?, ?, ?)",
        [
            (progress.job_id, item.index, item.status, item.memory_id, item.reason, item.error)
            for item in progress.items
        ],
    )
