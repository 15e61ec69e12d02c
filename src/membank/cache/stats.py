"""Hit and miss counters of the caches, per cache and in total for the process (what /metrics exports).

Cache names are a fixed, small set (embeddings, search, context) and layers are l1 and l2, so the metric
labels built from them stay bounded.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["CacheStats", "Layer", "process_totals"]

Layer = Literal["l1", "l2"]
LAYERS: tuple[Layer, ...] = ("l1", "l2")


@dataclass
class CacheStats:
    """Lookups of one cache: hits and misses per layer, and values refused as corrupt (counted as misses)."""

    hits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LAYERS, 0))
    misses: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LAYERS, 0))
    corrupt: int = 0

    @property
    def hit_ratio(self) -> float | None:
        """Lookups answered by either layer over all lookups (None before the first)."""
        lookups = self.hits["l1"] + self.misses["l1"]
        if lookups == 0:
            return None
        return (self.hits["l1"] + self.hits["l2"]) / lookups


_lock = threading.Lock()
_totals: dict[str, CacheStats] = {}


def _total(name: str) -> CacheStats:
    with _lock:
        return _totals.setdefault(name, CacheStats())


def record(stats: CacheStats, name: str, layer: Layer, hits: int, misses: int, corrupt: int = 0) -> None:
    """Count on the cache's own stats and on the process totals of its name."""
    for target in (stats, _total(name)):
        target.hits[layer] += hits
        target.misses[layer] += misses
        target.corrupt += corrupt


def process_totals() -> dict[str, CacheStats]:
    """The counters of every cache name used in this process (monotonic, for Prometheus counters)."""
    with _lock:
        return dict(_totals)
