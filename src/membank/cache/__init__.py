"""Caches: the shared-cache port, the two-layer cache (in-process L1 over a shared L2), codecs and counters.

A bottom-level package like storage: providers (the embedders) and features use it; its Redis backend
(`membank.cache.redis`) is picked by bootstrap only. docs/caching.md describes layers, keys and invalidation.
"""

from __future__ import annotations

from membank.cache.codecs import Codec, JsonCodec, VectorCodec
from membank.cache.ports import SharedCache, SharedCacheStatus
from membank.cache.stats import CacheStats, process_totals
from membank.cache.tiered import TieredCache

__all__ = [
    "CacheStats",
    "Codec",
    "JsonCodec",
    "SharedCache",
    "SharedCacheStatus",
    "TieredCache",
    "VectorCodec",
    "process_totals",
]
