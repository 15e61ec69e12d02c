"""The collection of a Qdrant server index: named vectors, HNSW and payload indexes.

The same tuning as the embedded shard (`membank.storage.qdrant_edge.schema`, measured there): every search is
tenant-filtered, so no global HNSW graph (`m=0`) but one per tenant (`payload_m` on `tenant_id`, an
`is_tenant` keyword index, which also keeps a tenant's points together on disk). The sparse BM25 vector has
the IDF modifier: the server multiplies each query term by its IDF over the corpus the query names.
qdrant-client's local mode (the tests) accepts all of this and ignores what it cannot use (HNSW, payload
indexes): it scans.
"""

from __future__ import annotations

from qdrant_client import models

from membank.storage.qdrant_common.payload import (
    DENSE,
    INDEXED_FLOATS,
    INDEXED_INTEGERS,
    INDEXED_KEYWORDS,
    TENANT_FIELD,
)

__all__ = ["HNSW_EF", "dense_params", "hnsw_config", "payload_indexes", "sparse_params", "vector_size"]

HNSW_M = 0
HNSW_PAYLOAD_M = 16
HNSW_EF_CONSTRUCT = 100
HNSW_EF = 128
FULL_SCAN_THRESHOLD_KB = 10_000


def dense_params(dim: int) -> models.VectorParams:
    return models.VectorParams(size=dim, distance=models.Distance.COSINE)


def sparse_params() -> models.SparseVectorParams:
    return models.SparseVectorParams(modifier=models.Modifier.IDF)


def hnsw_config() -> models.HnswConfigDiff:
    return models.HnswConfigDiff(
        m=HNSW_M,
        ef_construct=HNSW_EF_CONSTRUCT,
        full_scan_threshold=FULL_SCAN_THRESHOLD_KB,
        payload_m=HNSW_PAYLOAD_M,
    )


def payload_indexes() -> dict[str, models.PayloadSchemaParams]:
    """Every payload index of the collection, by field."""
    indexes: dict[str, models.PayloadSchemaParams] = {
        TENANT_FIELD: models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
    }
    for name in INDEXED_KEYWORDS:
        indexes[name] = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, enable_hnsw=False)
    for name in INDEXED_INTEGERS:
        indexes[name] = models.IntegerIndexParams(
            type=models.IntegerIndexType.INTEGER, lookup=True, range=True, enable_hnsw=False
        )
    for name in INDEXED_FLOATS:
        indexes[name] = models.FloatIndexParams(type=models.FloatIndexType.FLOAT, enable_hnsw=False)
    return indexes


def vector_size(info: models.CollectionInfo) -> int | None:
    """The dense vector size of an existing collection (None when it has no vector of our name)."""
    vectors = info.config.params.vectors
    if isinstance(vectors, dict) and DENSE in vectors:
        return vectors[DENSE].size
    return None
