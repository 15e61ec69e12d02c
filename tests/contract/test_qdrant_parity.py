"""Qdrant Edge and the Qdrant server adapter (local mode) share the point layout, the BM25 tokenizer and the
filter compiler: the same documents and queries give the same hits with the same scores, so fusion means the
same on both (the contract suite checks each against the semantics; this checks them against each other)."""

from __future__ import annotations

from pathlib import Path

import pytest

from membank.models import Scope
from membank.search.filters import parse_filter
from membank.storage.filters import FilterNode
from membank.storage.ports import IndexHit, VectorIndex
from membank.storage.qdrant_edge import QdrantEdgeIndex
from membank.storage.qdrant_server import QdrantServerIndex
from tests.contract.test_vector_index import DIM, FILTER_DOCS, axis, doc

DOCS = [
    *FILTER_DOCS,
    doc("p1", text="The user likes apples and bananas", vector=axis(0.3, 0.9, 0.1)),
    doc("p2", text="Apples apples everywhere, the user loves apples", vector=axis(0.8, 0.2)),
    doc("p3", text="Running in the park on Sunday with a fox", vector=axis(-0.2, 0.5, 0.5)),
    doc("p4", user_id="u2", text="apples for the other user", vector=axis(1.0, 1.0)),
]
QUERIES: list[tuple[Scope, list[float], str, FilterNode | None]] = [
    (Scope("t1", "u1"), axis(1.0, 0.2), "apples fox", None),
    (Scope("t1"), axis(0.1, 1.0, 0.3), "the user runs with apples", None),
    (
        Scope("t1", "u1"),
        axis(1.0),
        "fox",
        parse_filter({"field": "metadata.flag", "op": "ne", "value": True}),
    ),
    (Scope("t2"), axis(0.5, 0.5), "alpha fox", None),
]


def scores(found: list[IndexHit]) -> dict[str, float]:
    """Each hit's score; the order of tied scores is the engine's own."""
    assert [hit.rank for hit in found] == list(range(1, len(found) + 1))
    assert [hit.score for hit in found] == sorted((hit.score for hit in found), reverse=True)
    return {hit.id: hit.score for hit in found}


def carried(found: list[IndexHit]) -> dict[str, tuple[int, float]]:
    return {hit.id: (hit.importance, hit.created_at) for hit in found}


@pytest.mark.parametrize("query", QUERIES, ids=[query[2] for query in QUERIES])
def test_both_adapters_give_the_same_hits_and_scores(
    tmp_path: Path, query: tuple[Scope, list[float], str, FilterNode | None]
) -> None:
    edge: VectorIndex = QdrantEdgeIndex(tmp_path / "edge", DIM)
    server: VectorIndex = QdrantServerIndex.local(tmp_path / "server", DIM)
    try:
        scope, vector, text, node = query
        results = []
        for index in (edge, server):
            index.upsert(DOCS)
            results.append(index.search(scope, vector, text, filter=node, as_of=10_000.0, limit=20))
        on_edge, on_server = results
        assert on_edge.keyword, "the query must exercise BM25"
        assert scores(on_server.dense) == pytest.approx(scores(on_edge.dense), rel=1e-5, abs=1e-6)
        assert scores(on_server.keyword) == pytest.approx(scores(on_edge.keyword), rel=1e-5, abs=1e-6)
        assert carried(on_server.dense) == carried(on_edge.dense)
        assert carried(on_server.keyword) == carried(on_edge.keyword)
    finally:
        edge.close()
        server.close()
