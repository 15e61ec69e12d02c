"""Any OpenAI-compatible `/v1/embeddings` API: OpenAI, Ollama, vLLM, llama.cpp server, TEI.

Requests are batched and cached like the local model's. 429, 5xx, timeouts and connection errors are
retried with exponential backoff (honouring `Retry-After`); anything else fails at once. Every error is an
EmbeddingServiceError whose message never contains the API key.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
import numpy as np

from membank.cache import SharedCache
from membank.config import Settings
from membank.errors import EmbeddingServiceError
from membank.providers._http import (
    Retryable,
    error_text,
    propagate_trace,
    redact,
    retryable_response,
    transport_failure,
    with_retries,
)
from membank.providers.embedders.batching import (
    INPUT_REJECTED,
    BatchStats,
    MicroBatcher,
    as_unit_vectors,
    clean_text,
)
from membank.providers.embedders.cache import embedding_cache
from membank.providers.embedders.ports import Vectors

__all__ = ["OpenAIEmbedder"]


class OpenAIEmbedder:
    """The `Embedder` port over an OpenAI-compatible embeddings API.

    `base_url` ends with the API version (`https://api.openai.com/v1`, `http://127.0.0.1:11434/v1`).
    `stats.batches` counts successful API calls, `http_requests` every request sent (retries included).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        max_attempts: int = 5,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        max_concurrency: int = 4,
        max_batch_tokens: int = 65_536,
        shared_cache: SharedCache | None = None,
    ) -> None:
        self._settings = settings
        self._base_url = settings.openai_embedder_base_url.rstrip("/")
        self._model = settings.openai_embedder_model
        key = settings.openai_embedder_api_key
        self._api_key = key.get_secret_value() if key is not None else ""
        self._timeout = settings.openai_embedder_timeout
        self._max_attempts = max_attempts
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._client: httpx.AsyncClient | None = None
        self.http_requests = 0
        self._batcher = MicroBatcher(
            self._run_batch,
            dim=settings.embedding_dim,
            batch_size=settings.embedder_batch_size,
            max_wait_ms=settings.embedder_max_wait_ms,
            cache=embedding_cache(settings, self.model_id, shared_cache),
            max_batch_tokens=max_batch_tokens,
            max_concurrency=max_concurrency,
            max_pending=settings.embedder_max_pending,
        )

    @property
    def dim(self) -> int:
        return self._settings.embedding_dim

    @property
    def model_id(self) -> str:
        return f"openai:{self._model}"

    @property
    def stats(self) -> BatchStats:
        """Counters: `batches` is the number of successful API calls, `cache_hits`, `deduplicated`, ..."""
        return self._batcher.stats

    @property
    def batcher(self) -> MicroBatcher:
        return self._batcher

    async def start(self) -> None:
        """Open the connection pool (no request is sent: the service may start after us) and warm the
        cache from the shared one."""
        if self._client is not None:
            return
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        self._client = httpx.AsyncClient(
            base_url=self._base_url + "/",
            headers=headers,
            timeout=httpx.Timeout(self._timeout),
            event_hooks={"request": [propagate_trace]},
        )
        await self._batcher.warm_cache(self._settings.cache_warmup_count, self._settings.cache_warmup_seconds)

    async def embed(self, texts: Sequence[str], *, query: bool = False, background: bool = False) -> Vectors:
        """Vectors for `texts` in order (cached, batched with concurrent callers); Overloaded past
        MEMBANK_EMBEDDER_MAX_PENDING texts in flight, unless `background`."""
        if self._client is None and not self._batcher.closed:
            await self.start()
        return await self._batcher.embed(texts, query=query, background=background)

    async def aclose(self) -> None:
        """Stop the batcher, then close the connection pool."""
        await self._batcher.aclose()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def _run_batch(self, texts: list[str]) -> Vectors:
        try:
            return await with_retries(
                lambda: self._request(texts),
                attempts=self._max_attempts,
                initial=self._backoff_initial,
                maximum=self._backoff_max,
            )
        except Retryable as exc:
            raise EmbeddingServiceError(
                self._redact(f"embedding service failed after {self._max_attempts} attempts: {exc.reason}"),
                details={"status": exc.status, "attempts": self._max_attempts},
            ) from None

    async def _request(self, texts: list[str]) -> Vectors:
        client = self._client
        if client is None:
            raise EmbeddingServiceError("the embedder is closed")
        payload = {"model": self._model, "input": [clean_text(t) for t in texts], "encoding_format": "float"}
        self.http_requests += 1
        try:
            response = await client.post("embeddings", json=payload)
        except httpx.TransportError as exc:
            raise transport_failure(exc, self._api_key) from None
        retryable = retryable_response(response)
        if retryable is not None:
            raise retryable
        status = response.status_code
        if status >= 400:
            raise EmbeddingServiceError(
                self._redact(
                    f"embedding service answered HTTP {status}: {error_text(response, self._api_key)}"
                ),
                details={"status": status, INPUT_REJECTED: status in (400, 413, 422)},
            )
        return self._parse(response, len(texts))

    def _parse(self, response: httpx.Response, count: int) -> Vectors:
        try:
            body = response.json()
            rows = sorted(body["data"], key=lambda row: int(row["index"]))
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise EmbeddingServiceError(
                f"embedding service sent a malformed response ({type(exc).__name__})"
            ) from None
        if vectors.ndim != 2 or vectors.shape[0] != count:
            raise EmbeddingServiceError(
                f"embedding service returned {vectors.shape[0]} vectors for {count} texts"
            )
        if vectors.shape[1] != self.dim:
            raise EmbeddingServiceError(
                f"model {self._model!r} returned {vectors.shape[1]}-d vectors but MEMBANK_EMBEDDING_DIM is "
                f"{self.dim}",
                details={"expected_dim": self.dim, "actual_dim": int(vectors.shape[1])},
            )
        if not np.isfinite(vectors).all() or (np.linalg.norm(vectors, axis=1) == 0).any():
            raise EmbeddingServiceError("embedding service returned non-finite or zero vectors")
        return as_unit_vectors(vectors)

    def _redact(self, message: str) -> str:
        return redact(message, self._api_key)
