"""BM25 over the system of record: the keyword search that serves while the vector index cannot.

It reads the scope's newest `max_scan` memories valid at `as_of` (one bounded query on the index
memories_user_created, the same on SQLite and PostgreSQL), keeps those matching the filter (evaluated in
Python with the semantics every index implements, `storage.filters.matches`), and scores them with the
indexes' own BM25 tokenizer and term weight (`qdrant_common.text`), the average length measured over the
memories read, so a term counts as it does in the index (whose average is the user's, within the drift). IDF is computed over the memories read, as the index computes it over
its corpus: ln(1 + (N - n + 0.5) / (n + 0.5)). A user with more than `max_scan` valid memories is searched
over the newest only, and the result says so (`complete=False`).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from membank.models import Memory, Scope, to_epoch
from membank.storage.filters import FilterNode, matches
from membank.storage.ports import IndexHit, KeywordResult, MemoryRepository
from membank.storage.qdrant_common.text import Bm25Text, term_weights

__all__ = ["RecordKeywordSearch", "memory_fields"]


def memory_fields(memory: Memory) -> dict[str, Any]:
    """The filterable fields of a memory, as the filter tree names them (times in epoch seconds)."""
    return {
        "user_id": memory.user_id,
        "agent_id": memory.agent_id,
        "session_id": memory.session_id,
        "memory_type": memory.memory_type,
        "tags": list(memory.tags),
        "entities": list(memory.entities),
        "importance": memory.importance,
        "created_at": to_epoch(memory.created_at),
        "updated_at": to_epoch(memory.updated_at),
        "valid_from": to_epoch(memory.valid_from),
        "valid_to": to_epoch(memory.valid_to) if memory.valid_to else None,
        "metadata": memory.metadata,
    }


class RecordKeywordSearch:
    """The KeywordSearch port over a MemoryRepository."""

    def __init__(self, memories: MemoryRepository, *, max_scan: int) -> None:
        self._memories = memories
        self._max_scan = max_scan
        self._bm25 = Bm25Text()

    def search(
        self, scope: Scope, text: str, *, filter: FilterNode | None, as_of: float, limit: int
    ) -> KeywordResult:
        terms = set(self._bm25.query(text)[0])
        read = self._memories.newest_valid(scope, at=as_of, limit=self._max_scan + 1)
        complete = len(read) <= self._max_scan
        scanned = read[: self._max_scan]
        corpus = [m for m in scanned if filter is None or matches(filter, memory_fields(m))]
        if not terms or limit <= 0:
            return KeywordResult([], len(scanned), complete)
        counts = [self._bm25.counts(memory.content) for memory in corpus]
        avg_len = max(1.0, sum(c.length for c in counts) / len(counts)) if counts else 1.0
        weights = [dict(zip(*term_weights(c, avg_len), strict=True)) for c in counts]
        frequency: Counter[int] = Counter(term for weight in weights for term in weight.keys() & terms)
        idf = {
            term: math.log(1 + (len(corpus) - count + 0.5) / (count + 0.5))
            for term, count in frequency.items()
        }
        scored = [
            (sum(idf[term] * weight[term] for term in weight.keys() & terms), memory)
            for memory, weight in zip(corpus, weights, strict=True)
        ]
        ranked = sorted(
            ((score, memory) for score, memory in scored if score > 0),
            key=lambda pair: (-pair[0], pair[1].id),
        )
        hits = [
            IndexHit(memory.id, score, rank, memory.importance, to_epoch(memory.created_at))
            for rank, (score, memory) in enumerate(ranked[:limit], start=1)
        ]
        return KeywordResult(hits, len(scanned), complete)
