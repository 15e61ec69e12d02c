"""The filter compiler of `membank.storage.qdrant_common.filters` on Qdrant Edge's classes."""

from __future__ import annotations

from collections.abc import Sequence

import qdrant_edge as q

from membank.storage.qdrant_common.filters import FilterCompiler

__all__ = ["EdgeFilterModels", "compiler"]

Condition = q.FieldCondition | q.IsEmptyCondition | q.HasIdCondition


class EdgeFilterModels:
    """`FilterModels` with `qdrant_edge` classes."""

    def filter(
        self,
        *,
        must: Sequence[q.Filter | Condition] = (),
        should: Sequence[q.Filter | Condition] = (),
        must_not: Sequence[q.Filter | Condition] = (),
    ) -> q.Filter:
        return q.Filter(
            must=list(must) if must else None,
            should=list(should) if should else None,
            must_not=list(must_not) if must_not else None,
        )

    def match_value(self, key: str, value: str | int) -> Condition:
        return q.FieldCondition(key, match=q.MatchValue(value))

    def match_any(self, key: str, values: list[str]) -> Condition:
        return q.FieldCondition(key, match=q.MatchAny(values))

    def match_substring(self, key: str, text: str) -> Condition:
        return q.FieldCondition(key, match=q.MatchSubstring(text))

    def range(
        self,
        key: str,
        *,
        gt: float | None = None,
        gte: float | None = None,
        lt: float | None = None,
        lte: float | None = None,
    ) -> Condition:
        return q.FieldCondition(key, range=q.RangeFloat(gt=gt, gte=gte, lt=lt, lte=lte))

    def is_empty(self, key: str) -> Condition:
        return q.IsEmptyCondition(key)

    def no_point(self) -> Condition:
        return q.HasIdCondition(set())


compiler: FilterCompiler[q.Filter, Condition] = FilterCompiler(EdgeFilterModels())
