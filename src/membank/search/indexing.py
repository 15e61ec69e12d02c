"""Keeps the derived indexes in step with the system of record: the outbox applier, reindex and check."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

import structlog

from membank.backoff import OutageBackoff
from membank.errors import BackendUnavailable, IndexUnavailable
from membank.search.index_health import IndexHealth
from membank.storage.ports import IndexDocument, MemoryRepository, Outbox, OutboxItem, VectorIndex

log = structlog.get_logger(__name__)

_BATCH = 512
_MAX_BACKOFF_SECONDS = 300.0


@dataclass(slots=True)
class CheckReport:
    """Differences between the system of record and the vector index."""

    records: int = 0
    indexed: int = 0
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    repaired: bool = False
    unavailable: str | None = None  # why the index could not be read at all
    rebuilt: Rebuilt | None = None  # set when repairing had to rebuild it from scratch

    @property
    def consistent(self) -> bool:
        return not (self.missing or self.stale or self.orphaned or self.unavailable)


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """A full rebuild: how many documents, and where an unreadable index was set aside (if it was)."""

    count: int
    kept: str | None


class IndexSync:
    """Applies outbox items to the vector index. One lock serialises appliers so a slow one never
    overwrites a newer state with an older one."""

    def __init__(
        self,
        index: VectorIndex,
        *,
        memories: MemoryRepository,
        outbox: Outbox,
        poll_seconds: float = 0.5,
        health: IndexHealth | None = None,
    ) -> None:
        self._memories = memories
        self._outbox = outbox
        self._index = index
        self._poll_seconds = poll_seconds
        self._health = health
        self._lock = threading.Lock()
        self._wake = asyncio.Event()

    def apply_due(self, *, ignore_backoff: bool = False) -> int:
        """Apply every due outbox item (in batches; every pending one with `ignore_backoff`); returns how
        many were applied."""
        applied = 0
        with self._lock:
            while True:
                now = float("inf") if ignore_backoff else time.time()
                items = self._outbox.due(now, _BATCH)
                if not items:
                    return applied
                if not self._apply(items):
                    return applied
                applied += len(items)

    def apply_for(self, memory_ids: list[str]) -> bool:
        """Apply the pending items of these memories now; False if the index refused them (they stay queued)."""
        if self._health is not None and self._health.state.status == "rebuilding":
            return False  # the rebuild holds the lock for long and applies the outbox when it is done
        with self._lock:
            items = self._outbox.items_for(memory_ids)
            return self._apply(items) if items else True

    def _apply(self, items: list[OutboxItem]) -> bool:
        by_tenant: dict[str, set[str]] = defaultdict(set)
        for item in items:
            by_tenant[item.tenant_id].add(item.memory_id)
        try:
            for tenant_id, ids in by_tenant.items():
                found = self._memories.with_vectors(tenant_id, sorted(ids))
                documents = [IndexDocument.from_memory(memory, vector) for memory, vector in found]
                if documents:
                    self._index.upsert(documents)
                gone = sorted(ids - {d.id for d in documents})
                if gone:
                    self._index.delete(gone)
        except Exception as exc:  # any index failure: keep the items and retry later
            if isinstance(exc, IndexUnavailable) and self._health is not None:
                self._health.degrade(exc)
            attempts = max(item.attempts for item in items) + 1
            delay = min(_MAX_BACKOFF_SECONDS, 0.5 * 2**attempts)
            log.warning("index_apply_failed", items=len(items), attempts=attempts, error=type(exc).__name__)
            self._outbox.retry_later(
                [item.id for item in items], f"{type(exc).__name__}: {exc}"[:500], time.time() + delay
            )
            return False
        self._outbox.complete([item.id for item in items])
        return True

    def wake(self) -> None:
        """Ask the background loop to run now (e.g. after a worker wrote memories)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Apply the outbox until `stop` is set."""
        outage = OutageBackoff(self._poll_seconds)
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.apply_due)
                if outage.succeeded():
                    log.info("index_sync_store_recovered")
            except BackendUnavailable as exc:  # an outage is expected: one line per wait, no traceback
                log.error("index_sync_store_unavailable", error=exc.message, retry_in=outage.failed())
            except Exception:
                log.exception("index_sync_loop_error")
            self._wake.clear()
            waiters = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())}
            _, pending = await asyncio.wait(waiters, timeout=outage.wait, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()

    def reindex(self, batch_size: int = 1000) -> Rebuilt:
        """Rebuild the vector index from the system of record (an unreadable one is set aside first)."""
        count = 0
        with self._lock:
            kept = self._index.clear()
            for memories in self._memories.iter_all(batch_size):
                vectors = self._memories.vectors([m.id for m in memories])
                documents = [IndexDocument.from_memory(m, vectors[m.id]) for m in memories if m.id in vectors]
                self._index.upsert(documents)
                count += len(documents)
        return Rebuilt(count, kept)

    def reindex_offline(self, batch_size: int = 1000) -> Rebuilt:
        """`reindex` run by the operator with the server stopped (`membank reindex`): the rebuild read every
        memory as stored, so the outbox items pending before it are applied by it and are forgotten."""
        rebuilt = self.reindex(batch_size)
        while pending := self._outbox.due(float("inf"), _BATCH):
            self._outbox.complete([item.id for item in pending])
        return rebuilt

    def check(self, *, repair: bool) -> CheckReport:
        """Compare the system of record with the vector index; with `repair`, bring the index in line
        (upsert missing and stale documents, delete orphans)."""
        report = CheckReport()
        try:
            with self._lock:
                records = dict(self._memories.entries())
                indexed = dict(self._index.entries())
        except IndexUnavailable as exc:
            # Nothing of it can be compared: with `repair`, rebuild it from the system of record.
            report.unavailable = exc.message
            report.records = self._memories.count_indexable()
            if repair:
                report.rebuilt = self.reindex()
                report.indexed, report.repaired = report.rebuilt.count, True
            return report
        report.records, report.indexed = len(records), len(indexed)
        for memory_id, token in records.items():
            if memory_id not in indexed:
                report.missing.append(memory_id)
            elif indexed[memory_id] != token:
                report.stale.append(memory_id)
        report.orphaned = sorted(set(indexed) - set(records))
        if repair and not report.consistent:
            self._repair(report)
        return report

    def _repair(self, report: CheckReport) -> None:
        wanted = set(report.missing) | set(report.stale)
        with self._lock:
            if report.orphaned:
                self._index.delete(report.orphaned)
            for batch in self._memories.iter_all(_BATCH):
                memories = [m for m in batch if m.id in wanted]
                if not memories:
                    continue
                vectors = self._memories.vectors([m.id for m in memories])
                self._index.upsert(
                    [IndexDocument.from_memory(m, vectors[m.id]) for m in memories if m.id in vectors]
                )
        report.repaired = True
