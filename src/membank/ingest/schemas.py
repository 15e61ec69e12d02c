"""Request shapes of batch import."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from membank.memories.schemas import MemoryIn


class BatchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skip_duplicates: bool = False


class BatchIn(BaseModel):
    """Raw memories to store as one job."""

    model_config = ConfigDict(extra="forbid")

    memories: list[MemoryIn] = Field(min_length=1)
    options: BatchOptions = Field(default_factory=BatchOptions)
