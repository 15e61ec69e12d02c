"""Embedder micro-benchmarks: the raw ONNX model and the micro-batching `OnnxEmbedder` on top of it.

.venv/bin/python -m bench.embedder_bench                  # 2 threads, about a minute on 2 cores
.venv/bin/python -m bench.embedder_bench --threads 1 --quick

Measures: single-query latency (model and embedder), per-sentence cost in batches of 64, and throughput with
8 / 32 concurrent single-text callers through the batcher (for max_wait_ms 0 and 2). The cache is off so the
model, not the cache, is measured; every text is distinct. Wall-clock numbers depend on what else runs on
the machine (the load average is recorded); process CPU time per sentence depends on it less.
Writes bench/results/embedder.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from bench.common import latency_summary, log, write_result
from bench.texts import TextGen
from membank.config import Settings
from membank.providers.embedders.onnx import (
    OnnxEmbedder,
    OnnxModel,
    default_model_path,
    default_tokenizer_path,
)


def distinct_texts(seed: int = 1) -> Iterator[str]:
    gen, seen = TextGen(seed), set()
    while True:
        text = gen.memory(f"user-{gen.rng.randint(0, 999)}")
        if text not in seen:
            seen.add(text)
            yield text


def ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def bench_model(model: OnnxModel, texts: Iterator[str], runs: int) -> dict[str, Any]:
    for _ in range(10):
        model.embed([next(texts)])
    single = []
    for _ in range(runs):
        text = next(texts)
        started = time.perf_counter()
        model.embed([text])
        single.append(time.perf_counter() - started)
    batches = []
    cpu_started = time.process_time()
    for _ in range(max(3, runs // 20)):
        batch = [next(texts) for _ in range(64)]
        started = time.perf_counter()
        model.embed(batch)
        batches.append(time.perf_counter() - started)
    cpu_per_sentence = (time.process_time() - cpu_started) / (64 * len(batches))
    long_text = " ".join(next(texts) for _ in range(30))
    long_runs = []
    for _ in range(max(3, runs // 30)):
        started = time.perf_counter()
        model.embed([long_text])
        long_runs.append(time.perf_counter() - started)
    return {
        "single_p50_ms": ms(float(np.median(single))),
        "single_p95_ms": ms(float(np.percentile(single, 95))),
        "batch64_ms_per_sentence": ms(float(np.median(batches)) / 64),
        "batch64_sentences_per_s": round(64 / float(np.median(batches)), 1),
        "batch64_cpu_ms_per_sentence": ms(cpu_per_sentence),
        "long_text_tokens": model.token_count(long_text),
        "long_text_p50_ms": ms(float(np.median(long_runs))),
    }


async def bench_embedder_single(embedder: OnnxEmbedder, texts: Iterator[str], runs: int) -> dict[str, Any]:
    latencies = []
    for _ in range(runs):
        text = next(texts)
        started = time.perf_counter()
        await embedder.embed([text])
        latencies.append(time.perf_counter() - started)
    return {
        "single_p50_ms": ms(float(np.median(latencies))),
        "single_p95_ms": ms(np.percentile(latencies, 95)),
    }


async def bench_concurrent(
    embedder: OnnxEmbedder, texts: Iterator[str], callers: int, total: int
) -> dict[str, Any]:
    """`callers` coroutines, each embedding one distinct text at a time until `total` are done."""
    pool = [next(texts) for _ in range(total)]
    latencies: list[float] = []
    batches_before = embedder.stats.batches

    async def caller() -> None:
        while pool:
            text = pool.pop()
            started = time.perf_counter()
            await embedder.embed([text])
            latencies.append(time.perf_counter() - started)

    started, cpu_started = time.perf_counter(), time.process_time()
    await asyncio.gather(*(caller() for _ in range(callers)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    batches = embedder.stats.batches - batches_before
    summary = latency_summary(latencies, elapsed)
    return {
        "callers": callers,
        "texts": total,
        "sentences_per_s": round(total / elapsed, 1),
        "ms_per_sentence": ms(elapsed / total),
        "cpu_ms_per_sentence": ms(cpu / total),
        "call_p50_ms": summary["p50_ms"],
        "call_p95_ms": summary["p95_ms"],
        "model_calls": batches,
        "mean_batch_size": round(total / batches, 1),
    }


async def bench_short_under_long_load(
    embedder: OnnxEmbedder, texts: Iterator[str], runs: int
) -> dict[str, Any]:
    """Short queries while a background task keeps ingesting 256-token documents."""
    documents = [" ".join(next(texts) for _ in range(30)) for _ in range(200)]
    stop = asyncio.Event()

    async def ingest() -> None:
        while not stop.is_set() and documents:
            await embedder.embed([documents.pop() for _ in range(min(8, len(documents)))])

    background = asyncio.create_task(ingest())
    await asyncio.sleep(0.2)
    latencies = []
    for _ in range(runs):
        text = next(texts)
        started = time.perf_counter()
        await embedder.embed([text])
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.005)
    stop.set()
    await background
    return {"short_p50_ms": ms(float(np.median(latencies))), "short_p95_ms": ms(np.percentile(latencies, 95))}


async def run_async(model: OnnxModel, settings: Settings, quick: bool) -> dict[str, Any]:
    texts = distinct_texts(seed=2)
    results: dict[str, Any] = {}
    for wait in (0.0, 2.0):
        configured = settings.model_copy(update={"embedder_max_wait_ms": wait})
        embedder = OnnxEmbedder(configured, model=model)
        await embedder.start()
        try:
            entry: dict[str, Any] = await bench_embedder_single(embedder, texts, 100 if quick else 300)
            for callers in (8, 32):
                key = f"concurrent_{callers}"
                entry[key] = await bench_concurrent(embedder, texts, callers, 320 if quick else 1280)
                log(f"max_wait_ms={wait} {key}: {json.dumps(entry[key])}")
            entry["short_under_long_load"] = await bench_short_under_long_load(
                embedder, texts, 30 if quick else 100
            )
        finally:
            await embedder.aclose()
        results[f"embedder_max_wait_{wait:g}ms"] = entry
    return results


def run(threads: int = 2, quick: bool = False) -> dict[str, Any]:
    settings = Settings(embedder_threads=threads, embedding_cache_size=0, embedder_batch_size=64)
    started = time.perf_counter()
    model = OnnxModel(
        model_path=default_model_path(),
        tokenizer_path=default_tokenizer_path(),
        max_tokens=settings.embedder_max_tokens,
        threads=threads,
    )
    load_s = time.perf_counter() - started
    model_results = bench_model(model, distinct_texts(seed=1), 100 if quick else 300)
    log(f"model: {json.dumps(model_results)}")
    return {
        "threads": threads,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "model_load_s": round(load_s, 3),
        "model": model_results,
        **asyncio.run(run_async(model, settings, quick)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = run(threads=args.threads, quick=args.quick)
    result["command"] = "python -m bench.embedder_bench" + (" --quick" if args.quick else "")
    path = write_result("embedder", result)
    print(json.dumps(result, indent=2))
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
