"""Memories and their versions."""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from membank.models.principal import Principal
from membank.models.time import now_utc

MEMORY_TYPES = (
    "personal",
    "preference",
    "factual",
    "episodic",
    "procedural",
    "semantic",
    "relationship",
    "event",
)


def content_hash(text: str) -> str:
    """Hash of the normalised text: case, Unicode form and runs of whitespace do not count."""
    normalised = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    return hashlib.sha256(normalised.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Scope:
    """Who owns data: a tenant, and within it optionally a user, an agent and a session."""

    tenant_id: str
    user_id: str | None = None
    agent_id: str | None = None
    session_id: str | None = None


@dataclass(slots=True)
class Memory:
    """One fact as the service knows it; an update with new content supersedes it with a new row."""

    id: str
    tenant_id: str
    user_id: str
    content: str
    memory_type: str
    importance: int
    created_at: datetime
    updated_at: datetime
    valid_from: datetime
    agent_id: str | None = None
    session_id: str | None = None
    summary: str | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    entities: list[str] = field(default_factory=list)
    source_refs: list[dict[str, Any]] = field(default_factory=list)
    content_hash: str = ""
    valid_to: datetime | None = None
    superseded_by: str | None = None
    supersedes: str | None = None
    lineage_id: str = ""
    version: int = 1
    deleted_at: datetime | None = None
    slot: str | None = None

    def is_valid_at(self, moment: datetime) -> bool:
        return self.valid_from <= moment and (self.valid_to is None or self.valid_to > moment)


def fresh_memory(
    *, tenant_id: str, user_id: str, content: str, valid_from: datetime | None, **fields: Any
) -> Memory:
    """A memory not stored before: its own id and lineage, created now, true from `valid_from` (else now),
    the content hash following the content."""
    now = now_utc()
    memory_id = str(uuid.uuid4())
    return Memory(
        id=memory_id,
        tenant_id=tenant_id,
        user_id=user_id,
        content=content,
        content_hash=content_hash(content),
        valid_from=valid_from or now,
        created_at=now,
        updated_at=now,
        lineage_id=memory_id,
        **fields,
    )


class MemoryDraft(Protocol):
    """Validated input of one memory (the memories API's `MemoryIn`, a batch import's items)."""

    @property
    def user_id(self) -> str: ...
    @property
    def content(self) -> str: ...
    @property
    def summary(self) -> str | None: ...
    @property
    def memory_type(self) -> str: ...
    @property
    def importance(self) -> int: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def metadata(self) -> Mapping[str, Any]: ...
    @property
    def entities(self) -> Sequence[str]: ...
    @property
    def source_refs(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def agent_id(self) -> str | None: ...
    @property
    def session_id(self) -> str | None: ...
    @property
    def valid_from(self) -> datetime | None: ...
    @property
    def slot(self) -> str | None: ...


def new_memory(principal: Principal, data: MemoryDraft) -> Memory:
    """A memory built from validated input, owned by the principal's tenant."""
    return fresh_memory(
        tenant_id=principal.tenant_id,
        user_id=data.user_id,
        content=data.content,
        valid_from=data.valid_from,
        agent_id=data.agent_id,
        session_id=data.session_id,
        summary=data.summary,
        memory_type=data.memory_type,
        importance=data.importance,
        tags=list(dict.fromkeys(data.tags)),
        metadata=dict(data.metadata),
        entities=list(dict.fromkeys(data.entities)),
        source_refs=[dict(ref) for ref in data.source_refs],
        slot=data.slot,
    )


def supersession(
    current: Memory, content: str, *, fields: dict[str, Any], valid_from: datetime
) -> tuple[Memory, Memory]:
    """The closed old version and its successor (a new id in the same lineage) for new content. The old one
    stays true until the new one became true (`valid_from`), or until now when that is not after it."""
    now = now_utc()
    became_true = valid_from if current.valid_from < valid_from <= now else now
    successor = replace(
        current,
        **fields,
        id=str(uuid.uuid4()),
        content=content,
        content_hash=content_hash(content),
        valid_from=became_true,
        valid_to=None,
        superseded_by=None,
        supersedes=current.id,
        version=current.version + 1,
        created_at=now,
        updated_at=now,
        deleted_at=None,
    )
    closed = replace(
        current,
        valid_to=became_true,
        superseded_by=successor.id,
        updated_at=now,
        version=current.version + 1,
    )
    return closed, successor


@dataclass(slots=True)
class MemoryVersion:
    """One entry of a memory's history: what happened, what changed, who did it."""

    id: str
    memory_id: str
    lineage_id: str
    tenant_id: str
    version: int
    event: str
    old_content: str | None
    new_content: str | None
    actor: str
    created_at: datetime
    job_id: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    extractor: str | None = None
    prompt_version: str | None = None


@dataclass(frozen=True, slots=True)
class Provenance:
    """Who produced a write: the job, and for extracted facts the extractor and its prompt version."""

    job_id: str | None = None
    extractor: str | None = None
    prompt_version: str | None = None
