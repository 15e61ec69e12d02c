"""Response shapes of jobs (documentation of what job_out sends)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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
    error: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    batch_id: str | None
    priority: int
