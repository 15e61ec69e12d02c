"""Named leases on Redis, on the database while Redis is down: one `LockRepository` over both.

Moving between the two must never let two holders overlap:

- Redis fails: a lease granted on Redis just before may still run for up to one `ttl`. So the database
  grants a name only once `ttl` has passed since this process saw Redis fail (every process sees the failure
  at or after it began, so that is at least `ttl` after the last Redis grant). Only a holder whose own Redis
  lease is still live may move it to the database at once (and keep renewing it there): nobody else can hold that name meanwhile.
- Redis returns: a lease taken on the database during the outage may still run. So a Redis grant also reads
  the database lease of that name (one indexed read) and gives the grant back while someone holds it there.
"""

from __future__ import annotations

import threading

import structlog

from membank.errors import BackendUnavailable
from membank.storage.ports.locks import LockRepository

log = structlog.get_logger(__name__)


class FailoverLockRepository:
    def __init__(self, primary: LockRepository, fallback: LockRepository) -> None:
        self._primary = primary
        self._fallback = fallback
        self._down_since: float | None = None
        # (name, owner) -> (granted by the primary, lease end): where each lease of this process lives.
        self._granted: dict[tuple[str, str], tuple[bool, float]] = {}
        self._guard = threading.Lock()

    @property
    def on_fallback(self) -> bool:
        """Whether leases are on the database now (Redis failed on the last try)."""
        return self._down_since is not None

    def acquire(self, name: str, owner: str, now: float, ttl: float) -> bool:
        try:
            taken = self._primary.acquire(name, owner, now, ttl)
        except BackendUnavailable:
            return self._acquire_on_fallback(name, owner, now, ttl)
        self._recovered()
        if taken and self._fallback.holder(name, now) not in (None, owner):
            self._primary.release(name, owner)
            taken = False
        self._record(name, owner, taken, primary=True, until=now + ttl)
        return taken

    def holder(self, name: str, now: float) -> str | None:
        try:
            found = self._primary.holder(name, now)
        except BackendUnavailable:
            found = None
        return found if found is not None else self._fallback.holder(name, now)

    def release(self, name: str, owner: str) -> None:
        with self._guard:
            primary, _ = self._granted.pop((name, owner), (True, 0.0))
        if primary:
            try:
                self._primary.release(name, owner)
                return
            except BackendUnavailable:  # it expires on its own; a database lease of ours may exist too
                pass
        self._fallback.release(name, owner)

    def _acquire_on_fallback(self, name: str, owner: str, now: float, ttl: float) -> bool:
        with self._guard:
            if self._down_since is None:
                self._down_since = now
                log.warning("locks_on_database", reason="redis unavailable")
            down_since = self._down_since
            _, until = self._granted.get((name, owner), (False, 0.0))
        # A holder whose lease (on Redis before the outage, or on the database since) is live renews it.
        if until < now and now < down_since + ttl:
            return False  # a lease granted on Redis before the outage may still run
        taken = self._fallback.acquire(name, owner, now, ttl)
        self._record(name, owner, taken, primary=False, until=now + ttl)
        return taken

    def _recovered(self) -> None:
        if self._down_since is not None:
            with self._guard:
                self._down_since = None
            log.info("locks_on_redis")

    def _record(self, name: str, owner: str, taken: bool, *, primary: bool, until: float) -> None:
        with self._guard:
            if taken:
                self._granted[(name, owner)] = (primary, until)
            else:
                self._granted.pop((name, owner), None)
