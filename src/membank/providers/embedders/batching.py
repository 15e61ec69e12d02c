"""Dynamic micro-batching and an LRU cache shared by the embedder implementations.

Why: one short query costs ~2.5 ms on the local model but a batch of 64 costs ~1.7 ms per sentence, and a
remote API charges a round trip per request. So concurrent `embed` calls are queued and a background task
turns them into batches. Cost grows steeply with length and a batch pads to its longest member, so texts are
grouped by (estimated) token length: a long document never pads a batch of short queries, and short buckets
go first (queries wait on them; documents are usually ingested by background jobs). An item that has waited
longer than `max_delay_s` is served first, whatever its length, so long texts are not starved.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from membank.errors import EmbeddingServiceError, MemBankError
from membank.providers.embedders.ports import Vectors

__all__ = ["BatchStats", "EmbeddingCache", "MicroBatcher", "as_unit_vectors", "cache_key", "estimate_tokens"]

RunBatch = Callable[[list[str]], Awaitable[Vectors]]
LengthOf = Callable[[str], int]
CacheKey = bytes


def cache_key(text: str) -> CacheKey:
    """A 128-bit digest: the cache holds no texts (they may be personal data) and keys stay small."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def estimate_tokens(text: str) -> int:
    """A cheap WordPiece length estimate (~4 UTF-8 bytes per token for English, ~1 per CJK character).

    Only used to group texts of similar length; it never needs the tokenizer on the event loop.
    """
    return len(text.encode("utf-8", "surrogatepass")) // 4 + 2


class EmbeddingCache:
    """LRU of vectors keyed by a hash of the text; `capacity` 0 disables it."""

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


@dataclass
class BatchStats:
    """Counters for tests, benchmarks and metrics. `batches` is the number of model (or API) calls."""

    requests: int = 0
    texts: int = 0
    cache_hits: int = 0
    deduplicated: int = 0
    batches: int = 0
    texts_embedded: int = 0
    failed_batches: int = 0
    batch_sizes: list[int] = field(default_factory=list, repr=False)

    def record_batch(self, size: int) -> None:
        self.batches += 1
        self.texts_embedded += size
        if len(self.batch_sizes) < 10_000:
            self.batch_sizes.append(size)


@dataclass
class _Item:
    key: CacheKey
    text: str
    tokens: int
    enqueued: float
    future: asyncio.Future[Vectors]


def _bucket(tokens: int) -> int:
    """Power-of-two length classes: <=16, <=32, <=64, <=128, ... tokens."""
    return max(0, (tokens - 1).bit_length() - 4)


def _consume_exception(future: asyncio.Future[Vectors]) -> None:
    # Every caller awaiting this future may have been cancelled; avoid "exception was never retrieved".
    if not future.cancelled():
        future.exception()


class MicroBatcher:
    """Queues texts from concurrent callers and runs them through `run_batch` in length-grouped batches.

    `run_batch` receives up to `batch_size` texts (and about `max_batch_tokens` tokens, but always at least
    one text) and returns their L2-normalised vectors in order. At most `max_concurrency` batches run at once.
    """

    def __init__(
        self,
        run_batch: RunBatch,
        *,
        dim: int,
        batch_size: int,
        max_wait_ms: float,
        cache_size: int,
        max_batch_tokens: int = 2048,
        length_of: LengthOf = estimate_tokens,
        max_tokens: int | None = None,
        max_concurrency: int = 1,
        max_delay_s: float = 1.0,
    ) -> None:
        if batch_size < 1 or max_concurrency < 1 or max_batch_tokens < 1:
            raise ValueError("batch_size, max_concurrency and max_batch_tokens must be positive")
        self._run_batch = run_batch
        self.dim = dim
        self.batch_size = batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self.max_batch_tokens = max_batch_tokens
        self.max_delay_s = max_delay_s
        self._length_of = length_of
        self._max_tokens = max_tokens
        self._max_concurrency = max_concurrency
        self.cache = EmbeddingCache(cache_size)
        self.stats = BatchStats()
        self._buckets: dict[int, deque[_Item]] = {}
        self._inflight: dict[CacheKey, asyncio.Future[Vectors]] = {}
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots: asyncio.Semaphore | None = None
        self._worker: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Texts queued and not yet handed to a batch."""
        return sum(len(q) for q in self._buckets.values())

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Vectors for `texts` in order: from the cache, from a batch already under way, or queued."""
        if self._closed:
            raise EmbeddingServiceError("the embedder is closed")
        self.stats.requests += 1
        self.stats.texts += len(texts)
        rows: list[Vectors | asyncio.Future[Vectors]] = []
        waiting: set[asyncio.Future[Vectors]] = set()
        for text in texts:
            key = cache_key(text)
            cached = self.cache.get(key)
            if cached is not None:
                self.stats.cache_hits += 1
                rows.append(cached)
                continue
            future = self._inflight.get(key) if self._loop is asyncio.get_running_loop() else None
            if future is None:
                future = self._enqueue(key, text)
            else:
                self.stats.deduplicated += 1
            rows.append(future)
            waiting.add(future)
        if waiting:
            self._ensure_worker()
            # asyncio.wait, unlike gather, does not cancel the futures when this caller is cancelled:
            # other callers may be waiting on the same (deduplicated) texts.
            await asyncio.wait(waiting)
        if not rows:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.stack([row.result() if isinstance(row, asyncio.Future) else row for row in rows])

    def _enqueue(self, key: CacheKey, text: str) -> asyncio.Future[Vectors]:
        loop = self._bind_loop()
        future: asyncio.Future[Vectors] = loop.create_future()
        future.add_done_callback(_consume_exception)
        tokens = max(1, self._length_of(text))
        if self._max_tokens is not None:
            tokens = min(tokens, self._max_tokens)
        self._buckets.setdefault(_bucket(tokens), deque()).append(
            _Item(key, text, tokens, loop.time(), future)
        )
        self._inflight[key] = future
        self._wakeup.set()
        return future

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        """The batcher serves one event loop at a time; moving to another (asyncio.run per CLI command,
        a test per loop) abandons what the old loop left behind, which nobody can await any more."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._buckets.clear()
            self._inflight.clear()
            self._running.clear()
            self._wakeup = asyncio.Event()
            self._worker = None
        return loop

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._slots = asyncio.Semaphore(self._max_concurrency)
            self._worker = self._bind_loop().create_task(self._work(), name="membank-embed-batcher")

    async def _work(self) -> None:
        assert self._slots is not None
        slots = self._slots
        while True:
            await slots.acquire()
            try:
                batch = await self._next_batch()
            except BaseException:
                slots.release()
                raise
            task = asyncio.get_running_loop().create_task(self._run(batch, slots))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _next_batch(self) -> list[_Item]:
        loop = asyncio.get_running_loop()
        while True:
            heads = [(q[0].enqueued, b) for b, q in self._buckets.items() if q]
            if not heads:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            now = loop.time()
            oldest, oldest_bucket = min(heads)
            full = [b for b, q in self._buckets.items() if self._is_full(q)]
            if full or now >= oldest + self.max_wait_s:
                if now >= oldest + self.max_delay_s:
                    chosen = oldest_bucket
                elif full:
                    chosen = min(full)
                else:
                    chosen = min(b for _, b in heads)
                return self._take(self._buckets[chosen])
            self._wakeup.clear()
            try:
                async with asyncio.timeout(oldest + self.max_wait_s - now):
                    await self._wakeup.wait()
            except TimeoutError:
                pass

    def _is_full(self, queue: deque[_Item]) -> bool:
        if len(queue) >= self.batch_size:
            return True
        return max(item.tokens for item in queue) * len(queue) >= self.max_batch_tokens

    def _take(self, queue: deque[_Item]) -> list[_Item]:
        batch = [queue.popleft()]
        longest = batch[0].tokens
        while queue and len(batch) < self.batch_size:
            longest = max(longest, queue[0].tokens)
            # The batch pads to its longest member, so that is what it costs.
            if longest * (len(batch) + 1) > self.max_batch_tokens:
                break
            batch.append(queue.popleft())
        return batch

    async def _run(self, batch: list[_Item], slots: asyncio.Semaphore) -> None:
        try:
            vectors = await self._run_batch([item.text for item in batch])
            if vectors.shape != (len(batch), self.dim):
                raise EmbeddingServiceError(
                    f"embedder returned shape {vectors.shape}, expected {(len(batch), self.dim)}"
                )
        except BaseException as exc:
            self.stats.failed_batches += 1
            error = exc if isinstance(exc, MemBankError) else _wrap(exc)
            for item in batch:
                self._inflight.pop(item.key, None)
                if not item.future.done():
                    item.future.set_exception(error)
            if not isinstance(exc, Exception):
                raise
        else:
            self.stats.record_batch(len(batch))
            for item, vector in zip(batch, vectors, strict=True):
                self.cache.put(item.key, vector)
                self._inflight.pop(item.key, None)
                if not item.future.done():
                    item.future.set_result(vector)
        finally:
            slots.release()

    async def aclose(self) -> None:
        """Stop the worker, fail queued texts, wait for batches under way."""
        self._closed = True
        if self._loop is not asyncio.get_running_loop():
            self._loop = None  # what another loop left behind cannot be awaited from here
            self._worker = None
            self._running.clear()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._running:
            await asyncio.wait(set(self._running))
        error = EmbeddingServiceError("the embedder was closed before the text was embedded")
        for queue in self._buckets.values():
            for item in queue:
                if not item.future.done():
                    item.future.set_exception(error)
        self._buckets.clear()
        self._inflight.clear()


def _wrap(exc: BaseException) -> EmbeddingServiceError:
    if isinstance(exc, asyncio.CancelledError):
        return EmbeddingServiceError("embedding was cancelled")
    return EmbeddingServiceError(f"embedding failed: {type(exc).__name__}: {exc}")


def as_unit_vectors(vectors: Vectors) -> Vectors:
    """L2-normalise rows (as sentence-transformers' Normalize: divide by max(norm, 1e-12))."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return unit
