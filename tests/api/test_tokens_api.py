"""Access tokens over HTTP: every refusal of a bad JWT, refresh rotation and reuse, sessions, JWKS."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from membank.bootstrap import build_store
from membank.config import Settings
from tests.api.conftest import Api, open_api
from tests.api.tokens_support import (
    bearer,
    claims_of,
    container_of,
    forge,
    hs256_with_public_key,
    login,
    new_account,
    unsigned,
)
from tests.support.accounts import set_status

MEMORIES = "/api/v1/users/u1/memories"


def _refused(api: Api, token: str, reason: str) -> None:
    response = api.client.get(MEMORIES, headers=bearer(token))
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "UNAUTHORIZED" and reason in error["message"]
    assert token not in response.text


def test_a_login_token_reads_the_accounts_own_memories(api: Api) -> None:
    api.add("alice likes tea", user_id="u1")
    account = new_account(api, user_ids=["u1"])
    issued = login(api, account)
    assert (issued.token_type, issued.expires_in) == ("Bearer", 900)
    response = api.client.get(MEMORIES, headers=bearer(issued.access_token))
    assert response.status_code == 200, response.text
    assert [m["content"] for m in response.json()["data"]["memories"]] == ["alice likes tea"]
    header = jwt.get_unverified_header(issued.access_token)
    claims = jwt.decode(issued.access_token, options={"verify_signature": False})
    assert header["alg"] == "EdDSA" and header["kid"]
    assert (claims["sub"], claims["tid"], claims["sid"]) == (account.id, account.tenant_id, issued.session_id)
    assert (claims["iss"], claims["aud"], claims["exp"] - claims["iat"]) == ("membank", "membank-api", 900)


def test_forged_and_invalid_tokens_are_refused(api: Api) -> None:
    account = new_account(api)
    issued = login(api, account)
    claims = claims_of(api, account, issued.session_id)
    jwks = api.client.get("/.well-known/jwks.json").json()["keys"]
    kid = jwks[0]["kid"]
    stranger = Ed25519PrivateKey.generate()
    now = int(time.time())
    head, _, signature = issued.access_token.split(".")
    tampered_body = forge(api, {**claims, "tid": "another-tenant"}).split(".")[1]
    cases = {
        "alg none": (unsigned(claims, kid), "must be signed with EdDSA"),
        "HS256 with the public key": (hs256_with_public_key(claims, jwks[0]), "must be signed with EdDSA"),
        "unknown kid": (jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": "nope"}), "unknown"),
        "right kid, other key": (
            jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": kid}),
            "invalid",
        ),
        "no kid": (jwt.encode(claims, stranger, algorithm="EdDSA"), "unknown"),
        "expired": (forge(api, {**claims, "exp": now - 60, "iat": now - 120, "nbf": now - 120}), "expired"),
        "not yet valid": (forge(api, {**claims, "nbf": now + 60}), "not valid yet"),
        "wrong audience": (forge(api, {**claims, "aud": "someone-else"}), "audience"),
        "wrong issuer": (forge(api, {**claims, "iss": "https://evil.example"}), "issuer"),
        "no expiry": (forge(api, {**claims, "exp": None}), "invalid"),
        "tampered payload": (f"{head}.{tampered_body}.{signature}", "invalid"),
        "another tenant's tid": (forge(api, {**claims, "tid": "another-tenant"}), "does not match"),
        "another account's sub": (forge(api, {**claims, "sub": "someone"}), "does not match"),
        "unknown session": (forge(api, {**claims, "sid": "no-such-session"}), "unknown session"),
        "malformed": ("eyJhbGciOi.not-base64!.x", "malformed"),
    }
    for name, (token, reason) in cases.items():
        try:
            _refused(api, token, reason)
        except AssertionError as failure:
            raise AssertionError(f"{name}: {failure}") from None
    assert api.client.get(MEMORIES, headers=bearer(issued.access_token)).status_code == 200


def test_another_tenants_token_reaches_only_its_own_tenant(api: Api) -> None:
    bobs = api.add("globex secret", user_id="u1", key=api.bob_key)
    account = new_account(api, "acme", roles=("tenant-admin",))
    token = login(api, account).access_token
    assert api.client.get(f"/api/v1/memories/{bobs['id']}", headers=bearer(token)).status_code == 404
    listed = api.client.get(MEMORIES, headers=bearer(token)).json()["data"]["memories"]
    assert listed == []


def test_revoked_session_and_disabled_account_are_refused_on_the_next_request(api: Api) -> None:
    account = new_account(api)
    first, second = login(api, account), login(api, account, device="phone")
    out = api.client.post("/api/v1/auth/logout", headers=bearer(first.access_token))
    assert out.status_code == 200, out.text
    _refused(api, first.access_token, "revoked")
    assert api.client.get(MEMORIES, headers=bearer(second.access_token)).status_code == 200
    store = build_store(api.settings)
    set_status(store.db, account.id, "disabled")
    store.close()
    _refused(api, second.access_token, "disabled")
    refreshed = api.client.post("/api/v1/auth/refresh", json={"refresh_token": second.refresh_token})
    assert refreshed.status_code == 401 and "disabled" in refreshed.json()["error"]["message"]


def test_refresh_rotates_and_a_replayed_token_revokes_the_session(api: Api) -> None:
    account = new_account(api)
    issued = login(api, account)
    response = api.client.post("/api/v1/auth/refresh", json={"refresh_token": issued.refresh_token})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    renewed = response.json()["data"]
    assert renewed["refresh_token"] != issued.refresh_token and renewed["session_id"] == issued.session_id
    assert api.client.get(MEMORIES, headers=bearer(renewed["access_token"])).status_code == 200
    replay = api.client.post("/api/v1/auth/refresh", json={"refresh_token": issued.refresh_token})
    assert replay.status_code == 401 and "already used" in replay.json()["error"]["message"]
    _refused(api, renewed["access_token"], "revoked")
    again = api.client.post("/api/v1/auth/refresh", json={"refresh_token": renewed["refresh_token"]})
    assert again.status_code == 401
    kinds = [e.kind for e in container_of(api).security_events.list(account.tenant_id)]
    assert kinds == ["session_start", "token_refresh", "refresh_token_reuse"]


def test_bad_refresh_requests_are_refused_and_change_nothing(api: Api) -> None:
    account = new_account(api)
    issued = login(api, account)
    for body, status in (
        ({"refresh_token": "mbr_made-up"}, 401),
        ({"refresh_token": issued.access_token}, 400),  # too long to be one
        ({"refresh_token": ""}, 400),
        ({}, 400),
        ({"refresh_token": issued.refresh_token, "extra": 1}, 400),
    ):
        response = api.client.post("/api/v1/auth/refresh", json=body)
        assert response.status_code == status, (body, response.text)
        assert issued.refresh_token not in response.text and issued.access_token not in response.text
    assert (
        api.client.post("/api/v1/auth/refresh", json={"refresh_token": issued.refresh_token}).status_code
        == 200
    )


def test_own_sessions_are_listed_and_revoked(api: Api) -> None:
    account, other = new_account(api), new_account(api)
    laptop, phone = login(api, account), login(api, account, device="phone", mfa_at=time.time())
    others = login(api, other)
    listed = api.client.get("/api/v1/auth/sessions", headers=bearer(phone.access_token))
    assert listed.status_code == 200, listed.text
    sessions = listed.json()["data"]["sessions"]
    assert [(s["id"], s["device"], s["current"], s["mfa"]) for s in sessions] == [
        (phone.session_id, "phone", True, True),
        (laptop.session_id, "laptop", False, False),
    ]
    assert (sessions[0]["ip"], sessions[0]["user_agent"]) == ("198.51.100.4", "pytest-agent")
    foreign = api.client.delete(
        f"/api/v1/auth/sessions/{others.session_id}", headers=bearer(phone.access_token)
    )
    assert foreign.status_code == 404 and foreign.json()["error"]["code"] == "LOGIN_SESSION_NOT_FOUND"
    assert api.client.get(MEMORIES, headers=bearer(others.access_token)).status_code == 200
    gone = api.client.delete(f"/api/v1/auth/sessions/{laptop.session_id}", headers=bearer(phone.access_token))
    assert gone.status_code == 200
    _refused(api, laptop.access_token, "revoked")
    by_key = api.client.get("/api/v1/auth/sessions", headers={"X-API-Key": api.alice_key})
    assert by_key.status_code == 403 and by_key.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"


def test_only_a_tenant_admin_revokes_all_sessions_of_an_account(api: Api) -> None:
    account = new_account(api)
    admin = login(api, new_account(api, roles=("tenant-admin",)))
    plain_user = login(api, new_account(api))
    first, second = login(api, account), login(api, account)
    path = f"/api/v1/accounts/{account.id}/sessions"
    denied = api.client.delete(path, headers=bearer(plain_user.access_token))
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
    by_key = api.client.delete(path, headers={"X-API-Key": api.alice_key})  # memories only
    assert by_key.status_code == 403
    globex = login(api, new_account(api, "globex", roles=("tenant-admin",)))
    globex_admin = api.client.delete(path, headers=bearer(globex.access_token))  # another tenant's admin
    assert globex_admin.status_code == 200 and globex_admin.json()["data"]["revoked"] == []
    assert api.client.get(MEMORIES, headers=bearer(first.access_token)).status_code == 200
    done = api.client.delete(path, headers=bearer(admin.access_token))
    assert done.status_code == 200 and sorted(done.json()["data"]["revoked"]) == sorted(
        [first.session_id, second.session_id]
    )
    _refused(api, first.access_token, "revoked")
    _refused(api, second.access_token, "revoked")


def test_jwks_lists_every_key_that_verifies(api: Api) -> None:
    response = api.client.get("/.well-known/jwks.json")
    assert response.status_code == 200 and "max-age" in response.headers["cache-control"]
    (key,) = response.json()["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("OKP", "Ed25519", "EdDSA", "sig")
    assert "d" not in key
    account = new_account(api)
    before = login(api, account)
    new_kid, retiring = container_of(api).signing_keys.rotate()
    assert retiring == [key["kid"]]
    kids = {k["kid"] for k in api.client.get("/.well-known/jwks.json").json()["keys"]}
    assert kids == {key["kid"], new_kid}
    assert api.client.get(MEMORIES, headers=bearer(before.access_token)).status_code == 200
    after = login(api, account)
    assert jwt.get_unverified_header(after.access_token)["kid"] == new_kid


def test_a_rotated_out_key_is_refused_after_its_grace(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(access_token_ttl_seconds=1, signing_key_cache_seconds=0, jwt_leeway_seconds=0)
    with open_api(settings) as api:
        account = new_account(api)
        session = login(api, account).session_id
        old_kid, old_private = container_of(api).signing_keys.signer()
        long_lived = jwt.encode(
            claims_of(api, account, session, exp=int(time.time()) + 600),
            old_private,
            algorithm="EdDSA",
            headers={"kid": old_kid},
        )
        container_of(api).signing_keys.rotate()
        assert api.client.get(MEMORIES, headers=bearer(long_lived)).status_code == 200
        time.sleep(1.2)
        _refused(api, long_lived, "unknown or retired key")
        assert old_kid not in {k["kid"] for k in api.client.get("/.well-known/jwks.json").json()["keys"]}


def test_session_limit_idle_and_absolute_timeouts(make_settings: Callable[..., Settings]) -> None:
    # Idle after 3 s; the newest session is used every 1.6 s (room for a loaded machine), the middle one not.
    settings = make_settings(session_limit_per_account=2, session_idle_timeout_seconds=3)
    with open_api(settings) as api:
        account = new_account(api)
        oldest, middle, newest = (login(api, account, device=f"d{i}") for i in range(3))
        _refused(api, oldest.access_token, "revoked")
        assert api.client.get(MEMORIES, headers=bearer(newest.access_token)).status_code == 200
        time.sleep(1.6)
        assert api.client.get(MEMORIES, headers=bearer(newest.access_token)).status_code == 200
        time.sleep(1.6)
        assert api.client.get(MEMORIES, headers=bearer(newest.access_token)).status_code == 200  # kept alive
        _refused(api, middle.access_token, "idle")
        stale = api.client.post("/api/v1/auth/refresh", json={"refresh_token": middle.refresh_token})
        assert stale.status_code == 401 and "idle" in stale.json()["error"]["message"]
    # The same store (and data dir: on PostgreSQL the signing keys sealed by its secret key stay there).
    # The session ends 4 s after it starts: enough for the first use on a loaded machine (1 s was not, CI stop 20).
    settings = make_settings(session_absolute_timeout_seconds=4)
    with open_api(settings) as api:
        issued = login(api, new_account(api))
        logged_in = time.monotonic()  # the session started before this: it has surely ended 4.1 s later
        assert api.client.get(MEMORIES, headers=bearer(issued.access_token)).status_code == 200
        time.sleep(max(0.0, logged_in + 4.1 - time.monotonic()))
        _refused(api, issued.access_token, "ended")
        ended = api.client.post("/api/v1/auth/refresh", json={"refresh_token": issued.refresh_token})
        assert ended.status_code == 401


def test_me_says_who_the_caller_is_for_a_login_and_for_a_key(api: Api) -> None:
    account = new_account(api, user_ids=["u1", "u0"])
    issued = login(api, account)
    response = api.client.get("/api/v1/auth/me", headers=bearer(issued.access_token))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    me = response.json()["data"]
    assert (me["tenant_id"], me["subject"], me["kind"]) == (account.tenant_id, f"user:{account.id}", "user")
    assert (me["roles"], me["user_ids"], me["session_id"]) == (["user"], ["u0", "u1"], issued.session_id)
    assert "memories:read:own" in me["permissions"] and "users:admin:all" not in me["permissions"]
    assert me["permissions"] == sorted(me["permissions"])

    by_key = api.call("GET", "/api/v1/auth/me").json()["data"]
    assert (by_key["kind"], by_key["session_id"], by_key["user_ids"]) == ("api_key", None, None)
    assert (by_key["tenant_id"], by_key["subject"] == me["subject"]) == (account.tenant_id, False)
    assert api.client.get("/api/v1/auth/me").status_code == 401
    assert api.client.get("/api/v1/auth/me", headers=bearer(issued.access_token + "x")).status_code == 401
