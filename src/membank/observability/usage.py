"""What each tenant does, per UTC day: requests, searches, memory writes, facts stored from conversations, jobs
queued and texts sent to the embedder. Kept in memory and added to the store in batches (like per-key
request counts), so counting costs a dictionary update on the request path.

The tenant is the one of the work under way: a request binds its principal's tenant once authenticated, a
worker binds the tenant of the job it runs, and `record_usage` anywhere below (a service, the embedder's
caller) counts for it. Work bound to no tenant (health checks, background maintenance) is not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Literal

import structlog

from membank.errors import BackendUnavailable
from membank.providers.embedders.batching import observe_embed_calls
from membank.storage.ports import UsageRepository

__all__ = ["USAGE_METRICS", "UsageMeter", "bind_usage", "record_usage", "usage_scope", "utc_day"]

log = structlog.get_logger(__name__)

UsageMetric = Literal[
    "requests", "searches", "memory_writes", "conversation_facts", "jobs", "embedding_texts"
]
USAGE_METRICS: tuple[UsageMetric, ...] = (
    "requests",
    "searches",
    "memory_writes",
    "conversation_facts",
    "jobs",
    "embedding_texts",
)


def utc_day(at: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(at))


class UsageMeter:
    """Counts per (tenant, UTC day, metric) in this process; `flush` adds them to the store. Counts that
    cannot be written (the store is down) are kept for the next flush, so none is lost while it runs."""

    def __init__(self, repository: UsageRepository) -> None:
        self._repository = repository
        self._pending: Counter[tuple[str, str, str]] = Counter()
        self._guard = threading.Lock()

    def count(self, tenant_id: str, metric: UsageMetric, amount: int = 1, at: float | None = None) -> None:
        day = utc_day(at if at is not None else time.time())
        with self._guard:
            self._pending[(tenant_id, day, metric)] += amount

    def pending(self) -> dict[tuple[str, str, str], int]:
        """This process's unflushed counts (reports add them to what the store has)."""
        with self._guard:
            return dict(self._pending)

    def flush(self) -> None:
        """Write the pending counts (blocking)."""
        with self._guard:
            batch, self._pending = self._pending, Counter()
        if not batch:
            return
        try:
            self._repository.add_counts(dict(batch))
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
                log.warning("usage_flush_failed", error=exc.message)


_scope: ContextVar[tuple[UsageMeter, str] | None] = ContextVar("membank_usage_scope", default=None)


def bind_usage(meter: UsageMeter, tenant_id: str) -> None:
    """Count what follows in this request's context for `tenant_id` (each request runs in its own)."""
    _scope.set((meter, tenant_id))


@contextlib.contextmanager
def usage_scope(meter: UsageMeter, tenant_id: str) -> Iterator[None]:
    """Count what the block does for `tenant_id` (a job run by a worker)."""
    token = _scope.set((meter, tenant_id))
    try:
        yield
    finally:
        _scope.reset(token)


def record_usage(metric: UsageMetric, amount: int = 1) -> None:
    """Count `amount` of `metric` for the tenant of the work under way (nothing outside any)."""
    scope = _scope.get()
    if scope is not None and amount:
        scope[0].count(scope[1], metric, amount)


observe_embed_calls(lambda texts: record_usage("embedding_texts", texts))
