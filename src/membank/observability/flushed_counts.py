"""Counts kept in this process and added to the store in batches, so counting stays a dictionary update on
the request path. Counts that cannot be written (the store is down) are kept for the next flush, so none is
lost while the process runs."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import structlog

from membank.errors import BackendUnavailable

__all__ = ["FlushedCounts"]

log = structlog.get_logger(__name__)
K = TypeVar("K", bound=Hashable)


class FlushedCounts(Generic[K]):
    def __init__(self, write: Callable[[dict[K, int]], None], *, failure_event: str) -> None:
        self._write = write
        self._failure_event = failure_event
        self._pending: Counter[K] = Counter()
        self._guard = threading.Lock()

    def add(self, key: K, amount: int = 1) -> None:
        with self._guard:
            self._pending[key] += amount

    def pending(self) -> dict[K, int]:
        """The counts not flushed yet."""
        with self._guard:
            return dict(self._pending)

    def flush(self) -> None:
        """Write the pending counts (blocking)."""
        with self._guard:
            batch, self._pending = self._pending, Counter()
        if not batch:
            return
        try:
            self._write(dict(batch))
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
                log.warning(self._failure_event, error=exc.message)
