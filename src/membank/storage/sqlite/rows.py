"""Mapping between SQLite rows and domain objects."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from membank.models import Job, JobStatus, Memory, MemoryVersion, from_epoch, to_epoch

MEMORY_COLUMNS = (
    "id, tenant_id, user_id, agent_id, session_id, content, summary, memory_type, importance, tags, metadata, "
    "entities, source_refs, content_hash, valid_from, valid_to, superseded_by, supersedes, lineage_id, version, "
    "created_at, updated_at, deleted_at, slot"
)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _epoch_or_none(value: Any) -> float | None:
    return None if value is None else to_epoch(value)


def _time_or_none(value: float | None) -> Any:
    return None if value is None else from_epoch(value)


def memory_params(m: Memory) -> tuple[Any, ...]:
    return (
        m.id,
        m.tenant_id,
        m.user_id,
        m.agent_id,
        m.session_id,
        m.content,
        m.summary,
        m.memory_type,
        m.importance,
        dumps(m.tags),
        dumps(m.metadata),
        dumps(m.entities),
        dumps(m.source_refs),
        m.content_hash,
        to_epoch(m.valid_from),
        _epoch_or_none(m.valid_to),
        m.superseded_by,
        m.supersedes,
        m.lineage_id,
        m.version,
        to_epoch(m.created_at),
        to_epoch(m.updated_at),
        _epoch_or_none(m.deleted_at),
        m.slot,
    )


def memory_from_row(row: sqlite3.Row) -> Memory:
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
        tags=orjson.loads(row["tags"]),
        metadata=orjson.loads(row["metadata"]),
        entities=orjson.loads(row["entities"]),
        source_refs=orjson.loads(row["source_refs"]),
        content_hash=row["content_hash"],
        valid_from=from_epoch(row["valid_from"]),
        valid_to=_time_or_none(row["valid_to"]),
        superseded_by=row["superseded_by"],
        supersedes=row["supersedes"],
        lineage_id=row["lineage_id"],
        version=row["version"],
        created_at=from_epoch(row["created_at"]),
        updated_at=from_epoch(row["updated_at"]),
        deleted_at=_time_or_none(row["deleted_at"]),
        slot=row["slot"],
    )


def version_params(v: MemoryVersion) -> tuple[Any, ...]:
    return (
        v.id,
        v.memory_id,
        v.lineage_id,
        v.tenant_id,
        v.version,
        v.event,
        v.old_content,
        v.new_content,
        v.actor,
        v.job_id,
        dumps(v.changes),
        to_epoch(v.created_at),
        v.extractor,
        v.prompt_version,
    )


def version_from_row(row: sqlite3.Row) -> MemoryVersion:
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
        changes=orjson.loads(row["changes"]),
        created_at=from_epoch(row["created_at"]),
        extractor=row["extractor"],
        prompt_version=row["prompt_version"],
    )


def job_from_row(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        tenant_id=row["tenant_id"],
        kind=row["kind"],
        status=JobStatus(row["status"]),
        payload=orjson.loads(row["payload"]),
        result=orjson.loads(row["result"]) if row["result"] else None,
        error=row["error"],
        attempts=row["attempts"],
        max_attempts=row["max_attempts"],
        progress_done=row["progress_done"],
        progress_total=row["progress_total"],
        idempotency_key=row["idempotency_key"],
        lease_owner=row["lease_owner"],
        lease_expires_at=_time_or_none(row["lease_expires_at"]),
        run_after=from_epoch(row["run_after"]),
        checkpoint=orjson.loads(row["checkpoint"]),
        actor=row["actor"],
        created_at=from_epoch(row["created_at"]),
        updated_at=from_epoch(row["updated_at"]),
        started_at=_time_or_none(row["started_at"]),
        finished_at=_time_or_none(row["finished_at"]),
        batch_id=row["batch_id"],
        priority=row["priority"],
        sequence_key=row["sequence_key"],
    )
