"""Redis backends: state shared by every API instance and worker (request limits, locks, idempotency reservations)."""

from membank.storage.redis.connection import RedisConnection
from membank.storage.redis.idempotency import RedisIdempotency
from membank.storage.redis.locks import RedisLockRepository
from membank.storage.redis.nonces import RedisNonceStore
from membank.storage.redis.rate_limits import RedisRateLimits

__all__ = ["RedisConnection", "RedisIdempotency", "RedisLockRepository", "RedisNonceStore", "RedisRateLimits"]
