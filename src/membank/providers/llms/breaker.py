"""A circuit breaker: after N consecutive failed calls stop calling a service for a while, then let one
trial call through. While the LLM is down, jobs fall back to the heuristic tier at once instead of each
spending its full retry budget against a dead endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

__all__ = ["BreakerState", "CircuitBreaker"]

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """Closed: calls pass. Open (after `failures` consecutive failures): calls are refused until
    `reset_seconds` have passed. Half-open: one trial call passes; its success closes the breaker, its
    failure opens it again for another `reset_seconds`. Single event loop, so no lock is needed."""

    def __init__(
        self, *, failures: int, reset_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = failures
        self._reset_seconds = reset_seconds
        self._clock = clock
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        """Where the breaker stands now."""
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._reset_seconds:
            return "half-open"
        return "open"

    @property
    def retry_in(self) -> float:
        """Seconds until a trial call will be allowed (0 when calls pass now)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self._reset_seconds - self._clock())

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open state only the first caller's trial may."""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        """A call succeeded: close the breaker."""
        self._consecutive = 0
        self._opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        """A call failed: open the breaker after enough of them in a row, or again after a failed trial."""
        self._consecutive += 1
        if self._trial_in_flight or self._consecutive >= self._threshold:
            self._opened_at = self._clock()
        self._trial_in_flight = False

    def release(self) -> None:
        """A call ended without saying anything about the service (cancelled, or the input was rejected)."""
        self._trial_in_flight = False
