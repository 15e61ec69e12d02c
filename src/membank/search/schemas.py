"""Request shape of search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, StrictBool, model_validator

from membank.memories.schemas import (
    FilterJson,
    Identifier,
    MemoryOut,
    MemoryType,
    NotBlankText,
    Tag,
    UserId,
    UtcDatetime,
)

# A JSON number only: a boolean is no threshold (pydantic's lax mode would read false as 0.0).
StrictFloat = Annotated[float, Strict()]


class TimeRange(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: UtcDatetime | None = Field(default=None, alias="from")
    to: UtcDatetime | None = None


class SearchIn(BaseModel):
    """A hybrid search within one user's memories."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    query: NotBlankText = Field(min_length=1, max_length=4_000)
    limit: int = Field(default=10, ge=1, le=100)
    threshold: StrictFloat = Field(default=0.0, ge=0.0, le=1.0)
    agent_id: Identifier | None = None
    session_id: Identifier | None = None
    memory_types: list[MemoryType] | None = Field(default=None, max_length=16)
    tags: list[Tag] | None = Field(default=None, max_length=32)
    entities: list[Tag] | None = Field(default=None, max_length=32)
    min_importance: int | None = Field(default=None, ge=1, le=10)
    max_importance: int | None = Field(default=None, ge=1, le=10)
    time_range: TimeRange | None = None
    filters: FilterJson | None = None
    as_of: UtcDatetime | None = None
    explain: StrictBool = False

    @model_validator(mode="after")
    def _importance_range(self) -> SearchIn:
        if self.min_importance and self.max_importance and self.min_importance > self.max_importance:
            raise ValueError("min_importance must not exceed max_importance")
        return self


class SynthesizeIn(BaseModel):
    """A context for a query, built from one user's most relevant memories."""

    model_config = ConfigDict(extra="forbid")

    user_id: UserId
    query: NotBlankText = Field(min_length=1, max_length=4_000)
    max_memories: int = Field(default=10, ge=1, le=50)
    use_cache: StrictBool = True
    memory_types: list[MemoryType] | None = Field(default=None, max_length=16)
    time_range: TimeRange | None = None
    threshold: StrictFloat = Field(default=0.0, ge=0.0, le=1.0)


# Response shapes (documentation of what the search and synthesis endpoints send).


class SearchHitOut(MemoryOut):
    """A memory found, with its score (a similarity in [0, 1], higher is better)."""

    score: float
    score_details: dict[str, Any] | None = Field(
        default=None, description="Only with `explain: true`: each component of the score"
    )


class DegradationOut(BaseModel):
    """Why a search was degraded: the vector index could not serve it, so it ran as keyword search (BM25)
    over the system of record. Every acknowledged write is found; ranking has no semantic similarity."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(description="Why the vector index could not serve")
    index_status: str = Field(description="`degraded`, `rebuilding` or `error` (this query failed)")
    cause: str = Field(description="missing, unwritable, unreadable, locked, closed, rebuilding or error")
    since: datetime = Field(description="Since when the index has been in this state")
    fallback: Literal["keyword"]
    scanned: int = Field(description="Memories of the scope read from the system of record")
    complete: bool = Field(
        description="False when the scope holds more memories than the fallback reads (the newest were "
        "searched: MEMBANK_SEARCH_FALLBACK_MAX_SCAN)"
    )


class SearchOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    memories: list[SearchHitOut]
    total: int
    query: str
    degraded: bool = Field(description="True when the vector index could not serve: see `degradation`")
    degradation: DegradationOut | None
    timings: dict[str, Any] | None = Field(default=None, description="Only with `explain: true`")


class CitedMemoryOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    citation: int = Field(description="The number the context cites it by")
    id: str
    content: str
    memory_type: MemoryType
    valid_from: datetime
    score: float


class ContextOut(BaseModel):
    """A context for a query and the memories it cites."""

    model_config = ConfigDict(extra="forbid")

    context: str
    memories: list[CitedMemoryOut]
    synthesizer: str = Field(description="`structured`, `llm:<model>` or why the LLM was not used")
    prompt_version: str | None
    query: str
    user_id: str
    cached: bool
    degraded: bool = Field(description="True when the memories came from the keyword fallback")
    degradation: DegradationOut | None
