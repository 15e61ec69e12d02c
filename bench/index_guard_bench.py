"""Cost of the write guard (storage/qdrant_edge/guard.py) that keeps an unwritable shard from SIGBUS.

    .venv/bin/python -m bench.index_guard_bench [--docs 20000] [--rounds 2000]

Builds a shard of `--docs` 384-d documents (optionally optimized into more segments), then measures, in
process: `FileGuard.check_writable` alone (one os.access per file, three stats, a statvfs), and a
one-document `upsert` (what a single create costs the index) with the guard, both as p50/p95 in µs, and
the number of files the guard checks.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import log
from membank.storage.ports import IndexDocument
from membank.storage.qdrant_edge import QdrantEdgeIndex

DIM = 384


def _doc(rng: np.random.Generator, i: int) -> IndexDocument:
    return IndexDocument(
        id=f"m{i}",
        tenant_id=f"t{i % 4}",
        user_id=f"u{i % 100}",
        vector=rng.standard_normal(DIM).tolist(),
        text=f"User fact number {i} about {random.choice(['tea', 'music', 'work', 'travel'])}",
        memory_type="factual",
        importance=5,
        created_at=1.0,
        updated_at=1.0,
        valid_from=1.0,
        valid_to=None,
        sync_token="1:1.0",
    )


def _percentiles(values: list[float]) -> str:
    p50, p95 = np.percentile(values, [50, 95])
    return f"p50 {p50:.0f}, p95 {p95:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2_000)
    parser.add_argument("--optimize", action="store_true", help="build the HNSW segments first")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    place = Path(tempfile.mkdtemp(prefix="membank-guard-"))
    index = QdrantEdgeIndex(place / "vectors", DIM, optimize_on_open=False)
    try:
        for start in range(0, args.docs, 512):
            index.upsert([_doc(rng, i) for i in range(start, min(args.docs, start + 512))])
        if args.optimize:
            index.optimize()
        guard = index._guard
        guard.check_writable()
        files = sum(1 + len(names) for _, _, names in guard._files)
        checks = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            guard.check_writable()
            checks.append((time.perf_counter() - started) * 1e6)
        upserts = []
        for i in range(args.rounds):
            document = _doc(rng, args.docs + i)
            started = time.perf_counter()
            index.upsert([document])
            upserts.append((time.perf_counter() - started) * 1e6)
        log(f"docs={args.docs} files checked={files}")
        log(f"check_writable µs: {_percentiles(checks)}")
        log(f"upsert(1 doc, guard included) µs: {_percentiles(upserts)}")
    finally:
        index.close()
        shutil.rmtree(place, ignore_errors=True)


if __name__ == "__main__":
    main()
