"""Logging in test accounts on a served app and forging access tokens against its keys."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
import uuid
from typing import Any

import jwt
import orjson

from membank.auth.events import RequestOrigin
from membank.auth.sessions import IssuedTokens
from membank.bootstrap import Container, build_store
from membank.models.account import UserAccount
from tests.api.conftest import Api
from tests.support.accounts import insert_account

ORIGIN = RequestOrigin(ip="198.51.100.4", user_agent="pytest-agent")


def container_of(api: Api) -> Container:
    container: Container = api.client.app.state.container  # type: ignore[attr-defined]
    return container


def new_account(api: Api, tenant: str = "acme", **fields: Any) -> UserAccount:
    store = build_store(api.settings)
    try:
        found = store.keys.tenant_by_name(tenant)
        assert found is not None
        fields.setdefault("user_ids", ["u1"])
        return insert_account(store.db, found.id, **fields)
    finally:
        store.close()


def login(
    api: Api, account: UserAccount, *, device: str = "laptop", mfa_at: float | None = None
) -> IssuedTokens:
    sessions = container_of(api).sessions
    return asyncio.run(sessions.start(account, device=device, origin=ORIGIN, mfa_at=mfa_at))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def claims_of(api: Api, account: UserAccount, session_id: str, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": api.settings.jwt_issuer,
        "aud": api.settings.jwt_audience,
        "sub": account.id,
        "tid": account.tenant_id,
        "sid": session_id,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def forge(api: Api, claims: dict[str, Any]) -> str:
    """A token signed with the app's own signing key (so only the claims can be wrong)."""
    kid, private_key = container_of(api).signing_keys.signer()
    return jwt.encode(claims, private_key, algorithm="EdDSA", headers={"kid": kid})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unsigned(claims: dict[str, Any], kid: str) -> str:
    header = _b64(orjson.dumps({"alg": "none", "typ": "JWT", "kid": kid}))
    return f"{header}.{_b64(orjson.dumps(claims))}."


def hs256_with_public_key(claims: dict[str, Any], jwk: dict[str, str]) -> str:
    """The classic confusion attack: HMAC keyed with the published public key (built by hand: pyjwt
    refuses to do it)."""
    header = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT", "kid": jwk["kid"]}))
    body = f"{header}.{_b64(orjson.dumps(claims))}"
    signature = hmac.new(jwk["x"].encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(signature)}"
