"""Candidates for consolidation: the stored memories a new fact may repeat, contradict or replace, and the
tokens that tell a paraphrase from a different fact."""

from __future__ import annotations

import re

import numpy as np

from membank.models import Memory, Scope, now_utc
from membank.storage.ports import RecordStore, VectorIndex

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
    """Nearest valid memories of one user: from the index (dense and keyword) when this process has it,
    else by scanning the user's newest stored vectors (a standalone worker)."""

    def __init__(self, store: RecordStore, index: VectorIndex | None) -> None:
        self._store = store
        self._index = index

    def neighbours(
        self, tenant_id: str, user_id: str, text: str, vector: np.ndarray, at: float
    ) -> list[tuple[Memory, float]]:
        """(memory, cosine similarity) of the nearest valid memories, most similar first."""
        if self._index is not None:
            found = self._index.search(
                Scope(tenant_id, user_id), vector.tolist(), text, filter=None, as_of=at, limit=NEIGHBOURS
            )
            ids = list(dict.fromkeys(hit.id for hit in [*found.dense, *found.keyword]))
            similarities = self.similarities(tenant_id, vector, ids)
        else:
            ids, stored = self._store.memories.valid_vectors(tenant_id, user_id, at=at, limit=SCAN_LIMIT)
            scores = cosine(np.asarray(stored, dtype=np.float32), vector) if stored else np.zeros(0)
            similarities = {ids[i]: float(scores[i]) for i in np.argsort(-scores)[:NEIGHBOURS]}
        memories = self._store.memories.get_many(tenant_id, list(similarities))
        moment = now_utc()
        return [
            (memories[i], score)
            for i, score in sorted(similarities.items(), key=lambda item: -item[1])
            if i in memories and memories[i].user_id == user_id and memories[i].is_valid_at(moment)
        ]

    def similarities(self, tenant_id: str, vector: np.ndarray, ids: list[str]) -> dict[str, float]:
        """Cosine similarity of `vector` to each stored memory of the tenant among `ids`."""
        if not ids:
            return {}
        owned = set(self._store.memories.get_many(tenant_id, ids))
        stored = self._store.memories.vectors([i for i in ids if i in owned])
        present = [i for i in ids if i in stored]
        if not present:
            return {}
        scores = cosine(np.asarray([stored[i] for i in present], dtype=np.float32), vector)
        return {i: float(score) for i, score in zip(present, scores, strict=True)}
