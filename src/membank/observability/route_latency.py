"""A small rolling window of request latencies per route, for the diagnosis's slow routes (p95 over the
last hour in this process). Bounded: routes are the app's templates (unmatched paths share one entry), at
most MAX_ROUTES of them, each keeping its latest SAMPLES_PER_ROUTE requests."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

MAX_ROUTES = 512
SAMPLES_PER_ROUTE = 1024


@dataclass(frozen=True, slots=True)
class RouteLatency:
    method: str
    route: str
    requests: int  # within the window (at most SAMPLES_PER_ROUTE are kept)
    p95_seconds: float
    max_seconds: float


class RouteLatencyWindow:
    """Thread-safe: the HTTP middleware records, the diagnosis reads."""

    def __init__(self, *, max_routes: int = MAX_ROUTES, samples: int = SAMPLES_PER_ROUTE) -> None:
        self._lock = threading.Lock()
        self._max_routes = max_routes
        self._samples = samples
        self._routes: dict[tuple[str, str], deque[tuple[float, float]]] = {}

    def record(self, method: str, route: str, seconds: float, at: float | None = None) -> None:
        key = (method, route)
        with self._lock:
            samples = self._routes.get(key)
            if samples is None:
                if len(self._routes) >= self._max_routes:
                    return  # bounded: a route beyond the cap is not tracked
                samples = self._routes[key] = deque(maxlen=self._samples)
            samples.append((time.time() if at is None else at, seconds))

    def slowest(self, *, window_seconds: float, top: int, now: float | None = None) -> list[RouteLatency]:
        """The `top` routes by p95 latency over the requests of the last `window_seconds`."""
        since = (time.time() if now is None else now) - window_seconds
        with self._lock:
            recent = {key: [s for t, s in samples if t >= since] for key, samples in self._routes.items()}
        ranked = [
            RouteLatency(method, route, len(values), _p95(values), max(values))
            for (method, route), values in recent.items()
            if values
        ]
        ranked.sort(key=lambda r: r.p95_seconds, reverse=True)
        return ranked[:top]

    def clear(self) -> None:
        with self._lock:
            self._routes.clear()


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


# One per process, like the Prometheus registry: the middleware of every app in the process feeds it.
ROUTE_LATENCY = RouteLatencyWindow()
