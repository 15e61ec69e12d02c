"""The `VectorIndex` contract: every backend behaves exactly like this (see conftest.py to add one).

The filter cases are the executable form of the semantics in `membank.storage.filters`.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from membank.models import Scope
from membank.search.filters import parse_filter
from membank.storage.filters import Condition, Or
from membank.storage.ports import IndexDocument, VectorIndex
from tests.contract.conftest import BACKENDS, DIM, FACTORIES, OpenIndex, prepare_place

T1 = Scope("t1")
T1_U1 = Scope("t1", user_id="u1")
NOW = 10_000.0


def mid(name: str) -> str:
    """A stable memory id (a UUID, as the service makes them) for a readable name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"membank-test/{name}"))


NAMES = {mid(name): name for name in ("a", "b", "c", "x", "y", "past", "current", "future", "v1", "v2")}


def names(ids: Any) -> set[str]:
    return {NAMES.get(memory_id, memory_id) for memory_id in ids}


def axis(*weights: float) -> list[float]:
    """A vector with the given leading components (the rest zero)."""
    return [*weights, *([0.0] * (DIM - len(weights)))]


def doc(name: str, **fields: Any) -> IndexDocument:
    values: dict[str, Any] = {
        "id": mid(name),
        "tenant_id": "t1",
        "user_id": "u1",
        "vector": axis(1.0),
        "text": f"memory {name}",
        "memory_type": "factual",
        "importance": 3,
        "created_at": 100.0,
        "updated_at": 100.0,
        "valid_from": 100.0,
        "valid_to": None,
        "sync_token": "1:100.000000",
    }
    values.update(fields)
    return IndexDocument(**values)


def search(index: VectorIndex, scope: Scope = T1_U1, **kwargs: Any) -> tuple[list[str], list[str]]:
    """(dense ids, keyword ids) of a search, in rank order."""
    options: dict[str, Any] = {"vector": axis(1.0), "text": "", "filter": None, "as_of": NOW, "limit": 50}
    options.update(kwargs)
    result = index.search(scope, **options)
    return [hit.id for hit in result.dense], [hit.id for hit in result.keyword]


# -- filters ----------------------------------------------------------------------------------------------

FILTER_DOCS = [
    doc(
        "a",
        memory_type="preference",
        importance=5,
        created_at=100.0,
        tags=["red", "blue"],
        entities=["Alice"],
        agent_id="agent-1",
        session_id="s1",
        text="alpha fox",
        metadata={
            "project": "apollo",
            "score": 1.5,
            "count": 3,
            "flag": True,
            "labels": ["Alpha", "beta"],
            "nested": {"level": "deep"},
        },
    ),
    doc(
        "b",
        importance=2,
        created_at=200.0,
        tags=["green"],
        text="beta fox",
        metadata={"project": "gemini", "score": 2.0, "count": 1, "flag": False},
    ),
    doc(
        "c", memory_type="episodic", created_at=300.0, valid_to=50_000.0, agent_id="agent-2", text="gamma fox"
    ),
    # The twin of "a" in another tenant, and a second user of t1: never in a t1/u1 result.
    doc(
        "x",
        tenant_id="t2",
        memory_type="preference",
        importance=5,
        tags=["red", "blue"],
        entities=["Alice"],
        agent_id="agent-1",
        text="alpha fox",
        metadata={"project": "apollo", "score": 1.5, "count": 3, "flag": True, "labels": ["Alpha", "beta"]},
    ),
    doc(
        "y",
        user_id="u2",
        memory_type="preference",
        tags=["red"],
        text="alpha fox",
        metadata={"project": "apollo"},
    ),
]


def cond(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


FILTER_CASES: list[tuple[dict[str, Any], set[str]]] = [
    # eq: keyword, array element, integer, time, metadata strings/numbers/bools/arrays/nested
    (cond("memory_type", "eq", "preference"), {"a"}),
    (cond("agent_id", "eq", "agent-1"), {"a"}),
    (cond("session_id", "eq", "s1"), {"a"}),
    (cond("tags", "eq", "red"), {"a"}),
    (cond("entities", "eq", "Alice"), {"a"}),
    (cond("importance", "eq", 5), {"a"}),
    (cond("importance", "eq", 5.0), {"a"}),
    (cond("created_at", "eq", 200), {"b"}),
    (cond("created_at", "eq", "1970-01-01T00:03:20Z"), {"b"}),
    (cond("metadata.project", "eq", "apollo"), {"a"}),
    (cond("metadata.score", "eq", 1.5), {"a"}),
    (cond("metadata.score", "eq", 2), {"b"}),
    (cond("metadata.count", "eq", 3), {"a"}),
    (cond("metadata.count", "eq", 3.0), {"a"}),
    (cond("metadata.flag", "eq", True), {"a"}),
    (cond("metadata.flag", "eq", False), {"b"}),
    (cond("metadata.count", "eq", True), set()),  # 1 is a number, not true
    (cond("metadata.flag", "eq", 1), set()),
    (cond("metadata.project", "eq", 1), set()),
    (cond("metadata.labels", "eq", "beta"), {"a"}),
    (cond("metadata.nested.level", "eq", "deep"), {"a"}),
    (cond("metadata.missing", "eq", "x"), set()),
    # ne: NOT eq, true when missing
    (cond("memory_type", "ne", "preference"), {"b", "c"}),
    (cond("tags", "ne", "red"), {"b", "c"}),
    (cond("agent_id", "ne", "agent-1"), {"b", "c"}),
    (cond("importance", "ne", 5), {"b", "c"}),
    (cond("metadata.project", "ne", "apollo"), {"b", "c"}),
    (cond("metadata.score", "ne", 1.5), {"b", "c"}),
    (cond("metadata.flag", "ne", True), {"b", "c"}),
    (cond("metadata.missing", "ne", "x"), {"a", "b", "c"}),
    # in / nin
    (cond("memory_type", "in", ["preference", "factual"]), {"a", "b"}),
    (cond("tags", "in", ["green", "blue"]), {"a", "b"}),
    (cond("importance", "in", [2, 3]), {"b", "c"}),
    (cond("metadata.project", "in", ["gemini", "nope"]), {"b"}),
    (cond("metadata.count", "in", [1, "x"]), {"b"}),
    (cond("metadata.flag", "in", [False]), {"b"}),
    (cond("memory_type", "nin", ["preference"]), {"b", "c"}),
    (cond("tags", "nin", ["red", "green"]), {"c"}),
    (cond("agent_id", "nin", ["agent-1", "agent-2"]), {"b"}),
    (cond("metadata.project", "nin", ["apollo"]), {"b", "c"}),
    (cond("metadata.score", "nin", [1.5, 2.0]), {"c"}),
    # ranges: numbers and times; false when missing or not a number
    (cond("importance", "gt", 3), {"a"}),
    (cond("importance", "gte", 3), {"a", "c"}),
    (cond("importance", "lt", 3), {"b"}),
    (cond("importance", "lte", 3), {"b", "c"}),
    (cond("created_at", "gt", 100), {"b", "c"}),
    (cond("created_at", "lt", "1970-01-01T00:05:00Z"), {"a", "b"}),
    (cond("valid_to", "gt", 0), {"c"}),
    (cond("metadata.score", "gt", 1.5), {"b"}),
    (cond("metadata.score", "gte", 1.5), {"a", "b"}),
    (cond("metadata.score", "lt", 2), {"a"}),
    (cond("metadata.score", "lte", 2), {"a", "b"}),
    (cond("metadata.count", "lt", 2.5), {"b"}),
    (cond("metadata.project", "gt", 0), set()),
    (cond("metadata.flag", "gte", 0), set()),
    # contains: substring, case-sensitive, on strings and string elements of arrays
    (cond("metadata.project", "contains", "pol"), {"a"}),
    (cond("metadata.project", "contains", "Apol"), set()),
    (cond("tags", "contains", "re"), {"a", "b"}),
    (cond("entities", "contains", "lic"), {"a"}),
    (cond("memory_type", "contains", "pref"), {"a"}),
    (cond("agent_id", "contains", "agent"), {"a", "c"}),
    (cond("user_id", "contains", "u"), {"a", "b", "c"}),
    (cond("metadata.labels", "contains", "lph"), {"a"}),
    (cond("metadata.labels", "contains", "alpha"), set()),
    (cond("metadata.count", "contains", "3"), set()),
    # AND / OR / NOT, nested
    ({"AND": [cond("memory_type", "eq", "preference"), cond("importance", "gt", 1)]}, {"a"}),
    ({"OR": [cond("tags", "eq", "green"), cond("importance", "eq", 3)]}, {"b", "c"}),
    ({"NOT": cond("tags", "eq", "red")}, {"b", "c"}),
    ({"NOT": cond("metadata.project", "eq", "apollo")}, {"b", "c"}),
    ({"NOT": {"NOT": cond("memory_type", "eq", "factual")}}, {"b"}),
    ({"NOT": cond("metadata.missing", "ne", "x")}, set()),
    (
        {
            "AND": [
                {"OR": [cond("tags", "eq", "red"), cond("tags", "eq", "green")]},
                {"NOT": cond("importance", "lt", 3)},
            ]
        },
        {"a"},
    ),
    (
        {
            "OR": [
                {"AND": [cond("metadata.flag", "eq", False), cond("created_at", "gte", 200)]},
                {"NOT": {"OR": [cond("agent_id", "eq", "agent-1"), cond("memory_type", "eq", "factual")]}},
            ]
        },
        {"b", "c"},
    ),
]


def _shared_index(
    request: pytest.FixtureRequest, places: pytest.TempPathFactory, documents: list[IndexDocument]
) -> VectorIndex:
    """One index per backend for a module's read-only tests (opening an index per case is slow)."""
    place = prepare_place(request.param, places.mktemp(request.param), request)
    index = FACTORIES[request.param](place, DIM)
    index.upsert(documents)
    return index


@pytest.fixture(scope="module", params=BACKENDS)
def filter_index(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VectorIndex]:
    index = _shared_index(request, tmp_path_factory, FILTER_DOCS)
    yield index
    index.close()


@pytest.mark.parametrize(("raw", "expected"), FILTER_CASES, ids=[str(case[0]) for case in FILTER_CASES])
def test_filter_semantics(filter_index: VectorIndex, raw: dict[str, Any], expected: set[str]) -> None:
    node = parse_filter(raw)
    assert names(filter_index.filter_ids(T1_U1, filter=node, as_of=None)) == expected
    # Search applies the same filter to both lists (every t1/u1 document is valid at NOW and has "fox").
    dense, keyword = search(filter_index, filter=node, text="fox")
    assert names(dense) == expected
    assert names(keyword) == expected


def test_tenant_is_always_applied(filter_index: VectorIndex) -> None:
    assert names(filter_index.filter_ids(T1, filter=None, as_of=None)) == {"a", "b", "c", "y"}
    assert names(filter_index.filter_ids(Scope("t2"), filter=None, as_of=None)) == {"x"}
    assert filter_index.filter_ids(Scope("t3"), filter=None, as_of=None) == set()
    # A filter can narrow a scope, never widen it: not even a hand-built one naming the other tenant.
    everything = Or((Condition("tenant_id", "eq", "t2"), Condition("user_id", "ne", "nobody")))
    assert "x" not in names(filter_index.filter_ids(T1, filter=everything, as_of=None))
    dense, keyword = search(filter_index, scope=T1, text="alpha fox")
    assert names(dense) == names(keyword) == {"a", "b", "c", "y"}
    dense, keyword = search(filter_index, scope=Scope("t2"), text="alpha fox")
    assert names(dense) == names(keyword) == {"x"}


def test_user_agent_session_scope(filter_index: VectorIndex) -> None:
    def ids(scope: Scope) -> set[str]:
        return names(filter_index.filter_ids(scope, filter=None, as_of=None))

    assert ids(Scope("t1", user_id="u2")) == {"y"}
    assert ids(Scope("t1", user_id="u1", agent_id="agent-1")) == {"a"}
    assert ids(Scope("t1", agent_id="agent-2")) == {"c"}
    assert ids(Scope("t1", user_id="u1", session_id="s1")) == {"a"}
    assert ids(Scope("t1", user_id="u1", agent_id="agent-1", session_id="nope")) == set()
    dense, keyword = search(filter_index, scope=Scope("t1", agent_id="agent-1"), text="fox")
    assert names(dense) == names(keyword) == {"a"}


# -- validity -----------------------------------------------------------------------------------------------

VALIDITY_DOCS = [
    doc("past", valid_from=100.0, valid_to=200.0),
    doc("current", valid_from=150.0),
    doc("future", valid_from=1_000.0),
    doc("v1", valid_from=100.0, valid_to=300.0),  # superseded by v2 at 300
    doc("v2", valid_from=300.0),
]


@pytest.fixture(scope="module", params=BACKENDS)
def validity_index(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[VectorIndex]:
    index = _shared_index(request, tmp_path_factory, VALIDITY_DOCS)
    yield index
    index.close()


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [
        (50.0, set()),
        (100.0, {"past", "v1"}),
        (199.9, {"past", "current", "v1"}),
        (200.0, {"current", "v1"}),  # valid_to is exclusive
        (300.0, {"current", "v2"}),
        (2_000.0, {"current", "future", "v2"}),
    ],
)
def test_validity_at_as_of(validity_index: VectorIndex, as_of: float, expected: set[str]) -> None:
    index = validity_index
    dense, keyword = search(index, as_of=as_of, text="memory")
    assert names(dense) == expected
    assert names(keyword) == expected
    assert names(index.filter_ids(T1_U1, filter=None, as_of=as_of)) == expected
    assert len(index.filter_ids(T1_U1, filter=None, as_of=None)) == len(VALIDITY_DOCS)


# -- ranking ------------------------------------------------------------------------------------------------


def test_dense_ranks_nearest_first_with_cosine_similarity(index: VectorIndex) -> None:
    index.upsert(
        [
            doc("a", vector=axis(0.0, 1.0), importance=1, created_at=1.0),
            doc("b", vector=axis(1.0, 1.0), importance=2, created_at=2.0),
            doc("c", vector=axis(5.0, 0.1), importance=4, created_at=3.0),  # length does not count: cosine
            doc("x", vector=axis(-1.0, 0.0)),
        ]
    )
    result = index.search(T1_U1, axis(1.0), "", filter=None, as_of=NOW, limit=10)
    assert names(hit.id for hit in result.dense) == {"a", "b", "c", "x"}
    assert [NAMES[hit.id] for hit in result.dense] == ["c", "b", "a", "x"]
    assert [hit.rank for hit in result.dense] == [1, 2, 3, 4]
    scores = [hit.score for hit in result.dense]
    assert scores[0] == pytest.approx(0.9998, abs=1e-3)
    assert scores[1] == pytest.approx(2**-0.5, abs=1e-3)
    assert scores[2] == pytest.approx(0.0, abs=1e-3)
    assert scores[3] == pytest.approx(-1.0, abs=1e-3)
    first = result.dense[0]
    assert (first.importance, first.created_at) == (4, 3.0)
    assert result.keyword == []  # no text, no keyword hits
    limited = index.search(T1_U1, axis(1.0), "", filter=None, as_of=NOW, limit=2)
    assert [NAMES[hit.id] for hit in limited.dense] == ["c", "b"]


def test_keyword_is_bm25(index: VectorIndex) -> None:
    index.upsert(
        [
            doc("a", text="The user likes apples and bananas"),
            doc("b", text="The user likes apples and cherries"),
            doc("c", text="The user likes apples, bananas and zebras"),
            doc("x", text="The user went running in the park on Sunday", importance=7, created_at=7.0),
            doc("y", text="Apples apples apples everywhere, the user loves apples"),
        ]
    )
    # The rare term decides: only "c" has zebras, so it ranks first though every document has apples.
    _, keyword = search(index, text="apples zebra")
    assert NAMES[keyword[0]] == "c"
    assert names(keyword) == {"a", "b", "c", "y"}
    # Term frequency counts: "y" says apples four times.
    _, keyword = search(index, text="apples")
    assert NAMES[keyword[0]] == "y"
    # Case and English stemming: "RUNS" finds "running"; scores are positive and decreasing.
    result = index.search(T1_U1, axis(1.0), "RUNS", filter=None, as_of=NOW, limit=10)
    assert [NAMES[hit.id] for hit in result.keyword] == ["x"]
    hit = result.keyword[0]
    assert hit.score > 0 and hit.rank == 1 and (hit.importance, hit.created_at) == (7, 7.0)
    _, keyword = search(index, text="bananas cherries", limit=1)
    assert len(keyword) == 1


@pytest.mark.parametrize("text", ["", "   ", "the and of", "!!! ???"])
def test_keyword_is_empty_without_indexable_terms(index: VectorIndex, text: str) -> None:
    index.upsert([doc("a", text="the and of"), doc("b", text="something else")])
    dense, keyword = search(index, text=text)
    assert keyword == []
    assert names(dense) == {"a", "b"}


REFERENCE_BACKEND = "qdrant-edge"
# Users, a second tenant, documents invalid now, and a document without indexable terms: the IDF corpus is
# every document of the tenant (or of the user within it), whatever its validity or the filter.
FUSION_DOCS = [
    doc("a", text="The user likes apples and bananas", vector=axis(1.0, 0.2, 0.1), agent_id="agent-1"),
    doc("b", text="The user likes apples and cherries", vector=axis(0.3, 1.0), tags=["fruit"]),
    doc("c", text="Bananas, bananas and zebras at the zoo", vector=axis(-0.5, 0.5, 1.0)),
    doc("x", text="the and of", vector=axis(0.0, 0.0, 0.0, 1.0)),
    doc("y", user_id="u2", text="apples apples apples, zebras", vector=axis(1.0, 1.0, 1.0)),
    doc("past", text="old apples from last year", valid_to=5_000.0, vector=axis(0.7, -0.7)),
    doc("v1", tenant_id="t2", text="zebras and apples", vector=axis(1.0)),
    doc("future", text="a vector of zeros has no direction", vector=axis(0.0)),  # similarity 0
]
FUSION_CASES: list[tuple[Scope, str, list[float], dict[str, Any] | None]] = [
    (T1_U1, "apples bananas zebras", axis(1.0, 0.5), None),
    (T1_U1, "cherries", axis(0.0, 1.0), None),
    (T1, "apples zebras", axis(0.2, 0.2, 0.9), None),
    (Scope("t1", user_id="u1", agent_id="agent-1"), "apples", axis(1.0), None),
    (T1_U1, "apples bananas", axis(1.0), cond("tags", "ne", "fruit")),
    (Scope("t2"), "zebras apples", axis(1.0, 0.1), None),
]


@pytest.mark.parametrize(("scope", "text", "vector", "raw_filter"), FUSION_CASES)
def test_fusion_inputs_match_qdrant_edge(
    backend: str,
    open_index: OpenIndex,
    tmp_path: Path,
    scope: Scope,
    text: str,
    vector: list[float],
    raw_filter: dict[str, Any] | None,
) -> None:
    """Scores mean the same on every backend: each hit's dense (cosine) and keyword (BM25) score equals the
    embedded default's for the same documents and query, so fusion weighs them alike."""
    reference = FACTORIES[REFERENCE_BACKEND](tmp_path / "reference", DIM)
    index = open_index()
    try:
        node = parse_filter(raw_filter) if raw_filter is not None else None
        results = []
        for each in (reference, index):
            each.upsert(FUSION_DOCS)
            results.append(each.search(scope, vector, text, filter=node, as_of=NOW, limit=20))
        expected, got = results
        assert expected.keyword, "the case should have keyword hits"
        for kind in ("dense", "keyword"):
            want = {hit.id: hit.score for hit in getattr(expected, kind)}
            have = {hit.id: hit.score for hit in getattr(got, kind)}
            assert names(have) == names(want), kind
            for memory_id, score in want.items():
                assert have[memory_id] == pytest.approx(score, rel=1e-4, abs=1e-5), (kind, NAMES[memory_id])
    finally:
        reference.close()


# -- writes, persistence, maintenance ------------------------------------------------------------------------


def test_upsert_replaces_and_delete_removes(index: VectorIndex) -> None:
    index.upsert([doc("a", text="old words", vector=axis(1.0)), doc("b", text="other")])
    index.upsert([doc("a", text="new words", vector=axis(0.0, 1.0), sync_token="2:200.000000", tags=["t"])])
    assert index.count() == 2
    assert dict(index.entries()) == {mid("a"): "2:200.000000", mid("b"): "1:100.000000"}
    assert search(index, text="old")[1] == []
    assert names(search(index, text="new")[1]) == {"a"}
    dense, _ = search(index, vector=axis(0.0, 1.0))
    assert NAMES[dense[0]] == "a"
    assert names(index.filter_ids(T1_U1, filter=parse_filter(cond("tags", "eq", "t")), as_of=None)) == {"a"}
    index.delete([mid("a"), mid("never-stored")])
    index.delete([])
    index.upsert([])
    assert index.count() == 1
    assert names(search(index, text="new words other")[0]) == {"b"}


def test_ids_are_opaque_strings(index: VectorIndex) -> None:
    index.upsert([doc("a", id="memory-1"), doc("b", id="memory-2")])
    assert set(index.filter_ids(T1_U1, filter=None, as_of=None)) == {"memory-1", "memory-2"}
    index.delete(["memory-1"])
    assert [hit.id for hit in index.search(T1_U1, axis(1.0), "", filter=None, as_of=NOW, limit=5).dense] == [
        "memory-2"
    ]


def test_survives_restart(open_index: OpenIndex) -> None:
    index = open_index()
    index.upsert(FILTER_DOCS + VALIDITY_DOCS[:2])
    index.delete([mid("past")])
    entries = dict(index.entries())
    index.close()
    reopened = open_index()
    assert dict(reopened.entries()) == entries
    assert reopened.count() == len(FILTER_DOCS) + 1
    node = parse_filter(cond("metadata.flag", "eq", True))
    assert names(reopened.filter_ids(T1_U1, filter=node, as_of=None)) == {"a"}
    _, keyword = search(reopened, text="gamma")
    assert names(keyword) == {"c"}
    reopened.upsert([doc("future")])
    assert reopened.count() == len(FILTER_DOCS) + 2


_KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from tests.contract.conftest import DIM, FACTORIES
from tests.contract.test_vector_index import doc, mid
index = FACTORIES[sys.argv[1]](Path(sys.argv[2]), DIM)
index.upsert([doc(f"k{i}", text=f"killed writer {i}") for i in range(100)])
index.delete([mid("k0")])
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_what_returned_survives_kill_9(backend: str, tmp_path: Path, open_index: OpenIndex) -> None:
    """A writer killed without close() loses nothing that upsert/delete had returned."""
    root = Path(__file__).resolve().parents[2]
    place = tmp_path / backend  # where open_index() opens this backend
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, backend, str(place)], cwd=root, timeout=120, check=False
    )
    assert done.returncode == -signal.SIGKILL
    index = open_index()
    assert index.count() == 99
    assert mid("k0") not in dict(index.entries())
    assert len(search(index, text="killed writer")[1]) == 50  # the limit


def test_clear_entries_count(index: VectorIndex) -> None:
    assert index.count() == 0
    assert list(index.entries()) == []
    many = [doc(f"n{i}", vector=axis(1.0, i / 100), sync_token=f"1:{i}") for i in range(1500)]
    index.upsert(many)
    assert index.count() == 1500
    assert dict(index.entries()) == {document.id: document.sync_token for document in many}
    assert len(index.filter_ids(T1_U1, filter=None, as_of=None)) == 1500
    index.clear()
    assert index.count() == 0
    assert search(index, text="memory") == ([], [])
    index.upsert([doc("a")])
    assert names(search(index, text="memory")[1]) == {"a"}
    index.ping()


def test_ping_and_close(index: VectorIndex) -> None:
    index.ping()
    index.close()
    with pytest.raises(Exception):  # noqa: B017 - each backend raises its own error type
        index.ping()
    index.close()  # closing twice is harmless


def test_concurrent_writers_and_readers(index: VectorIndex) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for batch in range(10):
                index.upsert([doc(f"w{worker}-{batch}-{i}", text=f"worker {worker}") for i in range(20)])
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(50):
                search(index, text="worker")
                index.filter_ids(T1_U1, filter=None, as_of=NOW)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(3)] + [
        threading.Thread(target=read) for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert index.count() == 3 * 10 * 20
