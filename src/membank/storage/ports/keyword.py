"""Keyword search without the vector index: what search falls back to while the index cannot serve."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from membank.models import Scope
from membank.storage.filters import FilterNode
from membank.storage.ports.index import IndexHit

__all__ = ["KeywordResult", "KeywordSearch"]


@dataclass(frozen=True, slots=True)
class KeywordResult:
    """Keyword candidates, best first, and how much was searched: `scanned` memories of the scope, all of
    them unless `complete` is False (the scope holds more than the fallback reads; the oldest were left)."""

    hits: list[IndexHit]
    scanned: int
    complete: bool


class KeywordSearch(Protocol):
    """BM25 keyword search straight over the system of record, with the filter semantics of every index."""

    def search(
        self, scope: Scope, text: str, *, filter: FilterNode | None, as_of: float, limit: int
    ) -> KeywordResult:
        """Top `limit` memories in `scope` valid at `as_of` and matching `filter`, by BM25 of `text`
        (nothing for a query without an indexable term)."""
