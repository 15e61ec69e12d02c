"""BM25 keyword search over ``vector_index_terms`` that scores exactly like the Qdrant Edge adapter.

Terms and their document-side weights come from the tokenizer and length normalisation of every index
(`storage/qdrant_common/text.py`: lowercase, ASCII folding, English stopwords, Snowball stemming, the user's
reference average length), with the same bookkeeping as the Qdrant adapters (`qdrant_common.lengths`), measured
in the writing transaction under a lock per user, so concurrent writers of one user queue. The query side is
Qdrant's IDF modifier, computed at query time over the memories searched (the tenant's, or the user's within it
when a user is given: every document of that corpus, whatever its validity or the filter), as the Edge adapter
asks of Qdrant::

    score(d) = sum over query terms t in d of  q_t * w_t(d) * ln((N - n_t + 0.5) / (n_t + 0.5) + 1)

with N the documents of the corpus and n_t those holding t (measured equal to Qdrant Edge's scores; see
tests/contract/test_vector_index.py::test_fusion_inputs_match_qdrant_edge).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    all_,
    any_,
    bindparam,
    cast,
    func,
    select,
    true,
    update,
)
from sqlalchemy import text as sql
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import BigInteger, Float, Integer, Text

from membank.models import Scope
from membank.storage.pgvector.tables import documents, terms
from membank.storage.ports import IndexDocument
from membank.storage.qdrant_common.lengths import KeywordWeights, Stored, StoredVector, Weighted
from membank.storage.qdrant_common.text import LengthStats

__all__ = ["Bm25Terms"]

D = documents.c
T = terms.c


class Bm25Terms:
    """Document terms for `vector_index_terms` and the scoring query of a text."""

    def __init__(self) -> None:
        self._weights = KeywordWeights(remember_seconds=0, key=str)

    def weigh(self, conn: Connection, batch: Sequence[IndexDocument]) -> list[Weighted]:
        """The weights of `batch` (ids distinct), re-weighting its users' other documents when their
        reference average moves; holds each user's lock until the transaction ends."""
        for tenant_id, user_id in sorted({(d.tenant_id, d.user_id) for d in batch}):
            conn.execute(
                sql("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": f"membank-bm25:{tenant_id}:{user_id}"},
            )
        return self._weights.weigh(_TableLengths(conn), batch)

    @staticmethod
    def rows(document: IndexDocument, weighted: Weighted) -> list[dict[str, Any]]:
        return [
            {
                "document_id": document.id,
                "term": term,
                "tenant_id": document.tenant_id,
                "user_id": document.user_id,
                "weight": weight,
            }
            for term, weight in zip(weighted.indices, weighted.values, strict=True)
        ]

    def query(self, text: str, scope: Scope, where: ColumnElement[bool], limit: int) -> Select[Any] | None:
        """The top `limit` documents matching `where` by BM25 score; None when `text` has no term.

        Both CTEs are materialized (computed once) and documents are joined LATERAL by id: left to the planner,
        a table not analyzed yet got the per-document aggregate run once per document (0.7 s at 600)."""
        term_ids, query_weights = self._weights.query(text)
        if not term_ids:
            return None
        query_terms = (
            func.unnest(
                bindparam("query_terms", term_ids, type_=ARRAY(BigInteger)),
                bindparam("query_weights", query_weights, type_=ARRAY(Float)),
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


class _TableLengths:
    """`LengthStore` over the two tables, on the writing transaction's connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def stored(self, point_ids: Sequence[str]) -> dict[str, Stored]:
        rows = self._conn.execute(
            select(D.id, D.tenant_id, D.user_id, D.bm25_length, D.bm25_avg).where(
                D.id == any_(bindparam(None, list(point_ids), type_=ARRAY(Text)))
            )
        )
        return {row.id: Stored(row.tenant_id, row.user_id, row.bm25_length, row.bm25_avg) for row in rows}

    def user_stats(self, tenant_id: str, user_id: str, exclude: set[str]) -> LengthStats | None:
        """One aggregate over the user's rows (their index on tenant and user), under the user's lock."""
        row = self._conn.execute(
            select(
                func.count().label("documents"),
                func.coalesce(func.sum(D.bm25_length), 0).label("tokens"),
                func.count().filter(D.bm25_length.is_(None) | D.bm25_avg.is_(None)).label("legacy"),
                func.min(D.bm25_avg).label("lowest"),
                func.max(D.bm25_avg).label("highest"),
            ).where(
                D.tenant_id == tenant_id,
                D.user_id == user_id,
                D.id != all_(bindparam(None, sorted(exclude), type_=ARRAY(Text))),
            )
        ).one()
        if row.legacy or row.lowest != row.highest:
            return None
        return LengthStats(int(row.documents), int(row.tokens), row.lowest)

    def user_vectors(self, tenant_id: str, user_id: str) -> Iterator[StoredVector]:
        statement = (
            select(
                D.id,
                D.bm25_length,
                D.bm25_avg,
                # A document without terms is re-weighted too (its average is the user's reference).
                func.array_remove(func.array_agg(T.term), None).label("indices"),
                func.array_remove(func.array_agg(T.weight), None).label("weights"),
            )
            .outerjoin(terms, T.document_id == D.id)
            .where(D.tenant_id == tenant_id, D.user_id == user_id)
            .group_by(D.id)
        )
        for row in self._conn.execute(statement):
            yield StoredVector(row.id, row.indices, row.weights, row.bm25_length, row.bm25_avg)

    def rewrite(self, points: Sequence[StoredVector]) -> None:
        """Documents first (locked in id order, as every writer of these tables locks them), then terms: a
        concurrent delete (document, then its terms by cascade) queues instead of deadlocking."""
        ids = sorted(p.point_id for p in points)
        self._conn.execute(
            select(D.id)
            .where(D.id == any_(bindparam(None, ids, type_=ARRAY(Text))))
            .order_by(D.id)
            .with_for_update()
        )
        lengths = (
            func.unnest(
                bindparam("ids", [p.point_id for p in points], type_=ARRAY(Text)),
                bindparam("lengths", [p.length for p in points], type_=ARRAY(Integer)),
                bindparam("averages", [p.avg_len for p in points], type_=ARRAY(Float)),
            )
            .table_valued("id", "length", "average", name="lengths")
            .render_derived()
        )
        self._conn.execute(
            update(documents)
            .where(D.id == lengths.c.id)
            .values(bm25_length=lengths.c.length, bm25_avg=lengths.c.average)
        )
        new = (
            func.unnest(
                bindparam("ids", [p.point_id for p in points for _ in p.indices], type_=ARRAY(Text)),
                bindparam("terms", [int(t) for p in points for t in p.indices], type_=ARRAY(BigInteger)),
                bindparam("weights", [float(v) for p in points for v in p.values], type_=ARRAY(Float)),
            )
            .table_valued("id", "term", "weight", name="new")
            .render_derived()
        )
        self._conn.execute(
            update(terms).where(T.document_id == new.c.id, T.term == new.c.term).values(weight=new.c.weight)
        )
