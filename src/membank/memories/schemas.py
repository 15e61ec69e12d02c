"""Request and response shapes of the memories API."""

from __future__ import annotations

import re
from datetime import datetime
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
    model_validator,
)
from pydantic.json_schema import WithJsonSchema
from pydantic_core import PydanticCustomError

from membank.models import MEMORY_TYPES, Memory, MemoryVersion, iso
from membank.models.bounds import JSON_VALUE_REF, Violation, active_bounds, json_violation
from membank.models.time import EARLIEST, LATEST, TIME_PATTERN, TIME_RANGE, in_time_range

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


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _iso_text(value: Any) -> Any:
    # The contract says "date-time": epoch numbers (which pydantic would also take) are refused, not guessed.
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date-time string such as 2026-03-01T12:00:00Z")


# Every accepted time is an ISO 8601 string; a time without an offset is taken as UTC (naive and aware
# times must never meet in one comparison), kept in UTC, and within the one range whose times the stores
# read back exactly (models/time.py).
UtcDatetime = Annotated[
    datetime,
    BeforeValidator(_iso_text),
    AfterValidator(_utc_in_range),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": TIME_PATTERN,
            "description": f"ISO 8601; without an offset it is UTC; within {TIME_RANGE} in UTC",
        }
    ),
]

MAX_CONTENT = 20_000

# Whitespace as JSON Schema (ECMA-262) regexes know it, so the document and the server agree on "blank".
_WHITESPACE = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NOT_BLANK_PATTERN = f"[^{_WHITESPACE}]"
_NOT_BLANK = re.compile(NOT_BLANK_PATTERN)


def not_blank(value: str) -> str:
    if not _NOT_BLANK.search(value):
        raise ValueError("must not be blank")
    return value


# Text with something in it besides whitespace (content, queries).
NotBlankText = Annotated[
    str, AfterValidator(not_blank), Field(json_schema_extra={"pattern": NOT_BLANK_PATTERN})
]


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
JsonObject = Annotated[
    dict[str, Any],
    AfterValidator(_check_object),
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": {"$ref": JSON_VALUE_REF.format(level=2)},
            "description": "A JSON object; by default at most 1000 keys and items in all and 16 KiB encoded",
        }
    ),
]
# A search filter tree as sent, before parsing (search/filters.py bounds its logic): depth, size, values.
FilterJson = Annotated[
    dict[str, Any],
    AfterValidator(_check_filter),
    WithJsonSchema({"$ref": "#/components/schemas/Filter"}),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False)


class MemoryIn(_Strict):
    """One memory to store as given (no extraction)."""

    user_id: UserId
    content: NotBlankText = Field(min_length=1, max_length=MAX_CONTENT)
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


# Of the fields of a PATCH, only `summary` may be null (it clears the summary); leaving a field out leaves it.
NULLABLE_PATCH_FIELDS = frozenset({"summary"})


def _patch_schema(schema: dict[str, Any]) -> None:
    schema["minProperties"] = 1
    for name, prop in schema.get("properties", {}).items():
        branches = prop.get("anyOf")
        if name not in NULLABLE_PATCH_FIELDS and branches:
            kept = [branch for branch in branches if branch.get("type") != "null"]
            prop.pop("anyOf")
            prop.pop("default", None)
            prop.update(kept[0] if len(kept) == 1 else {"anyOf": kept})


class MemoryPatch(_Strict):
    """Fields to change; a new `content` supersedes the memory with a new version."""

    model_config = ConfigDict(json_schema_extra=_patch_schema)

    content: NotBlankText | None = Field(default=None, min_length=1, max_length=MAX_CONTENT)
    summary: str | None = Field(default=None, max_length=2_000)
    memory_type: MemoryType | None = None
    importance: int | None = Field(default=None, ge=1, le=10)
    tags: list[Tag] | None = Field(default=None, max_length=32)
    metadata: JsonObject | None = None
    entities: list[Tag] | None = Field(default=None, max_length=64)

    @field_validator("content", "memory_type", "importance", "tags", "metadata", "entities", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null (leave the field out to keep it)")
        return value

    @model_validator(mode="before")
    @classmethod
    def _something_to_change(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data:
            raise ValueError("at least one field to change is required")
        return data


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
