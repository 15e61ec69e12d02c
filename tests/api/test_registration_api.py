"""Self-registration (/api/v1/auth/register) under the tenant's policy: closed and unknown tenants look the
same, a taken email looks like a new one, and what registers can log in with exactly the policy's role."""

from __future__ import annotations

from typing import Any

import pytest

from membank.bootstrap import build_store
from membank.config import Settings
from tests.api.accounts_support import ACCOUNTS, PASSWORD, AccountsApi

POLICY = "/api/v1/auth/policy"
REGISTER = "/api/v1/auth/register"


def _register(account_api: AccountsApi, email: str, tenant: str = "acme", **fields: Any) -> Any:
    body = {"tenant": tenant, "email": email, "password": PASSWORD, **fields}
    return account_api.api.client.post(REGISTER, json=body)


def _open(account_api: AccountsApi, **policy: Any) -> None:
    changed = account_api.api.call(
        "PUT", POLICY, account_api.admin, json={"allow_registration": True, **policy}
    )
    assert changed.status_code == 200, changed.text


def _emails(account_api: AccountsApi) -> list[str]:
    listed = account_api.api.call("GET", ACCOUNTS, account_api.admin)
    assert listed.status_code == 200, listed.text
    return sorted(account["email"] for account in listed.json()["data"]["accounts"])


def _without_timestamp(response: Any) -> tuple[int, Any]:
    """The answer without what differs between any two answers: when it was made and the request's trace."""
    body = response.json()
    body.pop("timestamp", None)
    body.get("error", {}).pop("trace_id", None)
    return response.status_code, body


def test_a_closed_tenant_and_an_unknown_one_answer_alike(account_api: AccountsApi) -> None:
    closed = _register(account_api, "ann@acme.example")
    unknown = _register(account_api, "ann@acme.example", tenant="no-such-tenant")
    assert closed.status_code == 403 and closed.json()["error"]["code"] == "REGISTRATION_CLOSED"
    assert _without_timestamp(closed) == _without_timestamp(unknown)
    assert _emails(account_api) == []


def test_an_open_tenant_registers_an_account_that_logs_in_to_its_own_memories(
    account_api: AccountsApi,
) -> None:
    _open(account_api)
    registered = _register(account_api, "Ann@Acme.Example", display_name="Ann")
    assert registered.status_code == 202, registered.text
    assert registered.json()["data"]["status"] == "registered"
    assert "access_token" not in registered.text
    assert _emails(account_api) == ["ann@acme.example"]
    login = account_api.login("ann@acme.example")
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    own = account_api.api.call("GET", ACCOUNTS, account_api.admin).json()["data"]["accounts"][0]
    assert own["roles"] == ["user"] and own["user_ids"] == [own["id"]]
    client = account_api.api.client
    assert client.get(f"/api/v1/users/{own['id']}/memories", headers=headers).status_code == 200
    assert client.get("/api/v1/users/someone-else/memories", headers=headers).status_code == 403
    assert client.get(ACCOUNTS, headers=headers).status_code == 403
    # Another tenant's policy stayed closed.
    assert _register(account_api, "ann@acme.example", tenant="globex").status_code == 403


def test_a_taken_email_answers_like_a_new_one_and_changes_nothing(account_api: AccountsApi) -> None:
    _open(account_api)
    account_api.create("ann@acme.example", roles=["tenant-admin"])
    fresh = _register(account_api, "bob@acme.example")
    taken = _register(account_api, "ANN@acme.example", password="Another-Long-Passphrase-9")
    assert _without_timestamp(fresh) == _without_timestamp(taken)
    assert _emails(account_api) == ["ann@acme.example", "bob@acme.example"]
    # The existing account kept its password and roles.
    assert account_api.login("ann@acme.example", "Another-Long-Passphrase-9").status_code == 401
    assert account_api.login("ann@acme.example").status_code == 200
    events = account_api.api.call("GET", "/api/v1/security-events?kind=account.register", account_api.admin)
    assert [event["outcome"] for event in events.json()["data"]["events"]] == ["ok", "duplicate"]


def test_the_domain_allow_list_and_the_password_policy_hold(account_api: AccountsApi) -> None:
    _open(account_api, registration_email_domains=["acme.example"])
    refused = _register(account_api, "eve@evil.example")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "REGISTRATION_DOMAIN_REFUSED"
    weak = _register(account_api, "ann@acme.example", password="password")
    assert weak.status_code == 400 and weak.json()["error"]["details"]["errors"][0]["field"] == "password"
    assert _register(account_api, "ann@ACME.example").status_code == 202
    assert _emails(account_api) == ["ann@acme.example"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email"}, "email"),
        ({"email": "a" * 65 + "@acme.example"}, "email"),
        ({"password": ""}, "password"),
        ({"password": "x" * 1025}, "password"),
        ({"display_name": "d" * 101}, "display_name"),
        ({"tenant": ""}, "tenant"),
        ({"roles": ["tenant-admin"]}, "roles"),
    ],
)
def test_bad_fields_are_named_and_create_nothing(
    account_api: AccountsApi, body: dict[str, Any], field: str
) -> None:
    _open(account_api)
    payload = {"tenant": "acme", "email": "ann@acme.example", "password": PASSWORD, **body}
    refused = account_api.api.client.post(REGISTER, json=payload)
    assert refused.status_code == 400, refused.text
    assert field in [error["field"] for error in refused.json()["error"]["details"]["errors"]]
    assert _emails(account_api) == []


def test_a_custom_registration_role_is_what_the_account_gets(
    account_api: AccountsApi, fast_settings: Settings
) -> None:
    made = account_api.api.call(
        "POST",
        "/api/v1/roles",
        account_api.admin,
        json={"name": "reader", "permissions": ["memories:read:own"]},
    )
    assert made.status_code == 201, made.text
    _open(account_api, registration_role="reader")
    assert _register(account_api, "ann@acme.example").status_code == 202
    store = build_store(fast_settings)
    try:
        tenant = store.keys.tenant_by_name("acme")
        assert tenant is not None
        account = store.accounts.by_email(tenant.id, "ann@acme.example")
    finally:
        store.close()
    assert account is not None and account.roles == ["reader"]
