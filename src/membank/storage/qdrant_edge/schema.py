"""Shard configuration: vectors, HNSW and payload indexes (the fields are `qdrant_common.payload`'s).

Tuning (bench/vector_index_bench.py, 100k x 384-d, 4 tenants, 2 cores): every search is tenant-filtered, so
there is no global HNSW graph (`m=0`) but one graph per tenant (`payload_m` on the `is_tenant` field, whose
points are also stored together). Measured recall@10 of a tenant-filtered search at ef=128: 0.99 this way,
0.68 with a global graph (m=16) plus tenant links. The other payload indexes get no graphs
(`enable_hnsw=False`), which keeps index builds short. A tenant or user under the full-scan threshold (~6.5k
vectors of 384-d) is scored exactly from the payload index.
"""

from __future__ import annotations

import qdrant_edge as q

from membank.storage.qdrant_common.payload import (
    DENSE,
    INDEXED_FLOATS,
    INDEXED_INTEGERS,
    INDEXED_KEYWORDS,
    SPARSE,
    TENANT_FIELD,
)

CONFIG_FILE = "edge_config.json"
HNSW_M = 0
HNSW_PAYLOAD_M = 16
HNSW_EF_CONSTRUCT = 100
HNSW_EF = 128
FULL_SCAN_THRESHOLD_KB = 10_000


def edge_config(dim: int) -> q.EdgeConfig:
    return q.EdgeConfig(
        vectors={DENSE: q.EdgeVectorParams(size=dim, distance=q.Distance.Cosine)},
        sparse_vectors={SPARSE: q.EdgeSparseVectorParams(modifier=q.Modifier.Idf)},
        hnsw_config=q.HnswIndexConfig(
            m=HNSW_M,
            ef_construct=HNSW_EF_CONSTRUCT,
            full_scan_threshold=FULL_SCAN_THRESHOLD_KB,
            payload_m=HNSW_PAYLOAD_M,
        ),
        # Hits read importance and created_at from the payload: keep it in the page cache.
        payload_memory=q.Memory.Cached,
    )


def payload_indexes() -> dict[str, q.PayloadSchemaParams]:
    indexes: dict[str, q.PayloadSchemaParams] = {TENANT_FIELD: q.KeywordIndexParams(is_tenant=True)}
    for name in INDEXED_KEYWORDS:
        indexes[name] = q.KeywordIndexParams(enable_hnsw=False)
    for name in INDEXED_INTEGERS:
        indexes[name] = q.IntegerIndexParams(lookup=True, range=True, enable_hnsw=False)
    for name in INDEXED_FLOATS:
        indexes[name] = q.FloatIndexParams(enable_hnsw=False)
    return indexes


def ensure_payload_indexes(shard: q.EdgeShard) -> None:
    """Create the payload indexes a shard lacks (all of them on a new shard)."""
    existing = shard.info().payload_schema
    for name, params in payload_indexes().items():
        if name not in existing:
            shard.update(q.UpdateOperation.create_field_index(name, params))
