"""Idempotency-Key reservations in Redis; the stored responses stay in the system of record.

A reservation only has to live while its request runs, and every idempotent POST takes one: in Redis it
costs the database no write (the response is one write, as before). The response itself is kept in the
database because it is what a retry is owed, however late it comes: it must survive a Redis restart or
eviction, and it is written next to what the request did, where the backups and the erasure of a tenant are.

Reservations are judged on the caller's clock (`now`), as on the database; each also expires on Redis's own
clock a second after it would go stale. While Redis is down, reservations are made on the database (the SQL
path, unchanged); a reservation found there is decided there, so none is lost when Redis comes back. Not
covered: a retry that arrives while Redis is down, while its first attempt (reserved on Redis before the
outage) still runs, is not recognised as a duplicate. Job-creating POSTs are deduplicated again by the jobs
table (each job keeps its idempotency key), so that can repeat only a direct memory create.
"""

from __future__ import annotations

import contextlib
import math

import redis

from membank.errors import BackendUnavailable
from membank.storage.ports.idempotency import IdempotencyRepository, StoredResponse
from membank.storage.redis.connection import RedisConnection

_RESERVED = 0

# KEYS[1] the reservation; ARGV request hash, now, stale_after, key expiry in ms. False if reserved now,
# else the request hash of the live reservation holding the key.
_RESERVE = """
local held = redis.call('HMGET', KEYS[1], 'hash', 'created_at')
if held[1] and tonumber(held[2]) >= tonumber(ARGV[2]) - tonumber(ARGV[3]) then return held[1] end
redis.call('HSET', KEYS[1], 'hash', ARGV[1], 'created_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return false
"""

_RELEASE_IF_SAME = """
if redis.call('HGET', KEYS[1], 'hash') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisIdempotency:
    """Reservations on Redis over the stored responses of `records` (the system of record's repository)."""

    def __init__(self, connection: RedisConnection, records: IdempotencyRepository) -> None:
        self._connection = connection
        self._prefix = connection.prefix + "idem:"
        self._records = records
        self._reserve = connection.client.register_script(_RESERVE)
        self._release_if_same = connection.client.register_script(_RELEASE_IF_SAME)

    def get(self, tenant_id: str, key: str) -> StoredResponse | None:
        stored = self._records.get(tenant_id, key)
        if stored is not None:
            return stored
        held = self._reservation(tenant_id, key)
        return StoredResponse(held, _RESERVED, {}) if held is not None else None

    def reserve(
        self, tenant_id: str, key: str, request_hash: str, now: float, stale_after: float
    ) -> StoredResponse | None:
        stored = self._records.get(tenant_id, key)
        if stored is not None:
            # A response, or a reservation made on the database while Redis was down: decided there.
            return (
                stored
                if stored.status != _RESERVED
                else self._records.reserve(tenant_id, key, request_hash, now, stale_after)
            )
        expire_ms = math.ceil(stale_after * 1000) + 1000
        name = self._name(tenant_id, key)

        def run(_client: redis.Redis) -> bytes | None:
            holder: bytes | None = self._reserve(
                keys=[name], args=[request_hash, repr(now), repr(stale_after), expire_ms]
            )
            return holder

        try:
            holder = self._connection.call(run)
        except BackendUnavailable:
            return self._records.reserve(tenant_id, key, request_hash, now, stale_after)
        # The first request may have stored its response (and dropped its reservation) between our read of
        # the database and the reservation: the database has the last word.
        stored = self._records.get(tenant_id, key)
        if holder is None:
            if stored is not None:
                self._drop(name, request_hash)
            return stored
        return stored if stored is not None else StoredResponse(holder.decode(), _RESERVED, {})

    def release(self, tenant_id: str, key: str) -> None:
        with contextlib.suppress(BackendUnavailable):  # it goes stale on its own
            self._connection.call(lambda client: client.delete(self._name(tenant_id, key)))
        self._records.release(tenant_id, key)  # a reservation made while Redis was down

    def put(self, tenant_id: str, key: str, response: StoredResponse, now: float) -> None:
        try:
            held = self._reservation(tenant_id, key)
        except BackendUnavailable:
            held = None
        if held is not None and held != response.request_hash:
            return  # only the reservation of the same request becomes its response
        self._records.put(tenant_id, key, response, now)
        # If Redis cannot drop it now, it goes stale on its own; the stored response answers retries meanwhile.
        with contextlib.suppress(BackendUnavailable):
            self._drop(self._name(tenant_id, key), response.request_hash)

    def _reservation(self, tenant_id: str, key: str) -> str | None:
        found = self._connection.call(lambda client: client.hget(self._name(tenant_id, key), "hash"))
        return found.decode() if isinstance(found, bytes) else None

    def _drop(self, name: str, request_hash: str) -> None:
        self._connection.call(lambda _client: self._release_if_same(keys=[name], args=[request_hash]))

    def _name(self, tenant_id: str, key: str) -> str:
        return f"{self._prefix}{tenant_id}:{key}"
