"""RecordStore contract, conversation sessions and LLM usage: sessions saved whole, replaced by a later
job, never twice by the same job (a retried job); listed per user, newest first; usage summed per model
and purpose from a moment on."""

from __future__ import annotations

from dataclasses import replace

from membank.storage.ports import RecordStore, UsageRecord
from tests.contract.records import session


def test_a_saved_session_reads_back_whole(record_store: RecordStore) -> None:
    state = session(
        recent_messages=[{"role": "user", "content": "hi", "meta": {"n": [1, 2]}}],
        key_facts=["a", "b"],
        turn_count=3,
        fact_count=2,
    )

    assert record_store.sessions.save(state, job_id="job-1")

    stored = record_store.sessions.get("t1", "u1", "s1")
    state.last_job_id = "job-1"
    assert stored == state


def test_a_session_without_messages_yet(record_store: RecordStore) -> None:
    state = session(recent_messages=[], key_facts=[], last_message_at=None)

    assert record_store.sessions.save(state, job_id="job-1")

    stored = record_store.sessions.get("t1", "u1", "s1")
    assert stored is not None and stored.last_message_at is None and stored.recent_messages == []


def test_a_later_job_replaces_the_session(record_store: RecordStore) -> None:
    record_store.sessions.save(session(summary="first"), job_id="job-1")

    assert record_store.sessions.save(session(summary="second", turn_count=2), job_id="job-2")

    stored = record_store.sessions.get("t1", "u1", "s1")
    assert stored is not None
    assert (stored.summary, stored.turn_count, stored.last_job_id) == ("second", 2, "job-2")


def test_the_same_job_saves_a_session_only_once(record_store: RecordStore) -> None:
    record_store.sessions.save(session(summary="first run"), job_id="job-1")

    assert not record_store.sessions.save(session(summary="retried run", turn_count=9), job_id="job-1")

    stored = record_store.sessions.get("t1", "u1", "s1")
    assert stored is not None and (stored.summary, stored.turn_count) == ("first run", 1)


def test_sessions_are_scoped_by_tenant_user_and_id(record_store: RecordStore) -> None:
    record_store.sessions.save(session("t1", "u1", "s1", summary="mine"), job_id="j1")
    record_store.sessions.save(session("t2", "u1", "s1", summary="other tenant"), job_id="j1")
    record_store.sessions.save(session("t1", "u2", "s1", summary="other user"), job_id="j1")

    mine = record_store.sessions.get("t1", "u1", "s1")
    assert mine is not None and mine.summary == "mine"
    assert record_store.sessions.get("t1", "u1", "s2") is None
    assert [s.summary for s in record_store.sessions.list_for_user("t2", "u1", limit=10, offset=0)] == [
        "other tenant"
    ]


def test_list_for_user_newest_first_with_paging(record_store: RecordStore) -> None:
    for n, updated in enumerate([10.0, 30.0, 20.0]):
        record_store.sessions.save(session(session_id=f"s{n}", updated_at=updated), job_id=f"j{n}")

    def page(offset: int) -> list[str]:
        return [s.session_id for s in record_store.sessions.list_for_user("t1", "u1", limit=2, offset=offset)]

    assert page(0) == ["s1", "s2"]
    assert page(2) == ["s0"]
    assert page(3) == []


def _usage(
    model: str, purpose: str, prompt: int, completion: int, at: float, tenant: str = "t1"
) -> UsageRecord:
    return UsageRecord(
        tenant_id=tenant,
        job_id="job-1",
        purpose=purpose,
        model=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        created_at=at,
    )


def test_usage_summary_sums_per_model_and_purpose_since_a_moment(record_store: RecordStore) -> None:
    for record in [
        _usage("gpt-b", "extract", 100, 10, 1000.0),
        _usage("gpt-b", "extract", 50, 5, 1001.0),
        _usage("gpt-a", "extract", 7, 1, 1002.0),
        _usage("gpt-b", "summarize", 3, 2, 1003.0),
        _usage("gpt-b", "extract", 999, 999, 999.0),  # before `since`
        _usage("gpt-b", "extract", 999, 999, 1005.0, tenant="t2"),
    ]:
        record_store.usage.record(record)

    summary = record_store.usage.summary("t1", since=1000.0)

    assert summary == [
        {"model": "gpt-a", "purpose": "extract", "calls": 1, "prompt_tokens": 7, "completion_tokens": 1},
        {"model": "gpt-b", "purpose": "extract", "calls": 2, "prompt_tokens": 150, "completion_tokens": 15},
        {"model": "gpt-b", "purpose": "summarize", "calls": 1, "prompt_tokens": 3, "completion_tokens": 2},
    ]
    assert record_store.usage.summary("t3", since=0.0) == []


def test_usage_without_a_job_is_counted(record_store: RecordStore) -> None:
    record_store.usage.record(replace(_usage("m", "search", 4, 0, 5.0), job_id=None))

    (row,) = record_store.usage.summary("t1", since=0.0)
    assert (row["calls"], row["prompt_tokens"], row["completion_tokens"]) == (1, 4, 0)
