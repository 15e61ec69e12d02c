"""RecordStore contract, usage for reports: daily counts added up by several flushes (and processes), read
per tenant over a period; LLM totals per tenant, model and purpose in a time range; what each tenant keeps;
one capacity snapshot per day, replaced by a later one of the same day."""

from __future__ import annotations

from dataclasses import replace

from membank.storage.ports import CapacitySnapshot, RecordStore, UsageRecord
from tests.contract.conftest import OpenRecordStore
from tests.contract.records import MODEL, memory, vector

SNAPSHOT = CapacitySnapshot(
    day="2026-12-01",
    memories=10,
    content_bytes=1_000,
    store_bytes=50_000,
    index_bytes=20_000,
    disk_free_bytes=10**9,
    disk_size_bytes=10**10,
    rss_bytes=300 * 2**20,
    memory_size_bytes=8 * 2**30,
    recorded_at=1_764_590_400.0,
)


def test_counts_of_several_flushes_and_processes_add_up(open_record_store: OpenRecordStore) -> None:
    first, second = open_record_store(), open_record_store()
    first.usage.add_counts({("t1", "2026-12-01", "searches"): 3, ("t1", "2026-12-02", "searches"): 1})
    second.usage.add_counts({("t1", "2026-12-01", "searches"): 4, ("t2", "2026-12-01", "requests"): 9})
    first.usage.add_counts({})

    assert first.usage.counts(since_day="2026-12-01", until_day="2026-12-31") == {
        "t1": {"searches": 8},
        "t2": {"requests": 9},
    }
    assert first.usage.counts(since_day="2026-12-02", until_day="2026-12-02") == {"t1": {"searches": 1}}
    assert second.usage.daily_counts("t1", since_day="2026-11-01", until_day="2026-12-31") == {
        "2026-12-01": {"searches": 7},
        "2026-12-02": {"searches": 1},
    }
    assert first.usage.counts(since_day="2027-01-01", until_day="2027-01-31") == {}


def test_llm_totals_per_tenant_model_and_purpose_in_a_time_range(record_store: RecordStore) -> None:
    for tenant, model, at in (
        ("t1", "m1", 100.0),
        ("t1", "m1", 150.0),
        ("t1", "m2", 150.0),
        ("t2", "m1", 199.0),
        ("t1", "m1", 200.0),
    ):
        record_store.usage.record(UsageRecord(tenant, None, "extraction", model, 10, 2, at))

    totals = record_store.usage.llm_totals(since=100.0, until=200.0)  # 200 itself is the next period's

    assert [(t.tenant_id, t.model, t.calls, t.prompt_tokens, t.completion_tokens) for t in totals] == [
        ("t1", "m1", 2, 20, 4),
        ("t1", "m2", 1, 10, 2),
        ("t2", "m1", 1, 10, 2),
    ]


def test_storage_counts_every_version_and_the_live_ones_per_tenant(record_store: RecordStore) -> None:
    kept = memory("t1", content="abcd", metadata={})
    gone = replace(memory("t1", content="xy", metadata={}), deleted_at=kept.created_at)
    other = memory("t2", content="hello", metadata={"k": "v"})
    record_store.memories.insert(
        [kept, gone, other], [vector(1.0), vector(2.0), vector(3.0)], MODEL, actor="test"
    )

    storage = {entry.tenant_id: entry for entry in record_store.usage.storage()}

    assert (storage["t1"].memories, storage["t1"].live) == (2, 1)
    assert storage["t1"].content_bytes == len("abcd") + len("xy") + 2 * len("{}")
    assert (storage["t2"].memories, storage["t2"].live) == (1, 1)
    assert storage["t2"].content_bytes > len("hello")
    assert record_store.usage.store_bytes() > 0


def test_a_later_snapshot_of_the_same_day_replaces_the_earlier(record_store: RecordStore) -> None:
    record_store.usage.record_capacity(SNAPSHOT)
    later = replace(SNAPSHOT, memories=12, recorded_at=SNAPSHOT.recorded_at + 3600)
    record_store.usage.record_capacity(later)
    next_day = replace(SNAPSHOT, day="2026-12-02", memories=15, recorded_at=SNAPSHOT.recorded_at + 86_400)
    record_store.usage.record_capacity(next_day)

    assert record_store.usage.capacity_history(since_day="2026-11-01") == [later, next_day]
    assert record_store.usage.capacity_history(since_day="2026-12-02") == [next_day]
