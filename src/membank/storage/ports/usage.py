"""Usage for cost and capacity reports: LLM tokens per call, what each tenant did per day, the size of each
tenant's memory, and one snapshot a day of the deployment's size."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "CapacitySnapshot",
    "LlmUsageTotal",
    "TenantStorage",
    "UsageRecord",
    "UsageRepository",
]


@dataclass(frozen=True, slots=True)
class UsageRecord:
    tenant_id: str
    job_id: str | None
    purpose: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    created_at: float


@dataclass(frozen=True, slots=True)
class LlmUsageTotal:
    """The LLM calls of one tenant for one purpose with one model over a period."""

    tenant_id: str
    model: str
    purpose: str
    calls: int
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class TenantStorage:
    """What one tenant keeps: every stored version (each has its vector in the index, which mirrors the
    memories table), those valid now and not deleted, and the bytes of their content and metadata."""

    tenant_id: str
    memories: int
    live: int
    content_bytes: int


@dataclass(frozen=True, slots=True)
class CapacitySnapshot:
    """The deployment's size on one UTC day (YYYY-MM-DD)."""

    day: str
    memories: int
    content_bytes: int
    store_bytes: int  # the database: file size on SQLite, pg_database_size on PostgreSQL
    index_bytes: int  # the vector index's files (0 when the index lives in the database)
    disk_free_bytes: int  # the file system of the data directory
    disk_size_bytes: int
    rss_bytes: int  # the process that took the snapshot
    memory_size_bytes: int  # the machine's (or the container's) memory
    recorded_at: float


class UsageRepository(Protocol):
    """Usage for cost and capacity reports."""

    def record(self, usage: UsageRecord) -> None:
        """Store one usage record."""

    def summary(self, tenant_id: str, *, since: float) -> list[dict[str, Any]]:
        """Totals per model and purpose since `since`."""

    def llm_totals(self, *, since: float, until: float) -> list[LlmUsageTotal]:
        """LLM totals per tenant, model and purpose in [since, until)."""

    def add_counts(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        """Add amounts by (tenant, UTC day, metric)."""

    def counts(self, *, since_day: str, until_day: str) -> dict[str, dict[str, int]]:
        """Amounts per tenant and metric over the UTC days [since_day, until_day]."""

    def daily_counts(self, tenant_id: str, *, since_day: str, until_day: str) -> dict[str, dict[str, int]]:
        """One tenant's amounts per UTC day and metric over [since_day, until_day]."""

    def storage(self) -> list[TenantStorage]:
        """What each tenant keeps now."""

    def store_bytes(self) -> int:
        """The size of the database."""

    def record_capacity(self, snapshot: CapacitySnapshot) -> None:
        """Keep `snapshot` as its day's (replacing an earlier one of the same day)."""

    def capacity_history(self, *, since_day: str) -> list[CapacitySnapshot]:
        """The daily snapshots from `since_day` on, oldest first."""
