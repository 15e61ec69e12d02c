"""The shared (L2) cache on Redis."""

from __future__ import annotations

from membank.cache.redis.store import RedisCache

__all__ = ["RedisCache"]
