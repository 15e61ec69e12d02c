"""The whole life of a self-registered account against a real `membank serve` process: the tenant opens
registration, the person registers, logs in, sets up MFA, logs in with a code, refreshes, a replayed refresh
token ends the session, and an admin's revoke-all ends every other session on the next request."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pyotp
import pytest

from tests.e2e.conftest import run_cli

pytestmark = pytest.mark.e2e

PASSWORD = "Tr0ubadour-Sunrise"
EMAIL = "ann@acme.example"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _login(client: httpx.Client, **fields: str) -> httpx.Response:
    return client.post(
        "/api/v1/auth/login", json={"tenant": "acme", "email": EMAIL, "password": PASSWORD, **fields}
    )


def _tokens(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_register_login_mfa_refresh_reuse_and_revoke_all(
    launch: Callable[..., Any], env: dict[str, str]
) -> None:
    server = launch()
    admin = run_cli(
        env, "keys", "create", "--tenant", "acme", "--name", "admin", "--scopes", "admin"
    ).stdout.strip()
    # A client without the server fixture's admin key: an X-API-Key header would win over the bearer.
    with httpx.Client(base_url=server.url, timeout=30) as client:
        _flow(client, admin)


def _flow(client: httpx.Client, admin: str) -> None:
    closed = client.post(
        "/api/v1/auth/register", json={"tenant": "acme", "email": EMAIL, "password": PASSWORD}
    )
    assert closed.status_code == 403 and closed.json()["error"]["code"] == "REGISTRATION_CLOSED"
    opened = client.put(
        "/api/v1/auth/policy", headers={"X-API-Key": admin}, json={"allow_registration": True}
    )
    assert opened.status_code == 200, opened.text

    registered = client.post(
        "/api/v1/auth/register", json={"tenant": "acme", "email": EMAIL, "password": PASSWORD}
    )
    assert registered.status_code == 202, registered.text
    first = _tokens(_login(client))

    enrolled = client.post("/api/v1/auth/mfa/enrol", headers=_bearer(first["access_token"]))
    assert enrolled.status_code == 200, enrolled.text
    secret = enrolled.json()["data"]["secret"]
    if time.time() % 30 > 20:  # keep the codes below inside their steps
        time.sleep(30 - time.time() % 30 + 0.1)
    totp, now = pyotp.TOTP(secret), time.time()
    activated = client.post(
        "/api/v1/auth/mfa/activate", headers=_bearer(first["access_token"]), json={"code": totp.at(now)}
    )
    assert activated.status_code == 200, activated.text
    recovery = activated.json()["data"]["recovery_codes"]

    without_code = _login(client)
    assert without_code.status_code == 401 and without_code.json()["error"]["code"] == "MFA_REQUIRED"
    second = _tokens(_login(client, totp_code=totp.at(now + 30)))
    rotated = _tokens(client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}))
    assert client.get("/api/v1/auth/sessions", headers=_bearer(rotated["access_token"])).status_code == 200

    # The used refresh token presented again: the whole session ends, its newest tokens included.
    replayed = client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert replayed.status_code == 401, replayed.text
    newest = client.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]})
    assert newest.status_code == 401, newest.text
    assert client.get("/api/v1/auth/sessions", headers=_bearer(rotated["access_token"])).status_code == 401
    events = client.get("/api/v1/security-events", headers={"X-API-Key": admin}).json()["data"]["events"]
    kinds = [event["kind"] for event in events]
    assert "account.register" in kinds and any("reuse" in kind for kind in kinds), kinds

    # Two more sessions (a code of the previous step, a recovery code); an admin ends all of them.
    third = _tokens(_login(client, totp_code=totp.at(now - 30)))
    fourth = _tokens(_login(client, recovery_code=recovery[0]))
    for session in (third, fourth):
        assert (
            client.get("/api/v1/auth/sessions", headers=_bearer(session["access_token"])).status_code == 200
        )
    accounts = client.get("/api/v1/accounts", headers={"X-API-Key": admin}).json()["data"]["accounts"]
    account_id = next(account["id"] for account in accounts if account["email"] == EMAIL)
    revoked = client.delete(f"/api/v1/accounts/{account_id}/sessions", headers={"X-API-Key": admin})
    assert revoked.status_code == 200, revoked.text
    for session in (third, fourth):
        refused = client.get("/api/v1/auth/sessions", headers=_bearer(session["access_token"]))
        assert refused.status_code == 401, refused.text
        again = client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
        assert again.status_code == 401, again.text
