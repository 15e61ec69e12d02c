"""A two-layer cache: an in-process L1 (cachetools, LRU with a TTL) over an optional shared L2 (Redis).

Reads try L1, then L2 for what L1 missed (one round trip for many keys), and keep L2 hits in L1. Writes go to
both. The L1 is touched only from the event loop (cachetools is not thread-safe); L2 calls run in a thread
because the shared cache's client is blocking. Values in L1 are the decoded objects; in L2 the codec's framed
bytes, so a value that fails to decode is a miss, never an answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar

from cachetools import TTLCache

from membank.cache.codecs import Codec
from membank.cache.ports import SharedCache
from membank.cache.stats import CacheStats, record

__all__ = ["TieredCache"]

T = TypeVar("T")
_WARM_CHUNK = 200


class TieredCache(Generic[T]):
    """L1 of `l1_size` entries living `l1_ttl_seconds`; L2 (when given) entries living `l2_ttl_seconds`.

    `name` is the metric label (a fixed word), `namespace` prefixes every key in L2 (e.g. `emb:<model>:`).
    With `track_recent`, L2 keeps a recency list of this cache's keys so `warm` can load the hottest ones
    into L1 when a process starts. A size or TTL of 0 turns that layer off.
    """

    def __init__(
        self,
        name: str,
        codec: Codec[T],
        *,
        l1_size: int,
        l1_ttl_seconds: float,
        namespace: str,
        l2: SharedCache | None = None,
        l2_ttl_seconds: float = 0.0,
        track_recent: bool = False,
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.stats = CacheStats()
        self._codec = codec
        self._l1: TTLCache[str, T] | None = (
            TTLCache(maxsize=l1_size, ttl=l1_ttl_seconds) if l1_size > 0 and l1_ttl_seconds > 0 else None
        )
        self._l2 = l2 if l2_ttl_seconds > 0 else None
        self._l2_ttl = l2_ttl_seconds
        self._recent = f"{namespace}recent" if track_recent else None

    @property
    def shared(self) -> bool:
        """Whether an L2 is configured."""
        return self._l2 is not None

    def __len__(self) -> int:
        return 0 if self._l1 is None else len(self._l1)

    def clear_local(self) -> None:
        if self._l1 is not None:
            self._l1.clear()

    # -- L1 only (synchronous) ----------------------------------------------------------------------

    def get_local(self, key: str) -> T | None:
        """The L1 entry for `key`, counted as an l1 hit or miss."""
        value = None if self._l1 is None else self._l1.get(key)
        record(self.stats, self.name, "l1", int(value is not None), int(value is None))
        return value

    def holds_local(self, key: str) -> bool:
        """Whether L1 has `key`, not counted (a check before the lookup that is counted)."""
        return self._l1 is not None and key in self._l1

    def put_local(self, key: str, value: T) -> None:
        if self._l1 is not None:
            self._l1[key] = value

    # -- both layers --------------------------------------------------------------------------------

    async def get(self, key: str) -> T | None:
        return (await self.get_many([key]))[0]

    async def put(self, key: str, value: T) -> None:
        await self.put_many({key: value})

    async def get_many(self, keys: Sequence[str]) -> list[T | None]:
        """Values of `keys` in order from L1, then L2; None where neither has it."""
        found: list[T | None] = [self.get_local(key) for key in keys]
        missing = [i for i, value in enumerate(found) if value is None]
        if missing:
            for i, value in zip(missing, await self.get_shared([keys[i] for i in missing]), strict=True):
                found[i] = value
        return found

    async def get_shared(self, keys: Sequence[str]) -> list[T | None]:
        """L2 lookups for keys L1 missed (all None without an L2); hits are kept in L1."""
        if self._l2 is None or not keys:
            return [None] * len(keys)
        raw = await asyncio.to_thread(
            self._l2.get_many, [self.namespace + key for key in keys], recent=self._recent
        )
        values: list[T | None] = []
        corrupt = 0
        for key, data in zip(keys, raw, strict=True):
            value = None
            if data is not None:
                try:
                    value = self._codec.decode(self.namespace + key, data)
                except ValueError:
                    corrupt += 1
            if value is not None:
                self.put_local(key, value)
            values.append(value)
        hits = sum(v is not None for v in values)
        record(self.stats, self.name, "l2", hits, len(keys) - hits, corrupt)
        return values

    async def put_many(self, items: Mapping[str, T]) -> None:
        """Store in L1 and L2."""
        for key, value in items.items():
            self.put_local(key, value)
        await self.put_shared(items)

    async def put_shared(self, items: Mapping[str, T]) -> None:
        if self._l2 is None or not items:
            return
        encoded = {self.namespace + k: self._codec.encode(self.namespace + k, v) for k, v in items.items()}
        await asyncio.to_thread(self._l2.set_many, encoded, self._l2_ttl, recent=self._recent)

    async def warm(self, count: int, timeout_seconds: float) -> int:
        """Load up to `count` of the most recently used L2 entries into L1 within about `timeout_seconds`;
        the number loaded. Nothing to do without an L1, an L2 or a recency list."""
        if self._l2 is None or self._l1 is None or self._recent is None or count <= 0:
            return 0
        deadline = time.monotonic() + timeout_seconds
        loaded = 0
        # Chunks, hottest first, so a short budget still loads the hottest entries.
        for start in range(0, count, _WARM_CHUNK):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            want = min(_WARM_CHUNK, count - start)
            try:
                async with asyncio.timeout(remaining):
                    pairs = await asyncio.to_thread(self._l2.hot, self._recent, start, want)
            except TimeoutError:
                break
            for full_key, data in pairs:
                key = full_key.removeprefix(self.namespace)
                if data is None or key == full_key or key in self._l1:
                    continue
                try:
                    self._l1[key] = self._codec.decode(full_key, data)
                except ValueError:
                    continue
                loaded += 1
            if len(pairs) < want:
                break
        return loaded
