"""Request counts shared by every API instance: one atomic check-and-count over several limits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Rate", "RateDecision", "RateLimitStore", "RateState"]


@dataclass(frozen=True, slots=True)
class Rate:
    """`limit` requests per `period_seconds` under `key`, up to `burst` of them back to back (GCRA: one
    request's worth of allowance comes back every period/limit seconds, at most `burst` are saved up)."""

    key: str
    limit: int
    period_seconds: float
    burst: int

    @property
    def interval_seconds(self) -> float:
        return self.period_seconds / self.limit

    def state(self, tat: float, now: float) -> RateState:
        """What this rate allows at `now` when its theoretical arrival time (TAT) is `tat`."""
        window = self.burst * self.interval_seconds
        # The epsilon keeps float error from turning "exactly one request left" into none.
        remaining = math.floor((now - (tat - window)) / self.interval_seconds + 1e-9)
        return RateState(self, max(0, min(self.burst, remaining)), max(0.0, tat - now))


@dataclass(frozen=True, slots=True)
class RateState:
    """A rate after the check: requests still allowed right now, and seconds until its allowance is full."""

    rate: Rate
    remaining: int
    reset_seconds: float


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether the request may run; if not, the seconds after which it would be allowed."""

    allowed: bool
    retry_after_seconds: float
    states: tuple[RateState, ...]


class RateLimitStore(Protocol):
    """Where the counts live (in this process, or in Redis for every instance)."""

    def hit(self, rates: Sequence[Rate]) -> RateDecision:
        """Count one request against every rate at once, atomically: if any rate refuses it, none is
        charged. Raises BackendUnavailable when the shared store cannot answer."""
