"""The LRU embedding cache shared by the embedder implementations."""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np

from membank.providers.embedders.ports import Vectors

__all__ = ["CacheKey", "EmbeddingCache", "cache_key"]

CacheKey = bytes


def cache_key(text: str) -> CacheKey:
    """A 128-bit digest: the cache holds no texts (they may be personal data) and keys stay small."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class EmbeddingCache:
    """LRU of vectors keyed by `cache_key(text)`; `capacity` 0 disables it. Not thread-safe: use it
    from the event loop only. Stored vectors are read-only copies."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: OrderedDict[CacheKey, Vectors] = OrderedDict()

    def get(self, key: CacheKey) -> Vectors | None:
        vector = self._items.get(key)
        if vector is not None:
            self._items.move_to_end(key)
        return vector

    def put(self, key: CacheKey, vector: Vectors) -> None:
        if self.capacity <= 0:
            return
        stored = np.array(vector, dtype=np.float32, copy=True)
        stored.flags.writeable = False
        self._items[key] = stored
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
