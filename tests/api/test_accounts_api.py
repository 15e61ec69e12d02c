"""Account administration over HTTP: lifecycle, bindings, escalation refused, tenant isolation."""

from __future__ import annotations

from membank.bootstrap import build_store
from tests.api.accounts_support import ACCOUNTS, OTHER_PASSWORD, PASSWORD, AccountsApi, accounts, role_key

__all__ = ["accounts"]  # the fixture


def test_an_account_is_created_listed_changed_and_disabled(accounts: AccountsApi) -> None:
    api = accounts.api
    made = accounts.create("Ann@Acme.Example", display_name="Ann", user_ids=["alice"])
    assert made["email"] == "ann@acme.example"  # emails compare case-insensitively
    assert (made["status"], made["roles"], made["user_ids"], made["has_password"]) == (
        "active",
        ["user"],
        ["alice"],
        True,
    )
    assert PASSWORD not in str(made) and "password_hash" not in made and "$argon2" not in str(made)
    accounts.create("bob@acme.example")
    listed = api.call("GET", ACCOUNTS, accounts.admin, params={"limit": 1}).json()["data"]
    assert [a["email"] for a in listed["accounts"]] == ["ann@acme.example"]
    rest = api.call("GET", ACCOUNTS, accounts.admin, params={"after": listed["next_after"]}).json()["data"]
    assert [a["email"] for a in rest["accounts"]] == ["bob@acme.example"] and rest["next_after"] is None

    url = f"{ACCOUNTS}/{made['id']}"
    patched = api.call(
        "PATCH", url, accounts.admin, json={"display_name": "Ann S.", "roles": ["auditor"], "user_ids": None}
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["data"]["display_name"], patched.json()["data"]["roles"]) == (
        "Ann S.",
        ["auditor"],
    )
    assert patched.json()["data"]["user_ids"] is None
    token = accounts.token("ann@acme.example")
    assert (
        api.client.get("/api/v1/auth/sessions", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )

    disabled = api.call("DELETE", url, accounts.admin)
    assert disabled.status_code == 200 and disabled.json()["data"]["status"] == "disabled"
    # Its session ended, and it can no longer log in (with the one answer for every failure).
    assert (
        api.client.get("/api/v1/auth/sessions", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    refused = accounts.login("ann@acme.example")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "INVALID_CREDENTIALS"
    assert api.call("GET", url, accounts.admin).json()["data"]["status"] == "disabled"


def test_a_taken_email_is_a_conflict(accounts: AccountsApi) -> None:
    accounts.create("ann@acme.example")
    again = accounts.api.call(
        "POST", ACCOUNTS, accounts.admin, json={"email": "ANN@acme.example", "roles": ["user"]}
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "CONFLICT"


def test_another_tenants_account_is_not_found(accounts: AccountsApi) -> None:
    made = accounts.create("ann@acme.example")
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", {"display_name": "x"}),
        ("DELETE", "", None),
        ("POST", "/reset-password", {"password": OTHER_PASSWORD}),
        ("POST", "/unlock", None),
    ):
        answer = accounts.api.call(
            method, f"{ACCOUNTS}/{made['id']}{suffix}", accounts.globex_admin, json=body
        )
        assert answer.status_code == 404, (method, suffix, answer.text)
        assert answer.json()["error"]["code"] == "ACCOUNT_NOT_FOUND"
    assert accounts.api.call("GET", ACCOUNTS, accounts.globex_admin).json()["data"]["accounts"] == []


def test_unknown_roles_are_refused(accounts: AccountsApi) -> None:
    answer = accounts.api.call(
        "POST", ACCOUNTS, accounts.admin, json={"email": "a@acme.example", "roles": ["wizard"]}
    )
    assert answer.status_code == 400 and "roles" in answer.text


def test_granting_more_than_the_caller_holds_is_refused(accounts: AccountsApi) -> None:
    settings = accounts.api.settings
    memory_work = [f"memories:{action}:all" for action in ("read", "write", "delete")] + ["jobs:read:all"]
    user_admin = role_key(settings, "acme", ["users:read:all", "users:write:all", *memory_work])
    refused = accounts.api.call(
        "POST", ACCOUNTS, user_admin, json={"email": "eve@acme.example", "roles": ["tenant-admin"]}
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
    allowed = accounts.create("eve@acme.example", key=user_admin, roles=["service", "user"])
    assert allowed["roles"] == ["service", "user"]
    # Nor may it raise an existing account's roles, or take over an account that holds more (reset).
    plain = accounts.create("pat@acme.example")
    raised = accounts.api.call(
        "PATCH", f"{ACCOUNTS}/{plain['id']}", user_admin, json={"roles": ["tenant-admin"]}
    )
    assert raised.status_code == 403
    boss = accounts.create("boss@acme.example", roles=["tenant-admin"])
    takeover = accounts.api.call(
        "POST", f"{ACCOUNTS}/{boss['id']}/reset-password", user_admin, json={"password": OTHER_PASSWORD}
    )
    assert takeover.status_code == 403
    store = build_store(settings)
    try:
        denied = [e for e in store.security_events.list(None) if e.outcome == "denied"]
    finally:
        store.close()
    assert {e.kind for e in denied} >= {"account.create", "account.update", "password.reset"}


def test_an_end_user_bound_key_cannot_manage_accounts(accounts: AccountsApi) -> None:
    own = role_key(accounts.api.settings, "acme", ["users:read:own", "users:write:own"])
    for method, body in (("GET", None), ("POST", {"email": "x@acme.example", "roles": ["user"]})):
        answer = accounts.api.call(method, ACCOUNTS, own, json=body)
        assert answer.status_code == 403, answer.text


def test_reset_password_sets_a_temporary_one_and_ends_sessions(accounts: AccountsApi) -> None:
    api = accounts.api
    made = accounts.create("ann@acme.example")
    token = accounts.token("ann@acme.example")
    reset = api.call(
        "POST", f"{ACCOUNTS}/{made['id']}/reset-password", accounts.admin, json={"password": OTHER_PASSWORD}
    )
    assert reset.status_code == 200 and reset.json()["data"]["must_change_password"] is True
    assert (
        api.client.get("/api/v1/auth/sessions", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
    assert accounts.login("ann@acme.example").status_code == 401  # the old password is gone
    login = accounts.login("ann@acme.example", OTHER_PASSWORD)
    assert login.status_code == 200 and login.json()["data"]["must_change_password"] is True
    assert PASSWORD not in reset.text and OTHER_PASSWORD not in reset.text
