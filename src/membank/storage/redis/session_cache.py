"""Login sessions with their accounts cached in Redis: the JWT request path reads one key instead of the database.

The database stays the system of record (storage/cached_login_sessions.py writes there first, then here).
An entry holds what the request check needs, never a password hash or an MFA secret, and lives `ttl` seconds.
Every change ends an entry by raising its session's generation; a reader that missed fills the entry only if
the generation is still the one it saw before reading the database, so a fill racing a revocation cannot put
the revoked state back.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection

import orjson
import redis

from membank.models.account import UserAccount
from membank.storage.ports.login_sessions import LoginSession
from membank.storage.redis.connection import RedisConnection

# A generation outlives by far any fill in flight (a database read between reading it and filling).
_GENERATION_SECONDS = 3600

# KEYS[1] entry, KEYS[2] generation; ARGV generation seen, entry, ttl ms. 1 if filled.
_FILL = """
if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""

# KEYS: entry, generation pairs; ARGV[1] generation expiry ms.
_FORGET = """
for i = 1, #KEYS, 2 do
  redis.call('DEL', KEYS[i])
  redis.call('INCR', KEYS[i + 1])
  redis.call('PEXPIRE', KEYS[i + 1], ARGV[1])
end
return #KEYS / 2
"""


@dataclasses.dataclass(frozen=True, slots=True)
class CachedSession:
    """A cache read: the session and its account (None on a miss) and the generation to fill a miss with."""

    found: tuple[LoginSession, UserAccount] | None
    generation: str


def _encode(session: LoginSession, account: UserAccount) -> bytes:
    kept = dataclasses.replace(account, password_hash=None, mfa_secret=None)
    return orjson.dumps({"session": dataclasses.asdict(session), "account": dataclasses.asdict(kept)})


def _decode(raw: bytes | str) -> tuple[LoginSession, UserAccount]:
    entry = orjson.loads(raw)
    return LoginSession(**entry["session"]), UserAccount(**entry["account"])


class RedisSessionCache:
    def __init__(self, connection: RedisConnection, *, ttl_seconds: float) -> None:
        self._connection = connection
        self._prefix = connection.prefix + "login-session:"
        self._ttl_ms = max(1, math.ceil(ttl_seconds * 1000))
        client = connection.client
        self._fill = client.register_script(_FILL)
        self._forget = client.register_script(_FORGET)

    def get(self, session_id: str) -> CachedSession:
        def run(client: redis.Redis) -> list[bytes | str | None]:
            found: list[bytes | str | None] = client.mget(self._keys(session_id))  # one round trip
            return found

        raw, generation = self._connection.call(run)
        seen = generation.decode() if isinstance(generation, bytes) else generation or "0"
        return CachedSession(_decode(raw) if raw else None, seen)

    def fill(self, session: LoginSession, account: UserAccount, generation: str) -> bool:
        """Cache the pair unless the session changed since `generation` was read; whether it was cached."""
        args: list[str | bytes | int] = [generation, _encode(session, account), self._ttl_ms]

        def run(_client: redis.Redis) -> int:
            filled: int = self._fill(keys=self._keys(session.id), args=args)
            return filled

        return self._connection.call(run) == 1

    def forget(self, session_ids: Collection[str]) -> None:
        """End the entries of these sessions and refuse fills read before now."""
        if not session_ids:
            return
        keys = [key for session_id in session_ids for key in self._keys(session_id)]

        def run(_client: redis.Redis) -> None:
            self._forget(keys=keys, args=[_GENERATION_SECONDS * 1000])

        self._connection.call(run)

    def _keys(self, session_id: str) -> list[str]:
        return [f"{self._prefix}{session_id}", f"{self._prefix}{session_id}:generation"]
