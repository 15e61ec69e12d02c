"""Builders of the values the record store contract tests write: memories shaped as the services make them
(`fresh_memory`, `supersession`), vectors, keys, sessions. Pure data, no store."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from membank.models import ApiKey, Job, JobStatus, Memory, fresh_memory, now_utc, supersession
from membank.storage.ports import SessionState

MODEL = "test-model"
DIM = 4


def memory(
    tenant: str = "t1",
    user: str = "u1",
    content: str | None = None,
    *,
    valid_from: datetime | None = None,
    **fields: Any,
) -> Memory:
    """A new memory of `user` (unique content unless given), factual, importance 5."""
    values: dict[str, Any] = {"memory_type": "factual", "importance": 5, **fields}
    return fresh_memory(
        tenant_id=tenant,
        user_id=user,
        content=content if content is not None else f"fact {uuid.uuid4().hex}",
        valid_from=valid_from,
        **values,
    )


def vector(seed: float) -> list[float]:
    """A float32-exact vector of dimension DIM that differs per seed."""
    return [seed, seed + 0.5, -seed, 0.25]


def successor(current: Memory, content: str, **fields: Any) -> tuple[Memory, Memory]:
    """(closed old version, new version) for new content, as the memory service builds them."""
    return supersession(current, content, fields=fields, valid_from=now_utc())


def job(tenant: str = "t1", **fields: Any) -> Job:
    """A queued job of `tenant`, runnable now, three attempts; `fields` override any attribute."""
    now = now_utc()
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "tenant_id": tenant,
        "kind": "tiny",
        "status": JobStatus.QUEUED,
        "payload": {},
        "created_at": now,
        "updated_at": now,
        "run_after": now,
        "max_attempts": 3,
        "actor": "tester",
        **fields,
    }
    return Job(**values)


def edited(current: Memory, **changes: Any) -> Memory:
    """The memory after an in-place change of fields, version bumped (what update_fields is given)."""
    return replace(current, **changes, version=current.version + 1, updated_at=now_utc())


def deleted(current: Memory) -> Memory:
    """The memory after a soft delete (what invalidate is given)."""
    now = now_utc()
    return replace(current, valid_to=now, deleted_at=now, updated_at=now, version=current.version + 1)


def api_key(tenant_id: str, *, prefix: str | None = None, created_at: datetime | None = None) -> ApiKey:
    return ApiKey(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        name="ci key",
        prefix=prefix or f"mb_{uuid.uuid4().hex[:8]}",
        secret_hash=uuid.uuid4().hex,
        scopes=["memories:read", "memories:write"],
        created_at=created_at or now_utc(),
    )


def session(
    tenant: str = "t1",
    user: str = "u1",
    session_id: str = "s1",
    *,
    updated_at: float = 1_000.0,
    **fields: Any,
) -> SessionState:
    values: dict[str, Any] = {
        "summary": "talked about tea",
        "key_facts": ["likes green tea"],
        "recent_messages": [{"role": "user", "content": "I like green tea"}],
        "turn_count": 1,
        "fact_count": 1,
        "started_at": 900.0,
        "updated_at": updated_at,
        "last_message_at": updated_at,
        **fields,
    }
    return SessionState(tenant_id=tenant, user_id=user, session_id=session_id, **values)


def later(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=seconds)
