"""Self-registration (/api/v1/auth/register) under the tenant's policy: closed and unknown tenants look the
same, a taken email looks like a new one, and what registers can log in with exactly the policy's role."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from membank.bootstrap import build_store
from membank.config import Settings
from tests.api.accounts_support import ACCOUNTS, FAST, PASSWORD, AccountsApi, open_accounts

POLICY = "/api/v1/auth/policy"
REGISTER = "/api/v1/auth/register"


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings(**FAST)


@pytest.fixture
def served(settings: Settings) -> Iterator[AccountsApi]:
    yield from open_accounts(settings)


def _register(served: AccountsApi, email: str, tenant: str = "acme", **fields: Any) -> Any:
    body = {"tenant": tenant, "email": email, "password": PASSWORD, **fields}
    return served.api.client.post(REGISTER, json=body)


def _open(served: AccountsApi, **policy: Any) -> None:
    changed = served.api.call("PUT", POLICY, served.admin, json={"allow_registration": True, **policy})
    assert changed.status_code == 200, changed.text


def _emails(served: AccountsApi) -> list[str]:
    listed = served.api.call("GET", ACCOUNTS, served.admin)
    assert listed.status_code == 200, listed.text
    return sorted(account["email"] for account in listed.json()["data"]["accounts"])


def _without_timestamp(response: Any) -> tuple[int, Any]:
    body = response.json()
    body.pop("timestamp", None)
    return response.status_code, body


def test_a_closed_tenant_and_an_unknown_one_answer_alike(served: AccountsApi) -> None:
    closed = _register(served, "ann@acme.example")
    unknown = _register(served, "ann@acme.example", tenant="no-such-tenant")
    assert closed.status_code == 403 and closed.json()["error"]["code"] == "REGISTRATION_CLOSED"
    assert _without_timestamp(closed) == _without_timestamp(unknown)
    assert _emails(served) == []


def test_an_open_tenant_registers_an_account_that_logs_in_to_its_own_memories(served: AccountsApi) -> None:
    _open(served)
    registered = _register(served, "Ann@Acme.Example", display_name="Ann")
    assert registered.status_code == 202, registered.text
    assert registered.json()["data"]["status"] == "registered"
    assert "access_token" not in registered.text
    assert _emails(served) == ["ann@acme.example"]
    login = served.login("ann@acme.example")
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['data']['access_token']}"}
    own = served.api.call("GET", ACCOUNTS, served.admin).json()["data"]["accounts"][0]
    assert own["roles"] == ["user"] and own["user_ids"] == [own["id"]]
    client = served.api.client
    assert client.get(f"/api/v1/users/{own['id']}/memories", headers=headers).status_code == 200
    assert client.get("/api/v1/users/someone-else/memories", headers=headers).status_code == 403
    assert client.get(ACCOUNTS, headers=headers).status_code == 403
    # Another tenant's policy stayed closed.
    assert _register(served, "ann@acme.example", tenant="globex").status_code == 403


def test_a_taken_email_answers_like_a_new_one_and_changes_nothing(served: AccountsApi) -> None:
    _open(served)
    served.create("ann@acme.example", roles=["tenant-admin"])
    fresh = _register(served, "bob@acme.example")
    taken = _register(served, "ANN@acme.example", password="Another-Long-Passphrase-9")
    assert _without_timestamp(fresh) == _without_timestamp(taken)
    assert _emails(served) == ["ann@acme.example", "bob@acme.example"]
    # The existing account kept its password and roles.
    assert served.login("ann@acme.example", "Another-Long-Passphrase-9").status_code == 401
    assert served.login("ann@acme.example").status_code == 200
    events = served.api.call("GET", "/api/v1/security-events?kind=account.register", served.admin)
    assert [event["outcome"] for event in events.json()["data"]["events"]] == ["ok", "duplicate"]


def test_the_domain_allow_list_and_the_password_policy_hold(served: AccountsApi) -> None:
    _open(served, registration_email_domains=["acme.example"])
    refused = _register(served, "eve@evil.example")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "REGISTRATION_DOMAIN_REFUSED"
    weak = _register(served, "ann@acme.example", password="password")
    assert weak.status_code == 400 and weak.json()["error"]["details"]["errors"][0]["field"] == "password"
    assert _register(served, "ann@ACME.example").status_code == 202
    assert _emails(served) == ["ann@acme.example"]


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
    served: AccountsApi, body: dict[str, Any], field: str
) -> None:
    _open(served)
    payload = {"tenant": "acme", "email": "ann@acme.example", "password": PASSWORD, **body}
    refused = served.api.client.post(REGISTER, json=payload)
    assert refused.status_code == 400, refused.text
    assert field in [error["field"] for error in refused.json()["error"]["details"]["errors"]]
    assert _emails(served) == []


def test_a_custom_registration_role_is_what_the_account_gets(served: AccountsApi, settings: Settings) -> None:
    made = served.api.call(
        "POST", "/api/v1/roles", served.admin, json={"name": "reader", "permissions": ["memories:read:own"]}
    )
    assert made.status_code == 201, made.text
    _open(served, registration_role="reader")
    assert _register(served, "ann@acme.example").status_code == 202
    store = build_store(settings)
    try:
        tenant = store.keys.tenant_by_name("acme")
        assert tenant is not None
        account = store.accounts.by_email(tenant.id, "ann@acme.example")
    finally:
        store.close()
    assert account is not None and account.roles == ["reader"]
