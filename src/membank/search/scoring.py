"""Fusion and final scoring: every score is in [0, 1], higher is better."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

from membank.storage.ports import IndexHit, IndexResult

SECONDS_PER_DAY = 86_400.0
Fusion = Literal["adaptive", "score", "rrf"]


@dataclass(frozen=True, slots=True)
class ScoringWeights:
    """How relevance, recency and importance combine.

    Relevance fuses the dense and keyword candidate lists, each list contributing its share
    `weight / (dense_weight + keyword_weight)` of the [0, 1] range:

    - ``fusion="adaptive"`` (default): ``"score"`` fusion whose shares are first scaled, per query, by how
      far each list's best candidate stands above the mean of its candidates (`lead`): a list whose
      candidates all score alike (BM25 matching only a common word of a paraphrased question; cosines of
      long memories the embedder saw only the start of) says little about this query and counts less,
      whatever its scale. Chosen on two data sets (bench/long_memory.py, LOCOMO and the synthetic haystack,
      raw, session and mixed modes): R@10 up in five of the six against ``"score"`` (up to +0.054), down
      0.005 on LOCOMO raw; docs/benchmarks.md has the table.
    - ``fusion="score"``: a convex combination of each list's scores divided by its best
      candidate's (cosine clamped at 0; BM25). Unlike RRF it keeps *how much* better one candidate is than
      the next: a memory matching every rare query term stays far ahead of one matching a common term, where
      ranks would make them neighbours (Bruch et al., "An Analysis of Fusion Functions for Hybrid Retrieval",
      TOIS 2023, found this beats RRF in and out of domain). A memory missing from a list that was cut at
      the requested limit scores that list's last (lowest) returned score: it ranked below it, and counting
      it as 0 would sink a memory ranked 61st in one list but 1st in the other (on LOCOMO, zeros lost 0.05
      recall@10). Missing from a list that was not cut means no match: 0. The 0.6/0.4 default shares were
      tuned on LOCOMO (bench/locomo.py; docs/benchmarks.md has the sweep).
    - ``fusion="rrf"``: weighted reciprocal rank fusion, normalised by the best achievable RRF so a top hit in
      both lists scores 1.
    """

    fusion: Fusion = "adaptive"
    rrf_k: int = 60
    dense_weight: float = 0.6
    keyword_weight: float = 0.4
    recency_weight: float = 0.05
    importance_weight: float = 0.05
    recency_half_life_days: float = 90.0


@dataclass(slots=True)
class Scored:
    """A fused candidate; `details()` explains its score (built only for results that are returned)."""

    id: str
    score: float
    dense: IndexHit | None
    keyword: IndexHit | None
    dense_part: float
    keyword_part: float
    recency: float
    importance: float
    weights: ScoringWeights

    @property
    def relevance(self) -> float:
        return self.dense_part + self.keyword_part

    def details(self) -> dict[str, Any]:
        d, k, w = self.dense, self.keyword, self.weights
        return {
            "fusion": w.fusion,
            "dense_similarity": round(dense_similarity(d.score), 6) if d else None,
            "dense_rank": d.rank if d else None,
            "keyword_score": round(k.score, 6) if k else None,
            "keyword_rank": k.rank if k else None,
            # The two parts add up to `relevance`: which list put the memory where it is.
            "dense_contribution": round(self.dense_part, 6),
            "keyword_contribution": round(self.keyword_part, 6),
            "relevance": round(self.relevance, 6),
            "recency": round(self.recency, 6),
            "importance": round(self.importance, 6),
            "weights": {
                "relevance": round(1.0 - w.recency_weight - w.importance_weight, 4),
                "recency": w.recency_weight,
                "importance": w.importance_weight,
                "dense": w.dense_weight,
                "keyword": w.keyword_weight,
            },
        }


def fuse(result: IndexResult, weights: ScoringWeights, *, now: float, limit: int) -> list[Scored]:
    """Rank candidates of both lists by final score, best first; `limit` is what each list was asked for."""
    dense = {hit.id: hit for hit in result.dense}
    keyword = {hit.id: hit for hit in result.keyword}
    if weights.fusion == "adaptive":
        weights = adapted(weights, result)
    dense_parts, dense_floor = contributions(result.dense, weights.dense_weight, weights, limit=limit)
    keyword_parts, keyword_floor = contributions(result.keyword, weights.keyword_weight, weights, limit=limit)
    relevance_share = 1.0 - weights.recency_weight - weights.importance_weight
    scored: list[Scored] = []
    for memory_id in dense.keys() | keyword.keys():
        d, k = dense.get(memory_id), keyword.get(memory_id)
        dense_part = dense_parts.get(memory_id, dense_floor)
        keyword_part = keyword_parts.get(memory_id, keyword_floor)
        any_hit = d or k
        assert any_hit is not None
        recency = _recency(any_hit.created_at, now, weights.recency_half_life_days)
        importance = (min(max(any_hit.importance, 1), 10) - 1) / 9
        final = (
            relevance_share * (dense_part + keyword_part)
            + weights.recency_weight * recency
            + weights.importance_weight * importance
        )
        scored.append(
            Scored(
                memory_id,
                min(1.0, max(0.0, final)),
                d,
                k,
                dense_part,
                keyword_part,
                recency,
                importance,
                weights,
            )
        )
    scored.sort(key=lambda item: (-item.score, item.id))
    return scored


def contributions(
    hits: list[IndexHit], weight: float, weights: ScoringWeights, *, limit: int
) -> tuple[dict[str, float], float]:
    """Each hit's part of the relevance (at most `weight / (dense_weight + keyword_weight)`), and the part of
    a memory the list does not hold."""
    total = weights.dense_weight + weights.keyword_weight
    if not hits or total <= 0:
        return {}, 0.0
    share = weight / total
    if weights.fusion == "rrf":
        # The best achievable RRF is rank 1 in both lists: share * (k + 1) / (k + rank) scores that as 1.
        scale = share * (weights.rrf_k + 1)
        return {hit.id: scale / (weights.rrf_k + hit.rank) for hit in hits}, 0.0
    # A negative cosine is no evidence at all; a list whose best score is <= 0 says nothing.
    top = max(hit.score for hit in hits)
    if top <= 0:
        return {hit.id: 0.0 for hit in hits}, 0.0
    parts = {hit.id: share * max(hit.score, 0.0) / top for hit in hits}
    floor = min(parts.values()) if len(hits) >= limit else 0.0
    return parts, floor


def adapted(weights: ScoringWeights, result: IndexResult) -> ScoringWeights:
    """The weights with each list's share scaled by its `lead` for this query (the configured shares when
    neither list tells its candidates apart)."""
    dense = weights.dense_weight * lead(result.dense)
    keyword = weights.keyword_weight * lead(result.keyword)
    if dense + keyword <= 0:
        return weights
    return replace(weights, dense_weight=round(dense, 6), keyword_weight=round(keyword, 6))


def lead(hits: list[IndexHit]) -> float:
    """How far a list's best candidate stands above its candidates' mean, relative to the best, in [0, 1]:
    0 when they are all alike (the list cannot tell them apart), 1 for a single hit."""
    scores = [max(hit.score, 0.0) for hit in hits]
    if not scores or max(scores) <= 0:
        return 0.0
    return (max(scores) - sum(scores) / len(scores)) / max(scores) if len(scores) > 1 else 1.0


def dense_similarity(cosine: float) -> float:
    """A cosine as the similarity in [0, 1] that explain reports: clamped, not rescaled to (1 + cos) / 2, because
    the score fusion already counts a cosine <= 0 as 0 (see `contributions`); explain shows the number the
    ranking used, and ranking is unchanged. The upper clamp only absorbs float error of unit vectors."""
    return min(1.0, max(cosine, 0.0))


def _recency(created_at: float, now: float, half_life_days: float) -> float:
    age_days = max(0.0, now - created_at) / SECONDS_PER_DAY
    return math.exp(-math.log(2) * age_days / half_life_days)
