"""Candidates for consolidation: the stored memories a new fact may repeat, contradict or replace, and the
tokens that tell a paraphrase from a different fact."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from membank.errors import IndexUnavailable
from membank.models import Memory, Scope, now_utc
from membank.storage.ports import IndexResult, MemoryRepository, VectorIndex

NEIGHBOURS = 8
SCAN_LIMIT = 5_000
_SALIENT = re.compile(r"\b(?:\d[\w:/.-]*|[A-Z][\w'-]+)")
_NEGATION = re.compile(
    r"\b(?:not|never|no|none|nobody|nothing|neither|nor|cannot|\w+n't|no longer|anymore)\b", re.I
)
_NUMBER_WORDS = re.compile(
    r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|hundred|thousand|dozen|first|second|"
    r"third|fourth|fifth|once|twice|half)\b",
    re.I,
)


def salient_tokens(text: str) -> set[str]:
    """Names, numbers (digits or words) and dates after the first word: texts that differ in these state
    different facts however alike they read ("gym on 3 May" vs "gym on 5 May", "two kids" vs "three")."""
    words = text.split(maxsplit=1)
    rest = words[1] if len(words) > 1 else ""
    found = {token.casefold() for token in _SALIENT.findall(rest)}
    return found | {token.casefold() for token in _NUMBER_WORDS.findall(text)}


def negated(text: str) -> bool:
    """Whether the text denies something ("User doesn't like jazz", "User no longer smokes")."""
    return bool(_NEGATION.search(text))


def cosine(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1) * (np.linalg.norm(vector) or 1.0)
    return np.asarray((matrix @ vector) / np.where(norms == 0, 1.0, norms))


class CandidateFinder:
    """Nearest valid memories of one user: from the index (dense and keyword) when this process has it and
    it is ready, else by scanning the user's newest stored vectors (a standalone worker, or an index that is
    degraded or rebuilding: it may miss recent writes, and consolidation must not)."""

    def __init__(
        self,
        memories: MemoryRepository,
        index: VectorIndex | None,
        index_ready: Callable[[], bool] | None = None,
    ) -> None:
        self._memories = memories
        self._index = index
        self._index_ready = index_ready

    def neighbours(
        self, tenant_id: str, user_id: str, text: str, vector: np.ndarray, at: float
    ) -> list[tuple[Memory, float]]:
        """(memory, cosine similarity) of the nearest valid memories, most similar first."""
        found = self._from_index(tenant_id, user_id, text, vector, at)
        if found is not None:
            ids = list(dict.fromkeys(hit.id for hit in [*found.dense, *found.keyword]))
            similarities = None
        else:
            ids, stored = self._memories.valid_vectors(tenant_id, user_id, at=at, limit=SCAN_LIMIT)
            scores = cosine(np.asarray(stored, dtype=np.float32), vector) if stored else np.zeros(0)
            similarities = {ids[i]: float(scores[i]) for i in np.argsort(-scores)[:NEIGHBOURS]}
        # The store has the last word: of the tenant, of this user, and still valid.
        moment = now_utc()
        memories = [
            m
            for m in self._memories.get_many(tenant_id, list(similarities or ids)).values()
            if m.user_id == user_id and m.is_valid_at(moment)
        ]
        if similarities is None:
            similarities = self.similarities(vector, memories)
        ranked = [(m, similarities[m.id]) for m in memories if m.id in similarities]
        return sorted(ranked, key=lambda item: -item[1])

    def _from_index(
        self, tenant_id: str, user_id: str, text: str, vector: np.ndarray, at: float
    ) -> IndexResult | None:
        if self._index is None or (self._index_ready is not None and not self._index_ready()):
            return None
        try:
            return self._index.search(
                Scope(tenant_id, user_id), vector.tolist(), text, filter=None, as_of=at, limit=NEIGHBOURS
            )
        except IndexUnavailable:
            return None

    def similarities(self, vector: np.ndarray, memories: list[Memory]) -> dict[str, float]:
        """Cosine similarity of `vector` to each of these (already loaded, so already scoped) memories."""
        stored = self._memories.vectors([m.id for m in memories])
        present = [m.id for m in memories if m.id in stored]
        if not present:
            return {}
        scores = cosine(np.asarray([stored[i] for i in present], dtype=np.float32), vector)
        return {i: float(score) for i, score in zip(present, scores, strict=True)}
