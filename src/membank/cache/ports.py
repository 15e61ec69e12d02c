"""The shared (L2) cache port: bytes under string keys, seen by every process of a deployment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["SharedCache", "SharedCacheStatus"]


@dataclass(frozen=True, slots=True)
class SharedCacheStatus:
    """What /health says about the shared cache: "ok", or "degraded" with the cause (never a secret)."""

    status: Literal["ok", "degraded"]
    error: str | None = None
    latency_ms: float | None = None

    def report(self) -> dict[str, object]:
        out: dict[str, object] = {"status": self.status}
        if self.error is not None:
            out["error"] = self.error
        if self.latency_ms is not None:
            out["latency_ms"] = self.latency_ms
        return out


class SharedCache(Protocol):
    """A cache shared by every process (Redis). Blocking calls: callers run them in a thread.

    It is only ever an optimisation, so no method raises when the backend is down or slow: reads come back as
    misses and writes are dropped, quickly (a short timeout, then a pause before it is tried again). Keys are
    logical (`emb:...`); the implementation adds the deployment's namespace prefix.
    """

    def get_many(self, keys: Sequence[str], *, recent: str | None = None) -> list[bytes | None]:
        """The stored values of `keys` in order (None: missing or unavailable). With `recent`, the keys are
        also marked as just used in that recency list (what `hot` returns)."""

    def set_many(self, items: Mapping[str, bytes], ttl_seconds: float, *, recent: str | None = None) -> None:
        """Store `items` for `ttl_seconds`; with `recent`, mark them as just used in that recency list."""

    def hot(self, recent: str, start: int, count: int) -> list[tuple[str, bytes | None]]:
        """The keys at positions `start` to `start + count` of the recency list, most recently used first,
        with their values (None: expired); fewer at the list's end, none when unavailable."""

    def probe(self) -> SharedCacheStatus:
        """Ping the backend now (for /health); a success ends a pause after failures."""

    def close(self) -> None:
        """Release the connections."""
