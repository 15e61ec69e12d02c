"""The filter compiler of `membank.storage.qdrant_common.filters` on `qdrant_client.models`."""

from __future__ import annotations

from collections.abc import Sequence

from qdrant_client import models

from membank.storage.qdrant_common.filters import FilterCompiler

__all__ = ["ClientFilterModels", "compiler"]

Condition = models.FieldCondition | models.IsEmptyCondition | models.HasIdCondition


class ClientFilterModels:
    """`FilterModels` with `qdrant_client.models` classes (the REST/gRPC filter of a Qdrant server)."""

    def filter(
        self,
        *,
        must: Sequence[models.Filter | Condition] = (),
        should: Sequence[models.Filter | Condition] = (),
        must_not: Sequence[models.Filter | Condition] = (),
    ) -> models.Filter:
        return models.Filter(
            must=list(must) if must else None,
            should=list(should) if should else None,
            must_not=list(must_not) if must_not else None,
        )

    def match_value(self, key: str, value: str | int) -> Condition:
        return models.FieldCondition(key=key, match=models.MatchValue(value=value))

    def match_any(self, key: str, values: list[str]) -> Condition:
        return models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))

    def match_substring(self, key: str, text: str) -> Condition:
        return models.FieldCondition(key=key, match=models.MatchSubstring(substring=text))

    def range(
        self,
        key: str,
        *,
        gt: float | None = None,
        gte: float | None = None,
        lt: float | None = None,
        lte: float | None = None,
    ) -> Condition:
        return models.FieldCondition(key=key, range=models.Range(gt=gt, gte=gte, lt=lt, lte=lte))

    def is_empty(self, key: str) -> Condition:
        return models.IsEmptyCondition(is_empty=models.PayloadField(key=key))

    def no_point(self) -> Condition:
        return models.HasIdCondition(has_id=[])


compiler: FilterCompiler[models.Filter, Condition] = FilterCompiler(ClientFilterModels())
