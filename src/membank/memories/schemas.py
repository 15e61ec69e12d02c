"""Request and response shapes of the memories API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from membank.models import MEMORY_TYPES, Memory, MemoryVersion, iso
from membank.models.bounds import Violation, active_bounds, json_violation
from membank.models.time import EARLIEST, LATEST, in_time_range

IDENTIFIER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,127}$"
UserId = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER_PATTERN)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
MemoryType = Literal[
    "personal", "preference", "factual", "episodic", "procedural", "semantic", "relationship", "event"
]
assert set(MemoryType.__args__) == set(MEMORY_TYPES)  # type: ignore[attr-defined]


def _utc_in_range(value: datetime) -> datetime:
    utc = in_time_range(value)
    if utc is None:
        raise PydanticCustomError(
            "time_range",
            "must lie between {earliest} and {latest} (UTC)",
            {"earliest": iso(EARLIEST), "latest": iso(LATEST)},
        )
    return utc


# Every accepted time: a time without an offset is taken as UTC (naive and aware times must never meet in one
# comparison), kept in UTC, and within the one range whose times the stores read back exactly (models/time.py).
UtcDatetime = Annotated[datetime, AfterValidator(_utc_in_range)]

MAX_CONTENT = 20_000


def _bounded(value: Any, violation: Violation | None, size: tuple[str, int]) -> None:
    if violation is None:
        name, limit = size
        encoded = len(orjson.dumps(value))  # safe now: bounded depth, 64-bit integers, valid Unicode
        if encoded <= limit:
            return
        violation = Violation((), f"{encoded} bytes when encoded, more than {limit} ({name})", {name: limit})
    where = violation.where()
    reason = f"{violation.reason} (at {where})" if where else violation.reason
    raise PydanticCustomError("json_bounds", "{reason}", {"reason": reason, **violation.limit})


def _check_object(value: dict[str, Any]) -> dict[str, Any]:
    bounds = active_bounds()
    violation = json_violation(
        value,
        depth=("max_metadata_depth", bounds.metadata_depth),
        items=("max_metadata_items", bounds.metadata_items),
    )
    _bounded(value, violation, ("max_metadata_bytes", bounds.metadata_bytes))
    return value


def _check_filter(value: dict[str, Any]) -> dict[str, Any]:
    bounds = active_bounds()
    violation = json_violation(value, depth=("max_json_depth", bounds.json_depth))
    _bounded(value, violation, ("max_filter_bytes", bounds.filter_bytes))
    return value


# A stored JSON object (metadata, one source_ref): depth, key/item count, size, 64-bit integers, finite numbers
# and valid Unicode bounded by the settings (models/bounds.py).
JsonObject = Annotated[dict[str, Any], AfterValidator(_check_object)]
# A search filter tree as sent, before parsing (search/filters.py bounds its logic): depth, size, values.
FilterJson = Annotated[dict[str, Any], AfterValidator(_check_filter)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class MemoryIn(_Strict):
    """One memory to store as given (no extraction)."""

    user_id: UserId
    content: str = Field(min_length=1, max_length=MAX_CONTENT)
    summary: str | None = Field(default=None, max_length=2_000)
    memory_type: MemoryType = "factual"
    importance: int = Field(default=5, ge=1, le=10)
    tags: list[Tag] = Field(default_factory=list, max_length=32)
    metadata: JsonObject = Field(default_factory=dict)
    entities: list[Tag] = Field(default_factory=list, max_length=64)
    source_refs: list[JsonObject] = Field(default_factory=list, max_length=32)
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


class MemoryPatch(_Strict):
    """Fields to change; a new `content` supersedes the memory with a new version."""

    content: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT)
    summary: str | None = Field(default=None, max_length=2_000)
    memory_type: MemoryType | None = None
    importance: int | None = Field(default=None, ge=1, le=10)
    tags: list[Tag] | None = Field(default=None, max_length=32)
    metadata: JsonObject | None = None
    entities: list[Tag] | None = Field(default=None, max_length=64)


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
