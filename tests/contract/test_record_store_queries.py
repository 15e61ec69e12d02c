"""RecordStore contract, the reads services build on: a user's pages (paging, sorting, validity, type),
stats, and the lookups of consolidation (content hashes, slots, recent vectors), all valid at a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from membank.models import Memory, content_hash
from membank.storage.ports import RecordStore
from tests.contract.records import MODEL, deleted, memory, successor, vector

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def _insert(store: RecordStore, *memories: Memory) -> None:
    for n, stored in enumerate(memories):
        store.memories.insert([stored], [vector(float(n))], MODEL, actor="tester")


def _dated(days: float, **fields: object) -> Memory:
    """A memory created and true from `days` after T0."""
    moment = _at(days)
    created = memory(valid_from=moment, **fields)  # type: ignore[arg-type]
    created.created_at = created.updated_at = moment
    return created


def test_list_for_user_pages_in_created_order_with_the_total(record_store: RecordStore) -> None:
    memories = [_dated(n) for n in range(5)]
    _insert(record_store, *reversed(memories))
    _insert(record_store, _dated(0, user="someone else"), _dated(0, tenant="t2"))

    def page(offset: int, descending: bool) -> list[str]:
        result = record_store.memories.list_for_user(
            "t1", "u1", memory_type=None, include_invalid=False, at=_at(10).timestamp(),
            sort_by="created_at", descending=descending, limit=2, offset=offset,
        )  # fmt: skip
        assert result.total == 5
        return [m.id for m in result.memories]

    ids = [m.id for m in memories]
    assert page(0, descending=False) == ids[:2]
    assert page(2, descending=False) == ids[2:4]
    assert page(4, descending=False) == ids[4:]
    assert page(6, descending=False) == []
    assert page(0, descending=True) == [ids[4], ids[3]]


def _listed(store: RecordStore, **options: object) -> tuple[list[str], int]:
    values: dict[str, object] = {
        "memory_type": None,
        "include_invalid": False,
        "at": _at(100).timestamp(),
        "sort_by": "created_at",
        "descending": False,
        "limit": 50,
        "offset": 0,
        **options,
    }
    result = store.memories.list_for_user("t1", "u1", **values)  # type: ignore[arg-type]
    return [m.id for m in result.memories], result.total


def test_list_for_user_sorts_by_importance_then_id_for_ties(record_store: RecordStore) -> None:
    low, high, tie_a, tie_b = (_dated(n, importance=i) for n, i in enumerate([1, 9, 5, 5]))
    _insert(record_store, low, high, tie_a, tie_b)
    ties = sorted([tie_a.id, tie_b.id])

    assert _listed(record_store, sort_by="importance")[0] == [low.id, *ties, high.id]
    assert _listed(record_store, sort_by="importance", descending=True)[0] == [high.id, *ties[::-1], low.id]


def test_list_for_user_by_valid_from_and_updated_at(record_store: RecordStore) -> None:
    early = _dated(5)
    late = _dated(1)
    early.valid_from, late.valid_from = _at(0), _at(3)
    early.updated_at, late.updated_at = _at(9), _at(2)
    _insert(record_store, early, late)

    assert _listed(record_store, sort_by="valid_from")[0] == [early.id, late.id]
    assert _listed(record_store, sort_by="updated_at")[0] == [late.id, early.id]
    # An unknown column falls back to created_at (never reaches the SQL as text).
    assert _listed(record_store, sort_by="content; DROP TABLE memories")[0] == [late.id, early.id]


def test_list_for_user_keeps_to_what_is_valid_at_the_moment(record_store: RecordStore) -> None:
    current = _dated(0)
    future = _dated(50)
    gone = _dated(1)
    _insert(record_store, current, future, gone)
    record_store.memories.invalidate(deleted(gone), actor="tester")

    # Deleted now (after T0 + 10 days): still valid then, not after; the future one not yet valid then.
    assert _listed(record_store, at=_at(10).timestamp()) == ([current.id, gone.id], 2)
    assert _listed(record_store, at=_at(1000).timestamp()) == ([current.id, future.id], 2)
    assert _listed(record_store, include_invalid=True) == ([current.id, gone.id, future.id], 3)


def test_list_for_user_filters_by_type(record_store: RecordStore) -> None:
    fact = _dated(0)
    liking = _dated(1, memory_type="preference")
    _insert(record_store, fact, liking)

    assert _listed(record_store, memory_type="preference") == ([liking.id], 1)
    assert _listed(record_store, memory_type="episodic") == ([], 0)


def test_a_validity_interval_is_closed_at_its_start_and_open_at_its_end(record_store: RecordStore) -> None:
    old = _dated(0)
    _insert(record_store, old)
    closed, new = successor(old, "next")
    closed.valid_to = new.valid_from = _at(5)
    record_store.memories.supersede(closed, new, vector(9.0), MODEL, actor="tester")
    at_switch = _at(5).timestamp()

    assert _listed(record_store, at=at_switch)[0] == [new.id]
    assert _listed(record_store, at=at_switch - 1e-6)[0] == [old.id]
    hashes = record_store.memories.existing_hashes("t1", "u1", [old.content_hash], at=at_switch)
    assert hashes == set()


def test_stats_count_states_types_and_times(record_store: RecordStore) -> None:
    a = _dated(0, importance=2)
    b = _dated(1, importance=8, memory_type="preference")
    c = _dated(2, importance=5)
    d = _dated(3, importance=1)
    _insert(record_store, a, b, c, d, _dated(4, tenant="t2"), _dated(4, user="u2"))
    closed, a2 = successor(a, "a, second version")
    record_store.memories.supersede(closed, a2, vector(7.0), MODEL, actor="tester")
    record_store.memories.invalidate(deleted(d), actor="tester")

    stats = record_store.memories.stats("t1", "u1", at=a2.valid_from.timestamp() + 1)

    assert stats["total"] == 5
    assert stats["active"] == 3
    assert stats["superseded"] == 1
    assert stats["deleted"] == 1
    assert stats["by_type"] == {"factual": 2, "preference": 1}
    assert stats["average_importance"] == pytest.approx((8 + 5 + 2) / 3, abs=1e-3)
    assert stats["first_created_at"] == _at(0).timestamp()
    assert stats["last_created_at"] == a2.created_at.timestamp()


def test_stats_of_a_user_without_memories(record_store: RecordStore) -> None:
    stats = record_store.memories.stats("t1", "nobody", at=_at(0).timestamp())

    assert stats == {
        "total": 0,
        "active": 0,
        "superseded": 0,
        "deleted": 0,
        "by_type": {},
        "average_importance": None,
        "first_created_at": None,
        "last_created_at": None,
    }


def test_existing_hashes_are_those_of_the_users_valid_memories(record_store: RecordStore) -> None:
    kept = _dated(0, content="Tea is green")
    gone = _dated(0, content="Coffee is black")
    elsewhere = _dated(0, content="Milk is white", user="u2")
    _insert(record_store, kept, gone, elsewhere)
    record_store.memories.invalidate(deleted(gone), actor="tester")
    asked = [content_hash("tea  IS green"), gone.content_hash, elsewhere.content_hash, "f" * 64]

    found = record_store.memories.existing_hashes("t1", "u1", asked, at=_at(10_000).timestamp())

    assert found == {kept.content_hash}
    many = [f"{n:064x}" for n in range(1500)] + [kept.content_hash]
    assert record_store.memories.existing_hashes("t1", "u1", many, at=_at(10_000).timestamp()) == {
        kept.content_hash
    }


def test_valid_with_hash_newest_first(record_store: RecordStore) -> None:
    older = _dated(0, content="same words")
    newer = _dated(1, content="Same   words")
    other = _dated(2, content="other words")
    _insert(record_store, older, newer, other, _dated(3, content="same words", tenant="t2"))

    found = record_store.memories.valid_with_hash("t1", "u1", older.content_hash, at=_at(5).timestamp())

    assert [m.id for m in found] == [newer.id, older.id]
    assert found[0] == newer
    assert record_store.memories.valid_with_hash("t1", "u1", older.content_hash, at=_at(0.5).timestamp()) == [
        older
    ]


def test_valid_in_slot_newest_first_within_the_slot(record_store: RecordStore) -> None:
    first = _dated(0, slot="alice/city")
    second = _dated(2, slot="alice/city")
    unslotted = _dated(1)
    other_slot = _dated(1, slot="alice/job")
    _insert(record_store, first, second, unslotted, other_slot, _dated(1, slot="alice/city", user="u2"))

    assert record_store.memories.valid_in_slot("t1", "u1", "alice/city", at=_at(5).timestamp()) == [
        second,
        first,
    ]
    assert record_store.memories.valid_in_slot("t1", "u1", "alice/city", at=_at(1).timestamp()) == [first]
    assert record_store.memories.valid_in_slot("t1", "u1", "bob/city", at=_at(5).timestamp()) == []


def test_valid_vectors_are_the_newest_valid_ones_up_to_the_limit(record_store: RecordStore) -> None:
    memories = [_dated(n) for n in range(4)]
    for n, stored in enumerate(memories):
        record_store.memories.insert([stored], [vector(float(n))], MODEL, actor="tester")
    record_store.memories.invalidate(deleted(memories[3]), actor="tester")

    ids, vectors = record_store.memories.valid_vectors("t1", "u1", at=_at(10_000).timestamp(), limit=2)

    assert ids == [memories[2].id, memories[1].id]
    assert vectors == [vector(2.0), vector(1.0)]
    assert record_store.memories.valid_vectors("t2", "u1", at=_at(10_000).timestamp(), limit=2) == ([], [])
