"""Human accounts, password history and failed-login counts of the SQL system of record, on SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid

from membank.models.account import UserAccount
from membank.storage.ports import LockoutPolicy
from membank.storage.sql.accounts import SqlAccountRepository
from membank.storage.sql.database import SqlDatabase
from tests.support.accounts import insert_tenant

LOCKOUT = LockoutPolicy(max_failures=3, base_seconds=10.0, cap_seconds=25.0)


def _account(tenant_id: str, email: str, *, password_hash: str | None = "h0") -> UserAccount:
    now = time.time()
    return UserAccount(
        id=uuid.uuid4().hex,
        tenant_id=tenant_id,
        email=email,
        display_name=email.split("@")[0],
        status="active",
        roles=["user"],
        created_at=now,
        updated_at=now,
        user_ids=["alice"],
        password_hash=password_hash,
        password_changed_at=now if password_hash else None,
    )


def test_accounts_are_unique_per_tenant_email_and_found_only_in_their_tenant(sql_db: SqlDatabase) -> None:
    repo = SqlAccountRepository(sql_db)
    acme, globex = insert_tenant(sql_db, "acme"), insert_tenant(sql_db, "globex")
    ann = _account(acme, "ann@acme.example")
    assert repo.create(ann)
    assert not repo.create(_account(acme, "ann@acme.example"))  # the email is taken in acme
    assert repo.create(_account(globex, "ann@acme.example"))  # but not in globex
    assert repo.get(acme, ann.id) == ann
    assert repo.get(globex, ann.id) is None
    assert repo.by_email(acme, "ann@acme.example") == ann
    assert repo.by_email(globex, "nobody@acme.example") is None
    assert repo.password_history(ann.id, 5) == ["h0"]


def test_accounts_are_listed_by_email_a_page_at_a_time(sql_db: SqlDatabase) -> None:
    repo = SqlAccountRepository(sql_db)
    acme, globex = insert_tenant(sql_db, "acme"), insert_tenant(sql_db, "globex")
    for email in ("c@x.example", "a@x.example", "b@x.example"):
        repo.create(_account(acme, email))
    repo.create(_account(globex, "a0@x.example"))
    first = repo.list(acme, limit=2)
    assert [a.email for a in first] == ["a@x.example", "b@x.example"]
    assert [a.email for a in repo.list(acme, limit=2, after=first[-1].email)] == ["c@x.example"]


def test_update_changes_the_named_fields_and_unbinds_with_none(sql_db: SqlDatabase) -> None:
    repo = SqlAccountRepository(sql_db)
    acme = insert_tenant(sql_db, "acme")
    ann = _account(acme, "ann@acme.example")
    repo.create(ann)
    changed = repo.update(
        acme, ann.id, {"roles": ["auditor"], "user_ids": None, "status": "disabled"}, at=ann.updated_at + 5
    )
    assert changed is not None
    assert (changed.roles, changed.user_ids, changed.status) == (["auditor"], None, "disabled")
    assert changed.display_name == "ann" and changed.updated_at == ann.updated_at + 5
    assert repo.update(insert_tenant(sql_db, "other"), ann.id, {"status": "active"}, at=1.0) is None


def test_set_password_keeps_the_newest_history_rows(sql_db: SqlDatabase) -> None:
    repo = SqlAccountRepository(sql_db)
    acme = insert_tenant(sql_db, "acme")
    ann = _account(acme, "ann@acme.example")
    repo.create(ann)
    for n in range(1, 5):
        repo.set_password(ann.id, f"h{n}", at=ann.created_at + n, must_change=n == 4, keep_history=3)
    assert repo.password_history(ann.id, 10) == ["h4", "h3", "h2"]
    stored = repo.get(acme, ann.id)
    assert stored is not None and stored.password_hash == "h4" and stored.must_change_password
    repo.replace_hash(ann.id, "h4", "h4-rehashed")
    repo.replace_hash(ann.id, "stale", "never")  # not the current hash: nothing changes
    stored = repo.get(acme, ann.id)
    assert stored is not None and stored.password_hash == "h4-rehashed"
    assert repo.password_history(ann.id, 1) == ["h4-rehashed"]


def test_failures_lock_with_a_doubling_capped_duration_and_clear(sql_db: SqlDatabase) -> None:
    repo = SqlAccountRepository(sql_db)
    acme = insert_tenant(sql_db, "acme")
    email = "nobody@acme.example"  # no account needed: failures are per (tenant, email)
    assert repo.login_failures(acme, email) is None
    states = [repo.record_failure(acme, email, LOCKOUT, at=100.0) for _ in range(3)]
    assert [(s.failures, s.lockouts, s.locked_until) for s in states] == [
        (1, 0, None),
        (2, 0, None),
        (0, 1, 110.0),
    ]
    for _ in range(3):
        second = repo.record_failure(acme, email, LOCKOUT, at=200.0)
    assert (second.lockouts, second.locked_until) == (2, 220.0)  # doubled
    for _ in range(3):
        third = repo.record_failure(acme, email, LOCKOUT, at=300.0)
    assert third.locked_until == 325.0  # capped
    assert repo.login_failures(acme, email) == third
    assert repo.clear_failures(acme, email) and not repo.clear_failures(acme, email)
    assert repo.login_failures(acme, email) is None


def test_concurrent_failures_each_count(sql_url: str) -> None:
    databases = [SqlDatabase(sql_url) for _ in range(4)]
    try:
        acme = insert_tenant(databases[0], "acme")
        policy = LockoutPolicy(max_failures=100, base_seconds=1.0, cap_seconds=1.0)
        start = threading.Barrier(len(databases))

        def fail(db: SqlDatabase) -> None:
            start.wait()
            for _ in range(5):
                SqlAccountRepository(db).record_failure(acme, "x@acme.example", policy, at=1.0)

        threads = [threading.Thread(target=fail, args=(db,)) for db in databases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        counted = SqlAccountRepository(databases[0]).login_failures(acme, "x@acme.example")
        assert counted is not None and counted.failures == 20
    finally:
        for db in databases:
            db.close()
