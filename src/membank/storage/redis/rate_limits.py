"""Request limits counted in Redis for every API instance: GCRA in one Lua script, on Redis's own clock.

The script reads the server's TIME, so the instances' clocks do not matter, and runs atomically, so two
instances never both spend the last request of a key. It does the steps of storage/inprocess/rate_limits.py
(`decide`): each key holds its TAT in seconds; it expires when the TAT passes (a full allowance is no key).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from membank.storage.ports.rate_limits import Rate, RateDecision
from membank.storage.redis.connection import RedisConnection

# KEYS: one per rate; ARGV: interval, burst of each rate in turn. Returns {allowed, wait, now, tat...}
# as strings (Redis would truncate Lua numbers to integers).
_GCRA = """
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local tats, new_tats, wait = {}, {}, -1
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  tats[i] = tat
  new_tats[i] = tat + interval
  wait = math.max(wait, new_tats[i] - burst * interval - now)
end
local allowed = wait <= 1e-9
local out = {allowed and '1' or '0', string.format('%.6f', wait), string.format('%.6f', now)}
for i, key in ipairs(KEYS) do
  local tat = tats[i]
  if allowed then
    tat = new_tats[i]
    redis.call('SET', key, string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1)
  end
  out[#out + 1] = string.format('%.6f', tat)
end
return out
"""


class RedisRateLimits:
    """GCRA state in Redis, shared by every instance on the same Redis."""

    def __init__(self, connection: RedisConnection) -> None:
        self._connection = connection
        self._prefix = connection.prefix + "rl:"
        self._script = connection.client.register_script(_GCRA)

    def hit(self, rates: Sequence[Rate]) -> RateDecision:
        keys = [self._prefix + rate.key for rate in rates]
        args: list[float | int] = []
        for rate in rates:
            args += [rate.interval_seconds, rate.burst]

        def run(_client: redis.Redis) -> list[bytes]:
            result: list[bytes] = self._script(keys=keys, args=args)
            return result

        allowed, wait, now, *tats = (float(value) for value in self._connection.call(run))
        states = tuple(rate.state(tat, now) for rate, tat in zip(rates, tats, strict=True))
        return RateDecision(allowed == 1.0, max(wait, 0.0) if allowed != 1.0 else 0.0, states)
