"""The tables of the pgvector index, and the DDL that creates them in the system of record's database.

Two tables, prefixed ``vector_index_`` so they never meet the system of record's own:

- ``vector_index_documents``: one row per memory. Scope and validity are columns (btree on tenant and user),
  every filterable field is in ``fields`` (JSONB, laid out like the Qdrant Edge payload, GIN-indexed for
  containment), the embedding a ``vector(dim)`` with an HNSW index over cosine distance (built by `optimize`).
- ``vector_index_terms``: the BM25 inverted index: one row per (document, term) with the term's document-side
  weight (the tokenizer and length normalisation of every index, `qdrant_common.text`), and the document's tenant and user so that document frequencies in
  a scope are one index-only scan of ``(tenant_id, term, user_id)``.

Why the adapter creates them (on open, `CREATE ... IF NOT EXISTS` under an advisory lock) rather than an
Alembic migration: the vector column's type depends on a setting (``MEMBANK_EMBEDDING_DIM``), which a
migration cannot know; the index is derived data whose lifecycle the index owns (`clear` truncates it, or
drops and recreates it for another dimension, like the Qdrant Edge shard directory); and the system of
record's schema stays the same on SQLite and PostgreSQL, with no need for the ``vector`` extension unless
pgvector is the configured index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
    cast,
)
from sqlalchemy.dialects.postgresql import JSONB, REAL
from sqlalchemy.sql.elements import BindParameter, ColumnElement
from sqlalchemy.types import UserDefinedType

__all__ = [
    "DOCUMENTS",
    "HNSW_INDEX",
    "INVALID_HNSW_QUERY",
    "LENGTH_COLUMNS",
    "TERMS",
    "Vector",
    "create_statements",
    "documents",
    "drop_statements",
    "terms",
    "vector_text",
]

DOCUMENTS = "vector_index_documents"
TERMS = "vector_index_terms"
HNSW_INDEX = f"{DOCUMENTS}_embedding"
# pgvector's defaults; ef_search is set per query (see index.py).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 64


class Vector(UserDefinedType[Sequence[float]]):
    """pgvector's ``vector``, bound as its text form (``[1,2,3]``) and cast on the server: no driver
    extension needed. Values are never read back (hits carry scores, not vectors)."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "vector"

    def bind_processor(self, dialect: Any) -> Any:
        return vector_text

    def bind_expression(self, bindvalue: BindParameter[Any]) -> ColumnElement[Any]:
        return cast(bindvalue, self)


def vector_text(vector: Sequence[float]) -> str:
    # float32 first, as the column stores it: the text then parses back to exactly these values.
    return "[" + ",".join(repr(float(x)) for x in np.asarray(vector, dtype=np.float32)) + "]"


metadata = MetaData()

documents = Table(
    DOCUMENTS,
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("agent_id", Text),
    Column("session_id", Text),
    Column("importance", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("valid_from", Float, nullable=False),
    Column("valid_to", Float),
    Column("sync_token", Text, nullable=False),
    Column("version", BigInteger),
    Column("updated_at", Float, nullable=False),
    Column("fields", JSONB, nullable=False),
    Column("embedding", Vector(), nullable=False),
    # BM25: the document's length in tokens and the average length its term weights use (qdrant_common.text);
    # NULL in rows written before lengths were kept.
    Column("bm25_length", Integer),
    Column("bm25_avg", Float),
)

terms = Table(
    TERMS,
    metadata,
    Column("document_id", Text, ForeignKey(f"{DOCUMENTS}.id", ondelete="CASCADE"), primary_key=True),
    Column("term", BigInteger, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("weight", REAL, nullable=False),
)


def create_statements(dim: int) -> list[str]:
    """The DDL of both tables and their indexes for vectors of `dim` dimensions (idempotent), without the
    HNSW index: `hnsw_statement` builds that (`optimize`, i.e. `membank reindex`), as the embedded default
    builds its HNSW graph only then. Until it exists a search scans its scope exactly; once it does, every
    insert maintains it (measured ~2-3 ms per 384-d vector with pgvector 0.6 on 2 cores, against ~0.1 ms
    without), which is what a bulk build avoids."""
    if not isinstance(dim, int) or isinstance(dim, bool) or not 0 < dim <= 16_000:
        raise ValueError(f"the vector dimension must be an integer from 1 to 16000, got {dim!r}")
    return [
        "CREATE EXTENSION IF NOT EXISTS vector",
        f"""CREATE TABLE IF NOT EXISTS {DOCUMENTS} (
            id text PRIMARY KEY,
            tenant_id text NOT NULL,
            user_id text NOT NULL,
            agent_id text,
            session_id text,
            importance integer NOT NULL,
            created_at double precision NOT NULL,
            valid_from double precision NOT NULL,
            valid_to double precision,
            sync_token text NOT NULL,
            version bigint,
            updated_at double precision NOT NULL,
            fields jsonb NOT NULL,
            embedding vector({dim}) NOT NULL,
            bm25_length integer,
            bm25_avg double precision
        )""",
        f"CREATE INDEX IF NOT EXISTS {DOCUMENTS}_scope ON {DOCUMENTS} (tenant_id, user_id)",
        f"CREATE INDEX IF NOT EXISTS {DOCUMENTS}_fields ON {DOCUMENTS} USING gin (fields jsonb_path_ops)",
        f"""CREATE TABLE IF NOT EXISTS {TERMS} (
            document_id text NOT NULL REFERENCES {DOCUMENTS} (id) ON DELETE CASCADE,
            term bigint NOT NULL,
            tenant_id text NOT NULL,
            user_id text NOT NULL,
            weight real NOT NULL,
            PRIMARY KEY (document_id, term)
        )""",
        f"CREATE INDEX IF NOT EXISTS {TERMS}_lookup ON {TERMS} (tenant_id, term, user_id) "
        "INCLUDE (document_id, weight)",
    ]


# Tables created before BM25 lengths were kept gain the columns (their rows: NULL, weighted under the legacy
# fixed average until their user is re-weighted or `membank reindex` rewrites them).
LENGTH_COLUMNS = (
    f"ALTER TABLE {DOCUMENTS} ADD COLUMN IF NOT EXISTS bm25_length integer",
    f"ALTER TABLE {DOCUMENTS} ADD COLUMN IF NOT EXISTS bm25_avg double precision",
)


def hnsw_statement() -> str:
    return (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {HNSW_INDEX} ON {DOCUMENTS} USING hnsw (embedding vector_cosine_ops) "
        f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
    )


# True when a CREATE INDEX CONCURRENTLY of the HNSW index was interrupted: the index exists but is not used.
INVALID_HNSW_QUERY = (
    "SELECT NOT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(current_schema() || '.' || "
    f"'{HNSW_INDEX}')"
)


def drop_statements() -> list[str]:
    return [f"DROP TABLE IF EXISTS {TERMS}", f"DROP TABLE IF EXISTS {DOCUMENTS}"]


# The dimension of the existing table: pgvector keeps it as the column's type modifier (-1: none given).
DIMENSION_QUERY = (
    "SELECT a.atttypmod FROM pg_attribute a WHERE a.attrelid = to_regclass(:table) "
    "AND a.attname = 'embedding' AND NOT a.attisdropped"
)
