"""Dynamic micro-batching shared by the embedder implementations.

Why: one short query costs a few ms on the local model, a batch of 64 much less per sentence, and a remote
API charges a round trip per request. So concurrent `embed` calls are queued and a background task turns
them into batches: it waits at most `max_wait_ms` for a batch to fill (texts that arrive while the model is
busy batch up by themselves), and a text already queued or under way is never embedded twice.

Cost grows steeply with length and a batch pads to its longest member, so texts are grouped into
power-of-two buckets of (estimated) token length and a batch is capped at `max_batch_tokens` padded tokens
(measured: long texts get no cheaper per text in bigger batches, they only block longer). Short buckets go
first. With `long_lane_tokens` set, longer texts run in a lane of their own, concurrently with short ones, so
a query never waits behind a batch of documents. A text that has waited longer than `max_delay_s` goes first
in its lane, whatever its length, so nothing starves.

With `max_pending` set, at most that many distinct texts are in flight (queued or in a batch under way): a
call whose new texts would pass it is refused whole with Overloaded (503 with Retry-After) before anything
is queued, instead of waiting behind an ever longer queue. `background` calls (jobs) are never refused: their
work is already bounded by the number of workers, and a refused chunk would only fail and be retried; they
still count towards the bound, so requests meet the load that jobs put on the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link

from membank.errors import EmbeddingServiceError, MemBankError, Overloaded
from membank.providers.embedders.cache import VectorCache, local_embedding_cache, text_digest
from membank.providers.embedders.ports import Vectors

__all__ = [
    "INPUT_REJECTED",
    "BatchStats",
    "MicroBatcher",
    "as_unit_vectors",
    "clean_text",
    "estimate_tokens",
    "observe_batches",
    "observe_embed_calls",
]

logger = logging.getLogger(__name__)
_tracer = trace.get_tracer("membank")

#: Set in an EmbeddingServiceError's details when the service rejected the input itself (HTTP 400):
#: the batcher then retries the texts of the batch one by one, so only the bad one fails.
INPUT_REJECTED = "input_rejected"

RunBatch = Callable[[list[str]], Awaitable[Vectors]]
LengthOf = Callable[[str], int]
#: Told of every model (or API) call: its number of texts, its seconds, and whether it answered.
BatchObserver = Callable[[int, float, bool], None]
_batch_observers: list[BatchObserver] = []


def observe_batches(observer: BatchObserver) -> None:
    """Tell `observer` of every batch of every embedder of the process (the metrics register here: the
    providers know nothing of them)."""
    _batch_observers.append(observer)


#: Told of every `embed` call, in the caller's context: its number of texts (cached ones included).
EmbedCallObserver = Callable[[int], None]
_call_observers: list[EmbedCallObserver] = []


def observe_embed_calls(observer: EmbedCallObserver) -> None:
    """Tell `observer` of every `embed` call of every embedder of the process, in the caller's context (the
    usage meter counts them for the caller's tenant)."""
    _call_observers.append(observer)


def _notify(size: int, seconds: float, ok: bool) -> None:
    for observer in _batch_observers:
        observer(size, seconds, ok)


def estimate_tokens(text: str) -> int:
    """A cheap WordPiece length estimate (~4 UTF-8 bytes per token for English, ~1 per CJK character).

    Only used to group texts of similar length, so the tokenizer never runs on the event loop.
    """
    return len(text.encode("utf-8", "surrogatepass")) // 4 + 2


def clean_text(text: str) -> str:
    """The text with lone surrogates replaced: they cannot be UTF-8 encoded (for the Rust tokenizer or
    JSON), and one bad text must not fail the batch it shares."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def as_unit_vectors(vectors: Vectors) -> Vectors:
    """L2-normalise rows (as sentence-transformers' Normalize: divide by max(norm, 1e-12))."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
    return unit


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
    refused: int = 0  # calls refused with Overloaded (max_pending)
    batch_sizes: list[int] = field(default_factory=list, repr=False)  # the first 10,000

    def record_batch(self, size: int) -> None:
        self.batches += 1
        self.texts_embedded += size
        if len(self.batch_sizes) < 10_000:
            self.batch_sizes.append(size)


@dataclass
class _Item:
    key: str
    text: str
    tokens: int
    enqueued: float
    future: asyncio.Future[Vectors]
    share: bool  # a query: its vector goes to the shared cache too
    trace: otel_context.Context  # the trace of the call that queued it


def _bucket(tokens: int) -> int:
    """Power-of-two length classes: <=16, <=32, <=64, <=128, ... tokens."""
    return max(0, (tokens - 1).bit_length() - 4)


def _consume_exception(future: asyncio.Future[Vectors]) -> None:
    # Every caller awaiting this future may have been cancelled; avoid "exception was never retrieved".
    if not future.cancelled():
        future.exception()


class MicroBatcher:
    """Queues texts from concurrent callers and runs them through `run_batch` in length-grouped batches.

    `run_batch` receives up to `batch_size` texts (about `max_batch_tokens` padded tokens, at least one
    text) and returns their L2-normalised vectors in order. Up to `max_concurrency` batches run at once, plus
    up to `long_lane_concurrency` batches of texts longer than `long_lane_tokens` when that is set.
    Vectors are kept in `cache` (an in-process LRU of `cache_size` vectors when none is given).
    """

    def __init__(
        self,
        run_batch: RunBatch,
        *,
        dim: int,
        batch_size: int,
        max_wait_ms: float,
        cache_size: int = 0,
        cache: VectorCache | None = None,
        max_batch_tokens: int = 512,
        length_of: LengthOf = estimate_tokens,
        max_tokens: int | None = None,
        max_concurrency: int = 1,
        long_lane_tokens: int | None = None,
        long_lane_concurrency: int = 1,
        max_delay_s: float = 1.0,
        max_pending: int | None = None,
    ) -> None:
        if min(batch_size, max_concurrency, long_lane_concurrency, max_batch_tokens, max_pending or 1) < 1:
            raise ValueError("batch sizes, concurrencies and the pending bound must be positive")
        self.max_pending = max_pending
        self._run_batch = run_batch
        self.dim = dim
        self.batch_size = batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self.max_batch_tokens = max_batch_tokens
        self.max_delay_s = max_delay_s
        self._length_of = length_of
        self._max_tokens = max_tokens
        self._first_long_bucket = None if long_lane_tokens is None else _bucket(long_lane_tokens) + 1
        self._capacity = (max_concurrency, long_lane_concurrency)
        self._busy = [0, 0]
        self.cache = cache if cache is not None else local_embedding_cache(dim, cache_size)
        self.stats = BatchStats()
        self._buckets: dict[int, deque[_Item]] = {}
        self._inflight: dict[str, asyncio.Future[Vectors]] = {}
        self._wakeup = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
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

    @property
    def in_flight(self) -> int:
        """Distinct texts queued or in a batch under way."""
        return len(self._inflight)

    async def embed(self, texts: Sequence[str], *, query: bool = False, background: bool = False) -> Vectors:
        """Vectors for `texts` in order: from the cache, from a batch already under way, or queued. For a
        `query`, the shared cache is asked for what the local one misses, and gets what is embedded.
        Overloaded when the new texts would pass `max_pending` (unless `background`)."""
        if self._closed:
            raise EmbeddingServiceError("the embedder is closed")
        if not background and self.max_pending is not None:
            self._refuse_past_bound(texts, self.max_pending)
        self.stats.requests += 1
        self.stats.texts += len(texts)
        for observer in _call_observers:
            observer(len(texts))
        keys = [text_digest(text) for text in texts]
        rows: list[Vectors | asyncio.Future[Vectors] | None] = [self.cache.get_local(key) for key in keys]
        missing = [i for i, row in enumerate(rows) if row is None]
        if query and missing and self.cache.shared:
            for i, vector in zip(
                missing, await self.cache.get_shared([keys[i] for i in missing]), strict=True
            ):
                rows[i] = vector
        self.stats.cache_hits += sum(row is not None for row in rows)
        same_loop = self._loop is asyncio.get_running_loop()
        waiting: set[asyncio.Future[Vectors]] = set()
        for i, row in enumerate(rows):
            if row is not None:
                continue
            future = self._inflight.get(keys[i]) if same_loop else None
            if future is None:
                future = self._enqueue(keys[i], texts[i], share=query)
                same_loop = True
            else:
                self.stats.deduplicated += 1
            rows[i] = future
            waiting.add(future)
        if waiting:
            self._ensure_worker()
            # asyncio.wait, unlike gather, does not cancel the futures when this caller is cancelled:
            # other callers may be waiting on the same (deduplicated) texts.
            await asyncio.wait(waiting)
        if not rows:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.stack(
            [row.result() if isinstance(row, asyncio.Future) else row for row in rows if row is not None]
        )

    async def warm_cache(self, count: int, timeout_seconds: float) -> int:
        """Load the most recently used query vectors of the shared cache into the local one (at start)."""
        return await self.cache.warm(count, timeout_seconds)

    def _refuse_past_bound(self, texts: Sequence[str], bound: int) -> None:
        same_loop = self._loop is asyncio.get_running_loop()
        in_flight = len(self._inflight) if same_loop else 0  # another loop's leftovers are dropped on enqueue
        new = {
            key
            for key in map(text_digest, texts)
            if not (same_loop and key in self._inflight) and not self.cache.holds_local(key)
        }
        if new and in_flight + len(new) > bound:
            self.stats.refused += 1
            raise Overloaded(
                f"the embedder has {in_flight} texts in flight (at most {bound}); retry shortly",
                retry_after=1,
                details={"in_flight": in_flight, "limit": bound, "requested": len(new)},
            )

    async def aclose(self) -> None:
        """Stop the worker, wait for the batches under way, fail the texts still queued."""
        self._closed = True
        if self._loop is not asyncio.get_running_loop():
            self._worker = None  # what another loop left behind cannot be awaited from here
            self._running.clear()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._running:
            await asyncio.wait(set(self._running))
        self._fail_pending(EmbeddingServiceError("the embedder was closed before the text was embedded"))
        self._inflight.clear()

    # -- queueing -----------------------------------------------------------------------------------

    def _enqueue(self, key: str, text: str, *, share: bool) -> asyncio.Future[Vectors]:
        loop = self._bind_loop()
        future: asyncio.Future[Vectors] = loop.create_future()
        future.add_done_callback(_consume_exception)
        tokens = max(1, self._length_of(text))
        if self._max_tokens is not None:
            tokens = min(tokens, self._max_tokens)
        item = _Item(key, text, tokens, loop.time(), future, share, otel_context.get_current())
        self._buckets.setdefault(_bucket(tokens), deque()).append(item)
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
            self._busy = [0, 0]
            self._wakeup = asyncio.Event()
            self._worker = None
        return loop

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            # A context of its own: the loop outlives the call that started it, whose request id and trace
            # must not mark the batches of later calls.
            self._worker = self._bind_loop().create_task(
                self._work(), name="membank-embed-batcher", context=contextvars.Context()
            )
            self._worker.add_done_callback(self._worker_done)

    def _worker_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        # A bug here must not leave callers waiting forever.
        logger.error("embedding batcher crashed", exc_info=task.exception())
        self._fail_pending(EmbeddingServiceError(f"the embedding batcher failed: {task.exception()!r}"))

    def _fail_pending(self, error: EmbeddingServiceError) -> None:
        for queue in self._buckets.values():
            for item in queue:
                self._inflight.pop(item.key, None)
                if not item.future.done():
                    item.future.set_exception(error)
        self._buckets.clear()

    # -- scheduling ---------------------------------------------------------------------------------

    def _lane(self, bucket: int) -> int:
        return 1 if self._first_long_bucket is not None and bucket >= self._first_long_bucket else 0

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            timeout = self._dispatch(loop)
            self._wakeup.clear()  # nothing can enqueue between _dispatch and here: no await
            if timeout is None:
                await self._wakeup.wait()
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> float | None:
        """Start every batch that is due in a lane with room; the seconds until the next one is due."""
        next_due: float | None = None
        for lane in (0, 1):
            while self._busy[lane] < self._capacity[lane]:
                queues = {b: q for b, q in self._buckets.items() if q and self._lane(b) == lane}
                if not queues:
                    break
                now = loop.time()
                oldest, oldest_bucket = min((q[0].enqueued, b) for b, q in queues.items())
                due = oldest + self.max_wait_s
                if now < due and not any(self._is_full(q) for q in queues.values()):
                    wait = due - now
                    next_due = wait if next_due is None else min(next_due, wait)
                    break
                # Shortest first, even when a longer bucket is the one that filled up: short texts are
                # cheap and usually a query someone waits on. Starving texts go first, whatever their length.
                starving = now >= oldest + self.max_delay_s
                chosen = oldest_bucket if starving else min(queues)
                self._start(self._take(queues[chosen]), lane, loop)
        return next_due

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

    def _start(self, batch: list[_Item], lane: int, loop: asyncio.AbstractEventLoop) -> None:
        self._busy[lane] += 1
        task = loop.create_task(self._run(batch, lane))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[_Item], lane: int) -> None:
        # The batch joins the trace of its first caller and links to those of the others.
        links = [Link(trace.get_current_span(item.trace).get_span_context()) for item in batch[1:]]
        try:
            with _tracer.start_as_current_span(
                "embedding batch",
                context=batch[0].trace,
                links=[link for link in links if link.context.is_valid],
                attributes={
                    "membank.embedding.batch_size": len(batch),
                    "membank.embedding.tokens": sum(item.tokens for item in batch),
                    "membank.embedding.lane": "long" if lane else "short",
                },
            ):
                await self._embed_items(batch, isolate=True)
        finally:
            self._busy[lane] -= 1
            self._wakeup.set()

    async def _embed_items(self, batch: list[_Item], *, isolate: bool) -> None:
        started = time.perf_counter()
        try:
            vectors = await self._run_batch([item.text for item in batch])
            if vectors.shape != (len(batch), self.dim):
                raise EmbeddingServiceError(
                    f"embedder returned shape {vectors.shape}, expected {(len(batch), self.dim)}"
                )
        except Exception as exc:
            _notify(len(batch), time.perf_counter() - started, False)
            self.stats.failed_batches += 1
            if isolate and len(batch) > 1 and _blames_input(exc):
                # One caller's bad text (empty, too long for a remote model) must not fail the others
                # that happened to share its batch: retry them one by one.
                for item in batch:
                    await self._embed_items([item], isolate=False)
                return
            self._fail(batch, exc if isinstance(exc, MemBankError) else _wrap(exc))
        except BaseException as exc:
            self._fail(batch, _wrap(exc))
            raise
        else:
            _notify(len(batch), time.perf_counter() - started, True)
            self.stats.record_batch(len(batch))
            shared: dict[str, Vectors] = {}
            for item, vector in zip(batch, vectors, strict=True):
                stored = np.array(vector, dtype=np.float32, copy=True)
                stored.flags.writeable = False
                self.cache.put_local(item.key, stored)
                if item.share:
                    shared[item.key] = stored
                self._inflight.pop(item.key, None)
                if not item.future.done():
                    item.future.set_result(vector)
            if shared and self.cache.shared:
                self._share(shared)

    def _share(self, vectors: dict[str, Vectors]) -> None:
        # Off the batch's path: the next batch need not wait for Redis.
        assert self._loop is not None
        task = self._loop.create_task(self.cache.put_shared(vectors))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    def _fail(self, batch: list[_Item], error: BaseException) -> None:
        for item in batch:
            self._inflight.pop(item.key, None)
            if not item.future.done():
                item.future.set_exception(error)


def _blames_input(exc: Exception) -> bool:
    return isinstance(exc, EmbeddingServiceError) and bool(exc.details.get(INPUT_REJECTED))


def _wrap(exc: BaseException) -> EmbeddingServiceError:
    if isinstance(exc, asyncio.CancelledError):
        return EmbeddingServiceError("embedding was cancelled")
    return EmbeddingServiceError(f"embedding failed: {type(exc).__name__}: {exc}")
