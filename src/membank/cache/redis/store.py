"""The shared cache on Redis, which it treats as optional: a down or slow Redis costs one short timeout,
then a pause before it is tried again, so requests never wait on it.

Every key is `<prefix><logical key>`, the prefix being the deployment's (`MEMBANK_REDIS_KEY_PREFIX`), so
several deployments can share one Redis. Entries expire (`SET ... PX`); a recency list is a sorted set of
keys scored by last use, trimmed to `recent_limit`, for warm-up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
import structlog
from redis.backoff import NoBackoff
from redis.retry import Retry

from membank.cache.ports import SharedCacheStatus

__all__ = ["RedisCache"]

log = structlog.get_logger(__name__)
R = TypeVar("R")


class _Breaker:
    """Closed while Redis answers. After a failure it opens for a pause that doubles with each failure in a
    row (from `base` up to `cap` seconds); when the pause ends one caller tries again (half-open) while the
    others keep skipping Redis until that try answers."""

    def __init__(self, base: float, cap: float) -> None:
        self._base = base
        self._cap = max(cap, base)
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0
        self.cause: str | None = None

    def allow(self) -> bool:
        with self._lock:
            if self._failures == 0:
                return True
            now = time.monotonic()
            if now < self._open_until:
                return False
            self._open_until = now + self._pause()
            return True

    def failed(self, cause: str) -> bool:
        """Count a failure; True if it starts an outage."""
        with self._lock:
            self._failures += 1
            self._open_until = time.monotonic() + self._pause()
            self.cause = cause
            return self._failures == 1

    def succeeded(self) -> bool:
        """Count a success; True if it ends an outage."""
        with self._lock:
            recovered = self._failures > 0
            self._failures = 0
            self._open_until = 0.0
            self.cause = None
            return recovered

    @property
    def is_open(self) -> bool:
        with self._lock:
            return self._failures > 0

    def _pause(self) -> float:
        return float(min(self._cap, self._base * 2.0 ** (self._failures - 1)))


class RedisCache:
    """The `SharedCache` port on one Redis (URL `redis://`, `rediss://` or `unix://`)."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        socket_timeout_seconds: float,
        breaker_seconds: float,
        breaker_max_seconds: float,
        recent_limit: int,
        max_connections: int = 32,
    ) -> None:
        self._prefix = prefix
        self._recent_limit = recent_limit
        self._secrets = [s for s in (url, urlsplit(url).password) if s]
        self._breaker = _Breaker(breaker_seconds, breaker_max_seconds)
        # No retries inside the client: one short timeout, then the breaker decides.
        self._client = redis.Redis.from_url(
            url,
            socket_timeout=socket_timeout_seconds,
            socket_connect_timeout=socket_timeout_seconds,
            retry=Retry(NoBackoff(), 0),
            max_connections=max_connections,
        )

    def get_many(self, keys: Sequence[str], *, recent: str | None = None) -> list[bytes | None]:
        if not keys:
            return []
        full = [self._prefix + key for key in keys]

        def run(client: redis.Redis) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            pipe.mget(full)
            if recent is not None:
                pipe.zadd(self._prefix + recent, dict.fromkeys(full, time.time()))
            return pipe.execute(raise_on_error=False)

        results = self._call(run, None)
        if results is None or isinstance(results[0], Exception):
            return [None] * len(keys)
        return [value if isinstance(value, bytes) else None for value in results[0]]

    def set_many(self, items: Mapping[str, bytes], ttl_seconds: float, *, recent: str | None = None) -> None:
        if not items:
            return
        ttl_ms = max(1, int(ttl_seconds * 1000))

        def run(client: redis.Redis) -> list[Any]:
            pipe = client.pipeline(transaction=False)
            for key, value in items.items():
                pipe.set(self._prefix + key, value, px=ttl_ms)
            if recent is not None:
                recent_key = self._prefix + recent
                pipe.zadd(recent_key, {self._prefix + key: time.time() for key in items})
                pipe.zremrangebyrank(recent_key, 0, -(self._recent_limit + 1))
                pipe.pexpire(recent_key, ttl_ms)
            return pipe.execute(raise_on_error=False)

        self._call(run, None)

    def hot(self, recent: str, start: int, count: int) -> list[tuple[str, bytes | None]]:
        if count <= 0:
            return []

        def run(client: redis.Redis) -> list[tuple[str, bytes | None]]:
            keys = [
                k
                for k in client.zrevrange(self._prefix + recent, start, start + count - 1)
                if isinstance(k, bytes)
            ]
            if not keys:
                return []
            values = client.mget(keys)
            out: list[tuple[str, bytes | None]] = []
            for key, value in zip(keys, values, strict=True):
                text = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
                if text.startswith(self._prefix):
                    out.append((text[len(self._prefix) :], value if isinstance(value, bytes) else None))
            return out

        return self._call(run, [])

    def probe(self) -> SharedCacheStatus:
        started = time.perf_counter()
        try:
            self._client.ping()
        except (redis.RedisError, OSError) as exc:
            cause = self._describe(exc)
            if self._breaker.failed(cause):
                log.warning("redis.unavailable", error=cause)
            return SharedCacheStatus("degraded", error=cause)
        if self._breaker.succeeded():
            log.info("redis.available")
        return SharedCacheStatus("ok", latency_ms=round((time.perf_counter() - started) * 1000, 2))

    @property
    def available(self) -> bool:
        """False while the breaker is open (Redis failed and has not answered since)."""
        return not self._breaker.is_open

    def close(self) -> None:
        self._client.close()

    def _call(self, run: Callable[[redis.Redis], R], default: R) -> R:
        if not self._breaker.allow():
            return default
        try:
            result = run(self._client)
        except redis.ResponseError as exc:
            # Redis answered, refusing the command (a key of another type, OOM under noeviction): not an
            # outage, so no pause, but nothing to serve either.
            log.warning("redis.refused", error=self._describe(exc))
            return default
        except (redis.RedisError, OSError) as exc:
            cause = self._describe(exc)
            if self._breaker.failed(cause):
                log.warning("redis.unavailable", error=cause, detail="the cache is bypassed until it answers")
            return default
        if self._breaker.succeeded():
            log.info("redis.available")
        return result

    def _describe(self, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text[:300]
