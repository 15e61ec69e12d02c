"""The embedders' cache of vectors: a two-layer cache keyed by model, dimension and a digest of the text.

Vectors are not user-specific, so one entry serves every tenant. The keys hold no text (it may be personal
data), only a 128-bit digest. L1 holds every vector the embedder made; the shared L2 (Redis, when configured)
only query vectors, which other processes will ask for again (documents are embedded once, when written).
"""

from __future__ import annotations

import hashlib
import math

from membank.cache import SharedCache, TieredCache, VectorCodec
from membank.config import Settings
from membank.providers.embedders.ports import Vectors

__all__ = ["VectorCache", "embedding_cache", "local_embedding_cache", "text_digest"]

VectorCache = TieredCache[Vectors]


def text_digest(text: str) -> str:
    """A 128-bit digest of the text, in hex."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def embedding_cache(settings: Settings, model_id: str, shared: SharedCache | None) -> VectorCache:
    """The cache of one model's vectors, shared through `shared` when given."""
    dim = settings.embedding_dim
    return TieredCache(
        "embeddings",
        VectorCodec(dim),
        l1_size=settings.embedding_cache_size,
        l1_ttl_seconds=settings.embedding_cache_ttl_seconds,
        namespace=f"emb:{model_id}:{dim}:",
        l2=shared,
        l2_ttl_seconds=settings.embedding_cache_ttl_seconds,
        track_recent=settings.cache_recent_limit > 0,
    )


def local_embedding_cache(dim: int, size: int) -> VectorCache:
    """An in-process LRU of `size` vectors (0: none), for a batcher built without settings."""
    return TieredCache(
        "embeddings", VectorCodec(dim), l1_size=size, l1_ttl_seconds=math.inf, namespace="emb:"
    )
