"""Mapping between rows of the system of record and domain objects, the same on every engine.

Row readers take a `RowMapping` (rows of `Result.mappings()`, or `Row._mapping`); writers return the column values
of an insert as a dict. JSON values are stored as their compact text, times as epoch seconds, vectors as
float32 bytes (tables.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
from sqlalchemy import RowMapping

from membank.models import Job, JobStatus, Memory, MemoryVersion, from_epoch, to_epoch

__all__ = [
    "dumps",
    "epoch_or_none",
    "job_from_row",
    "loads",
    "memory_from_row",
    "memory_values",
    "time_or_none",
    "vector_bytes",
    "vector_from_bytes",
    "version_from_row",
    "version_values",
]


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def loads(text: str | bytes) -> Any:
    return orjson.loads(text)


def epoch_or_none(value: Any) -> float | None:
    return None if value is None else to_epoch(value)


def time_or_none(value: float | None) -> Any:
    return None if value is None else from_epoch(value)


def vector_bytes(vector: Sequence[float]) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def vector_from_bytes(data: bytes | memoryview) -> list[float]:
    result: list[float] = np.frombuffer(data, dtype=np.float32).tolist()
    return result


def memory_values(m: Memory) -> dict[str, Any]:
    return {
        "id": m.id,
        "tenant_id": m.tenant_id,
        "user_id": m.user_id,
        "agent_id": m.agent_id,
        "session_id": m.session_id,
        "content": m.content,
        "summary": m.summary,
        "memory_type": m.memory_type,
        "importance": m.importance,
        "tags": dumps(m.tags),
        "metadata": dumps(m.metadata),
        "entities": dumps(m.entities),
        "source_refs": dumps(m.source_refs),
        "content_hash": m.content_hash,
        "valid_from": to_epoch(m.valid_from),
        "valid_to": epoch_or_none(m.valid_to),
        "superseded_by": m.superseded_by,
        "supersedes": m.supersedes,
        "lineage_id": m.lineage_id,
        "version": m.version,
        "created_at": to_epoch(m.created_at),
        "updated_at": to_epoch(m.updated_at),
        "deleted_at": epoch_or_none(m.deleted_at),
        "slot": m.slot,
    }


def memory_from_row(row: RowMapping) -> Memory:
    return Memory(
        id=row["id"],
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        agent_id=row["agent_id"],
        session_id=row["session_id"],
        content=row["content"],
        summary=row["summary"],
        memory_type=row["memory_type"],
        importance=row["importance"],
        tags=loads(row["tags"]),
        metadata=loads(row["metadata"]),
        entities=loads(row["entities"]),
        source_refs=loads(row["source_refs"]),
        content_hash=row["content_hash"],
        valid_from=from_epoch(row["valid_from"]),
        valid_to=time_or_none(row["valid_to"]),
        superseded_by=row["superseded_by"],
        supersedes=row["supersedes"],
        lineage_id=row["lineage_id"],
        version=row["version"],
        created_at=from_epoch(row["created_at"]),
        updated_at=from_epoch(row["updated_at"]),
        deleted_at=time_or_none(row["deleted_at"]),
        slot=row["slot"],
    )


def version_values(v: MemoryVersion) -> dict[str, Any]:
    return {
        "id": v.id,
        "memory_id": v.memory_id,
        "lineage_id": v.lineage_id,
        "tenant_id": v.tenant_id,
        "version": v.version,
        "event": v.event,
        "old_content": v.old_content,
        "new_content": v.new_content,
        "actor": v.actor,
        "job_id": v.job_id,
        "changes": dumps(v.changes),
        "created_at": to_epoch(v.created_at),
        "extractor": v.extractor,
        "prompt_version": v.prompt_version,
    }


def version_from_row(row: RowMapping) -> MemoryVersion:
    return MemoryVersion(
        id=row["id"],
        memory_id=row["memory_id"],
        lineage_id=row["lineage_id"],
        tenant_id=row["tenant_id"],
        version=row["version"],
        event=row["event"],
        old_content=row["old_content"],
        new_content=row["new_content"],
        actor=row["actor"],
        job_id=row["job_id"],
        changes=loads(row["changes"]),
        created_at=from_epoch(row["created_at"]),
        extractor=row["extractor"],
        prompt_version=row["prompt_version"],
    )


def job_from_row(row: RowMapping) -> Job:
    return Job(
        id=row["id"],
        tenant_id=row["tenant_id"],
        kind=row["kind"],
        status=JobStatus(row["status"]),
        payload=loads(row["payload"]),
        result=loads(row["result"]) if row["result"] else None,
        error=row["error"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        progress_done=row["progress_done"],
        progress_total=row["progress_total"],
        idempotency_key=row["idempotency_key"],
        lease_owner=row["lease_owner"],
        lease_expires_at=time_or_none(row["lease_expires_at"]),
        run_after=from_epoch(row["run_after"]),
        checkpoint=loads(row["checkpoint"]),
        actor=row["actor"],
        created_at=from_epoch(row["created_at"]),
        updated_at=from_epoch(row["updated_at"]),
        started_at=time_or_none(row["started_at"]),
        finished_at=time_or_none(row["finished_at"]),
        batch_id=row["batch_id"],
        priority=row["priority"],
        sequence_key=row["sequence_key"],
        trace_parent=row["trace_parent"],
    )
