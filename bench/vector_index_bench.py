"""Micro-benchmark of the Qdrant Edge vector index, in-process (no server, no embedder).

    .venv/bin/python -m bench.vector_index_bench [--docs 100000] [--dim 384] [--save]

Random unit vectors and short memory texts (bench.texts), `--tenants` tenants of `--users` users each
(100k docs, 4 x 25 users: ~1000 docs per user). Measures upsert throughput (batches of 256), the time of
`optimize()` (HNSW build), reopening, and single-thread latency of `search` (one query_batch: dense +
BM25) under a tenant+user scope and a tenant-only scope, before and after the HNSW build, with the
dense recall of the HNSW result against an exact numpy search, and how long `optimize()` stalls every other
Python thread (it holds the GIL).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import latency_summary, log, write_result
from bench.texts import MEMORY_TYPES, TextGen, user_ids
from membank.models import Scope
from membank.storage.ports import IndexDocument
from membank.storage.qdrant_edge import QdrantEdgeIndex

BATCH = 256


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--users", type=int, default=25, help="users per tenant")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--limit", type=int, default=60)
    parser.add_argument("--path", type=Path, default=None, help="index directory (default: a temporary one)")
    parser.add_argument("--save", action="store_true", help="write bench/results/vector_index.json")
    args = parser.parse_args()

    path = args.path or Path(tempfile.mkdtemp(prefix="membank-vbench-"))
    shutil.rmtree(path, ignore_errors=True)
    try:
        result = run(path, args)
    finally:
        if args.path is None:
            shutil.rmtree(path, ignore_errors=True)
    print(json.dumps(result, indent=2))
    if args.save:
        log(f"wrote {write_result('vector_index', result)}")


def run(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    vectors = _clustered_vectors(args.docs, args.dim)
    tenants = [f"tenant-{t}" for t in range(args.tenants)]
    users = user_ids(args.users)
    owner = [(tenants[i % args.tenants], users[(i // args.tenants) % args.users]) for i in range(args.docs)]
    documents = _documents(vectors, owner)

    index = QdrantEdgeIndex(path, args.dim, optimize_on_open=False)
    log(f"upserting {args.docs} documents in batches of {BATCH}")
    started = time.perf_counter()
    for start in range(0, args.docs, BATCH):
        index.upsert(documents[start : start + BATCH])
    upsert_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "docs": args.docs,
        "dim": args.dim,
        "tenants": args.tenants,
        "docs_per_user": args.docs // (args.tenants * args.users),
        "upsert": {"seconds": round(upsert_s, 2), "docs_per_s": round(args.docs / upsert_s)},
    }
    queries = _queries(args, vectors, owner, tenants, users)
    result["before_optimize"] = _latencies(index, queries, args.limit)
    log("optimize (HNSW build)")
    with _StallProbe() as probe:
        started = time.perf_counter()
        index.optimize()
        result["optimize_s"] = round(time.perf_counter() - started, 2)
    # optimize() holds the GIL: other Python threads (request handlers) stall this long.
    result["optimize_longest_python_stall_s"] = round(probe.longest, 2)
    result["after_optimize"] = _latencies(index, queries, args.limit)
    result["dense_recall_tenant_only"] = _recall(index, queries, vectors, owner, args.limit)
    index.close()
    started = time.perf_counter()
    index = QdrantEdgeIndex(path, args.dim)
    result["reopen_s"] = round(time.perf_counter() - started, 2)
    index.close()
    return result


class _StallProbe:
    """A thread that wakes every 5 ms and records the longest gap between wake-ups."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.wait(0.005):
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    def __enter__(self) -> _StallProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _clustered_vectors(count: int, dim: int, topics: int = 2000) -> np.ndarray:
    """Unit vectors around `topics` random centres (cosine ~0.5 within a topic, ~0 across), a crude model
    of sentence embeddings: uniformly random vectors have no neighbours worth finding (and no HNSW recall)."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((topics, dim), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((count, dim), dtype=np.float32) / np.sqrt(dim)
    vectors: np.ndarray = centres[rng.integers(0, topics, count)] + noise
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def _documents(vectors: np.ndarray, owner: list[tuple[str, str]]) -> list[IndexDocument]:
    texts = TextGen(seed=1)
    pick = random.Random(2)
    now = time.time()
    documents = []
    for i, (tenant, user) in enumerate(owner):
        created = now - pick.uniform(0, 365 * 86400)
        documents.append(
            IndexDocument(
                id=_doc_id(i),
                tenant_id=tenant,
                user_id=user,
                vector=vectors[i],
                text=texts.memory(user),
                memory_type=pick.choice(MEMORY_TYPES),
                importance=pick.randint(1, 10),
                created_at=created,
                updated_at=created,
                valid_from=created,
                valid_to=None,
                sync_token=f"1:{created:.6f}",
                tags=pick.sample(["home", "work", "health", "travel", "family", "food", "fun"], 2),
            )
        )
    return documents


def _queries(
    args: argparse.Namespace,
    vectors: np.ndarray,
    owner: list[tuple[str, str]],
    tenants: list[str],
    users: list[str],
) -> list[tuple[str, str, np.ndarray, str]]:
    """(tenant, user, vector, text): a stored vector plus as much noise again: a query near its topic."""
    rng = np.random.default_rng(3)
    texts = TextGen(seed=4)
    queries = []
    for _ in range(args.queries):
        target = int(rng.integers(0, args.docs))
        tenant, user = owner[target]
        vector = vectors[target] + rng.standard_normal(args.dim).astype(np.float32) / np.sqrt(args.dim)
        queries.append((tenant, user, vector / np.linalg.norm(vector), texts.query(user)))
    return queries


def _latencies(index: QdrantEdgeIndex, queries: list[tuple[str, str, np.ndarray, str]], limit: int) -> Any:
    as_of = time.time()
    out: dict[str, Any] = {}
    for tenant, user, vector, text in queries[:100]:  # warm-up: page in payload and index files
        index.search(
            Scope(tenant, user_id=user), vector.tolist(), text, filter=None, as_of=as_of, limit=limit
        )
    for name, with_user in (("tenant_user", True), ("tenant_only", False)):
        latencies = []
        hits = 0
        started = time.perf_counter()
        for tenant, user, vector, text in queries:
            scope = Scope(tenant, user_id=user if with_user else None)
            begin = time.perf_counter()
            result = index.search(scope, vector.tolist(), text, filter=None, as_of=as_of, limit=limit)
            latencies.append(time.perf_counter() - begin)
            hits += len(result.dense) + len(result.keyword)
        summary = latency_summary(latencies, time.perf_counter() - started)
        summary["mean_hits"] = round(hits / len(queries), 1)
        out[name] = summary
    return out


def _recall(
    index: QdrantEdgeIndex,
    queries: list[tuple[str, str, np.ndarray, str]],
    vectors: np.ndarray,
    owner: list[tuple[str, str]],
    limit: int,
) -> dict[str, float]:
    """Dense recall of tenant-only searches (the HNSW path) against an exact numpy search: of the true top 10
    in the first 10 hits, and of the true top `limit` in all hits."""
    members: dict[str, list[int]] = {}
    for i, (tenant, _) in enumerate(owner):
        members.setdefault(tenant, []).append(i)
    top10 = top_limit = 0.0
    sample = queries[:100]
    for tenant, _, vector, _ in sample:
        rows = np.array(members[tenant])
        exact = [_doc_id(int(i)) for i in rows[np.argsort(-(vectors[rows] @ vector))[:limit]]]
        result = index.search(Scope(tenant), vector.tolist(), "", filter=None, as_of=time.time(), limit=limit)
        found = [hit.id for hit in result.dense]
        top10 += len(set(exact[:10]) & set(found[:10])) / 10
        top_limit += len(set(exact) & set(found)) / len(exact)
    return {"at_10": round(top10 / len(sample), 4), f"at_{limit}": round(top_limit / len(sample), 4)}


def _doc_id(i: int) -> str:
    return f"00000000-0000-4000-8000-{i:012d}"


if __name__ == "__main__":
    main()
