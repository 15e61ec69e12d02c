"""Login, lockout and passwords over HTTP: every failure looks alike, lockouts double and end by themselves
or by an admin, the policy names the rule broken without echoing the password."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from argon2 import PasswordHasher

from membank.bootstrap import build_store
from membank.config import Settings
from tests.api.accounts_support import (
    ACCOUNTS,
    FAST,
    OTHER_PASSWORD,
    PASSWORD,
    AccountsApi,
    accounts,
    open_accounts,
)

__all__ = ["accounts"]  # the fixture


def _error(response: Any) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def test_login_issues_tokens_that_authenticate_and_refresh(accounts: AccountsApi) -> None:
    accounts.create("ann@acme.example")
    response = accounts.login("ANN@acme.example", device="laptop")
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["token_type"] == "Bearer" and data["must_change_password"] is False
    assert response.headers["cache-control"] == "no-store"
    client = accounts.api.client
    sessions = client.get(
        "/api/v1/auth/sessions", headers={"Authorization": f"Bearer {data['access_token']}"}
    )
    assert sessions.status_code == 200 and sessions.json()["data"]["sessions"][0]["device"] == "laptop"
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": data["refresh_token"]})
    assert refreshed.status_code == 200


def test_an_unknown_email_or_tenant_is_answered_like_a_wrong_password(accounts: AccountsApi) -> None:
    accounts.create("ann@acme.example")
    wrong = accounts.login("ann@acme.example", "Wrong-Password-123")
    unknown = accounts.login("nobody@acme.example", "Wrong-Password-123")
    no_tenant = accounts.login("ann@acme.example", "Wrong-Password-123", tenant="no-such-tenant")
    assert _error(wrong) == _error(unknown) == _error(no_tenant)
    assert _error(wrong)[:2] == (401, "INVALID_CREDENTIALS")
    assert "Wrong-Password-123" not in wrong.text


def test_failures_lock_with_doubling_back_off_for_known_and_unknown_emails(accounts: AccountsApi) -> None:
    accounts.create("ann@acme.example")
    for email in ("ann@acme.example", "nobody@acme.example"):
        for _ in range(3):  # FAST: three failures lock
            assert accounts.login(email, "Wrong-Password-123").status_code == 401
        locked = accounts.login(email, PASSWORD)  # even the right password now
        assert _error(locked)[:2] == (429, "ACCOUNT_LOCKED")
        assert locked.headers["retry-after"] == "1"
    time.sleep(1.1)  # the lockout ends by itself
    for _ in range(3):
        accounts.login("ann@acme.example", "Wrong-Password-123")
    again = accounts.login("ann@acme.example", PASSWORD)
    assert again.status_code == 429 and again.headers["retry-after"] == "2"  # the second lockout doubles
    time.sleep(2.1)
    assert accounts.login("ann@acme.example", PASSWORD).status_code == 200
    # A success forgets the count: two more failures do not lock.
    for _ in range(2):
        accounts.login("ann@acme.example", "Wrong-Password-123")
    assert accounts.login("ann@acme.example", PASSWORD).status_code == 200


def test_an_admin_unlocks_at_once(accounts: AccountsApi) -> None:
    made = accounts.create("ann@acme.example")
    for _ in range(3):
        accounts.login("ann@acme.example", "Wrong-Password-123")
    assert accounts.login("ann@acme.example").status_code == 429
    unlocked = accounts.api.call("POST", f"{ACCOUNTS}/{made['id']}/unlock", accounts.admin)
    assert unlocked.status_code == 200 and unlocked.json()["data"]["was_locked"] is True
    assert accounts.login("ann@acme.example").status_code == 200
    store = build_store(accounts.api.settings)
    try:
        kinds = [(e.kind, e.outcome) for e in store.security_events.list(None)]
    finally:
        store.close()
    assert {("login", "failed"), ("login", "locked"), ("account.unlock", "ok"), ("login", "ok")} <= set(kinds)


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Sh0rt-pw", "at least 12 characters"),
        ("alllowercaseletters", None),  # 19 characters: a passphrase, allowed
        ("onlylowercase", "needs 3 of"),
        ("Password1234!", "commonly used"),
        ("Qwertyuiop123", "commonly used"),
        ("ann.smith-Rocks-42", "email's name"),
        ("é" * 600, "at most 1024 bytes"),
    ],
)
def test_the_policy_names_the_rule_broken(accounts: AccountsApi, password: str, rule: str | None) -> None:
    body = {"email": "ann.smith@acme.example", "roles": ["user"], "password": password}
    answer = accounts.api.call("POST", ACCOUNTS, accounts.admin, json=body)
    if rule is None:
        assert answer.status_code == 201, answer.text
        return
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and rule in error["message"]
    assert error["details"]["errors"][0]["field"] == "password"
    assert password not in answer.text


def _change(accounts: AccountsApi, token: str, current: str, new: str) -> Any:
    return accounts.api.client.post(
        "/api/v1/auth/password",
        headers={"Authorization": f"Bearer {token}"},
        json={"current_password": current, "new_password": new},
    )


def test_changing_the_password_ends_other_sessions_and_refuses_reuse(accounts: AccountsApi) -> None:
    accounts.create("ann@acme.example")
    other, current = accounts.token("ann@acme.example"), accounts.token("ann@acme.example")
    assert _error(_change(accounts, current, "Not-The-Password-1", OTHER_PASSWORD))[:2] == (
        401,
        "INVALID_CREDENTIALS",
    )
    reused = _change(accounts, current, PASSWORD, PASSWORD)
    assert reused.status_code == 400 and "last 5 passwords" in reused.json()["error"]["message"]
    changed = _change(accounts, current, PASSWORD, OTHER_PASSWORD)
    assert changed.status_code == 200, changed.text
    client = accounts.api.client
    assert (
        client.get("/api/v1/auth/sessions", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    )
    assert (
        client.get("/api/v1/auth/sessions", headers={"Authorization": f"Bearer {current}"}).status_code == 200
    )
    assert accounts.login("ann@acme.example").status_code == 401
    assert accounts.login("ann@acme.example", OTHER_PASSWORD).status_code == 200
    back = _change(accounts, current, OTHER_PASSWORD, PASSWORD)  # the one before: still in the history
    assert back.status_code == 400


def test_a_key_cannot_change_a_password(accounts: AccountsApi) -> None:
    answer = accounts.api.client.post(
        "/api/v1/auth/password",
        headers={"X-API-Key": accounts.admin},
        json={"current_password": PASSWORD, "new_password": OTHER_PASSWORD},
    )
    assert answer.status_code == 403


def test_a_temporary_password_is_changed_after_login(accounts: AccountsApi) -> None:
    accounts.create("ann@acme.example", must_change_password=True, user_ids=["u1"])
    login = accounts.login("ann@acme.example")
    assert login.json()["data"]["must_change_password"] is True
    token = login.json()["data"]["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    refused = accounts.api.client.get("/api/v1/users/u1/memories", headers=auth)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"
    me = accounts.api.client.get("/api/v1/auth/me", headers=auth)
    assert me.status_code == 200 and me.json()["data"]["subject"].startswith("user:")
    assert accounts.api.client.get("/api/v1/auth/sessions", headers=auth).status_code == 200
    changed = _change(accounts, token, PASSWORD, OTHER_PASSWORD)
    assert changed.status_code == 200 and changed.json()["data"]["must_change_password"] is False
    assert accounts.api.client.get("/api/v1/users/u1/memories", headers=auth).status_code == 200


def test_an_expired_password_must_be_changed(make_settings: Callable[..., Settings]) -> None:
    for served in open_accounts(make_settings(**FAST, password_expiry_days=1)):
        made = served.create("ann@acme.example")
        store = build_store(served.api.settings)
        try:
            account = store.accounts.get(store.keys.ensure_tenant("acme").id, made["id"])
            assert account is not None and account.password_hash is not None
            store.accounts.set_password(
                account.tenant_id,
                account.id,
                account.password_hash,
                at=time.time() - 2 * 86_400,
                must_change=False,
                keep_history=5,
            )
        finally:
            store.close()
        assert served.login("ann@acme.example").json()["data"]["must_change_password"] is True


def test_a_hash_of_older_cost_parameters_is_redone_at_login(make_settings: Callable[..., Settings]) -> None:
    for served in open_accounts(make_settings(**FAST)):
        made = served.create("ann@acme.example")
    for served in open_accounts(make_settings(**{**FAST, "argon2_memory_kib": 128})):
        assert served.login("ann@acme.example").status_code == 200
        store = build_store(served.api.settings)
        try:
            account = store.accounts.get(store.keys.ensure_tenant("acme").id, made["id"])
        finally:
            store.close()
        assert account is not None and account.password_hash is not None
        assert "m=128," in account.password_hash
        PasswordHasher(memory_cost=128, time_cost=1).verify(account.password_hash, PASSWORD)
