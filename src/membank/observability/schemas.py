"""Response shapes of the health endpoints (documentation of what they send)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ComponentOut(BaseModel):
    """One backend's state; further fields (latency_ms, error, reason, model, ...) depend on the backend."""

    model_config = ConfigDict(extra="allow")

    status: Literal["ok", "degraded", "rebuilding", "error"]


class HealthOut(BaseModel):
    """The overall status and each backend's state; the same report is the `details` of a 503."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["ok", "degraded"]
    version: str
    components: dict[str, ComponentOut]
    outbox_pending: int = Field(description="Writes not yet applied to the derived indexes")


class LiveOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["ok"]
