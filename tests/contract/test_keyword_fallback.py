"""The keyword search that serves while the vector index cannot: BM25 over the system of record, on SQLite
and PostgreSQL. Its filters mean what they mean on every index (the vector index suite's own cases, evaluated
in Python), and it keeps the tenant, user, agent and session scope and validity at `as_of`."""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from datetime import timedelta
from typing import Any

import pytest

from membank.models import Scope, now_utc, to_epoch
from membank.search.filters import parse_filter
from membank.storage.filters import matches
from membank.storage.keyword_fallback import RecordKeywordSearch
from membank.storage.ports import RecordStore
from tests.contract.records import MODEL, memory, vector
from tests.contract.test_vector_index import FILTER_CASES, FILTER_DOCS, names

T1_U1 = Scope("t1", "u1")


@pytest.mark.parametrize(("raw", "expected"), FILTER_CASES, ids=[str(case[0]) for case in FILTER_CASES])
def test_filters_evaluated_in_python_match_every_index(raw: dict[str, Any], expected: set[str]) -> None:
    node = parse_filter(raw)
    in_scope = [doc for doc in FILTER_DOCS if (doc.tenant_id, doc.user_id) == ("t1", "u1")]
    assert names(doc.id for doc in in_scope if matches(node, asdict(doc))) == expected


def _store(store: RecordStore, *memories: Any) -> None:
    store.memories.insert(list(memories), [vector(float(n)) for n in range(len(memories))], MODEL, actor="t")


def _ids(store: RecordStore, text: str, scope: Scope = T1_U1, **options: Any) -> list[str]:
    search = RecordKeywordSearch(store.memories, max_scan=options.pop("max_scan", 100))
    values: dict[str, Any] = {"filter": None, "as_of": time.time(), "limit": 10, **options}
    return [hit.id for hit in search.search(scope, text, **values).hits]


def test_bm25_ranks_a_rare_term_above_a_common_one_and_skips_non_matches(record_store: RecordStore) -> None:
    rare = memory(content="User adopted an axolotl")
    common = memory(content="User likes the city")
    also_common = memory(content="The city is loud at night")
    unrelated = memory(content="Favourite colour is green")
    _store(record_store, rare, common, also_common, unrelated)
    search = RecordKeywordSearch(record_store.memories, max_scan=100)
    result = search.search(T1_U1, "axolotl city", filter=None, as_of=time.time(), limit=10)
    assert result.hits[0].id == rare.id
    assert {hit.id for hit in result.hits[1:]} == {common.id, also_common.id}
    assert [hit.rank for hit in result.hits] == [1, 2, 3]
    assert result.hits[0].score > result.hits[1].score >= result.hits[2].score > 0
    assert result.scanned == 4 and result.complete
    assert search.search(T1_U1, "the of and", filter=None, as_of=time.time(), limit=10).hits == []


def test_scope_validity_and_filters_are_kept(record_store: RecordStore) -> None:
    now = now_utc()
    mine = memory(content="Trip to Lisbon in May", tags=["travel"], agent_id="a1", session_id="s1")
    other_user = memory(user="u2", content="Trip to Lisbon in June")
    other_tenant = memory(tenant="t2", content="Trip to Lisbon in July")
    ended = memory(content="Trip to Lisbon last year", valid_from=now - timedelta(days=30))
    _store(record_store, mine, other_user, other_tenant, ended)
    record_store.memories.invalidate(
        replace(ended, valid_to=now - timedelta(days=1), deleted_at=now, updated_at=now, version=2), actor="t"
    )
    assert set(_ids(record_store, "Lisbon")) == {mine.id}
    assert set(_ids(record_store, "Lisbon", as_of=to_epoch(now - timedelta(days=2)))) == {ended.id}
    assert _ids(record_store, "Lisbon", Scope("t1", "u1", agent_id="a1", session_id="s1")) == [mine.id]
    assert _ids(record_store, "Lisbon", Scope("t1", "u1", agent_id="a2")) == []
    assert _ids(record_store, "Lisbon", Scope("t2", "u1")) == [other_tenant.id]
    travel = parse_filter({"field": "tags", "op": "eq", "value": "travel"})
    assert _ids(record_store, "Lisbon", filter=travel) == [mine.id]
    assert (
        _ids(
            record_store,
            "Lisbon",
            filter=parse_filter({"NOT": {"field": "tags", "op": "eq", "value": "travel"}}),
        )
        == []
    )


def test_a_scope_larger_than_the_scan_is_searched_over_its_newest_and_says_so(
    record_store: RecordStore,
) -> None:
    older = memory(content="Old note about kayaks", valid_from=now_utc() - timedelta(days=3))
    older = replace(older, created_at=now_utc() - timedelta(days=3))
    _store(record_store, older)
    _store(record_store, *(memory(content=f"Recent note {n} about kayaks") for n in range(3)))
    search = RecordKeywordSearch(record_store.memories, max_scan=3)
    result = search.search(T1_U1, "kayaks", filter=None, as_of=time.time(), limit=10)
    assert result.scanned == 3 and not result.complete
    assert older.id not in {hit.id for hit in result.hits} and len(result.hits) == 3
    assert (
        RecordKeywordSearch(record_store.memories, max_scan=4)
        .search(T1_U1, "kayaks", filter=None, as_of=time.time(), limit=10)
        .complete
    )
