"""BM25 length normalisation on every index: each user's documents are weighted under the average length
measured from that user's documents (within `REWEIGHT_DRIFT`), not a constant (issue 14)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import qdrant_edge as q

from membank.models import Scope
from membank.storage.ports import IndexDocument, VectorIndex
from membank.storage.qdrant_common.lengths import AVG_LEN, LENGTH
from membank.storage.qdrant_common.payload import SPARSE, point_id
from membank.storage.qdrant_common.text import (
    LEGACY_AVG_LEN,
    REWEIGHT_DRIFT,
    Bm25Text,
    term_weights,
)
from membank.storage.qdrant_edge import QdrantEdgeIndex
from tests.contract.conftest import DIM
from tests.contract.test_vector_index import NOW, axis, doc, mid

K1, B = 1.2, 0.75
WORDS = [f"filler{chr(97 + i)}{chr(97 + j)}" for i in range(26) for j in range(26)]
TEXT = Bm25Text()


def long_text(seed: int, words: int, *, extra: str = "") -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(WORDS) for _ in range(words)) + (f" {extra}" if extra else "")


def okapi(documents: list[IndexDocument], query: str) -> dict[str, float]:
    """Plain Okapi BM25 over `documents` with their measured average length and Qdrant's IDF."""
    counts = {d.id: TEXT.counts(d.text) for d in documents}
    average = sum(c.length for c in counts.values()) / len(counts)
    terms = set(TEXT.query(query)[0])
    frequency = {t: sum(1 for c in counts.values() if t in c.counts) for t in terms}
    n = len(documents)
    scores = {}
    for memory_id, c in counts.items():
        score = 0.0
        for t in terms & c.counts.keys():
            tf = c.counts[t]
            idf = math.log(1 + (n - frequency[t] + 0.5) / (frequency[t] + 0.5))
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * c.length / average))
        if score > 0:
            scores[memory_id] = score
    return scores


def keyword_scores(index: VectorIndex, query: str, user: str = "u1") -> dict[str, float]:
    result = index.search(Scope("t1", user), axis(1.0), query, filter=None, as_of=NOW, limit=100)
    return {hit.id: hit.score for hit in result.keyword}


def corpus(user: str = "u1", start: int = 0) -> list[IndexDocument]:
    """Short and long documents of one user; "zebra" once, three times, or in a long text."""
    return [
        doc(f"{user}-short-{start}", user_id=user, text="the zebra ate grass"),
        doc(f"{user}-short3-{start}", user_id=user, text="zebra zebra zebra at the zoo"),
        doc(f"{user}-long-{start}", user_id=user, text=long_text(start + 1, 400, extra="zebra")),
        doc(f"{user}-long3-{start}", user_id=user, text=long_text(start + 2, 400, extra="zebra zebra zebra")),
        doc(f"{user}-other-{start}", user_id=user, text=long_text(start + 3, 200, extra="giraffe")),
    ]


def test_scores_are_okapi_bm25_under_the_users_measured_average(index: VectorIndex) -> None:
    documents = corpus()
    index.upsert(documents)
    want, have = okapi(documents, "zebra"), keyword_scores(index, "zebra")
    assert have.keys() == want.keys()
    for memory_id, score in want.items():
        assert have[memory_id] == pytest.approx(score, rel=1e-4)
    # The fixed average of 12 tokens gave a 400-token memory mentioning zebra three times three times the
    # score of the one mentioning it once (no saturation); Okapi BM25 gives ~1.8 times.
    ratio = have[documents[3].id] / have[documents[2].id]
    assert 1.5 < ratio < 2.2


def test_users_are_weighted_apart_and_writes_one_by_one_stay_within_the_drift(index: VectorIndex) -> None:
    long_user = [
        doc(f"l{i}", user_id="long", text=long_text(i, 300, extra="zebra " * (i % 3 + 1))) for i in range(12)
    ]
    short_user = [doc(f"s{i}", user_id="short", text="zebra " * (i % 3 + 1) + "grazes") for i in range(12)]
    for document in [*long_user, *short_user]:
        index.upsert([document])
    for user, documents in (("long", long_user), ("short", short_user)):
        want, have = okapi(documents, "zebra"), keyword_scores(index, "zebra", user)
        assert have.keys() == want.keys()
        for memory_id, score in want.items():
            assert have[memory_id] == pytest.approx(score, rel=REWEIGHT_DRIFT)


def test_a_drifting_average_reweights_the_documents_written_before(index: VectorIndex) -> None:
    short = [doc(f"short{i}", text=f"zebra number {i} grazes") for i in range(8)]
    long = [doc(f"long{i}", text=long_text(i, 500, extra="zebra")) for i in range(8)]
    for document in [*short, *long]:
        index.upsert([document])
    want, have = okapi([*short, *long], "zebra"), keyword_scores(index, "zebra")
    # Written while the average was ~3 tokens, the short ones were weighted for it; the average is now ~250.
    for document in short:
        assert have[document.id] == pytest.approx(want[document.id], rel=REWEIGHT_DRIFT)


def test_deletes_and_rebuilds_keep_the_average_current(index: VectorIndex) -> None:
    short = [doc(f"short{i}", text=f"zebra number {i} grazes") for i in range(6)]
    long = [doc(f"long{i}", text=long_text(i, 500, extra="zebra")) for i in range(6)]
    index.upsert([*short, *long])
    index.delete([document.id for document in long])
    latest = doc("short-late", text="a zebra again")
    index.upsert([latest])
    remaining = [*short, latest]
    want, have = okapi(remaining, "zebra"), keyword_scores(index, "zebra")
    assert have.keys() == want.keys()
    for memory_id, score in want.items():
        assert have[memory_id] == pytest.approx(score, rel=REWEIGHT_DRIFT)
    # A rebuild (`membank reindex`: clear, then every document at once) weighs under the exact average.
    index.clear()
    index.upsert(remaining)
    for memory_id, score in okapi(remaining, "zebra").items():
        assert keyword_scores(index, "zebra")[memory_id] == pytest.approx(score, rel=1e-4)


def test_an_index_written_before_lengths_were_kept_is_reweighted_at_the_next_write(tmp_path: Path) -> None:
    """Points without a stored length carry weights under the old fixed average of 12 tokens: the user's next
    write recovers their counts and weighs every point under the measured average."""
    index = QdrantEdgeIndex(tmp_path / "vectors", DIM, optimize_on_open=False)
    try:
        documents = corpus()
        index.upsert(documents)
        shard = index._shard
        assert shard is not None
        ids: list[q.PointId] = [point_id(d.id) for d in documents]
        legacy = []
        for document in documents:
            indices, values = term_weights(TEXT.counts(document.text), LEGACY_AVG_LEN)
            legacy.append(q.PointVectors(point_id(document.id), {SPARSE: q.SparseVector(indices, values)}))
        shard.update(q.UpdateOperation.update_vectors(legacy))
        shard.update(q.UpdateOperation.delete_payload(ids, [LENGTH, AVG_LEN]))
        index.close()  # a new process: nothing remembered of this one's writes
        index = QdrantEdgeIndex(tmp_path / "vectors", DIM, optimize_on_open=False)
        before = keyword_scores(index, "zebra")
        assert before[documents[3].id] / before[documents[2].id] > 2.5  # no saturation under the old constant
        late = doc("u1-late", text="one more zebra fact")
        index.upsert([late])
        want, have = okapi([*documents, late], "zebra"), keyword_scores(index, "zebra")
        for memory_id, score in want.items():
            assert have[memory_id] == pytest.approx(score, rel=1e-3)
    finally:
        index.close()


def test_termless_and_hugely_repetitive_documents_take_part_in_reweights(index: VectorIndex) -> None:
    documents = [
        doc("empty", text="the and of it"),
        doc("repeat", text="zebra " * 20_000),
        *(doc(f"n{i}", text=f"zebra grazing number {i}") for i in range(5)),
        doc("long", text=long_text(9, 600, extra="zebra")),
    ]
    for document in documents:
        index.upsert([document])
    want, have = okapi(documents, "zebra"), keyword_scores(index, "zebra")
    assert have.keys() == want.keys() and mid("empty") not in have
    for memory_id, score in want.items():
        assert have[memory_id] == pytest.approx(score, rel=REWEIGHT_DRIFT)
    # Saturation: 20,000 mentions in one long text weigh at most (k1 + 1) times the IDF.
    assert max(have, key=have.__getitem__) == mid("repeat")
