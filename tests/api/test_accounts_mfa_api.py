"""MFA over HTTP: enrol → activate → login needs a code → a code works once → recovery codes work once →
step-up before sensitive acts; disable and an admin's reset."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pyotp
import pytest

from membank.config import Settings
from tests.api.accounts_support import ACCOUNTS, FAST, PASSWORD, AccountsApi, open_accounts

MFA = "/api/v1/auth/mfa"


@pytest.fixture
def accounts(make_settings: Callable[..., Settings]) -> Iterator[AccountsApi]:
    # A short step-up age, so a test can outlive it.
    yield from open_accounts(make_settings(**FAST, step_up_max_age_seconds=2))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _codes(secret: str) -> tuple[str, str, str]:
    """The previous, current and next step's codes (all within the accepted window), away from a step edge."""
    if time.time() % 30 > 20:  # ten seconds left: a test's codes stay in their steps
        time.sleep(30 - time.time() % 30 + 0.1)
    totp, now = pyotp.TOTP(secret), time.time()
    return totp.at(now - 30), totp.at(now), totp.at(now + 30)


def _enrolled(
    accounts: AccountsApi, email: str, **fields: Any
) -> tuple[str, list[str], tuple[str, str, str]]:
    """An account with active MFA: its secret, recovery codes and the codes not used yet (previous, next)."""
    accounts.create(email, **fields)
    token = accounts.token(email)
    client = accounts.api.client
    enrolled = client.post(f"{MFA}/enrol", headers=_bearer(token))
    assert enrolled.status_code == 200, enrolled.text
    data = enrolled.json()["data"]
    assert data["provisioning_uri"].startswith("otpauth://totp/") and "secret=" in data["provisioning_uri"]
    secret = data["secret"]
    assert client.post(f"{MFA}/activate", headers=_bearer(token), json={"code": "000000"}).status_code == 400
    previous, current, following = _codes(secret)
    activated = client.post(f"{MFA}/activate", headers=_bearer(token), json={"code": current})
    assert activated.status_code == 200, activated.text
    recovery = activated.json()["data"]["recovery_codes"]
    assert len(recovery) == 10 and len(set(recovery)) == 10
    return secret, recovery, (previous, current, following)


def test_login_needs_a_code_once_active_and_a_code_works_once(accounts: AccountsApi) -> None:
    _, recovery, (previous, current, following) = _enrolled(accounts, "ann@acme.example")
    missing = accounts.login("ann@acme.example")
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "MFA_REQUIRED"
    wrong = accounts.login("ann@acme.example", totp_code="123456" if current != "123456" else "654321")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "INVALID_CREDENTIALS"
    replayed = accounts.login("ann@acme.example", totp_code=current)  # used by activate
    assert replayed.status_code == 401 and replayed.json()["error"]["code"] == "INVALID_CREDENTIALS"
    accounts.api.call("POST", f"{ACCOUNTS}/{_id(accounts, 'ann@acme.example')}/unlock", accounts.admin)
    ok = accounts.login("ann@acme.example", totp_code=following)
    assert ok.status_code == 200, ok.text
    sessions = accounts.api.client.get(
        "/api/v1/auth/sessions", headers=_bearer(ok.json()["data"]["access_token"])
    )
    assert sessions.json()["data"]["sessions"][0]["mfa"] is True
    assert accounts.login("ann@acme.example", totp_code=following).status_code == 401  # replay

    by_recovery = accounts.login("ann@acme.example", recovery_code=recovery[0].upper())
    assert by_recovery.status_code == 200, by_recovery.text
    accounts.api.call("POST", f"{ACCOUNTS}/{_id(accounts, 'ann@acme.example')}/unlock", accounts.admin)
    assert accounts.login("ann@acme.example", recovery_code=recovery[0]).status_code == 401  # used up
    assert accounts.login("ann@acme.example", totp_code=previous).status_code == 200


def _unused_code(secret: str, activated: str) -> str:
    """A code of a step within the window now that neither activation (its step) nor the login after it (the
    next step) used: the test runs long enough for a step boundary to pass since enrolment."""
    totp = pyotp.TOTP(secret)
    now_step = int(time.time() // 30)
    enrolled = next(s for s in range(now_step - 4, now_step + 2) if totp.at(s * 30) == activated)
    step = next(s for s in (now_step, now_step + 1, now_step - 1) if s not in (enrolled, enrolled + 1))
    return totp.at(step * 30)


def _id(accounts: AccountsApi, email: str) -> str:
    listed = accounts.api.call("GET", ACCOUNTS, accounts.admin).json()["data"]["accounts"]
    return next(a["id"] for a in listed if a["email"] == email)


def test_sensitive_acts_need_a_recent_second_factor(accounts: AccountsApi) -> None:
    client = accounts.api.client
    key = {"name": "from a person", "roles": ["service"]}
    # Without MFA: a session of a tenant admin cannot create keys at all.
    accounts.create("plain@acme.example", roles=["tenant-admin"])
    plain = accounts.token("plain@acme.example")
    refused = client.post("/api/v1/keys", headers=_bearer(plain), json=key)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "STEP_UP_REQUIRED"
    step_up = client.post("/api/v1/auth/step-up", headers=_bearer(plain), json={"totp_code": "123456"})
    assert step_up.status_code == 409  # nothing to step up with

    secret, _, (_, current, following) = _enrolled(accounts, "boss@acme.example", roles=["tenant-admin"])
    login = accounts.login("boss@acme.example", totp_code=following)
    token = login.json()["data"]["access_token"]
    assert client.post("/api/v1/keys", headers=_bearer(token), json=key).status_code == 201
    time.sleep(2.1)  # older than step_up_max_age_seconds
    stale = client.post("/api/v1/keys", headers=_bearer(token), json=key)
    assert stale.status_code == 403 and stale.json()["error"]["code"] == "STEP_UP_REQUIRED"
    memory = accounts.api.add("to be erased", user_id="u1", key=accounts.admin)
    erase = client.delete(f"/api/v1/memories/{memory['id']}", headers=_bearer(token), params={"hard": "true"})
    assert erase.status_code == 403 and erase.json()["error"]["code"] == "STEP_UP_REQUIRED"
    other = _id(accounts, "plain@acme.example")
    roles = client.patch(f"{ACCOUNTS}/{other}", headers=_bearer(token), json={"roles": ["auditor"]})
    assert roles.status_code == 403 and roles.json()["error"]["code"] == "STEP_UP_REQUIRED"
    role = {"name": "readers", "permissions": ["memories:read:all"]}
    made = accounts.api.call("POST", "/api/v1/roles", accounts.admin, json=role)
    assert made.status_code == 201, made.text
    for method, path, body in [
        ("POST", "/api/v1/roles", {**role, "name": "writers"}),
        ("PATCH", "/api/v1/roles/readers", {"permissions": ["memories:write:all"]}),
        ("DELETE", "/api/v1/roles/readers", None),
    ]:
        changed = client.request(method, path, headers=_bearer(token), json=body)
        assert changed.status_code == 403 and changed.json()["error"]["code"] == "STEP_UP_REQUIRED", path
    listed = accounts.api.call("GET", "/api/v1/roles", accounts.admin).json()["data"]["roles"]
    assert [r["permissions"] for r in listed if r["name"] in ("readers", "writers")] == [
        ["memories:read:all"]
    ]
    # API keys are not subject to it.
    assert accounts.api.call("POST", "/api/v1/keys", accounts.admin, json=key).status_code == 201

    unused = _unused_code(secret, current)
    stepped = client.post("/api/v1/auth/step-up", headers=_bearer(token), json={"totp_code": unused})
    assert stepped.status_code == 200, stepped.text
    fresh = stepped.json()["data"]["access_token"]
    assert client.post("/api/v1/keys", headers=_bearer(fresh), json=key).status_code == 201
    assert (
        client.patch(f"{ACCOUNTS}/{other}", headers=_bearer(fresh), json={"roles": ["auditor"]}).status_code
        == 200
    )
    again = client.post("/api/v1/auth/step-up", headers=_bearer(fresh), json={"totp_code": unused})
    assert again.status_code == 401  # a code works once


def test_disable_needs_a_code_and_an_admin_can_reset(accounts: AccountsApi) -> None:
    client = accounts.api.client
    secret, recovery, (_, _, following) = _enrolled(accounts, "ann@acme.example")
    token = accounts.login("ann@acme.example", totp_code=following).json()["data"]["access_token"]
    assert client.post(f"{MFA}/enrol", headers=_bearer(token)).status_code == 409  # active already
    assert client.post(f"{MFA}/disable", headers=_bearer(token), json={"code": "000000"}).status_code == 400
    disabled = client.post(f"{MFA}/disable", headers=_bearer(token), json={"code": recovery[1]})
    assert disabled.status_code == 200 and disabled.json()["data"]["mfa_enabled"] is False
    assert accounts.login("ann@acme.example").status_code == 200  # no code needed any more

    _enrolled(accounts, "bob@acme.example")
    bob = _id(accounts, "bob@acme.example")
    reset = accounts.api.call("POST", f"{ACCOUNTS}/{bob}/reset-mfa", accounts.admin)
    assert reset.status_code == 200 and reset.json()["data"]["mfa_enabled"] is False
    assert accounts.login("bob@acme.example", PASSWORD).status_code == 200
    assert secret not in reset.text


def test_a_key_cannot_enrol(accounts: AccountsApi) -> None:
    assert accounts.api.call("POST", f"{MFA}/enrol", accounts.admin).status_code == 403


def test_roles_requiring_mfa_allow_only_enrolment_until_it_is_set_up(
    make_settings: Callable[..., Settings],
) -> None:
    for served in open_accounts(make_settings(**FAST, mfa_required_roles=["tenant-admin"])):
        client = served.api.client
        served.create("boss@acme.example", roles=["tenant-admin"])
        served.create("ann@acme.example", user_ids=["u1"])  # a role without the requirement
        ann = served.token("ann@acme.example")
        assert client.get("/api/v1/users/u1/memories", headers=_bearer(ann)).status_code == 200
        token = served.token("boss@acme.example")
        blocked = client.get(ACCOUNTS, headers=_bearer(token))
        assert blocked.status_code == 403 and blocked.json()["error"]["code"] == "MFA_ENROLMENT_REQUIRED"
        assert client.get("/api/v1/auth/sessions", headers=_bearer(token)).status_code == 200
        secret = client.post(f"{MFA}/enrol", headers=_bearer(token)).json()["data"]["secret"]
        _, current, following = _codes(secret)
        assert (
            client.post(f"{MFA}/activate", headers=_bearer(token), json={"code": current}).status_code == 200
        )
        assert client.get(ACCOUNTS, headers=_bearer(token)).status_code == 200  # this session proved it
        # API keys are not affected; a new login needs the code, and then may do everything.
        assert served.api.call("GET", ACCOUNTS, served.admin).status_code == 200
        fresh = served.login("boss@acme.example", totp_code=following).json()["data"]["access_token"]
        assert client.get(ACCOUNTS, headers=_bearer(fresh)).status_code == 200
