"""Drift between the vector index and the system of record: `IndexSync.check` (what `membank check` runs),
less what the outbox already explains (a write whose index update is still pending is lag, not drift).

The comparison is confirmed by a second pass before it is reported, so a write that raced the first one
(stored, then applied to the index between the two reads) is not reported as drift."""

from __future__ import annotations

from membank.diagnostics.findings import Detail, Finding
from membank.search.indexing import CheckReport, IndexSync
from membank.storage.ports import Outbox

_BATCH = 500  # ids per outbox lookup (SQLite binds at most 32766 parameters)
_REPAIR_ACTION = (
    "bring the index in line with the system of record: POST /api/v1/admin/diagnostics/repair "
    "(`membank doctor --repair`, or `membank check --repair` with the server stopped)"
)


def _differing(report: CheckReport) -> dict[str, set[str]]:
    return {"missing": set(report.missing), "stale": set(report.stale), "orphaned": set(report.orphaned)}


class IndexDrift:
    def __init__(self, sync: IndexSync, outbox: Outbox) -> None:
        self._sync = sync
        self._outbox = outbox

    def _pending(self, ids: set[str]) -> set[str]:
        ordered = sorted(ids)
        pending: set[str] = set()
        for start in range(0, len(ordered), _BATCH):
            pending |= {item.memory_id for item in self._outbox.items_for(ordered[start : start + _BATCH])}
        return pending

    def _compare(self) -> tuple[CheckReport, dict[str, set[str]], int]:
        """(the check, drift by kind confirmed by a second pass, how many differences the outbox explains)."""
        first = self._sync.check(repair=False)
        if first.unavailable is not None:
            return first, {}, 0
        drift = _differing(first)
        seen = set().union(*drift.values())
        explained = self._pending(seen) if seen else set()
        if seen - explained:
            second = self._sync.check(repair=False)
            again = _differing(second)
            drift = {kind: ids & again[kind] for kind, ids in drift.items()}
            explained |= self._pending(set().union(*drift.values()))
            first = second
        drift = {kind: ids - explained for kind, ids in drift.items()}
        return first, drift, len(explained)

    def finding(self) -> Finding:
        report, drift, explained = self._compare()
        if report.unavailable is not None:
            return Finding(
                "index.drift",
                "fail",
                {"compared": False, "records": report.records, "reason": report.unavailable},
                "the index cannot be read: the serving process rebuilds it from the system of record in the "
                "background (see /health/ready); `membank reindex` rebuilds it with the server stopped",
            )
        counts = {kind: len(ids) for kind, ids in drift.items()}
        detail: Detail = {
            "compared": True,
            "records": report.records,
            "indexed": report.indexed,
            **counts,
            "pending_in_outbox": explained,
        }
        if sum(counts.values()) == 0:
            return Finding.ok("index.drift", detail)
        return Finding("index.drift", "fail", detail, _REPAIR_ACTION)

    def repair(self) -> Detail | None:
        """Repair confirmed drift (what `membank check --repair` does); what it fixed, or None when there was
        none. An index that cannot be read is left to the serving process's own rebuild."""
        report, drift, _ = self._compare()
        if report.unavailable is not None or not any(drift.values()):
            return None
        repaired = self._sync.check(repair=True)
        return {
            "missing": len(repaired.missing),
            "stale": len(repaired.stale),
            "orphaned": len(repaired.orphaned),
            "records": repaired.records,
        }
