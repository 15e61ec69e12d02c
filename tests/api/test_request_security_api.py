"""Request security on every answer: security headers, HSTS behind a trusted proxy, CORS, per-route body
limits and the per-address limit of unauthenticated requests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from membank.api import create_app
from membank.api.security_headers import API_CSP
from membank.config import Settings
from tests.api.conftest import Api, open_api

PROXY = "10.0.0.5"


@pytest.fixture
def small(make_settings: Callable[..., Settings]) -> Iterator[Api]:
    with open_api(make_settings(max_request_bytes=4_096, max_bulk_request_bytes=65_536)) as served:
        yield served


def test_api_answers_carry_the_security_headers(api: Api) -> None:
    for answer in (
        api.call("GET", "/api/v1/keys"),
        api.call("GET", "/api/v1/keys", key="mbk_wrong"),  # an error answer too
        api.client.get("/api/v1/no-such-route"),
    ):
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["content-security-policy"] == API_CSP
        assert answer.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in answer.headers  # plain http
    health = api.client.get("/health/live")
    assert health.headers["content-security-policy"] == API_CSP and "cache-control" not in health.headers


def test_the_docs_pages_get_a_csp_that_lets_them_load(api: Api) -> None:
    for page in ("/docs", "/redoc"):
        answer = api.client.get(page)
        assert answer.status_code == 200
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self' 'unsafe-inline'" in policy and "frame-ancestors 'none'" in policy


def test_hsts_over_https_directly_or_from_a_trusted_proxy(make_settings: Callable[..., Settings]) -> None:
    app = create_app(make_settings(trusted_proxies=["10.0.0.0/8"]))
    with TestClient(app, base_url="https://testserver") as direct:
        assert "max-age=" in direct.get("/health/live").headers["strict-transport-security"]
    with TestClient(app, client=(PROXY, 1234)) as proxied:
        answer = proxied.get("/health/live", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" in answer.headers
    with TestClient(app, client=("203.0.113.9", 1234)) as spoofing:
        answer = spoofing.get("/health/live", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in answer.headers


def test_no_cors_headers_without_configured_origins(api: Api) -> None:
    answer = api.client.options(
        "/api/v1/keys",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in answer.headers


def test_cors_for_the_configured_origins(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(cors_allowed_origins=["https://app.example"], cors_allow_credentials=True)
    with open_api(settings) as api:
        preflight = api.client.options(
            "/api/v1/keys",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "X-API-Key",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert preflight.headers["access-control-allow-credentials"] == "true"
        assert preflight.headers["x-content-type-options"] == "nosniff"
        simple = api.call("GET", "/api/v1/keys", headers={"Origin": "https://app.example"})
        assert simple.headers["access-control-allow-origin"] == "https://app.example"
        other = api.call("GET", "/api/v1/keys", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def _memory(size: int) -> dict[str, Any]:
    return {"user_id": "u1", "content": "x" * size}


def test_the_default_body_limit_is_named_in_the_413(small: Api) -> None:
    refused = small.call("POST", "/api/v1/memories", json=_memory(5_000))
    assert refused.status_code == 413
    error = refused.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE" and error["details"] == {"limit_bytes": 4_096}
    assert "4096" in error["message"]


def test_bulk_routes_take_larger_bodies_up_to_their_own_limit(small: Api) -> None:
    batch = {"memories": [_memory(1_000) for _ in range(10)]}  # ~10 kB: over the default, under bulk
    accepted = small.call("POST", "/api/v1/memories/batch", json=batch)
    assert accepted.status_code == 202, accepted.text
    too_big = {"memories": [_memory(1_000) for _ in range(80)]}
    refused = small.call("POST", "/api/v1/memories/batch", json=too_big)
    assert refused.status_code == 413 and refused.json()["error"]["details"] == {"limit_bytes": 65_536}


def test_a_chunked_body_is_counted_as_it_streams(small: Api) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"x" * 1_000

    refused = small.call(
        "POST", "/api/v1/memories", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert refused.status_code == 413 and refused.json()["error"]["details"] == {"limit_bytes": 4_096}


def test_the_openapi_document_names_each_routes_limit(small: Api) -> None:
    paths = small.client.get("/openapi.json").json()["paths"]
    assert "4096 bytes" in paths["/api/v1/memories"]["post"]["responses"]["413"]["description"]
    assert "65536 bytes" in paths["/api/v1/memories/batch"]["post"]["responses"]["413"]["description"]


def test_unauthenticated_requests_are_limited_per_address(make_settings: Callable[..., Settings]) -> None:
    with open_api(make_settings(rate_limit_unauthenticated_per_minute=3)) as api:
        answers = [api.call("GET", "/api/v1/keys", key="mbk_wrong").status_code for _ in range(3)]
        assert answers == [401, 401, 401]
        limited = api.call("GET", "/api/v1/keys", key="mbk_wrong")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        error = limited.json()["error"]
        assert error["code"] == "RATE_LIMIT_EXCEEDED" and error["details"]["scope"] == "ip"
        # The public token route counts against the same address; a valid key is not limited by it.
        assert api.client.post("/api/v1/auth/refresh", json={"refresh_token": "x"}).status_code == 429
        assert api.call("GET", "/api/v1/users/u1/memories").status_code == 200


def test_the_unauthenticated_limit_can_be_turned_off(make_settings: Callable[..., Settings]) -> None:
    with open_api(make_settings(rate_limit_unauthenticated_per_minute=0)) as api:
        assert {api.call("GET", "/api/v1/keys", key="mbk_wrong").status_code for _ in range(20)} == {401}
