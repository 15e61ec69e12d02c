"""Nonces of signed requests in Redis (SET NX EX), shared by every instance; Redis expires them."""

from __future__ import annotations

import math
import time

from membank.storage.redis.connection import RedisConnection


class RedisNonceStore:
    def __init__(self, redis: RedisConnection) -> None:
        self._redis = redis

    def remember(self, key_id: str, nonce: str, *, expires_at: float) -> bool:
        ttl = max(1, math.ceil(expires_at - time.time()))
        name = f"{self._redis.prefix}nonce:{key_id}:{nonce}"
        return bool(self._redis.call(lambda client: client.set(name, b"1", nx=True, ex=ttl)))
