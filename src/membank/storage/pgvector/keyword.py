"""BM25 keyword search over ``vector_index_terms`` that scores exactly like the Qdrant Edge adapter.

Terms and their document-side weights come from the tokenizer of both Qdrant adapters
(`storage/qdrant_common/text.py`: lowercase, ASCII folding, English stopwords, Snowball stemming, the fixed average
length), so a document's weights are the values of its Edge sparse vector. The query side is Qdrant's IDF
modifier, computed at query time over the memories searched (the tenant's, or the user's within it when a
user is given: every document of that corpus, whatever its validity or the filter), as the Edge adapter
asks of Qdrant::

    score(d) = sum over query terms t in d of  q_t * w_t(d) * ln((N - n_t + 0.5) / (n_t + 0.5) + 1)

with N the documents of the corpus and n_t those holding t (measured equal to Qdrant Edge's scores; see
tests/contract/test_vector_index.py::test_fusion_inputs_match_qdrant_edge).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, cast, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import BigInteger, Float

from membank.models import Scope
from membank.storage.pgvector.tables import documents, terms
from membank.storage.ports import IndexDocument
from membank.storage.qdrant_common.text import bm25_tokenizer

__all__ = ["Bm25Terms"]

D = documents.c
T = terms.c


class Bm25Terms:
    """Document terms for `vector_index_terms` and the scoring query of a text."""

    def __init__(self) -> None:
        self._bm25 = bm25_tokenizer()

    def rows(self, document: IndexDocument) -> list[dict[str, Any]]:
        sparse = self._bm25.embed_document(document.text)
        return [
            {
                "document_id": document.id,
                "term": int(term),
                "tenant_id": document.tenant_id,
                "user_id": document.user_id,
                "weight": float(weight),
            }
            for term, weight in zip(sparse.indices, sparse.values, strict=True)
        ]

    def query(self, text: str, scope: Scope, where: ColumnElement[bool], limit: int) -> Select[Any] | None:
        """The top `limit` documents matching `where` by BM25 score; None when `text` has no term.

        Both CTEs are materialized (computed once) and documents are joined LATERAL by id: left to the planner,
        a table not analyzed yet got the per-document aggregate run once per document (0.7 s at 600)."""
        sparse = self._bm25.embed_query(text)
        if not sparse.indices:
            return None
        term_ids = [int(term) for term in sparse.indices]
        query_terms = (
            func.unnest(
                bindparam("query_terms", term_ids, type_=ARRAY(BigInteger)),
                bindparam("query_weights", [float(v) for v in sparse.values], type_=ARRAY(Float)),
            )
            .table_valued("term", "weight", name="query_terms")
            .render_derived()
        )
        in_corpus = [T.tenant_id == scope.tenant_id, T.term.in_(term_ids)]
        corpus_documents = [D.tenant_id == scope.tenant_id]
        if scope.user_id is not None:
            in_corpus.append(T.user_id == scope.user_id)
            corpus_documents.append(D.user_id == scope.user_id)
        corpus = cast(select(func.count()).where(*corpus_documents).scalar_subquery(), Float)
        frequency = (
            select(T.term, cast(func.count(), Float).label("n"))
            .where(*in_corpus)
            .group_by(T.term)
            .cte("df")
            .prefix_with("MATERIALIZED")
        )
        idf = func.ln((corpus - frequency.c.n + 0.5) / (frequency.c.n + 0.5) + 1.0)
        scored = (
            select(
                T.document_id,
                func.sum(query_terms.c.weight * cast(T.weight, Float) * idf).label("score"),
            )
            .join(query_terms, query_terms.c.term == T.term)
            .join(frequency, frequency.c.term == T.term)
            .where(*in_corpus)
            .group_by(T.document_id)
            .cte("scored")
            .prefix_with("MATERIALIZED")
        )
        # Each scored document is looked up by its primary key (LATERAL): the scope and filter are checked
        # for the documents holding a query term only, whatever the planner estimates.
        document = (
            select(D.id, D.importance, D.created_at)
            .where(D.id == scored.c.document_id, where)
            .lateral("document")
        )
        return (
            select(document.c.id, scored.c.score, document.c.importance, document.c.created_at)
            .select_from(scored.join(document, true()))
            .order_by(scored.c.score.desc(), document.c.id)
            .limit(limit)
        )
