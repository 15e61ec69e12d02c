"""The keyword side of every index: BM25 term weights, one tokenizer and one length normalisation everywhere.

`qdrant_edge.Bm25` (lowercase, ASCII folding, English stopwords, Snowball stemming) tokenizes in this process
for Qdrant Edge, a Qdrant server, the pgvector index and the keyword fallback alike, so all of them index and
query the same terms and no model is fetched. The engines add the IDF factor at query time (Qdrant's `IDF`
modifier; the same formula in SQL and in the fallback), over the memories searched.

The document side is Okapi BM25's term weight::

    w_t(d) = tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avg_len))

with |d| the document's length in tokens (after stopwords) and `avg_len` measured from the documents of the
same user (`reference_length`), not a constant: a fixed average of 12 tokens weighed every memory of several
hundred tokens as if it were 20x too long, so on long memories BM25 degenerated into tf / |d| and lost to
plain BM25 by 0.08-0.17 recall@10 (issue 14). The weights are stored (a sparse vector, a table of terms), so
the average they use is the user's *reference length*: all of a user's documents are weighted with the same
one, and when the user's measured average moves more than `REWEIGHT_DRIFT` away from it, the reference becomes
the measured average and every document of the user is re-weighted (from the term counts
recovered from the stored weights). A re-weight needs the average to move by a fifth, so it happens at
geometrically spaced sizes: the work stays proportional to what was written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import qdrant_edge as q

__all__ = [
    "K1",
    "LEGACY_AVG_LEN",
    "REWEIGHT_DRIFT",
    "B",
    "Bm25Text",
    "LengthStats",
    "TermCounts",
    "recovered_counts",
    "reference_length",
    "term_weights",
]

K1 = 1.2
B = 0.75
# How far (relative) a user's measured average length may drift from the one their weights use.
REWEIGHT_DRIFT = 0.2
# The fixed average every document was weighted with before lengths were measured: what a document written
# then (no stored length) was weighted with.
LEGACY_AVG_LEN = 12.0


@dataclass(frozen=True, slots=True)
class TermCounts:
    """A text's terms (hashed token ids) and how often each occurs."""

    counts: dict[int, int]

    @property
    def length(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class LengthStats:
    """A user's documents, their total length in tokens, and the average length their weights use."""

    documents: int = 0
    tokens: int = 0
    reference: float | None = None

    def plus(self, documents: int, tokens: int) -> LengthStats:
        return LengthStats(self.documents + documents, self.tokens + tokens, self.reference)

    @property
    def average(self) -> float | None:
        return self.tokens / self.documents if self.documents > 0 else None


def reference_length(stats: LengthStats) -> float:
    """The average length the user's weights should use now: the current reference while the measured average
    is within `REWEIGHT_DRIFT` of it, else the measured average (at least 1 token; `LEGACY_AVG_LEN` for a user
    without documents)."""
    measured = stats.average
    if measured is None:
        return stats.reference or LEGACY_AVG_LEN
    measured = max(measured, 1.0)
    if stats.reference is not None and abs(measured / stats.reference - 1.0) <= REWEIGHT_DRIFT:
        return stats.reference
    return measured


def term_weights(
    terms: TermCounts, avg_len: float, *, length: int | None = None
) -> tuple[list[int], list[float]]:
    """The document's sparse vector (indices, BM25 weights) under the average length `avg_len`; the
    document's length is its counts' unless given."""
    norm = K1 * (1.0 - B + B * (terms.length if length is None else length) / avg_len)
    indices = sorted(terms.counts)
    return indices, [terms.counts[t] * (K1 + 1.0) / (terms.counts[t] + norm) for t in indices]


def recovered_counts(
    indices: Sequence[int], values: Sequence[float], length: int | None, avg_len: float
) -> TermCounts:
    """The term counts behind stored weights (`term_weights` of a document of `length` tokens under
    `avg_len`), so they can be weighted again under another average.

    A document stored before lengths were kept (`length` None, weighted under `LEGACY_AVG_LEN`) has its length
    inferred from its lowest weight, taken to be a term occurring once (true of almost every text; where it is
    not, the counts come out proportionally smaller, and `membank reindex` recomputes them from the text)."""
    if not indices:
        return TermCounts({})
    if length is None:
        lowest = min(values)
        norm = ((K1 + 1.0) / lowest - 1.0) if lowest > 0 else K1
    else:
        norm = K1 * (1.0 - B + B * length / avg_len)
    return TermCounts({int(term): _count(weight, norm) for term, weight in zip(indices, values, strict=True)})


def _count(weight: float, norm: float) -> int:
    """The term count behind a weight tf * (k1 + 1) / (tf + norm); weights at the ceiling (float32 rounding of
    enormous counts) count once."""
    gap = K1 + 1.0 - weight
    return max(1, round(weight * norm / gap)) if gap > 0 else 1


class Bm25Text:
    """Turns texts into term counts (documents) and query terms (searches)."""

    def __init__(self) -> None:
        # b = 0 leaves the weight a function of the count alone: tf * (k1 + 1) / (tf + k1), inverted below.
        self._counter = q.Bm25(_config(b=0.0))
        self._query = q.Bm25(_config(b=B))

    def counts(self, text: str) -> TermCounts:
        sparse = self._counter.embed_document(text)
        # Under b = 0 the norm is k1 alone.
        return TermCounts(
            {
                int(term): _count(weight, K1)
                for term, weight in zip(sparse.indices, sparse.values, strict=True)
            }
        )

    def query(self, text: str) -> tuple[list[int], list[float]]:
        """The query's distinct terms and their weights (1 each: Qdrant's query side)."""
        sparse = self._query.embed_query(text)
        return [int(t) for t in sparse.indices], [float(v) for v in sparse.values]


def _config(*, b: float) -> q.Bm25Config:
    return q.Bm25Config(language="english", lowercase=True, ascii_folding=True, k=K1, b=b, avg_len=1.0)
