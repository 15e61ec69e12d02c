"""Redis backends: state shared by every API instance and worker (request limits, locks, idempotency reservations,
failed-login counts, the login-session check's cache)."""

from membank.storage.redis.connection import RedisConnection
from membank.storage.redis.idempotency import RedisIdempotency
from membank.storage.redis.locks import RedisLockRepository
from membank.storage.redis.login_failures import RedisLoginFailures
from membank.storage.redis.nonces import RedisNonceStore
from membank.storage.redis.rate_limits import RedisRateLimits
from membank.storage.redis.session_cache import RedisSessionCache

__all__ = [
    "RedisConnection",
    "RedisIdempotency",
    "RedisLockRepository",
    "RedisLoginFailures",
    "RedisNonceStore",
    "RedisRateLimits",
    "RedisSessionCache",
]
