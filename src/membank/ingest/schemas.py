"""Request shapes of ingestion: batch import, conversations to extract from, options."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator, model_validator

from membank.jobs.schemas import JobOut
from membank.memories.schemas import Identifier, MemoryIn, UserId, UtcDatetime

MAX_MESSAGE = 20_000
MAX_MESSAGES = 500


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageIn(_Strict):
    """One message of a conversation; `name` is the speaker's display name when there are several people."""

    role: Literal["user", "assistant", "system"]
    content: str = Field(min_length=1, max_length=MAX_MESSAGE)
    timestamp: UtcDatetime | None = None
    name: str | None = Field(default=None, min_length=1, max_length=64)
    id: str | None = Field(default=None, min_length=1, max_length=128)


class ExtractionOptions(_Strict):
    merge_strategy: Literal["replace", "merge", "skip"] = "replace"


class ProcessConversationIn(_Strict):
    """One exchange (user input and, optionally, the assistant's answer) with earlier messages as context."""

    user_id: UserId
    session_id: Identifier | None = None
    agent_id: Identifier | None = None
    user_input: str = Field(min_length=1, max_length=MAX_MESSAGE)
    ai_response: str | None = Field(default=None, max_length=MAX_MESSAGE)
    history: list[MessageIn] = Field(default_factory=list, max_length=MAX_MESSAGES)
    timestamp: UtcDatetime | None = None
    user_name: str | None = Field(default=None, min_length=1, max_length=64)
    options: ExtractionOptions = Field(default_factory=ExtractionOptions)


class ExchangeIn(_Strict):
    """The current exchange of an extracting memory create: the memory's `content` is the user's message, so
    only the assistant's answer goes here."""

    user_input: None = Field(
        default=None, description="Not accepted: the memory's `content` is the user input"
    )
    ai_response: str | None = Field(default=None, max_length=MAX_MESSAGE)

    @field_validator("user_input", mode="before")
    @classmethod
    def _content_is_the_user_input(cls, value: Any) -> None:
        if value is not None:
            raise ValueError("not accepted: the memory's `content` is the user input, send it there")


class ExtractionContextIn(_Strict):
    """Context for extracting from a memory create: the current exchange, recent messages, the rolling
    summary and the session."""

    current_exchange: ExchangeIn | None = None
    recent_messages: list[MessageIn] = Field(default_factory=list, max_length=MAX_MESSAGES)
    summary: str | None = Field(default=None, max_length=8_000)
    session_id: Identifier | None = None


# What extraction decides for itself: a create that extracts cannot honour these, so it refuses them.
NOT_EXTRACTED_FIELDS = ("summary", "memory_type", "importance", "entities", "source_refs", "slot")


def _create_kinds(schema: dict[str, Any]) -> None:
    # A direct create, or an extracting one (infer or a context) that sends none of NOT_EXTRACTED_FIELDS.
    schema["anyOf"] = [
        {"title": "Direct", "properties": {"infer": {"const": False}, "context": {"type": "null"}}},
        {
            "title": "Extracting",
            "anyOf": [
                {"required": ["infer"], "properties": {"infer": {"const": True}}},
                {"required": ["context"], "properties": {"context": {"type": "object"}}},
            ],
            "not": {"anyOf": [{"required": [name]} for name in NOT_EXTRACTED_FIELDS]},
        },
    ]


class MemoryCreateIn(MemoryIn):
    """A memory create; with `infer: true` or a `context`, the content is extracted from instead of stored.

    Extracting, `content` is the user's message, `valid_from` its time, and `tags` and `metadata` go onto every
    memory the job creates; the fields in NOT_EXTRACTED_FIELDS are refused (extraction sets them)."""

    model_config = ConfigDict(json_schema_extra=_create_kinds)

    infer: StrictBool = False
    context: ExtractionContextIn | None = None

    @property
    def extracts(self) -> bool:
        return self.infer or self.context is not None

    def unsupported_when_extracting(self) -> list[str]:
        """The fields sent that an extracting create cannot honour."""
        return [name for name in NOT_EXTRACTED_FIELDS if name in self.model_fields_set]


class ConversationIn(_Strict):
    """A conversation of a batch: every message is new and extracted from."""

    session_id: Identifier | None = None
    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    timestamp: UtcDatetime | None = None


class BatchOptions(_Strict):
    skip_duplicates: StrictBool = False
    priority: int = Field(default=0, ge=0, le=10)
    merge_strategy: Literal["replace", "merge", "skip"] = "replace"


def _batch_kinds(schema: dict[str, Any]) -> None:
    schema["anyOf"] = [
        {
            "title": "Memories",
            "required": ["memories"],
            "properties": {"memories": {"type": "array"}, "conversations": {"type": "null"}},
        },
        {
            "title": "Conversations",
            "required": ["conversations", "user_id"],
            "properties": {
                "conversations": {"type": "array"},
                "memories": {"type": "null"},
                "user_id": {"type": "string"},
            },
        },
    ]


class BatchIn(_Strict):
    """Either raw memories to store as one job, or conversations to extract from (one job each)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_batch_kinds)

    user_id: UserId | None = None
    agent_id: Identifier | None = None
    memories: list[MemoryIn] | None = Field(default=None, min_length=1)
    conversations: list[ConversationIn] | None = Field(default=None, min_length=1, max_length=1000)
    options: BatchOptions = Field(default_factory=BatchOptions)

    @model_validator(mode="after")
    def _one_kind(self) -> BatchIn:
        if (self.memories is None) == (self.conversations is None):
            raise ValueError("send either memories or conversations")
        if self.conversations is not None and self.user_id is None:
            raise ValueError("user_id is required with conversations")
        return self


# Response shapes (documentation of what the ingest endpoints and session_out send).


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatchAcceptedOut(_Out):
    """Conversations accepted as a batch: one extraction job each."""

    batch_id: str
    job_count: int
    job_ids: list[str]


class BatchOut(_Out):
    """A batch's status, its jobs (each with the counts of its actions as `result`) and their totals."""

    batch_id: str
    user_id: str
    status: Literal["queued", "processing", "completed", "completed_with_errors"]
    job_count: int
    jobs_by_status: dict[str, int]
    counts: dict[str, int] = Field(description="Actions of the finished jobs: ADD, UPDATE, DELETE, NOOP")
    options: dict[str, Any]
    jobs: list[JobOut]
    created_at: datetime


class SessionMessageOut(_Out):
    role: str
    name: str | None
    content: str = Field(description="The first 500 characters of the message")
    timestamp: datetime | None


class SessionOut(_Out):
    """A session's rolling summary, key facts and latest messages."""

    session_id: str
    user_id: str
    summary: str
    key_facts: list[str]
    recent_messages: list[SessionMessageOut]
    turn_count: int
    fact_count: int
    started_at: datetime | None
    last_message_at: datetime | None
    updated_at: datetime | None


class SessionPageOut(_Out):
    sessions: list[SessionOut]
    limit: int
    offset: int


class LlmUsageTotalOut(_Out):
    model: str
    purpose: str
    calls: int
    prompt_tokens: int
    completion_tokens: int


class LlmUsageOut(_Out):
    since: datetime
    totals: list[LlmUsageTotalOut] = Field(description="Per model and purpose")
