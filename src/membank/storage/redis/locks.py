"""Named leases in Redis (one hash per name: owner and expiry), with the semantics of the SQL leases.

Expiry is decided on the caller's clock (`now`), as on the database, so the two backends are interchangeable
(storage/failover_locks.py moves between them). Each hash also expires on Redis's own clock a second after
the lease would have: an abandoned lease leaves no key behind.
"""

from __future__ import annotations

import math

import redis

from membank.storage.redis.connection import RedisConnection

# KEYS[1] the lease; ARGV owner, now, ttl, key expiry in ms. 1 if taken (or extended), 0 if held by another.
_ACQUIRE = """
local owner = redis.call('HGET', KEYS[1], 'owner')
local expires = tonumber(redis.call('HGET', KEYS[1], 'expires_at') or '-1')
local now = tonumber(ARGV[2])
if owner and owner ~= ARGV[1] and expires >= now then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'expires_at', string.format('%.6f', now + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""

_HOLDER = """
local owner = redis.call('HGET', KEYS[1], 'owner')
local expires = tonumber(redis.call('HGET', KEYS[1], 'expires_at') or '-1')
if owner and expires >= tonumber(ARGV[1]) then return owner end
return false
"""

_RELEASE = """
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLockRepository:
    """Named leases shared by every process on the same Redis."""

    def __init__(self, connection: RedisConnection) -> None:
        self._connection = connection
        self._prefix = connection.prefix + "lock:"
        client = connection.client
        self._acquire = client.register_script(_ACQUIRE)
        self._holder = client.register_script(_HOLDER)
        self._release = client.register_script(_RELEASE)

    def acquire(self, name: str, owner: str, now: float, ttl: float) -> bool:
        expire_ms = math.ceil(ttl * 1000) + 1000

        def run(_client: redis.Redis) -> int:
            taken: int = self._acquire(keys=[self._key(name)], args=[owner, repr(now), repr(ttl), expire_ms])
            return taken

        return self._connection.call(run) == 1

    def holder(self, name: str, now: float) -> str | None:
        def run(_client: redis.Redis) -> bytes | None:
            found: bytes | None = self._holder(keys=[self._key(name)], args=[repr(now)])
            return found

        found = self._connection.call(run)
        return found.decode() if found is not None else None

    def release(self, name: str, owner: str) -> None:
        def run(_client: redis.Redis) -> None:
            self._release(keys=[self._key(name)], args=[owner])

        self._connection.call(run)

    def _key(self, name: str) -> str:
        return self._prefix + name
