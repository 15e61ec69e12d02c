"""Single sign-on: tokens of an external OIDC issuer, verified against the JWKS a real local HTTP server
serves for an RSA key the test makes."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from membank.config import Settings
from tests.api.conftest import Api, open_api

ISSUER = "https://idp.example"
AUDIENCE = "membank-sso"
MEMORIES = "/api/v1/users/u1/memories"


class Issuer:
    """The identity provider's side: RSA keys, the JWKS it publishes, the tokens it signs."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.fetches = 0
        self.add_key("idp-1")

    def add_key(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        published = []
        for kid, key in self.keys.items():
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            published.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": published}

    def token(self, kid: str = "idp-1", **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "sso-alice",
            "exp": now + 300,
            "iat": now,
            "tenant": "acme",
            "roles": ["user"],
            "user_ids": ["u1"],
        }
        claims.update(overrides)
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})


@contextlib.contextmanager
def serve_jwks(issuer: Issuer) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            issuer.fetches += 1
            body = json.dumps(issuer.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sso(make_settings: Callable[..., Settings]) -> Iterator[tuple[Api, Issuer]]:
    issuer = Issuer()
    with serve_jwks(issuer) as url:
        settings = make_settings(
            oidc_issuer=ISSUER, oidc_jwks_url=url, oidc_audience=AUDIENCE, oidc_jwks_refetch_seconds=0.5
        )
        with open_api(settings) as api:
            yield api, issuer


def _get(api: Api, token: str) -> Any:
    return api.client.get(MEMORIES, headers={"Authorization": f"Bearer {token}"})


def test_an_sso_token_maps_to_a_principal_of_its_tenant(sso: tuple[Api, Issuer]) -> None:
    api, issuer = sso
    api.add("acme memory", user_id="u1")
    api.add("globex memory", user_id="u1", key=api.bob_key)
    response = _get(api, issuer.token())
    assert response.status_code == 200, response.text
    assert [m["content"] for m in response.json()["data"]["memories"]] == ["acme memory"]
    globex = _get(api, issuer.token(tenant="globex"))
    assert [m["content"] for m in globex.json()["data"]["memories"]] == ["globex memory"]


def test_bad_sso_tokens_are_refused(sso: tuple[Api, Issuer]) -> None:
    api, issuer = sso
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    public_pem = issuer.jwks()["keys"][0]["n"].encode()
    cases = {
        "wrong audience": issuer.token(aud="someone-else"),
        "expired": issuer.token(exp=now - 60),
        "not yet valid": issuer.token(nbf=now + 60),
        "unknown tenant": issuer.token(tenant="initech"),
        "no tenant claim": issuer.token(tenant=None),
        "unknown kid": jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "tenant": "acme"},
            issuer.keys["idp-1"],
            algorithm="RS256",
            headers={"kid": "nope"},
        ),
        "other key, same kid": jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "tenant": "acme"},
            stranger,
            algorithm="RS256",
            headers={"kid": "idp-1"},
        ),
        "HS256": jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "tenant": "acme"},
            public_pem,
            algorithm="HS256",
            headers={"kid": "idp-1"},
        ),
    }
    for name, token in cases.items():
        response = _get(api, token)
        assert response.status_code == 401, (name, response.text)
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
    platform = _get(api, issuer.token(roles=["platform-admin"]))
    assert platform.status_code == 403  # the IdP cannot grant cross-tenant power: no role, no permission


def test_a_new_issuer_key_is_fetched_on_first_use_and_refetches_are_rate_limited(
    sso: tuple[Api, Issuer],
) -> None:
    api, issuer = sso
    assert _get(api, issuer.token()).status_code == 200
    fetched = issuer.fetches
    issuer.add_key("idp-2")
    assert _get(api, issuer.token(kid="idp-2")).status_code == 200
    assert issuer.fetches == fetched + 1
    for _ in range(5):
        made_up = jwt.encode(
            {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60, "tenant": "acme"},
            issuer.keys["idp-1"],
            algorithm="RS256",
            headers={"kid": "made-up"},
        )
        assert _get(api, made_up).status_code == 401
    assert issuer.fetches <= fetched + 2  # at most one more fetch within the refetch interval


def test_oidc_settings_must_be_complete() -> None:
    with pytest.raises(ValueError, match="MEMBANK_OIDC_JWKS_URL"):
        Settings(oidc_issuer=ISSUER, oidc_audience=AUDIENCE)
    with pytest.raises(ValueError, match="oidc_algorithms"):
        Settings(
            oidc_issuer=ISSUER, oidc_audience=AUDIENCE, oidc_jwks_url="http://x", oidc_algorithms=["HS256"]
        )
