"""Per-key request counts, kept in memory and written in batches so authenticating stays a read."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter

import structlog

from membank.errors import BackendUnavailable
from membank.storage.ports import KeyRepository

log = structlog.get_logger(__name__)


def utc_day(at: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


class KeyUsageCounter:
    """Counts requests per (key, UTC day) in this process; `flush` adds them to the store. Counts that
    cannot be written (the store is down) are kept for the next flush, so none is lost while it runs."""

    def __init__(self, keys: KeyRepository) -> None:
        self._keys = keys
        self._pending: Counter[tuple[str, str]] = Counter()
        self._guard = threading.Lock()

    def count(self, key_id: str, at: float | None = None) -> None:
        with self._guard:
            self._pending[(key_id, utc_day(at if at is not None else time.time()))] += 1

    def pending(self, key_id: str) -> dict[str, int]:
        """This process's unflushed counts of a key per day (added to what the store reports)."""
        with self._guard:
            return {day: n for (kid, day), n in self._pending.items() if kid == key_id}

    def flush(self) -> None:
        """Write the pending counts (blocking)."""
        with self._guard:
            batch, self._pending = self._pending, Counter()
        if not batch:
            return
        try:
            self._keys.add_usage(dict(batch))
        except BaseException:
            with self._guard:
                self._pending.update(batch)
            raise

    async def run(self, stop: asyncio.Event, every_seconds: float) -> None:
        """Flush every `every_seconds` until `stop`, then once more."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every_seconds)
            try:
                await asyncio.to_thread(self.flush)
            except BackendUnavailable as exc:
                log.warning("key_usage_flush_failed", error=exc.message)
