"""Liveness, readiness and the numbers behind /health and /metrics."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from membank import __version__
from membank.cache import SharedCache
from membank.errors import BackendUnavailable
from membank.models import JobStatus
from membank.observability.metrics import (
    BACKEND_UP,
    DB_POOL_CONNECTIONS,
    DB_POOL_MAX,
    DISK_FREE,
    DISK_SIZE,
    JOB_OLDEST_AGE,
    JOBS,
    OUTBOX_LAG,
    OUTBOX_PENDING,
)
from membank.providers.embedders.ports import Embedder
from membank.search.index_health import IndexHealth
from membank.search.maintenance import IndexMaintainer
from membank.storage.ports import JobRepository, Outbox, PoolUsage

CheckFn = Callable[[], None]
# A job in one of these is waiting or under way: its age is the backlog's (finished ones have none).
_UNFINISHED = frozenset({JobStatus.QUEUED, JobStatus.PROCESSING, JobStatus.FAILED})


@dataclass(frozen=True, slots=True)
class RedisCheck:
    """How to probe Redis, what the service does without it (said in the report), and whether the service
    cannot serve without it (rate limits failing closed)."""

    cache: SharedCache  # the cache's client: its probe says what the cache sees
    ping: CheckFn  # the client of rate limits, locks and idempotency reservations
    fallback: str
    required: bool


async def run_checks(checks: dict[str, CheckFn], *, timeout: float = 2.0) -> tuple[bool, dict[str, Any]]:
    """Run each check in a thread with a timeout; (all ok, per-backend status and latency)."""
    results: dict[str, Any] = {}

    async def one(name: str, check: CheckFn) -> None:
        started = time.perf_counter()
        try:
            await asyncio.wait_for(asyncio.to_thread(check), timeout)
            results[name] = {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
        except Exception as exc:  # a health check reports any failure rather than raising
            results[name] = {"status": "error", "error": type(exc).__name__}

    await asyncio.gather(*(one(name, check) for name, check in checks.items()))
    return all(r["status"] == "ok" for r in results.values()), results


class HealthService:
    """The state of every backend of this process, as /health and /health/ready report it, and the gauges
    /metrics exports."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        ping_store: CheckFn,
        outbox: Outbox,
        jobs: JobRepository,
        index_maintainer: IndexMaintainer | None,
        index_health: IndexHealth | None,
        pool_usage: Callable[[], PoolUsage],
        data_dir: Path,
        redis: RedisCheck | None = None,
    ) -> None:
        self._embedder = embedder
        self._ping_store = ping_store
        self._outbox = outbox
        self._jobs = jobs
        self._maintainer = index_maintainer
        self._index_health = index_health
        self._redis = redis
        self._pool_usage = pool_usage
        self._data_dir = data_dir

    async def report(self) -> tuple[bool, dict[str, object]]:
        """(serving, report). Serving needs the system of record and the embedder (writes are acknowledged
        with them); the vector index is derived, so a degraded or rebuilding index makes the status
        "degraded" with the reason, not a 503. So does a Redis that does not answer (the cache is bypassed, rate
        limits fail open, locks use the database), unless rate limits fail closed without it."""
        healthy, components = await run_checks({"store": self._ping_store})
        derived_ok = True
        if self._maintainer is not None and self._index_health is not None:
            await asyncio.to_thread(self._maintainer.probe)
            components["vector_index"] = self._index_health.report()
            derived_ok = self._index_health.available
        if self._redis is not None:
            redis = await self._redis_report(self._redis)
            components["redis"] = redis
            if redis["status"] != "ok":
                derived_ok = False
                redis["fallback"] = self._redis.fallback
                healthy = healthy and not self._redis.required
        try:
            await asyncio.wait_for(self._embedder.embed(["health check"], background=True), timeout=5.0)
            components["embedder"] = {"status": "ok", "model": self._embedder.model_id}
        except Exception as exc:  # a health check reports any failure rather than raising
            healthy = False
            components["embedder"] = {"status": "error", "error": type(exc).__name__}
        try:
            outbox: int | None = await asyncio.to_thread(self._outbox.pending)
        except BackendUnavailable as exc:  # the report says the store is down rather than failing itself
            healthy, outbox = False, None
            components["store"] = {"status": "error", "error": type(exc).__name__}
        return healthy, {
            "status": "ok" if healthy and derived_ok else "degraded",
            "version": __version__,
            "components": components,
            "outbox_pending": outbox,
        }

    @staticmethod
    async def _redis_report(check: RedisCheck) -> dict[str, object]:
        """One Redis component for the cache's client and the limits' and locks' client: ok when both answer
        (a ping also ends a client's pause after failures)."""
        report = (await asyncio.to_thread(check.cache.probe)).report()
        _, pinged = await run_checks({"redis": check.ping})
        if pinged["redis"]["status"] != "ok" and report["status"] == "ok":
            report = {"status": "degraded", "error": pinged["redis"]["error"]}
        return report

    async def refresh_gauges(self) -> None:
        """Set the gauges before /metrics renders them: each backend up or down as /health sees it, the
        outbox and job backlogs from the system of record (left at their last values while it is down: the
        scrape still answers, so the store-down alert fires rather than the API-down one), the pool and the
        data directory's disk."""
        _, report = await self.report()
        components: dict[str, dict[str, object]] = report["components"]  # type: ignore[assignment]
        for backend, state in components.items():
            BACKEND_UP.labels(backend).set(1 if state["status"] == "ok" else 0)
        usage = self._pool_usage()
        DB_POOL_CONNECTIONS.labels("checked_out").set(usage.checked_out)
        DB_POOL_CONNECTIONS.labels("idle").set(usage.idle)
        DB_POOL_CONNECTIONS.labels("overflow").set(usage.overflow)
        DB_POOL_MAX.set(usage.max_connections)
        if self._data_dir.exists():
            disk = shutil.disk_usage(self._data_dir)
            DISK_FREE.set(disk.free)
            DISK_SIZE.set(disk.total)
        if components["store"]["status"] == "ok":
            try:
                await self._refresh_backlogs()
            except BackendUnavailable:
                BACKEND_UP.labels("store").set(0)

    async def _refresh_backlogs(self) -> None:
        now = time.time()
        backlog = await asyncio.to_thread(self._outbox.backlog)
        OUTBOX_PENDING.set(backlog.pending)
        OUTBOX_LAG.set(0 if backlog.oldest_created_at is None else max(0.0, now - backlog.oldest_created_at))
        stats = await asyncio.to_thread(self._jobs.queue_stats)
        # A kind and status with no job left disappears rather than keeping its last count.
        for metric in (JOBS, JOB_OLDEST_AGE):
            metric.clear()
        for row in stats:
            JOBS.labels(row.kind, row.status).set(row.count)
            if row.status in _UNFINISHED:
                JOB_OLDEST_AGE.labels(row.kind, row.status).set(max(0.0, now - row.oldest_created_at))
