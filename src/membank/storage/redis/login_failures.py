"""Failed-login counts in Redis, shared by every API instance: the rules of the SQL backend in one Lua script.

Each (tenant, email) is a hash (failures, lockouts, locked_until) counted on the caller's clock (`at`), as on
the database, so the two agree (storage/failover_login_failures.py moves between them). A hash is forgotten a
day plus the longest lockout after its last failure: by then its lockout has ended, and a day without failures
starts the doubling anew.
"""

from __future__ import annotations

import math

import redis

from membank.storage.ports.login_failures import LockoutPolicy, LoginFailures
from membank.storage.redis.connection import RedisConnection

_DAY_SECONDS = 86_400

# KEYS[1] the pair; ARGV max_failures, base, cap, at, key expiry in ms. Returns {failures, lockouts, until}
# as strings (Redis would truncate Lua numbers to integers); until is '' while not locked.
_RECORD = """
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0') + 1
local lockouts = tonumber(redis.call('HGET', KEYS[1], 'lockouts') or '0')
local until_ = redis.call('HGET', KEYS[1], 'locked_until') or ''
if failures >= tonumber(ARGV[1]) then
  lockouts = lockouts + 1
  failures = 0
  local duration = math.min(tonumber(ARGV[2]) * 2 ^ math.max(lockouts - 1, 0), tonumber(ARGV[3]))
  until_ = string.format('%.6f', tonumber(ARGV[4]) + duration)
end
redis.call('HSET', KEYS[1], 'failures', failures, 'lockouts', lockouts, 'locked_until', until_)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {tostring(failures), tostring(lockouts), until_}
"""


def _state(values: list[bytes | str | None]) -> LoginFailures:
    failures, lockouts, until = values
    return LoginFailures(int(failures or 0), int(lockouts or 0), float(until) if until else None)


class RedisLoginFailures:
    """Failed logins per (tenant, email) in Redis."""

    def __init__(self, connection: RedisConnection) -> None:
        self._connection = connection
        self._prefix = connection.prefix + "login-failures:"
        self._record = connection.client.register_script(_RECORD)

    def get(self, tenant_id: str, email: str) -> LoginFailures | None:
        def run(client: redis.Redis) -> list[bytes | str | None]:
            found: list[bytes | str | None] = client.hmget(
                self._key(tenant_id, email), ["failures", "lockouts", "locked_until"]
            )
            return found

        values = self._connection.call(run)
        return _state(values) if values[0] is not None else None

    def record(self, tenant_id: str, email: str, policy: LockoutPolicy, *, at: float) -> LoginFailures:
        expire_ms = math.ceil((policy.cap_seconds + _DAY_SECONDS) * 1000)
        args: list[int | str] = [
            policy.max_failures,
            repr(policy.base_seconds),
            repr(policy.cap_seconds),
            repr(at),
            expire_ms,
        ]

        def run(_client: redis.Redis) -> list[bytes | str | None]:
            result: list[bytes | str | None] = self._record(keys=[self._key(tenant_id, email)], args=args)
            return result

        return _state(self._connection.call(run))

    def clear(self, tenant_id: str, email: str) -> bool:
        def run(client: redis.Redis) -> int:
            removed: int = client.delete(self._key(tenant_id, email))
            return removed

        return self._connection.call(run) > 0

    def _key(self, tenant_id: str, email: str) -> str:
        # The tenant's length first: no two (tenant, email) pairs share a key, whatever ':' they contain.
        return f"{self._prefix}{len(tenant_id)}:{tenant_id}:{email}"
