"""A rolling window of embedding model (or API) calls, for the diagnosis's latency regression. A text costs
less in a bigger batch, so calls are compared with calls of a like size only: by power-of-two batch size,
each size's median time per text now against before, and the regression is the worst of those ratios."""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass

SAMPLES = 4096


@dataclass(frozen=True, slots=True)
class LatencyComparison:
    """For the batch size that slowed down most (among those with `min_batches` calls in both periods): its
    median seconds per text recently and before, and how many calls of every size each period had."""

    batch_size: int | None  # the power of two below which its batches' sizes lie
    recent_seconds: float | None
    baseline_seconds: float | None
    recent_batches: int
    baseline_batches: int

    @property
    def slowdown(self) -> float | None:
        if self.recent_seconds is None or not self.baseline_seconds:
            return None
        return self.recent_seconds / self.baseline_seconds


def _bucket(texts: int) -> int:
    return 1 << max(0, texts - 1).bit_length()


class EmbeddingLatencyWindow:
    def __init__(self, samples: int = SAMPLES) -> None:
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, int, float]] = deque(maxlen=samples)

    def record(self, texts: int, seconds: float, at: float | None = None) -> None:
        with self._lock:
            self._samples.append((time.time() if at is None else at, _bucket(texts), seconds / max(1, texts)))

    def compare(
        self, *, recent_seconds: float, baseline_seconds: float, min_batches: int, now: float | None = None
    ) -> LatencyComparison:
        """The last `recent_seconds` against the `baseline_seconds` before them."""
        split = (time.time() if now is None else now) - recent_seconds
        start = split - baseline_seconds
        recent: dict[int, list[float]] = {}
        baseline: dict[int, list[float]] = {}
        with self._lock:
            for at, bucket, per_text in self._samples:
                if at >= split:
                    recent.setdefault(bucket, []).append(per_text)
                elif at >= start:
                    baseline.setdefault(bucket, []).append(per_text)
        worst: tuple[float, int, float, float] | None = None
        for bucket, values in recent.items():
            before = baseline.get(bucket, [])
            if len(values) < min_batches or len(before) < min_batches:
                continue
            now_median, before_median = statistics.median(values), statistics.median(before)
            ratio = now_median / before_median if before_median else 0.0
            if worst is None or ratio > worst[0]:
                worst = (ratio, bucket, now_median, before_median)
        counts = (sum(map(len, recent.values())), sum(map(len, baseline.values())))
        if worst is None:
            return LatencyComparison(None, None, None, *counts)
        return LatencyComparison(worst[1], worst[2], worst[3], *counts)

    def clear(self) -> None:
        with self._lock:
            self._samples.clear()


# One per process, like the Prometheus registry: every embedder of the process feeds it.
EMBEDDING_LATENCY = EmbeddingLatencyWindow()
