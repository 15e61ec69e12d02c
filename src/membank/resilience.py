"""A circuit breaker: after N consecutive failed calls stop calling a service for a while, then let one
trial call through. While a service is down its callers fail at once instead of each spending its full
retry budget against a dead endpoint: the LLM tier falls back to the heuristic one, a Qdrant server index
reports `IndexUnavailable` and the writes wait in the outbox.

It sits at the bottom of the layers (it imports nothing of MemBank) so that providers and storage both use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """Closed: calls pass. Open (after `failures` consecutive failures): calls are refused until
    `reset_seconds` have passed. Half-open: one trial call passes; its success closes the breaker, its
    failure opens it again for another `reset_seconds`. Safe to share between threads (a storage adapter is
    called from worker threads); no method blocks, so an event loop may use it as well."""

    def __init__(
        self, *, failures: int, reset_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._reset_seconds = reset_seconds
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        """Where the breaker stands now."""
        with self._lock:
            return self._state()

    @property
    def retry_in(self) -> float:
        """Seconds until a trial call will be allowed (0 when calls pass now)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self._opened_at + self._reset_seconds - self._clock())

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open state only the first caller's trial may."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half-open" and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        """A call succeeded: close the breaker."""
        with self._lock:
            self._consecutive = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self) -> None:
        """A call failed: open the breaker after enough of them in a row, or again after a failed trial."""
        with self._lock:
            self._consecutive += 1
            if self._trial_in_flight or self._consecutive >= self._threshold:
                self._opened_at = self._clock()
            self._trial_in_flight = False

    def release(self) -> None:
        """A call ended without saying anything about the service (cancelled, or the input was rejected)."""
        with self._lock:
            self._trial_in_flight = False

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._reset_seconds:
            return "half-open"
        return "open"
