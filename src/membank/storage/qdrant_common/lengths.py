"""The per-user length bookkeeping behind the Qdrant adapters' BM25 weights (the normalisation is `text`'s).

Each point keeps its document's length and the average length its weights use in the payload (`LENGTH`,
`AVG_LEN`). Before a batch is written, the batch's users' statistics (documents, tokens, reference average)
are known (remembered by a process that alone writes the index, Qdrant Edge) or measured (read from the
points' payloads: a Qdrant server that other processes write too); the batch is weighted with the reference
average of its user, and when that moves (`text.reference_length`) the user's other points are re-weighted
first. A point written before lengths were kept has none: its user's points are all re-weighted then, the
old ones from their counts recovered under the fixed legacy average.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from membank.storage.ports import IndexDocument
from membank.storage.qdrant_common.payload import point_id
from membank.storage.qdrant_common.text import (
    LEGACY_AVG_LEN,
    Bm25Text,
    LengthStats,
    TermCounts,
    reference_length,
    reweighted,
    term_weights,
)

__all__ = [
    "AVG_LEN",
    "LENGTH",
    "KeywordWeights",
    "LengthStore",
    "Stored",
    "StoredVector",
    "Weighted",
    "payload_groups",
    "stored_of",
]

LENGTH = "bm25_len"
AVG_LEN = "bm25_avg"
UserKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Stored:
    """What the bookkeeping needs of a point the index holds (length None: written before lengths were kept)."""

    tenant_id: str
    user_id: str
    length: int | None
    avg_len: float | None


@dataclass(frozen=True, slots=True)
class StoredVector:
    point_id: str
    indices: Sequence[int]
    values: Sequence[float]
    length: int | None
    avg_len: float | None


@dataclass(frozen=True, slots=True)
class Weighted:
    """A document's sparse vector and the payload fields that go with it."""

    indices: list[int]
    values: list[float]
    length: int
    avg_len: float


def stored_of(payload: dict[str, Any]) -> Stored:
    """A point's `Stored` from its payload (`tenant_id`, `user_id`, `LENGTH`, `AVG_LEN`)."""
    length, avg_len = payload.get(LENGTH), payload.get(AVG_LEN)
    return Stored(
        str(payload["tenant_id"]),
        str(payload["user_id"]),
        None if length is None else int(length),
        None if avg_len is None else float(avg_len),
    )


def payload_groups(points: Sequence[StoredVector]) -> dict[tuple[tuple[str, Any], ...], list[str]]:
    """The points' new length payloads, each with the ids it is set on (one payload write per distinct
    length instead of one per point)."""
    groups: dict[tuple[tuple[str, Any], ...], list[str]] = defaultdict(list)
    for point in points:
        groups[((LENGTH, point.length), (AVG_LEN, point.avg_len))].append(point.point_id)
    return groups


class LengthStore(Protocol):
    """What an engine gives the bookkeeping; called with the adapter's write lock held."""

    def stored(self, point_ids: Sequence[str]) -> dict[str, Stored]:
        """The points of these ids that the index holds."""

    def user_points(self, tenant_id: str, user_id: str) -> Iterator[tuple[str, Stored]]:
        """(point id, stored) of every point of the user."""

    def user_vectors(self, tenant_id: str, user_id: str) -> Iterator[StoredVector]:
        """Every point of the user with its sparse vector."""

    def rewrite(self, points: Sequence[StoredVector]) -> None:
        """Replace these points' sparse vectors and set their payload's length and average."""


class KeywordWeights:
    """Weights documents for one index. `remember`: statistics are kept between writes (only when this
    process alone writes the index); otherwise they are measured before every write. `key` maps a memory id
    to the id the `LengthStore` uses (a Qdrant point id by default)."""

    def __init__(self, *, remember: bool, key: Callable[[str], str] = point_id) -> None:
        self._key = key
        self._remember = remember
        self._known: dict[UserKey, LengthStats] = {}
        self._text = Bm25Text()

    def query(self, text: str) -> tuple[list[int], list[float]]:
        return self._text.query(text)

    def weigh(self, store: LengthStore, documents: Sequence[IndexDocument]) -> list[Weighted]:
        """The sparse vectors of `documents` (ids distinct), re-weighting their users' other points in
        `store` when the users' reference average moves."""
        counts = [self._text.counts(document.text) for document in documents]
        ids = [self._key(document.id) for document in documents]
        replaced = store.stored(ids)
        if self._remember:
            self._forget(replaced.values())
        batch: dict[UserKey, list[TermCounts]] = defaultdict(list)
        for document, terms in zip(documents, counts, strict=True):
            batch[(document.tenant_id, document.user_id)].append(terms)
        references: dict[UserKey, float] = {}
        for key, added in batch.items():
            others = self._others(store, key, exclude=set(ids))
            recovered = None
            if others is None:
                recovered = self._recovered(store, key, exclude=set(ids))
                others = LengthStats(len(recovered), sum(terms.length for _, terms in recovered))
            after = others.plus(len(added), sum(terms.length for terms in added))
            reference = reference_length(after)
            if recovered is not None or (others.documents and reference != others.reference):
                self._rewrite(store, recovered or self._recovered(store, key, exclude=set(ids)), reference)
            references[key] = reference
            self._known[key] = LengthStats(after.documents, after.tokens, reference)
        if not self._remember:
            self._known.clear()
        weighted = []
        for document, terms in zip(documents, counts, strict=True):
            avg_len = references[(document.tenant_id, document.user_id)]
            indices, values = term_weights(terms, avg_len)
            weighted.append(Weighted(indices, values, terms.length, avg_len))
        return weighted

    def deleted(self, stored: Iterable[Stored]) -> None:
        """These points were deleted (what they were, as `LengthStore.stored` read them before)."""
        if self._remember:
            self._forget(stored)

    def reset(self) -> None:
        """The index was emptied."""
        self._known.clear()

    @contextlib.contextmanager
    def forgetting_on_failure(self) -> Iterator[None]:
        """Around a write: if it fails part-way (the statistics may already count it, or a re-weight may have
        been written without it), nothing remembered is trusted; the next writes measure again."""
        try:
            yield
        except BaseException:
            self._known.clear()
            raise

    def _forget(self, stored: Iterable[Stored]) -> None:
        for point in stored:
            key = (point.tenant_id, point.user_id)
            known = self._known.get(key)
            if known is not None:
                self._known[key] = known.plus(-1, -(point.length or 0))

    def _others(self, store: LengthStore, key: UserKey, *, exclude: set[str]) -> LengthStats | None:
        """The user's statistics without the points being written; None when a point has no length (written
        before lengths were kept: the user is re-weighted from the vectors)."""
        if self._remember and key in self._known:
            return self._known[key]
        documents = tokens = 0
        reference = None
        for found, point in store.user_points(*key):
            if found in exclude:
                continue
            if point.length is None:
                return None
            documents += 1
            tokens += point.length
            reference = point.avg_len if reference is None else reference
        return LengthStats(documents, tokens, reference)

    def _recovered(
        self, store: LengthStore, key: UserKey, *, exclude: set[str]
    ) -> list[tuple[str, TermCounts]]:
        """The term counts of the user's points (but `exclude`), recovered from their stored weights."""
        return [
            (
                found.point_id,
                reweighted(found.indices, found.values, found.length, found.avg_len or LEGACY_AVG_LEN),
            )
            for found in store.user_vectors(*key)
            if found.point_id not in exclude
        ]

    def _rewrite(self, store: LengthStore, points: list[tuple[str, TermCounts]], reference: float) -> None:
        rewritten = []
        for found, terms in points:
            indices, values = term_weights(terms, reference)
            rewritten.append(StoredVector(found, indices, values, terms.length, reference))
        if rewritten:
            store.rewrite(rewritten)
