"""The embedder port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors of `dim` dimensions.

    Implementations batch concurrent calls and cache by text; `embed` is safe to call from many
    coroutines at once and never blocks the event loop.
    """

    @property
    def dim(self) -> int:
        """Vector size."""

    @property
    def model_id(self) -> str:
        """Identifies the model; stored next to every vector."""

    async def embed(self, texts: Sequence[str], *, query: bool = False, background: bool = False) -> Vectors:
        """Vectors for `texts`, shape (len(texts), dim), in order. Raises EmbeddingServiceError, and
        Overloaded (nothing queued) when the embedder already has as many texts in flight as it may take;
        `background` work (jobs, bounded by the number of workers) is never refused.

        `query`: the texts are search queries, which every process may be asked again, so their vectors are
        also looked up in and kept in the shared cache when one is configured."""

    async def start(self) -> None:
        """Load the model / open connections; warm the cache with the hottest shared query vectors."""

    async def aclose(self) -> None:
        """Stop background work and release resources."""
