"""Response shapes of job endpoints (documentation of what job_out sends) and the job items page."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_ITEMS_PAGE = 1000

JobItemStatus = Literal["created", "skipped", "failed", "ADD", "UPDATE", "DELETE", "NOOP"]


class JobItemOut(BaseModel):
    """One item of a job: a batch import's input memory and what became of it, or one action of a
    conversation job (its event as `status`, with the old and new text)."""

    index: int = Field(description="Position in the job's input (batch import) or in its actions")
    status: JobItemStatus = Field(
        description="batch import: created, skipped or failed; conversation: the action's event"
    )
    memory_id: str | None = Field(description="The memory created, updated or deleted, if any")
    reason: str | None = Field(default=None, description="Why it was skipped, or why the action was taken")
    error: str | None = Field(default=None, description="Why the item failed (that item only)")
    old: str | None = Field(default=None, description="Conversation actions: the text replaced or deleted")
    new: str | None = Field(default=None, description="Conversation actions: the text stored")
    source: dict[str, Any] | None = Field(
        default=None, description="Conversation actions: the messages the fact came from"
    )


class JobItemsPage(BaseModel):
    """A page of a job's items, in input order."""

    job_id: str
    kind: str
    status: str = Field(description="The job's status: items of a running job grow as chunks commit")
    items: list[JobItemOut]
    total: int = Field(description="Items recorded so far")
    limit: int
    offset: int


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobProgressOut(_Out):
    done: int
    total: int
    percent: float | None = Field(description="null while the total is unknown (0)")


class JobOut(_Out):
    """A job: `failed` will be retried, `dead` will not; `result` is set once it completed."""

    id: str
    job_id: str = Field(description="The same as `id`")
    kind: str
    status: Literal["queued", "processing", "completed", "failed", "dead"]
    progress: JobProgressOut
    attempts: int
    max_attempts: int
    result: dict[str, Any] | None = Field(description="What the job did; its fields depend on `kind`")
    error: str | None = Field(description="Without memories:read only the exception's name")
    withheld: list[str] = Field(
        description="Fields left out because the caller lacks memories:read (e.g. result.actions, error)"
    )
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    batch_id: str | None
    priority: int
