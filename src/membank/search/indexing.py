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
from membank.models import Memory
from membank.search.index_health import IndexHealth
from membank.storage.ports import IndexDocument, MemoryRepository, Outbox, OutboxItem, VectorIndex

log = structlog.get_logger(__name__)

_BATCH = 512
# An index in these states holds nothing searchable: even a shared one is cleared before it is rebuilt.
_UNUSABLE_CAUSES = frozenset({"missing", "unreadable", "incompatible"})
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
        """Rebuild the vector index from the system of record. An index one process owns is cleared first
        (an unreadable one is set aside); a shared one is rebuilt online (`_reindex_online`)."""
        if self._index.shared:
            return self._reindex_online(batch_size)
        count = 0
        with self._lock:
            kept = self._index.clear()
            for memories in self._memories.iter_all(batch_size):
                vectors = self._memories.vectors([m.id for m in memories])
                documents = [IndexDocument.from_memory(m, vectors[m.id]) for m in memories if m.id in vectors]
                self._index.upsert(documents)
                count += len(documents)
        return Rebuilt(count, kept)

    def reindex_command(self, batch_size: int = 1000) -> Rebuilt:
        """`reindex` run by the operator (`membank reindex`). With an index one process owns, the server is
        stopped: the rebuild read every memory as stored, so the outbox items pending before it are applied
        by it and are forgotten. With a shared index serving processes run beside it and apply their outbox
        items themselves (forgetting one a write queued during the rebuild would lose it)."""
        rebuilt = self.reindex(batch_size)
        if not self._index.shared:
            while pending := self._outbox.due(float("inf"), _BATCH):
                self._outbox.complete([item.id for item in pending])
        return rebuilt

    def _reindex_online(self, batch_size: int) -> Rebuilt:
        """Rebuild a shared index while serving processes search and write it: never cleared (searches go on
        finding everything), every memory upserted from the system of record in batches (the index refuses
        an older state over a newer one, so a write that raced the read wins), then the documents of memories
        no longer stored are removed. Only an index that cannot be used as it is (missing, another
        dimension) is cleared first: nothing of it can be searched anyway."""
        kept = None
        try:
            self._index.ping()
        except IndexUnavailable as exc:
            if exc.cause not in _UNUSABLE_CAUSES:
                raise
            kept = self._index.clear()
        count = 0
        for memories in self._memories.iter_all(batch_size):
            count += self._upsert_current(memories)
        stored = {memory_id for memory_id, _ in self._memories.entries()}  # read before the index's ids
        self._remove_orphans([memory_id for memory_id, _ in self._index.entries() if memory_id not in stored])
        return Rebuilt(count, kept)

    def _upsert_current(self, memories: list[Memory]) -> int:
        """Upsert these memories' documents; returns how many. One erased after it was read would come back
        with the upsert (its index row was removed before ours landed), so the ids are checked against the
        system of record once more afterwards and those gone are removed again."""
        vectors = self._memories.vectors([m.id for m in memories])
        documents = [IndexDocument.from_memory(m, vectors[m.id]) for m in memories if m.id in vectors]
        if not documents:
            return 0
        self._index.upsert(documents)
        if self._index.shared:
            self._remove_orphans([document.id for document in documents])
        return len(documents)

    def _remove_orphans(self, candidates: list[str]) -> None:
        """Delete the documents among `candidates` whose memories the system of record does not hold, checked
        again right before deleting: a memory created after the records were read is stored before its
        document appears in the index, so it is found now and kept."""
        for start in range(0, len(candidates), _BATCH):
            batch = candidates[start : start + _BATCH]
            still_stored = self._memories.vectors(batch)
            gone = [memory_id for memory_id in batch if memory_id not in still_stored]
            if gone:
                self._index.delete(gone)

    def check(self, *, repair: bool) -> CheckReport:
        """Compare the system of record with the vector index; with `repair`, bring the index in line
        (upsert missing and stale documents, delete orphans). Safe beside serving processes on a shared
        index: the system of record is read before the index, an orphan is checked again right before it is
        deleted, and the index refuses an older state over a newer one."""
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
            self._remove_orphans(report.orphaned)
            for batch in self._memories.iter_all(_BATCH):
                memories = [m for m in batch if m.id in wanted]
                if memories:
                    self._upsert_current(memories)
        report.repaired = True
