"""Keeps the serving process's vector index usable: verified at start-up, probed while running, rebuilt
from the system of record in the background when it is missing, unreadable or behind.

The process that serves the API owns the embedded index, so this runs there (in the API's lifespan):

- start-up (`verify`): an index that cannot be opened is set aside (``vectors.corrupt-<time>``) and
  rebuilt; after the outbox is applied, an index whose document count differs from the system of record's,
  or that lacks the newest memories' current versions (their sync tokens), is repaired (`IndexSync.check`).
- every `probe_seconds` (`tick`): `VectorIndex.ping` (which includes the write guard). Missing or unreadable
  → rebuild; unwritable, locked or failing → degraded until a probe passes and every pending outbox item
  has been applied (immediately, not at its backoff), then ok.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from membank.backoff import OutageBackoff
from membank.errors import BackendUnavailable, IndexUnavailable
from membank.search.index_health import IndexHealth
from membank.search.indexing import IndexSync
from membank.storage.ports import MemoryRepository, Outbox, VectorIndex

log = structlog.get_logger(__name__)

FRESHNESS_SAMPLE = 64
_REBUILD_CAUSES = frozenset({"missing", "unreadable"})


class IndexMaintainer:
    def __init__(
        self,
        index: VectorIndex,
        sync: IndexSync,
        health: IndexHealth,
        *,
        memories: MemoryRepository,
        outbox: Outbox,
        probe_seconds: float,
    ) -> None:
        self._memories = memories
        self._outbox = outbox
        self._index = index
        self._sync = sync
        self._health = health
        self._probe_seconds = probe_seconds
        self._pending: tuple[str, str] | None = None  # ("rebuild" | "repair", reason)

    def verify(self) -> None:
        """Start-up check (cheap: a ping, two counts, a few tokens); schedules a rebuild or repair."""
        if not self.probe():
            return
        self._sync.apply_due(ignore_backoff=True)
        if self._outbox.pending():
            return  # the applier failed and degraded the index; the loop retries
        try:
            reason = self._lag()
        except IndexUnavailable as exc:
            self._schedule_for(exc)
            return
        if reason is not None:
            self._schedule("repair", reason, "behind")

    def probe(self) -> bool:
        """Ping the index and record what it says; True when it can serve and take writes."""
        try:
            self._index.ping()
        except IndexUnavailable as exc:
            self._schedule_for(exc)
            return False
        except Exception as exc:  # the probe reports whatever went wrong rather than failing /health
            log.exception("index_probe_error")
            self._schedule_for(IndexUnavailable(f"the vector index probe failed: {exc}"))
            return False
        return True

    def tick(self) -> None:
        """One round of the loop: probe, then rebuild, repair or recover as needed."""
        healthy = self.probe()
        if self._pending is not None:
            kind, reason = self._pending
            self._rebuild(reason) if kind == "rebuild" else self._repair(reason)
        elif healthy and self._health.state.status != "ok":
            self._recover()

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every `probe_seconds` until `stop` is set."""
        outage = OutageBackoff(self._probe_seconds)
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.tick)
                if outage.succeeded():
                    log.info("index_maintenance_store_recovered")
            except BackendUnavailable as exc:  # an outage is expected: one line per wait, no traceback
                log.error("index_maintenance_store_unavailable", error=exc.message, retry_in=outage.failed())
            except Exception:
                log.exception("index_maintenance_error")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=outage.wait)

    def _lag(self) -> str | None:
        stored, indexed = self._memories.count_indexable(), self._index.count()
        if stored != indexed:
            return f"the index holds {indexed} documents, the system of record {stored} memories"
        newest = self._memories.newest_entries(FRESHNESS_SAMPLE)
        tokens = self._index.tokens([memory_id for memory_id, _ in newest])
        behind = sum(1 for memory_id, token in newest if tokens.get(memory_id) != token)
        if behind:
            return f"{behind} of the {len(newest)} newest memories are missing or outdated in the index"
        return None

    def _schedule_for(self, error: IndexUnavailable) -> None:
        if error.cause in _REBUILD_CAUSES:
            self._schedule("rebuild", error.message, error.cause)
        elif self._pending is None:
            self._health.degrade(error)

    def _schedule(self, kind: str, reason: str, cause: str) -> None:
        if self._pending is None or (kind == "rebuild" and self._pending[0] == "repair"):
            self._pending = (kind, reason)
        self._health.rebuilding(reason, cause)

    def _rebuild(self, reason: str) -> None:
        log.warning("vector_index_rebuild", reason=reason)
        try:
            rebuilt = self._sync.reindex()
            self._sync.apply_due(ignore_backoff=True)
        except IndexUnavailable as exc:
            self._failed("rebuild", reason, exc)
            return
        self._pending = None
        self._health.record_repair(
            action="rebuild", reason=reason, documents=rebuilt.count, kept=rebuilt.kept
        )
        log.info("vector_index_rebuilt", documents=rebuilt.count, kept=rebuilt.kept)
        self._recover()

    def _repair(self, reason: str) -> None:
        log.warning("vector_index_repair", reason=reason)
        try:
            report = self._sync.check(repair=True)
            self._sync.apply_due(ignore_backoff=True)
        except IndexUnavailable as exc:
            self._failed("repair", reason, exc)
            return
        self._pending = None
        self._health.record_repair(
            action="repair",
            reason=reason,
            missing=len(report.missing),
            stale=len(report.stale),
            orphaned=len(report.orphaned),
        )
        self._recover()

    def _failed(self, kind: str, reason: str, error: IndexUnavailable) -> None:
        log.warning("vector_index_rebuild_failed", kind=kind, error=error.message)
        if error.cause in _REBUILD_CAUSES:
            self._pending = ("rebuild", error.message)
        self._health.rebuilding(f"{reason}; the last attempt failed: {error.message}", error.cause)

    def _recover(self) -> None:
        """Back to ok once every pending write has reached the index."""
        self._sync.apply_due(ignore_backoff=True)
        waiting = self._outbox.pending()
        if waiting == 0:
            self._health.restore()
        elif self._health.state.status == "rebuilding":
            error = IndexUnavailable(f"{waiting} writes are still waiting for the index", cause="error")
            self._health.degrade(error, force=True)
