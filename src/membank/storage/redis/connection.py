"""One Redis client per process, and what a failed call means to the callers: BackendUnavailable."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from membank.errors import BackendUnavailable

T = TypeVar("T")


class RedisConnection:
    """A Redis client with short timeouts and a pause after a failure.

    A call that fails marks Redis down for `retry_seconds`: calls in that pause fail at once (the callers
    fall back: limits fail open or closed, locks go to the database) instead of each waiting out a timeout.
    The error never carries the URL (it may hold a password). `prefix` (MEMBANK_REDIS_KEY_PREFIX) starts every
    key the backends write, so several deployments can share one Redis."""

    def __init__(
        self, url: str, *, timeout_seconds: float, retry_seconds: float, prefix: str = "membank:"
    ) -> None:
        self.prefix = prefix
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            # One retry on a fresh connection: a pooled connection is dead after a Redis restart.
            retry=Retry(NoBackoff(), 1),
        )
        self._retry_seconds = retry_seconds
        self._down_until = 0.0
        self._guard = threading.Lock()

    def call(self, operation: Callable[[redis.Redis], T]) -> T:
        """Run `operation` on the client; BackendUnavailable if Redis fails or failed a moment ago."""
        if time.monotonic() < self._down_until:
            raise BackendUnavailable("Redis is unavailable", details={"backend": "redis"})
        try:
            return operation(self.client)
        except redis.RedisError as exc:
            with self._guard:
                self._down_until = time.monotonic() + self._retry_seconds
            raise BackendUnavailable(
                f"Redis is unavailable ({type(exc).__name__})", details={"backend": "redis"}
            ) from None

    def ping(self) -> None:
        """Raises unless Redis answers now (health checks ignore the pause: they are what ends it)."""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise BackendUnavailable(
                f"Redis is unavailable ({type(exc).__name__})", details={"backend": "redis"}
            ) from None
        with self._guard:
            self._down_until = 0.0

    def close(self) -> None:
        self.client.close()
