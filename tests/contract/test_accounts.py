"""Human accounts, password history and MFA recovery codes of the SQL system of record, on SQLite and
PostgreSQL (the failed-login counts: test_login_failures.py)."""

from __future__ import annotations

import time
import uuid

from membank.models.account import UserAccount
from membank.storage.sql.accounts import SqlAccountRepository
from membank.storage.sql.database import SqlDatabase
from tests.support.accounts import insert_tenant


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
        repo.set_password(acme, ann.id, f"h{n}", at=ann.created_at + n, must_change=n == 4, keep_history=3)
    assert repo.password_history(ann.id, 10) == ["h4", "h3", "h2"]
    stored = repo.get(acme, ann.id)
    assert stored is not None and stored.password_hash == "h4" and stored.must_change_password
    other = insert_tenant(sql_db, "globex")
    repo.set_password(other, ann.id, "stranger", at=ann.created_at + 9, must_change=False, keep_history=3)
    stored = repo.get(acme, ann.id)  # another tenant cannot set it, nor add to its history
    assert stored is not None and stored.password_hash == "h4"
    assert repo.password_history(ann.id, 10) == ["h4", "h3", "h2"]
    repo.replace_hash(ann.id, "h4", "h4-rehashed")
    repo.replace_hash(ann.id, "stale", "never")  # not the current hash: nothing changes
    stored = repo.get(acme, ann.id)
    assert stored is not None and stored.password_hash == "h4-rehashed"
    assert repo.password_history(ann.id, 1) == ["h4-rehashed"]
