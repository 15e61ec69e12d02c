"""Per-key request counts, kept in memory and written in batches so authenticating stays a read."""

from __future__ import annotations

import time

import structlog

from membank.observability.flushed_counts import FlushedCounts
from membank.observability.usage import utc_day
from membank.storage.ports import KeyRepository

log = structlog.get_logger(__name__)


class KeyUsageCounter:
    """Counts requests per (key, UTC day) in this process; `flush` adds them to the store (a flush that
    fails keeps its counts for the next)."""

    def __init__(self, keys: KeyRepository) -> None:
        self._counts: FlushedCounts[tuple[str, str]] = FlushedCounts(
            keys.add_usage, failure_event="key_usage_flush_failed"
        )
        self.flush = self._counts.flush
        self.run = self._counts.run

    def count(self, key_id: str, at: float | None = None) -> None:
        self._counts.add((key_id, utc_day(at if at is not None else time.time())))

    def pending(self, key_id: str) -> dict[str, int]:
        """This process's unflushed counts of a key per day (added to what the store reports)."""
        return {day: n for (kid, day), n in self._counts.pending().items() if kid == key_id}
