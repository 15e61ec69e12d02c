"""RecordStore contract, versions and history: supersede, in-place updates, soft delete and erase, each with
its history entries, outbox rows and revision bump in one transaction, and the guards against a second
writer (MemoryChanged changes nothing)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import pytest

from membank.errors import MemoryChanged
from membank.models import Memory, Provenance
from membank.storage.ports import RecordStore
from tests.contract.conftest import OpenRecordStore
from tests.contract.racing import run_together
from tests.contract.records import MODEL, deleted, edited, memory, successor, vector


def _stored(store: RecordStore, **fields: object) -> Memory:
    created = memory(**fields)  # type: ignore[arg-type]
    store.memories.insert([created], [vector(1.0)], MODEL, actor="creator")
    return created


def test_supersede_closes_the_old_version_and_stores_the_new_one(record_store: RecordStore) -> None:
    old = _stored(record_store)
    closed, new = successor(old, "the new content")

    record_store.memories.supersede(closed, new, vector(2.0), MODEL, actor="editor")

    kept_old = record_store.memories.get("t1", old.id)
    assert kept_old is not None
    assert kept_old.valid_to == new.valid_from
    assert kept_old.superseded_by == new.id
    assert kept_old.version == 2
    assert kept_old.content == old.content
    assert record_store.memories.get("t1", new.id) == new
    assert record_store.memories.vectors([new.id]) == {new.id: vector(2.0)}


def test_supersede_writes_history_on_both_versions(record_store: RecordStore) -> None:
    old = _stored(record_store)
    closed, new = successor(old, "the new content")
    origin = Provenance(job_id="job-9", extractor="llm", prompt_version="p2")

    record_store.memories.supersede(closed, new, vector(2.0), MODEL, actor="editor", provenance=origin)

    create, *rest = record_store.memories.history("t1", old.lineage_id)
    assert create.event == "CREATE"
    by_memory = {entry.memory_id: entry for entry in rest}
    assert set(by_memory) == {old.id, new.id}
    closing, opening = by_memory[old.id], by_memory[new.id]
    assert (closing.event, closing.version, closing.changes) == ("SUPERSEDED", 2, {"superseded_by": new.id})
    assert (opening.event, opening.version, opening.changes) == ("UPDATE", 2, {"supersedes": old.id})
    for entry in (closing, opening):
        assert (entry.old_content, entry.new_content, entry.actor) == (old.content, new.content, "editor")
        assert (entry.job_id, entry.extractor, entry.prompt_version) == ("job-9", "llm", "p2")


def test_supersede_records_outbox_rows_for_both_and_bumps_the_revision(record_store: RecordStore) -> None:
    old = _stored(record_store)
    closed, new = successor(old, "the new content")
    before = {item.id for item in record_store.outbox.items_for([old.id])}

    record_store.memories.supersede(closed, new, vector(2.0), MODEL, actor="editor")

    added = [item for item in record_store.outbox.items_for([old.id, new.id]) if item.id not in before]
    assert sorted(item.memory_id for item in added) == sorted([old.id, new.id])
    assert record_store.memories.revision("t1", "u1") == 2


def test_a_second_supersede_of_the_same_version_raises_and_changes_nothing(record_store: RecordStore) -> None:
    old = _stored(record_store)
    closed, first = successor(old, "first successor")
    record_store.memories.supersede(closed, first, vector(2.0), MODEL, actor="editor")
    outbox_before = record_store.outbox.pending()
    history_before = record_store.memories.history("t1", old.lineage_id)
    # A second writer that read the old version before the first one committed.
    closed_again, second = successor(old, "second successor")

    with pytest.raises(MemoryChanged):
        record_store.memories.supersede(closed_again, second, vector(3.0), MODEL, actor="late editor")

    assert record_store.memories.get("t1", second.id) is None
    assert record_store.memories.vectors([second.id]) == {}
    kept_old = record_store.memories.get("t1", old.id)
    assert kept_old is not None and kept_old.superseded_by == first.id
    assert record_store.memories.history("t1", old.lineage_id) == history_before
    assert record_store.outbox.pending() == outbox_before
    assert record_store.memories.revision("t1", "u1") == 2


def test_superseding_a_deleted_memory_raises_and_changes_nothing(record_store: RecordStore) -> None:
    old = _stored(record_store)
    record_store.memories.invalidate(deleted(old), actor="deleter")
    closed, new = successor(old, "too late")

    with pytest.raises(MemoryChanged):
        record_store.memories.supersede(closed, new, vector(2.0), MODEL, actor="editor")

    assert record_store.memories.get("t1", new.id) is None
    kept = record_store.memories.get("t1", old.id)
    assert kept is not None and kept.superseded_by is None and kept.deleted_at is not None


def test_supersede_is_scoped_to_the_tenant(record_store: RecordStore) -> None:
    theirs = _stored(record_store, tenant="t2")
    closed, new = successor(theirs, "hijack")
    closed.tenant_id = new.tenant_id = "t1"

    with pytest.raises(MemoryChanged):
        record_store.memories.supersede(closed, new, vector(2.0), MODEL, actor="intruder")

    kept = record_store.memories.get("t2", theirs.id)
    assert kept == theirs


def test_update_fields_persists_the_changes_with_an_update_entry(record_store: RecordStore) -> None:
    old = _stored(record_store, tags=["x"])
    changed = edited(
        old,
        summary="new summary",
        memory_type="preference",
        importance=9,
        tags=["y", "z"],
        metadata={"k": "v"},
        entities=["Bob"],
        source_refs=[{"kind": "doc"}],
    )
    changes = {"importance": {"old": 5, "new": 9}, "tags": {"old": ["x"], "new": ["y", "z"]}}

    record_store.memories.update_fields(changed, changes, actor="editor")

    assert record_store.memories.get("t1", old.id) == changed
    entry = record_store.memories.history("t1", old.lineage_id)[-1]
    assert (entry.event, entry.version, entry.changes, entry.actor) == ("UPDATE", 2, changes, "editor")
    assert entry.old_content == entry.new_content == old.content
    assert len(record_store.outbox.items_for([old.id])) == 2
    assert record_store.memories.revision("t1", "u1") == 2


def test_update_fields_leaves_the_content_and_validity_alone(record_store: RecordStore) -> None:
    old = _stored(record_store)
    # Content and validity are not in-place fields: a change to them must not reach the row.
    changed = edited(old, importance=2)
    changed.content = "sneaked in"
    changed.valid_to = changed.updated_at

    record_store.memories.update_fields(changed, {"importance": 2}, actor="editor")

    kept = record_store.memories.get("t1", old.id)
    assert kept is not None
    assert (kept.content, kept.valid_to, kept.importance) == (old.content, None, 2)


def test_invalidate_closes_the_memory_with_a_delete_entry(record_store: RecordStore) -> None:
    old = _stored(record_store)
    gone = deleted(old)

    record_store.memories.invalidate(gone, actor="deleter")

    assert record_store.memories.get("t1", old.id) == gone
    entry = record_store.memories.history("t1", old.lineage_id)[-1]
    assert (entry.event, entry.version, entry.old_content, entry.new_content) == (
        "DELETE",
        2,
        old.content,
        None,
    )
    assert len(record_store.outbox.items_for([old.id])) == 2
    assert record_store.memories.revision("t1", "u1") == 2


def test_a_second_invalidate_raises_and_changes_nothing(record_store: RecordStore) -> None:
    old = _stored(record_store)
    record_store.memories.invalidate(deleted(old), actor="deleter")
    history = record_store.memories.history("t1", old.lineage_id)
    pending = record_store.outbox.pending()

    with pytest.raises(MemoryChanged):
        record_store.memories.invalidate(deleted(old), actor="second deleter")

    assert record_store.memories.history("t1", old.lineage_id) == history
    assert record_store.outbox.pending() == pending
    assert record_store.memories.revision("t1", "u1") == 2


def test_erase_removes_every_version_and_blanks_the_history(record_store: RecordStore) -> None:
    old = _stored(record_store, metadata={"secret": "x"})
    closed, new = successor(old, "second version, also secret")
    record_store.memories.supersede(closed, new, vector(2.0), MODEL, actor="editor")
    bystander = _stored(record_store)
    revision = record_store.memories.revision("t1", "u1")

    erased = record_store.memories.erase("t1", old.lineage_id, actor="gdpr")

    assert sorted(erased) == sorted([old.id, new.id])
    assert record_store.memories.get_many("t1", [old.id, new.id]) == {}
    assert record_store.memories.vectors([old.id, new.id]) == {}
    history = record_store.memories.history("t1", old.lineage_id)
    assert all(e.old_content is None and e.new_content is None for e in history)
    assert history[-1].event == "ERASE"
    assert history[-1].changes == {"erased_ids": erased}
    assert all(e.changes == {} for e in history[:-1])
    # The index must drop both: an outbox row for each erased id, and a revision bump.
    pending = {item.memory_id for item in record_store.outbox.items_for([old.id, new.id])}
    assert pending == {old.id, new.id}
    assert record_store.memories.revision("t1", "u1") == revision + 1
    assert record_store.memories.get("t1", bystander.id) == bystander
    assert record_store.memories.count_indexable() == 1


def test_erase_of_an_unknown_or_foreign_lineage_erases_nothing(record_store: RecordStore) -> None:
    theirs = _stored(record_store, tenant="t2")

    assert record_store.memories.erase("t1", theirs.lineage_id, actor="intruder") == []
    assert record_store.memories.erase("t1", "no-such-lineage", actor="gdpr") == []

    assert record_store.memories.get("t2", theirs.id) == theirs
    assert record_store.memories.history("t2", theirs.lineage_id)[0].new_content == theirs.content
    assert record_store.memories.revision("t1", "u1") == 0


def test_history_is_oldest_first_across_the_lineage(record_store: RecordStore) -> None:
    first = _stored(record_store)
    closed, second = successor(first, "v2")
    record_store.memories.supersede(closed, second, vector(2.0), MODEL, actor="e")
    third = edited(second, importance=1)
    record_store.memories.update_fields(third, {"importance": 1}, actor="e")
    record_store.memories.invalidate(deleted(third), actor="e")

    events = [(e.event, e.version) for e in record_store.memories.history("t1", first.lineage_id)]
    assert events[0] == ("CREATE", 1)
    assert sorted(events[1:3]) == [("SUPERSEDED", 2), ("UPDATE", 2)]
    assert events[3:] == [("UPDATE", 3), ("DELETE", 4)]


def _attempt(write: Callable[[], None]) -> str:
    try:
        write()
    except MemoryChanged:
        return "changed"
    return "written"


def test_of_writers_racing_to_supersede_one_version_exactly_one_wins(
    record_store: RecordStore, open_record_store: OpenRecordStore
) -> None:
    stores = [record_store, open_record_store()]  # half of the writers come from "another process"
    for _round in range(5):
        old = _stored(record_store)
        contenders = [successor(old, f"contender {n}") for n in range(6)]

        def supersede(n: int, contenders: list[tuple[Memory, Memory]] = contenders) -> str:
            closed, new = contenders[n]
            return _attempt(
                lambda: stores[n % 2].memories.supersede(closed, new, vector(float(n)), MODEL, actor=f"w{n}")
            )

        outcomes = run_together([partial(supersede, n) for n in range(len(contenders))])

        (winner,) = [n for n, outcome in enumerate(outcomes) if outcome == "written"]
        kept = record_store.memories.get("t1", old.id)
        assert kept is not None and kept.superseded_by == contenders[winner][1].id
        losers = [contenders[n][1].id for n in range(len(contenders)) if n != winner]
        assert record_store.memories.get_many("t1", losers) == {}
        events = [e.event for e in record_store.memories.history("t1", old.lineage_id)]
        assert sorted(events) == ["CREATE", "SUPERSEDED", "UPDATE"]


def test_a_delete_racing_a_supersede_lets_exactly_one_through(record_store: RecordStore) -> None:
    for _round in range(5):
        old = _stored(record_store)
        closed, new = successor(old, "racing edit")

        outcomes = run_together(
            [
                lambda old=old: _attempt(lambda: record_store.memories.invalidate(deleted(old), actor="d")),
                lambda closed=closed, new=new: _attempt(
                    lambda: record_store.memories.supersede(closed, new, vector(2.0), MODEL, actor="e")
                ),
            ]
        )

        assert sorted(outcomes) == ["changed", "written"]
        kept = record_store.memories.get("t1", old.id)
        assert kept is not None
        assert (kept.deleted_at is not None) != (kept.superseded_by is not None)
        assert (record_store.memories.get("t1", new.id) is not None) == (kept.superseded_by is not None)
