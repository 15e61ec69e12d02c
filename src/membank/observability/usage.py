"""What each tenant does, per UTC day: requests, searches, memory writes, facts stored from conversations, jobs
queued and texts sent to the embedder. Kept in memory and added to the store in batches (like per-key
request counts), so counting costs a dictionary update on the request path.

The tenant is the one of the work under way: a request binds its principal's tenant once authenticated, a
worker binds the tenant of the job it runs, and `record_usage` anywhere below (a service, the embedder's
caller) counts for it. Work bound to no tenant (health checks, background maintenance) is not counted.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Literal

import structlog

from membank.observability.flushed_counts import FlushedCounts
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
    """Counts per (tenant, UTC day, metric) in this process; `flush` adds them to the store (a flush that
    fails keeps its counts for the next)."""

    def __init__(self, repository: UsageRepository) -> None:
        self._counts: FlushedCounts[tuple[str, str, str]] = FlushedCounts(
            repository.add_counts, failure_event="usage_flush_failed"
        )
        self.flush = self._counts.flush
        self.run = self._counts.run
        self.pending = self._counts.pending

    def count(self, tenant_id: str, metric: UsageMetric, amount: int = 1, at: float | None = None) -> None:
        self._counts.add((tenant_id, utc_day(at if at is not None else time.time()), metric), amount)


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
