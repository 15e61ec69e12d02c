"""Keys and tenants, idempotent responses, named locks, sessions and LLM usage of the SQL system of record,
on SQLite and PostgreSQL (their races: test_sql_concurrency.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from membank.models import ApiKey, now_utc
from membank.storage.ports import SessionState, StoredResponse, UsageRecord
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.idempotency import SqlIdempotency
from membank.storage.sql.keys import SqlKeyRepository
from membank.storage.sql.locks import SqlLockRepository
from membank.storage.sql.sessions import SqlSessionRepository
from membank.storage.sql.usage import SqlUsageRepository


def _key(key_id: str, tenant_id: str, prefix: str, seconds: int) -> ApiKey:
    return ApiKey(
        id=key_id,
        tenant_id=tenant_id,
        name=f"key {key_id}",
        prefix=prefix,
        secret_hash=f"hash-{key_id}",
        scopes=["memories:read", "jobs:read"],
        created_at=now_utc().replace(microsecond=0) + timedelta(seconds=seconds),
    )


def test_tenants_are_created_once_by_name(sql_db: SqlDatabase) -> None:
    keys = SqlKeyRepository(sql_db)
    acme = keys.ensure_tenant("acme")
    assert keys.ensure_tenant("acme") == acme
    other = keys.ensure_tenant("other")
    assert other.id != acme.id
    assert keys.tenant_by_name("acme") == acme and keys.tenant_by_name("nobody") is None
    assert {tenant.name for tenant in keys.tenants()} == {"acme", "other"}


def test_keys_are_found_listed_touched_and_revoked_by_id_or_prefix(sql_db: SqlDatabase) -> None:
    keys = SqlKeyRepository(sql_db)
    acme, other = keys.ensure_tenant("acme"), keys.ensure_tenant("other")
    first, second, foreign = (
        _key("k1", acme.id, "mb_aaa", 0),
        _key("k2", acme.id, "mb_bbb", 1),
        _key("k3", other.id, "mb_ccc", 2),
    )
    for key in (first, second, foreign):
        keys.create_key(key)
    assert keys.key_by_prefix("mb_aaa") == first and keys.key_by_prefix("mb_zzz") is None
    assert [key.id for key in keys.list_keys(acme.id)] == ["k1", "k2"]
    assert [key.id for key in keys.list_keys(None)] == ["k1", "k2", "k3"]
    keys.touch("k1", 1234.5)
    touched = keys.key_by_prefix("mb_aaa")
    assert touched is not None and touched.last_used_at is not None
    assert touched.last_used_at.timestamp() == 1234.5
    assert keys.revoke("k1", 2000.0) and not keys.revoke("k1", 2001.0)  # already revoked
    assert keys.revoke("mb_bbb", 2002.0)  # by prefix
    assert not keys.revoke("unknown", 2003.0)
    revoked = {key.id: key.revoked_at for key in keys.list_keys(None)}
    assert revoked["k3"] is None
    assert revoked["k1"] is not None and revoked["k1"].timestamp() == 2000.0
    assert revoked["k2"] is not None and revoked["k2"].timestamp() == 2002.0


def test_idempotency_keys_are_reserved_before_the_request_runs(sql_db: SqlDatabase) -> None:
    repo = SqlIdempotency(sql_db)
    assert repo.reserve("t1", "k", "h1", 100.0, stale_after=60) is None
    running = repo.reserve("t1", "k", "h1", 101.0, stale_after=60)
    assert running == StoredResponse("h1", 0, {})  # a second request sees the first still running
    assert repo.reserve("t2", "k", "h1", 101.0, stale_after=60) is None  # keys are per tenant
    repo.put("t1", "k", StoredResponse("h1", 202, {"job": 1}), 102.0)
    assert repo.get("t1", "k") == StoredResponse("h1", 202, {"job": 1})
    done = repo.reserve("t1", "k", "h2", 500.0, stale_after=60)
    assert done == StoredResponse("h1", 202, {"job": 1})  # a stored answer is never taken over
    repo.put("t1", "k", StoredResponse("h1", 500, {"other": True}), 501.0)
    repo.release("t1", "k")
    assert repo.get("t1", "k") == StoredResponse("h1", 202, {"job": 1})  # kept: neither replaced nor released
    assert repo.reserve("t1", "dead", "h1", 100.0, stale_after=60) is None
    assert repo.reserve("t1", "dead", "h2", 200.0, stale_after=60) is None  # its request died: taken over
    repo.put("t1", "dead", StoredResponse("h1", 201, {}), 201.0)  # the dead request's answer comes too late
    assert repo.get("t1", "dead") == StoredResponse("h2", 0, {})
    repo.release("t1", "dead")
    assert repo.get("t1", "dead") is None
    assert repo.reserve("t1", "dead", "h3", 201.0, stale_after=60) is None  # released: free again


def test_a_response_can_be_stored_for_a_key_never_reserved(sql_db: SqlDatabase) -> None:
    repo = SqlIdempotency(sql_db)
    repo.put("t1", "fresh", StoredResponse("h", 200, {"ok": True}), 10.0)
    assert repo.get("t1", "fresh") == StoredResponse("h", 200, {"ok": True})
    assert repo.get("t2", "fresh") is None


def test_a_lock_is_held_until_released_or_expired_and_its_holder_extends_it(sql_db: SqlDatabase) -> None:
    locks = SqlLockRepository(sql_db)
    assert locks.acquire("consolidate:t:u", "a", 100.0, 10)
    assert not locks.acquire("consolidate:t:u", "b", 105.0, 10)
    assert locks.acquire("consolidate:t:other", "b", 105.0, 10)  # another name is another lock
    assert locks.acquire("consolidate:t:u", "a", 108.0, 10)  # ours: extended to 118
    assert not locks.acquire("consolidate:t:u", "b", 115.0, 10)
    locks.release("consolidate:t:u", "b")  # not b's to release
    assert not locks.acquire("consolidate:t:u", "b", 116.0, 10)
    assert locks.acquire("consolidate:t:u", "b", 119.0, 10)  # expired: taken over
    assert not locks.acquire("consolidate:t:u", "a", 120.0, 10)
    locks.release("consolidate:t:u", "b")
    assert locks.acquire("consolidate:t:u", "a", 121.0, 10)


def _session(session_id: str, updated_at: float, summary: str = "s") -> SessionState:
    return SessionState(
        tenant_id="t1",
        user_id="u1",
        session_id=session_id,
        summary=summary,
        key_facts=["likes tea"],
        recent_messages=[{"role": "user", "content": "hi"}],
        turn_count=1,
        fact_count=1,
        started_at=10.0,
        updated_at=updated_at,
        last_message_at=updated_at,
    )


def test_a_session_is_saved_once_per_job_and_replaced_by_the_next(sql_db: SqlDatabase) -> None:
    sessions = SqlSessionRepository(sql_db)
    assert sessions.get("t1", "u1", "s1") is None
    assert sessions.save(_session("s1", 20.0, "first"), job_id="j1")
    assert not sessions.save(_session("s1", 21.0, "retried"), job_id="j1")  # a retried job: unchanged
    stored = sessions.get("t1", "u1", "s1")
    assert stored is not None and stored.summary == "first" and stored.last_job_id == "j1"
    assert stored.key_facts == ["likes tea"] and stored.recent_messages == [{"role": "user", "content": "hi"}]
    later = _session("s1", 30.0, "second")
    later.turn_count, later.last_message_at = 2, None
    assert sessions.save(later, job_id="j2")
    replaced = sessions.get("t1", "u1", "s1")
    assert replaced is not None and replaced.summary == "second" and replaced.turn_count == 2
    assert replaced.last_message_at is None and replaced.last_job_id == "j2"
    assert sessions.get("t2", "u1", "s1") is None and sessions.get("t1", "u2", "s1") is None


def test_a_users_sessions_list_most_recently_updated_first(sql_db: SqlDatabase) -> None:
    sessions = SqlSessionRepository(sql_db)
    for session_id, updated in (("old", 10.0), ("new", 30.0), ("mid", 20.0)):
        assert sessions.save(_session(session_id, updated), job_id=f"job-{session_id}")
    listed = sessions.list_for_user("t1", "u1", limit=2, offset=0)
    assert [s.session_id for s in listed] == ["new", "mid"]
    assert [s.session_id for s in sessions.list_for_user("t1", "u1", limit=10, offset=2)] == ["old"]
    assert sessions.list_for_user("t1", "u2", limit=10, offset=0) == []


@pytest.mark.parametrize("since", [0.0, 150.0])
def test_usage_sums_per_model_and_purpose_since_a_time(sql_db: SqlDatabase, since: float) -> None:
    usage = SqlUsageRepository(sql_db)
    for record in (
        UsageRecord("t1", "j1", "extract", "model-a", 10, 5, 100.0),
        UsageRecord("t1", "j2", "extract", "model-a", 20, 7, 200.0),
        UsageRecord("t1", None, "summarise", "model-a", 1, 1, 200.0),
        UsageRecord("t1", "j3", "extract", "model-b", 3, 2, 300.0),
        UsageRecord("t2", "j4", "extract", "model-a", 99, 99, 300.0),
    ):
        usage.record(record)
    early = since == 0.0
    assert usage.summary("t1", since=since) == [
        {
            "model": "model-a",
            "purpose": "extract",
            "calls": 2 if early else 1,
            "prompt_tokens": 30 if early else 20,
            "completion_tokens": 12 if early else 7,
        },
        {"model": "model-a", "purpose": "summarise", "calls": 1, "prompt_tokens": 1, "completion_tokens": 1},
        {"model": "model-b", "purpose": "extract", "calls": 1, "prompt_tokens": 3, "completion_tokens": 2},
    ]
    assert usage.summary("t3", since=0.0) == []


def test_keys_keep_their_roles_bindings_and_expiry(sql_db: SqlDatabase) -> None:
    keys = SqlKeyRepository(sql_db)
    acme = keys.ensure_tenant("acme")
    expires = now_utc().replace(microsecond=0) + timedelta(days=30)
    bound = _key("k1", acme.id, "mb_bound", 0)
    bound.roles, bound.user_ids, bound.team_ids = ["user", "custom-reader"], ["alice", "bob"], ["red"]
    bound.service_account_id, bound.expires_at = "sa-1", expires
    legacy = _key("k2", acme.id, "mb_legacy", 1)
    unbound = _key("k3", acme.id, "mb_nobody", 2)
    unbound.roles, unbound.user_ids = ["user"], []  # bound to nobody, unlike unbound (None)
    for key in (bound, legacy, unbound):
        keys.create_key(key)
    assert keys.key_by_prefix("mb_bound") == bound
    stored_legacy = keys.key_by_prefix("mb_legacy")
    assert stored_legacy is not None and stored_legacy.roles is None and stored_legacy.user_ids is None
    stored_unbound = keys.key_by_prefix("mb_nobody")
    assert stored_unbound is not None and stored_unbound.user_ids == []
