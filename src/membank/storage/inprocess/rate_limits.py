"""Request limits counted in this process (no Redis configured): the same GCRA as the Redis script.

GCRA (the generic cell rate algorithm) keeps one number per key, the theoretical arrival time (TAT): when the
allowance would be full again. A request adds one interval (period / limit) to it; it is refused when the new
TAT would lie more than `burst` intervals ahead of now. storage/redis/rate_limits.py runs the same steps in
Lua; keep the two in step (the contract suite tests both).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from membank.storage.ports.rate_limits import Rate, RateDecision

# Float error must not refuse a request that arrives exactly on time.
_EPSILON = 1e-9
_PRUNE_ABOVE = 10_000


def decide(
    rates: Sequence[Rate], stored: Sequence[float | None], now: float
) -> tuple[RateDecision, list[float]]:
    """Every rate's verdict together: (the decision, the TATs to store — none when refused). The request
    runs only when every rate allows it, and then it is charged to all of them."""
    tats = [max(tat if tat is not None else now, now) for tat in stored]
    new_tats = [tat + rate.interval_seconds for rate, tat in zip(rates, tats, strict=True)]
    waits = [
        new_tat - rate.burst * rate.interval_seconds - now
        for rate, new_tat in zip(rates, new_tats, strict=True)
    ]
    if any(wait > _EPSILON for wait in waits):
        states = tuple(rate.state(tat, now) for rate, tat in zip(rates, tats, strict=True))
        return RateDecision(False, max(waits), states), []
    states = tuple(rate.state(tat, now) for rate, tat in zip(rates, new_tats, strict=True))
    return RateDecision(True, 0.0, states), new_tats


class InProcessRateLimits:
    """GCRA state in a dict, for one process (every API instance would count on its own)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tats: dict[str, float] = {}
        self._lock = threading.Lock()

    def hit(self, rates: Sequence[Rate]) -> RateDecision:
        with self._lock:
            now = self._clock()
            decision, tats = decide(rates, [self._tats.get(rate.key) for rate in rates], now)
            for rate, tat in zip(rates, tats, strict=False):
                self._tats[rate.key] = tat
            if len(self._tats) > _PRUNE_ABOVE:
                # A TAT in the past means a full allowance, the same as no entry.
                self._tats = {key: tat for key, tat in self._tats.items() if tat > now}
            return decision
