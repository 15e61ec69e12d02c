"""The state of the derived vector index as the serving process sees it: ok, degraded or rebuilding.

Policy (the index can never take the system of record down):

- ``ok``: search is served from the index.
- ``degraded``: the index cannot take writes or cannot be opened (unwritable, full disk, locked, an engine
  error). Writes are still acknowledged: they stay in the outbox and are applied when it recovers.
- ``rebuilding``: the index is missing, unreadable or behind the system of record and is being rebuilt
  from it in the background.

While the index is not ``ok``, search and synthesize-context are degraded, not refused: keyword search
over the system of record (which holds every acknowledged write), marked ``degraded`` with the reason from
here (`require_available` raises it; the search service catches it). The memory endpoints (create, get,
list, history, update, delete) keep working on the system of record, and consolidation finds its candidates
by scanning stored vectors instead of the index.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog

from membank.errors import IndexUnavailable
from membank.models import from_epoch, iso

log = structlog.get_logger(__name__)

IndexStatus = Literal["ok", "degraded", "rebuilding"]


@dataclass(frozen=True, slots=True)
class IndexState:
    status: IndexStatus
    reason: str | None = None
    cause: str | None = None
    since: float = field(default_factory=time.time)


class IndexHealth:
    """Thread-safe index state shared by the outbox applier, the maintainer, search and /health."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = IndexState("ok")
        self._last_repair: dict[str, Any] | None = None

    @property
    def state(self) -> IndexState:
        return self._state

    @property
    def available(self) -> bool:
        return self._state.status == "ok"

    def degrade(self, error: IndexUnavailable, *, force: bool = False) -> None:
        """The index failed: degraded with the reason (a rebuild under way keeps its state unless `force`)."""
        self._set("degraded", error.message, error.cause, keep_rebuilding=not force)

    def rebuilding(self, reason: str, cause: str) -> None:
        self._set("rebuilding", reason, cause)

    def restore(self) -> None:
        self._set("ok", None, None)

    def record_repair(self, **facts: Any) -> None:
        """What the last rebuild or repair did (reported by /health)."""
        with self._lock:
            self._last_repair = {**facts, "at": iso(from_epoch(time.time()))}

    def require_available(self) -> None:
        """Raise `IndexUnavailable` with the reason unless the index is ok."""
        state = self._state
        if state.status == "ok":
            return
        raise IndexUnavailable(
            f"search is unavailable while the vector index is {state.status}: {state.reason}; "
            "writes are still accepted and become searchable when it recovers",
            cause=state.cause or "error",
            details={"status": state.status, "reason": state.reason, "since": iso(from_epoch(state.since))},
        )

    def report(self) -> dict[str, Any]:
        """The `vector_index` component of /health: status, and reason and since when not ok."""
        state = self._state
        out: dict[str, Any] = {"status": state.status}
        if state.status != "ok":
            out.update(reason=state.reason, cause=state.cause, since=iso(from_epoch(state.since)))
        if self._last_repair is not None:
            out["last_repair"] = self._last_repair
        return out

    def _set(
        self, status: IndexStatus, reason: str | None, cause: str | None, *, keep_rebuilding: bool = False
    ) -> None:
        with self._lock:
            current = self._state
            if keep_rebuilding and current.status == "rebuilding":
                return
            if (current.status, current.reason) == (status, reason):
                return
            since = current.since if current.status == status else time.time()
            self._state = IndexState(status, reason, cause, since)
        log.warning("vector_index_state", status=status, reason=reason, cause=cause, previous=current.status)
