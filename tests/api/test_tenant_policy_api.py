"""The tenant's authentication policy (/api/v1/auth/policy): who may read and change it, what it accepts,
and the tenant-wide MFA requirement."""

from __future__ import annotations

from typing import Any

import pytest

from membank.bootstrap import build_store
from membank.config import Settings
from tests.api import rbac_support
from tests.api.accounts_support import ACCOUNTS, AccountsApi, role_key

POLICY = "/api/v1/auth/policy"
DEFAULTS = {
    "allow_registration": False,
    "registration_role": "user",
    "registration_email_domains": [],
    "mfa_required": False,
    "updated_at": None,
}


def _policy(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    data.pop("tenant_id")
    return data


def test_a_tenant_without_a_policy_has_the_closed_defaults(account_api: AccountsApi) -> None:
    assert _policy(account_api.api.call("GET", POLICY, account_api.admin)) == DEFAULTS


def test_a_change_keeps_what_it_leaves_out_and_is_recorded(account_api: AccountsApi) -> None:
    call = account_api.api.call
    first = _policy(call("PUT", POLICY, account_api.admin, json={"allow_registration": True}))
    assert first["allow_registration"] is True and first["updated_at"] is not None
    body = {"registration_email_domains": ["Acme.Example", "acme.example", "bücher.example"]}
    second = _policy(call("PUT", POLICY, account_api.admin, json=body))
    assert second["allow_registration"] is True
    assert second["registration_email_domains"] == ["acme.example", "xn--bcher-kva.example"]
    assert _policy(call("GET", POLICY, account_api.admin)) == second
    events = call("GET", "/api/v1/security-events?kind=tenant_policy_change", account_api.admin).json()[
        "data"
    ]
    assert [event["details"]["allow_registration"] for event in events["events"]] == [True, True]
    # Another tenant's policy is its own.
    assert _policy(call("GET", POLICY, account_api.globex_admin)) == DEFAULTS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"registration_role": "tenant-admin"}, "registration_role"),
        ({"registration_role": "auditor"}, "registration_role"),
        ({"registration_role": "no-such-role"}, "registration_role"),
        ({"registration_email_domains": ["not a domain"]}, "registration_email_domains[0]"),
        ({"registration_email_domains": ["example.com", "-bad.example"]}, "registration_email_domains[1]"),
        ({"registration_email_domains": ["localhost"]}, "registration_email_domains[0]"),
        ({"registration_email_domains": [f"d{n}.example" for n in range(101)]}, "registration_email_domains"),
        ({"allow_registration": "yes please"}, "allow_registration"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_bad_fields_are_named_and_change_nothing(
    account_api: AccountsApi, body: dict[str, Any], field: str
) -> None:
    call = account_api.api.call
    before = _policy(
        call("PUT", POLICY, account_api.admin, json={"allow_registration": True, "mfa_required": True})
    )
    refused = call("PUT", POLICY, account_api.admin, json={"mfa_required": False, **body})
    assert refused.status_code == 400, refused.text
    assert field in [error["field"] for error in refused.json()["error"]["details"]["errors"]]
    assert _policy(call("GET", POLICY, account_api.admin)) == before


def test_a_custom_role_may_be_given_only_when_it_grants_no_more_than_user(
    account_api: AccountsApi, fast_settings: Settings
) -> None:
    call = account_api.api.call
    modest = call(
        "POST",
        "/api/v1/roles",
        account_api.admin,
        json={"name": "reader", "permissions": ["memories:read:own"]},
    )
    assert modest.status_code == 201, modest.text
    wide = call(
        "POST",
        "/api/v1/roles",
        account_api.admin,
        json={"name": "wide", "permissions": ["memories:read:all"]},
    )
    assert wide.status_code == 201, wide.text
    assert _policy(call("PUT", POLICY, account_api.admin, json={"registration_role": "reader"}))[
        "registration_role"
    ] == ("reader")
    refused = call("PUT", POLICY, account_api.admin, json={"registration_role": "wide"})
    assert refused.status_code == 400 and "grants more" in refused.json()["error"]["message"]


def test_reading_and_changing_need_the_admin_permissions(
    account_api: AccountsApi, fast_settings: Settings
) -> None:
    call = account_api.api.call
    reader = role_key(fast_settings, "acme", ["admin:read:all"])
    member = role_key(fast_settings, "acme", ["memories:read:all"])
    assert call("GET", POLICY, reader).status_code == 200
    assert call("PUT", POLICY, reader, json={"allow_registration": True}).json()["error"]["code"] == (
        "INSUFFICIENT_PERMISSIONS"
    )
    assert call("GET", POLICY, member).status_code == 403
    assert call("GET", POLICY, "mbk_000000000000_wrong").status_code == 401


def test_a_platform_admin_sets_another_tenants_policy_on_record(
    account_api: AccountsApi, fast_settings: Settings
) -> None:
    call = account_api.api.call
    store = build_store(fast_settings)
    try:
        platform = rbac_support.role_key(store, "acme", ["platform-admin"])
    finally:
        store.close()
    other = {"X-MemBank-Tenant": "globex"}
    changed = call("PUT", POLICY, platform, headers=other, json={"allow_registration": True})
    assert changed.status_code == 200, changed.text
    assert _policy(call("GET", POLICY, account_api.globex_admin))["allow_registration"] is True
    assert _policy(call("GET", POLICY, account_api.admin))["allow_registration"] is False
    # A tenant admin cannot name another tenant.
    refused = call("PUT", POLICY, account_api.admin, headers=other, json={"allow_registration": False})
    assert refused.status_code == 403
    assert _policy(call("GET", POLICY, account_api.globex_admin))["allow_registration"] is True


def test_a_tenant_requiring_mfa_allows_a_session_only_enrolment(account_api: AccountsApi) -> None:
    client = account_api.api.client
    account_api.create("ann@acme.example", user_ids=["u1"])
    before = account_api.token("ann@acme.example")
    assert (
        client.get("/api/v1/users/u1/memories", headers={"Authorization": f"Bearer {before}"}).status_code
        == 200
    )
    _policy(account_api.api.call("PUT", POLICY, account_api.admin, json={"mfa_required": True}))
    for token in (before, account_api.token("ann@acme.example")):
        headers = {"Authorization": f"Bearer {token}"}
        blocked = client.get("/api/v1/users/u1/memories", headers=headers)
        assert blocked.status_code == 403, blocked.text
        assert blocked.json()["error"]["details"] == {"tenant_policy": "mfa_required"}
        assert client.post("/api/v1/auth/mfa/enrol", headers=headers).status_code == 200
    # Keys are not sessions; another tenant is not affected.
    assert account_api.api.call("GET", ACCOUNTS, account_api.admin).status_code == 200
