"""Fusion of the dense and keyword lists into one relevance in [0, 1]."""

from __future__ import annotations

from typing import Any

import pytest

from membank.search.scoring import ScoringWeights, fuse, lead
from membank.storage.ports import IndexHit, IndexResult

NOW = 1_800_000_000.0
# Relevance alone decides: recency and importance are equal for every hit below, but zero them to be sure.
ONLY_RELEVANCE: dict[str, Any] = {"recency_weight": 0.0, "importance_weight": 0.0}


def hits(*scores: tuple[str, float]) -> list[IndexHit]:
    return [
        IndexHit(id=memory_id, score=score, rank=rank, importance=5, created_at=NOW)
        for rank, (memory_id, score) in enumerate(scores, start=1)
    ]


def relevance(result: IndexResult, limit: int, **weights: Any) -> dict[str, float]:
    """Relevance under score fusion unless `weights` names another."""
    chosen = {**ONLY_RELEVANCE, "fusion": "score", **weights}
    scored = fuse(result, ScoringWeights(**chosen), now=NOW, limit=limit)
    return {s.id: s.relevance for s in scored}


def test_score_fusion_keeps_the_gaps_that_ranks_hide() -> None:
    # "a" matches the query far better than "b" in both lists: RRF sees only ranks 1 and 2.
    result = IndexResult(dense=hits(("a", 0.8), ("b", 0.4)), keyword=hits(("a", 9.0), ("b", 3.0)))
    by_score = relevance(result, limit=10)
    assert by_score["a"] == pytest.approx(1.0)
    assert by_score["b"] == pytest.approx(0.6 * 0.5 + 0.4 * 3.0 / 9.0)
    by_rank = relevance(result, limit=10, fusion="rrf", rrf_k=10)
    assert by_rank["a"] == pytest.approx(1.0)
    assert by_rank["b"] > 0.9  # ranks 1 and 2 are neighbours to RRF
    assert by_score["b"] < 0.5


def test_memory_missing_from_a_cut_list_scores_that_lists_last_score() -> None:
    # The keyword list was cut at 2: "d" ranked below "k2" there, so it scores at most k2's 2.0, not 0.
    result = IndexResult(
        dense=hits(("d", 0.9), ("k1", 0.3)),
        keyword=hits(("k1", 8.0), ("k2", 2.0)),
    )
    cut = relevance(result, limit=2)
    assert cut["d"] == pytest.approx(0.6 + 0.4 * 2.0 / 8.0)
    # k2 is missing from the dense list, cut too: it gets the dense list's last score (0.3 of 0.9).
    assert cut["k2"] == pytest.approx(0.6 * 0.3 / 0.9 + 0.4 * 2.0 / 8.0)
    # Asked for more than came back: every match was returned, so a missing memory matched nothing.
    whole = relevance(result, limit=10)
    assert whole["d"] == pytest.approx(0.6)
    assert whole["k2"] == pytest.approx(0.4 * 2.0 / 8.0)


def test_weights_are_shares_of_the_relevance() -> None:
    result = IndexResult(dense=hits(("d", 0.9)), keyword=hits(("k", 5.0)))
    scores = relevance(result, limit=10, dense_weight=3.0, keyword_weight=1.0)
    assert scores == pytest.approx({"d": 0.75, "k": 0.25})


def test_negative_cosine_and_zero_weights_give_zero_not_errors() -> None:
    negative = IndexResult(dense=hits(("a", -0.2), ("b", -0.5)), keyword=[])
    assert relevance(negative, limit=10) == {"a": 0.0, "b": 0.0}
    result = IndexResult(dense=hits(("a", 0.5)), keyword=hits(("a", 1.0)))
    assert relevance(result, limit=10, dense_weight=0.0, keyword_weight=0.0) == {"a": 0.0}


def test_final_scores_stay_in_unit_interval_and_explain_adds_up() -> None:
    result = IndexResult(dense=hits(("a", 0.7), ("b", 0.6)), keyword=hits(("b", 4.0), ("c", 1.0)))
    scored = fuse(result, ScoringWeights(), now=NOW, limit=2)
    assert [s.score for s in scored] == sorted((s.score for s in scored), reverse=True)
    for s in scored:
        details = s.details()
        assert 0.0 <= s.score <= 1.0
        assert details["dense_contribution"] + details["keyword_contribution"] == pytest.approx(
            details["relevance"], abs=1e-5
        )


def test_explained_dense_similarity_is_in_unit_interval_and_ranking_is_unchanged() -> None:
    # An opposite-leaning vector (cosine -0.06) and float error above 1 were reported as they came.
    result = IndexResult(dense=hits(("a", 1.0000002), ("b", 0.3), ("c", -0.06)), keyword=hits(("c", 2.0)))
    scored = fuse(result, ScoringWeights(fusion="score"), now=NOW, limit=10)
    similarity = {s.id: s.details()["dense_similarity"] for s in scored}
    assert similarity == {"a": 1.0, "b": 0.3, "c": 0.0}
    # The similarity shown is the one the fusion used: c's dense part is 0, as for any cosine <= 0.
    assert next(s for s in scored if s.id == "c").dense_part == 0.0
    assert [s.id for s in scored] == ["a", "c", "b"]


def test_adaptive_fusion_discounts_a_list_that_cannot_tell_its_candidates_apart() -> None:
    # The dense list scores its candidates alike (a paraphrase far from all of them); the keyword list has
    # one clear match.
    result = IndexResult(
        dense=hits(("d1", 0.41), ("d2", 0.40), ("k1", 0.40)),
        keyword=hits(("k1", 9.0), ("d2", 1.0), ("k3", 1.0)),
    )
    adaptive = relevance(result, limit=10, fusion="adaptive")
    fixed = relevance(result, limit=10)
    assert max(adaptive, key=adaptive.__getitem__) == "k1"
    assert max(fixed, key=fixed.__getitem__) == "k1"
    # Under fixed shares the flat list still hands d1 0.6 of the range for nothing; adapted, far less.
    assert fixed["d1"] == pytest.approx(0.6)
    assert adaptive["d1"] < 0.1
    assert adaptive["k1"] > fixed["k1"]


def test_adaptive_fusion_keeps_the_configured_shares_when_both_lists_lead_alike() -> None:
    result = IndexResult(dense=hits(("a", 0.8), ("b", 0.4)), keyword=hits(("b", 8.0), ("a", 4.0)))
    assert lead(result.dense) == pytest.approx(lead(result.keyword))
    adaptive = relevance(result, limit=10, fusion="adaptive")
    assert adaptive == pytest.approx(relevance(result, limit=10))


def test_adaptive_fusion_without_any_lead_falls_back_to_the_configured_shares() -> None:
    result = IndexResult(dense=hits(("a", 0.5), ("b", 0.5)), keyword=hits(("b", 2.0), ("a", 2.0)))
    assert lead(result.dense) == lead(result.keyword) == 0.0
    assert relevance(result, limit=10, fusion="adaptive") == pytest.approx(relevance(result, limit=10))


def test_lead_of_a_list() -> None:
    assert lead([]) == 0.0
    assert lead(hits(("a", 0.7))) == 1.0
    assert lead(hits(("a", -0.2), ("b", -0.5))) == 0.0
    assert lead(hits(("a", 1.0), ("b", 0.5), ("c", 0.0))) == pytest.approx(0.5)


def test_explain_reports_the_shares_the_query_was_fused_with() -> None:
    result = IndexResult(dense=hits(("a", 0.41), ("b", 0.40)), keyword=hits(("a", 9.0), ("b", 1.0)))
    weights = ScoringWeights(**{**ONLY_RELEVANCE, "fusion": "adaptive"})
    details = fuse(result, weights, now=NOW, limit=10)[0].details()
    assert details["fusion"] == "adaptive"
    assert details["weights"]["dense"] == pytest.approx(0.6 * lead(result.dense), abs=1e-6)
    assert details["weights"]["keyword"] == pytest.approx(0.4 * lead(result.keyword), abs=1e-6)
