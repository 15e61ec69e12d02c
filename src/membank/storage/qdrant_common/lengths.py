"""The per-user length bookkeeping behind every index's BM25 weights (the normalisation is `text`'s).

Each point keeps its document's length and the average length its weights use (in a Qdrant payload `LENGTH`,
`AVG_LEN`; in pgvector's columns). Before a batch is written, the batch's users' statistics (documents, tokens, reference average)
are known (remembered by a process that alone writes the index, Qdrant Edge) or measured (read from the
points' payloads: a Qdrant server that other processes write too); the batch is weighted with the reference
average of its user, and when that moves (`text.reference_length`) the user's other points are re-weighted
first. A point written before lengths were kept has none: its user's points are all re-weighted then, the
old ones from their counts recovered under the fixed legacy average.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cachetools import LRUCache, TTLCache

from membank.storage.ports import IndexDocument
from membank.storage.qdrant_common.payload import point_id
from membank.storage.qdrant_common.text import (
    LEGACY_AVG_LEN,
    Bm25Text,
    LengthStats,
    TermCounts,
    recovered_counts,
    reference_length,
    term_weights,
)

__all__ = [
    "AVG_LEN",
    "LENGTH",
    "LENGTH_FIELDS",
    "KeywordWeights",
    "LengthStore",
    "Stored",
    "StoredVector",
    "Weighted",
    "measured",
    "payload_groups",
    "records_stats",
    "stored_of",
    "stored_vector",
]

# Bounds the remembered statistics (a few dozen bytes each); a user left out is measured again.
REMEMBERED_USERS = 100_000
LENGTH = "bm25_len"
AVG_LEN = "bm25_avg"
# The payload fields a Qdrant point's bookkeeping reads (the sync token guards re-weights).
LENGTH_FIELDS = ["tenant_id", "user_id", "sync_token", LENGTH, AVG_LEN]
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
    """A point's sparse vector as stored, with its length, average and sync token (the state it was read in)."""

    point_id: str
    indices: Sequence[int]
    values: Sequence[float]
    length: int | None
    avg_len: float | None
    token: str | None = None


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


def stored_vector(record: Any, sparse_name: str) -> StoredVector:
    """A Qdrant record (either engine's, read with `LENGTH_FIELDS` and its sparse vector) as a `StoredVector`."""
    payload = record.payload or {}
    stored = stored_of(payload)
    sparse = record.vector.get(sparse_name) if isinstance(record.vector, dict) else None
    indices, values = (sparse.indices, sparse.values) if sparse is not None else ([], [])
    return StoredVector(
        str(record.id), indices, values, stored.length, stored.avg_len, payload.get("sync_token")
    )


def records_stats(records: Iterable[Any], exclude: set[str]) -> LengthStats | None:
    """`measured` over Qdrant records (read with `LENGTH_FIELDS`) but those in `exclude`."""
    return measured(stored_of(r.payload or {}) for r in records if str(r.id) not in exclude)


def payload_groups(points: Sequence[StoredVector]) -> dict[tuple[tuple[str, Any], ...], list[str]]:
    """The points' new length payloads, each with the ids it is set on (one payload write per distinct
    length instead of one per point)."""
    groups: dict[tuple[tuple[str, Any], ...], list[str]] = defaultdict(list)
    for point in points:
        groups[((LENGTH, point.length), (AVG_LEN, point.avg_len))].append(point.point_id)
    return groups


def measured(points: Iterable[Stored]) -> LengthStats | None:
    """The statistics of these points; None when one has no length (written before lengths were kept) or
    they disagree on the reference (a re-weight was cut short, or raced): the user is then re-weighted."""
    documents = tokens = 0
    references: set[float] = set()
    for point in points:
        if point.length is None or point.avg_len is None:
            return None
        documents += 1
        tokens += point.length
        references.add(point.avg_len)
    if len(references) > 1:
        return None
    return LengthStats(documents, tokens, next(iter(references), None))


class LengthStore(Protocol):
    """What an engine gives the bookkeeping; called with the adapter's write lock held (if it has one)."""

    def stored(self, point_ids: Sequence[str]) -> dict[str, Stored]:
        """The points of these ids that the index holds."""

    def user_stats(self, tenant_id: str, user_id: str, exclude: set[str]) -> LengthStats | None:
        """`measured` over the user's points but `exclude`."""

    def user_vectors(self, tenant_id: str, user_id: str) -> Iterator[StoredVector]:
        """Every point of the user with its sparse vector."""

    def rewrite(self, points: Sequence[StoredVector]) -> None:
        """Replace these points' sparse vectors and set their length and average, each only if the point is
        still the state it was read in (`StoredVector.token`): a newer write is never undone."""


class KeywordWeights:
    """Weights documents for one index. Users' statistics are remembered for `remember_seconds` between writes
    (`math.inf` only where this process alone writes the index; 0: measured before every write) and for the
    `REMEMBERED_USERS` most recently written users. `key` maps a memory id to the id the `LengthStore` uses (a
    Qdrant point id by default)."""

    def __init__(self, *, remember_seconds: float, key: Callable[[str], str] = point_id) -> None:
        self._key = key
        self._remember = remember_seconds > 0
        self._known: MutableMapping[UserKey, LengthStats] = (
            LRUCache(REMEMBERED_USERS)
            if math.isinf(remember_seconds)
            else TTLCache(REMEMBERED_USERS, remember_seconds)
            if self._remember
            else {}
        )
        self._known_lock = threading.Lock()  # writers of a shared index run in several threads
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
        exclude = set(ids)
        for key, added in batch.items():
            with self._known_lock:
                others = self._known.get(key) if self._remember else None
            if others is None:
                others = store.user_stats(*key, exclude)
            recovered = None
            if others is None:
                recovered = self._recovered(store, key, exclude=exclude)
                others = LengthStats(len(recovered), sum(length for _, _, length in recovered))
            after = others.plus(len(added), sum(terms.length for terms in added))
            reference = reference_length(after)
            if recovered is not None or (others.documents and reference != others.reference):
                if recovered is None:
                    recovered = self._recovered(store, key, exclude=exclude)
                self._rewrite(store, recovered, reference)
            references[key] = reference
            if self._remember:
                with self._known_lock:
                    self._known[key] = LengthStats(after.documents, after.tokens, reference)
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
        """The index was emptied, or (re)opened: nothing remembered holds."""
        with self._known_lock:
            self._known.clear()

    @contextlib.contextmanager
    def forgetting_on_failure(self) -> Iterator[None]:
        """Around a write: if it fails part-way (the statistics may already count it, or a re-weight may have
        been written without it), nothing remembered is trusted; the next writes measure again."""
        try:
            yield
        except BaseException:
            self.reset()
            raise

    def _forget(self, stored: Iterable[Stored]) -> None:
        with self._known_lock:
            for point in stored:
                key = (point.tenant_id, point.user_id)
                known = self._known.get(key)
                if known is not None:
                    self._known[key] = known.plus(-1, -(point.length or 0))

    def _recovered(
        self, store: LengthStore, key: UserKey, *, exclude: set[str]
    ) -> list[tuple[StoredVector, TermCounts, int]]:
        """The user's points (but `exclude`) with their term counts recovered from their stored weights, and
        their length (the stored one when known: recovery rounds the counts of very frequent terms)."""
        out = []
        for found in store.user_vectors(*key):
            if found.point_id in exclude:
                continue
            terms = recovered_counts(
                found.indices, found.values, found.length, found.avg_len or LEGACY_AVG_LEN
            )
            out.append((found, terms, terms.length if found.length is None else found.length))
        return out

    def _rewrite(
        self, store: LengthStore, points: list[tuple[StoredVector, TermCounts, int]], reference: float
    ) -> None:
        rewritten = []
        for found, terms, length in points:
            indices, values = term_weights(terms, reference, length=length)
            rewritten.append(StoredVector(found.point_id, indices, values, length, reference, found.token))
        if rewritten:
            store.rewrite(rewritten)
