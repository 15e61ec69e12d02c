"""The pgvector vector index: dense (HNSW, cosine) + BM25 keyword search in the PostgreSQL system of record."""

from membank.storage.pgvector.index import PgvectorIndex

__all__ = ["PgvectorIndex"]
