"""LLM token usage, recorded per call for cost reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["UsageRecord", "UsageRepository"]


@dataclass(frozen=True, slots=True)
class UsageRecord:
    tenant_id: str
    job_id: str | None
    purpose: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    created_at: float


class UsageRepository(Protocol):
    """LLM token usage, for cost reports."""

    def record(self, usage: UsageRecord) -> None:
        """Store one usage record."""

    def summary(self, tenant_id: str, *, since: float) -> list[dict[str, Any]]:
        """Totals per model and purpose since `since`."""
