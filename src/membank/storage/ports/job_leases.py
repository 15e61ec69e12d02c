"""What a diagnosis needs of the job queue: leases that ran out, jobs running long, dead jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["JobLeaseReport", "JobLeases"]


@dataclass(frozen=True, slots=True)
class JobLeaseReport:
    """Processing jobs whose lease ran out (their worker died or stalled) and the earliest such expiry;
    processing jobs still leased but started before the long-running cut-off; jobs that went dead in the
    window and the last death."""

    expired: int
    oldest_expiry: float | None
    long_running: int
    oldest_start: float | None
    dead: int
    last_death: float | None


class JobLeases(Protocol):
    """Service-wide views of the job leases (every tenant: an operator's diagnosis, never a tenant's API)."""

    def lease_report(self, now: float, *, started_before: float, dead_since: float) -> JobLeaseReport:
        """Expired leases at `now`, jobs with a live lease started before `started_before`, and jobs that
        went dead at or after `dead_since`."""

    def requeue_expired(self, now: float) -> int:
        """Put every processing job whose lease expired before `now` back in the queue, due now (progress,
        checkpoint and attempts kept; a worker that still ran it loses its lease); how many."""
