"""Fusion and final scoring: every score is in [0, 1], higher is better."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from membank.storage.ports import IndexHit, IndexResult

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class ScoringWeights:
    """How relevance, recency and importance combine. Relevance comes from weighted RRF of the dense and
    keyword rankings, normalised by the best achievable RRF so a top hit in both lists scores 1."""

    rrf_k: int = 60
    dense_weight: float = 1.0
    keyword_weight: float = 1.0
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
    rrf: float
    relevance: float
    recency: float
    importance: float
    weights: ScoringWeights

    def details(self) -> dict[str, Any]:
        d, k, w = self.dense, self.keyword, self.weights
        return {
            "dense_similarity": round(d.score, 6) if d else None,
            "dense_rank": d.rank if d else None,
            "keyword_score": round(k.score, 6) if k else None,
            "keyword_rank": k.rank if k else None,
            "rrf": round(self.rrf, 6),
            "relevance": round(self.relevance, 6),
            "recency": round(self.recency, 6),
            "importance": round(self.importance, 6),
            "weights": {
                "relevance": round(1.0 - w.recency_weight - w.importance_weight, 4),
                "recency": w.recency_weight,
                "importance": w.importance_weight,
            },
        }


def fuse(result: IndexResult, weights: ScoringWeights, *, now: float) -> list[Scored]:
    """Rank candidates of both lists by final score, best first."""
    dense = {hit.id: hit for hit in result.dense}
    keyword = {hit.id: hit for hit in result.keyword}
    best_rrf = (weights.dense_weight + weights.keyword_weight) / (weights.rrf_k + 1)
    relevance_share = 1.0 - weights.recency_weight - weights.importance_weight
    scored: list[Scored] = []
    for memory_id in dense.keys() | keyword.keys():
        d, k = dense.get(memory_id), keyword.get(memory_id)
        rrf = _rrf(d, weights.dense_weight, weights.rrf_k) + _rrf(k, weights.keyword_weight, weights.rrf_k)
        relevance = rrf / best_rrf
        any_hit = d or k
        assert any_hit is not None
        recency = _recency(any_hit.created_at, now, weights.recency_half_life_days)
        importance = (min(max(any_hit.importance, 1), 10) - 1) / 9
        final = (
            relevance_share * relevance
            + weights.recency_weight * recency
            + weights.importance_weight * importance
        )
        scored.append(
            Scored(memory_id, min(1.0, max(0.0, final)), d, k, rrf, relevance, recency, importance, weights)
        )
    scored.sort(key=lambda item: (-item.score, item.id))
    return scored


def _rrf(hit: IndexHit | None, weight: float, k: int) -> float:
    return weight / (k + hit.rank) if hit is not None else 0.0


def _recency(created_at: float, now: float, half_life_days: float) -> float:
    age_days = max(0.0, now - created_at) / SECONDS_PER_DAY
    return math.exp(-math.log(2) * age_days / half_life_days)
