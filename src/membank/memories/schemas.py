"""Request and response shapes of the memories API."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from membank.models import MEMORY_TYPES, Memory, MemoryVersion, iso

IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,127}$"
UserId = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
MemoryType = Literal[
    "personal", "preference", "factual", "episodic", "procedural", "semantic", "relationship", "event"
]
assert set(MemoryType.__args__) == set(MEMORY_TYPES)  # type: ignore[attr-defined]


def _assume_utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_text(value: Any) -> Any:
    # The contract says "date-time": epoch numbers (which pydantic would also take) are refused, not guessed.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date-time string such as 2026-03-01T12:00:00Z")


# A time without an offset is taken as UTC: naive and aware times must never meet in one comparison (a job
# comparing them dies after it has written).
UtcDatetime = Annotated[datetime, BeforeValidator(_iso_text), AfterValidator(_assume_utc)]

MAX_CONTENT = 20_000
MAX_METADATA_BYTES = 16_384


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


def _check_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(orjson.dumps(value)) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata larger than {MAX_METADATA_BYTES} bytes when encoded")
    return value


class MemoryIn(_Strict):
    """One memory to store as given (no extraction)."""

    user_id: UserId
    content: str = Field(min_length=1, max_length=MAX_CONTENT)
    summary: str | None = Field(default=None, max_length=2_000)
    memory_type: MemoryType = "factual"
    importance: int = Field(default=5, ge=1, le=10)
    tags: list[Tag] = Field(default_factory=list, max_length=32)
    metadata: dict[str, Any] = Field(default_factory=dict)
    entities: list[Tag] = Field(default_factory=list, max_length=64)
    source_refs: list[dict[str, Any]] = Field(default_factory=list, max_length=32)
    agent_id: Identifier | None = None
    session_id: Identifier | None = None
    valid_from: UtcDatetime | None = None
    slot: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9_.:@\-]{0,63}/[a-z0-9_]{1,64}$",
        description="subject/attribute (e.g. user/residence): a later fact of the same slot supersedes this one",
    )

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    _metadata = field_validator("metadata")(_check_metadata)


class MemoryPatch(_Strict):
    """Fields to change; a new `content` supersedes the memory with a new version."""

    content: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT)
    summary: str | None = Field(default=None, max_length=2_000)
    memory_type: MemoryType | None = None
    importance: int | None = Field(default=None, ge=1, le=10)
    tags: list[Tag] | None = Field(default=None, max_length=32)
    metadata: dict[str, Any] | None = None
    entities: list[Tag] | None = Field(default=None, max_length=64)

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _check_metadata(value)


def memory_out(m: Memory) -> dict[str, Any]:
    """The public JSON form of a memory."""
    return {
        "id": m.id,
        "user_id": m.user_id,
        "agent_id": m.agent_id,
        "session_id": m.session_id,
        "content": m.content,
        "summary": m.summary,
        "memory_type": m.memory_type,
        "importance": m.importance,
        "tags": m.tags,
        "metadata": m.metadata,
        "entities": m.entities,
        "source_refs": m.source_refs,
        "content_hash": m.content_hash,
        "valid_from": iso(m.valid_from),
        "valid_to": iso(m.valid_to),
        "superseded_by": m.superseded_by,
        "supersedes": m.supersedes,
        "version": m.version,
        "created_at": iso(m.created_at),
        "updated_at": iso(m.updated_at),
        "deleted_at": iso(m.deleted_at),
        "slot": m.slot,
    }


def version_out(v: MemoryVersion) -> dict[str, Any]:
    """The public JSON form of a history entry."""
    return {
        "id": v.id,
        "memory_id": v.memory_id,
        "version": v.version,
        "event": v.event,
        "old_content": v.old_content,
        "new_content": v.new_content,
        "actor": v.actor,
        "job_id": v.job_id,
        "changes": v.changes,
        "extractor": v.extractor,
        "prompt_version": v.prompt_version,
        "created_at": iso(v.created_at),
    }


# Response shapes (documentation of what memory_out, version_out and the endpoints send).


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemoryOut(_Out):
    """A memory as the API shows it, current or not (see valid_to, superseded_by, deleted_at)."""

    id: str
    user_id: str
    agent_id: str | None
    session_id: str | None
    content: str
    summary: str | None
    memory_type: MemoryType
    importance: int
    tags: list[str]
    metadata: dict[str, Any]
    entities: list[str]
    source_refs: list[dict[str, Any]]
    content_hash: str
    valid_from: datetime
    valid_to: datetime | None
    superseded_by: str | None
    supersedes: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None
    slot: str | None


class MemoryVersionOut(_Out):
    """One entry of a memory's history."""

    id: str
    memory_id: str
    version: int
    event: str
    old_content: str | None
    new_content: str | None
    actor: str
    job_id: str | None
    changes: dict[str, Any]
    extractor: str | None
    prompt_version: str | None
    created_at: datetime


class MemoryHistoryOut(_Out):
    memory_id: str
    history: list[MemoryVersionOut]


class MemoryDeletedOut(_Out):
    """What a delete did: an invalidation (`erased: false`, with `valid_to`) or an erasure (`erased: true`,
    with `erased_versions`)."""

    id: str
    deleted: Literal[True]
    erased: bool
    valid_to: datetime | None = Field(default=None, description="Only when not erased")
    erased_versions: int | None = Field(default=None, description="Only when erased")


class MemoryPageOut(_Out):
    memories: list[MemoryOut]
    total: int
    limit: int
    offset: int


class MemoryStatsOut(_Out):
    user_id: str
    total: int
    active: int
    superseded: int
    deleted: int
    by_type: dict[str, int] = Field(description="Memories valid now, per type")
    average_importance: float | None
    first_created_at: float | None = Field(description="Epoch seconds")
    last_created_at: float | None = Field(description="Epoch seconds")
