"""Per-key request rules over HTTP: the IP allow list and HMAC request signing (good, replayed, changed
body, expired, missing, malformed), signed with the SDK's `sign_request`."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from membank.auth.keys import issue_key
from membank.bootstrap import build_store
from membank.client import sign_request
from tests.api.conftest import Api

MEMORIES = "/api/v1/memories"


@pytest.fixture
def admin(api: Api) -> str:
    store = build_store(api.settings)
    key = issue_key(store.keys, tenant_name="acme", name="admin", scopes=("admin",)).plaintext
    store.close()
    return key


def _key(api: Api, admin: str, **body: Any) -> str:
    response = api.call("POST", "/api/v1/keys", admin, json={"name": "k", **body})
    assert response.status_code == 201, response.text
    plaintext: str = response.json()["data"]["key"]
    return plaintext


def _denied_reasons(api: Api) -> list[str]:
    store = build_store(api.settings)
    try:
        return [e.details["reason"] for e in store.security_events.list(None) if e.kind == "key.denied"]
    finally:
        store.close()


def _signed_post(api: Api, key: str, payload: dict[str, Any], **sign: Any) -> Any:
    body = json.dumps(payload).encode()
    headers = {
        "X-API-Key": key,
        "Content-Type": "application/json",
        **sign_request(key, "POST", MEMORIES, body, **sign),
    }
    return api.client.post(MEMORIES, content=body, headers=headers)


def test_an_allow_listed_key_works_only_from_its_networks(api: Api, admin: str) -> None:
    key = _key(api, admin, allowed_ips=["203.0.113.0/24", "2001:db8::/32"])
    inside = TestClient(api.client.app, client=("203.0.113.7", 50000))
    outside = TestClient(api.client.app, client=("198.51.100.1", 50000))
    v6 = TestClient(api.client.app, client=("2001:db8::5", 50000))

    assert inside.get("/api/v1/users/u1/memories", headers={"X-API-Key": key}).status_code == 200
    assert v6.get("/api/v1/users/u1/memories", headers={"X-API-Key": key}).status_code == 200
    refused = outside.post(MEMORIES, headers={"X-API-Key": key}, json={"user_id": "u1", "content": "x"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "IP_NOT_ALLOWED"
    assert inside.get("/api/v1/users/u1/memories", headers={"X-API-Key": key}).json()["data"]["total"] == 0
    assert _denied_reasons(api) == ["IP_NOT_ALLOWED"]
    # Keys without a list are unaffected.
    assert outside.get("/api/v1/users/u1/memories", headers={"X-API-Key": api.alice_key}).status_code == 200


def test_a_good_signature_passes_and_the_endpoint_still_reads_the_body(api: Api, admin: str) -> None:
    key = _key(api, admin, require_signature=True)

    response = _signed_post(api, key, {"user_id": "u1", "content": "signed and sealed"})

    assert response.status_code == 201, response.text
    assert response.json()["data"]["content"] == "signed and sealed"
    query = "/api/v1/users/u1/memories?limit=5&offset=0"
    headers = {"X-API-Key": key, **sign_request(key, "GET", "/api/v1/users/u1/memories?offset=0&limit=5")}
    assert api.client.get(query, headers=headers).status_code == 200  # query order does not matter


def test_a_replayed_signed_request_is_refused_and_changes_nothing(api: Api, admin: str) -> None:
    key = _key(api, admin, require_signature=True)
    body = json.dumps({"user_id": "u1", "content": "once"}).encode()
    headers = {
        "X-API-Key": key,
        "Content-Type": "application/json",
        **sign_request(key, "POST", MEMORIES, body),
    }

    assert api.client.post(MEMORIES, content=body, headers=headers).status_code == 201
    replay = api.client.post(MEMORIES, content=body, headers=headers)

    assert replay.status_code == 401 and replay.json()["error"]["code"] == "REPLAYED_REQUEST"
    assert api.call("GET", "/api/v1/users/u1/memories").json()["data"]["total"] == 1


def test_a_changed_body_breaks_the_signature(api: Api, admin: str) -> None:
    key = _key(api, admin, require_signature=True)
    signed = json.dumps({"user_id": "u1", "content": "pay 10"}).encode()
    sent = json.dumps({"user_id": "u1", "content": "pay 1000"}).encode()
    headers = {
        "X-API-Key": key,
        "Content-Type": "application/json",
        **sign_request(key, "POST", MEMORIES, signed),
    }

    response = api.client.post(MEMORIES, content=sent, headers=headers)

    assert response.status_code == 401 and response.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert api.call("GET", "/api/v1/users/u1/memories").json()["data"]["total"] == 0
    assert _denied_reasons(api) == ["INVALID_SIGNATURE"]


def test_a_signature_outside_the_window_is_expired(api: Api, admin: str) -> None:
    key = _key(api, admin, require_signature=True)
    for skew in (-301, 301):
        response = _signed_post(
            api, key, {"user_id": "u1", "content": "x"}, timestamp=int(time.time()) + skew
        )
        assert response.status_code == 401 and response.json()["error"]["code"] == "SIGNATURE_EXPIRED"


def test_a_key_requiring_signatures_refuses_unsigned_requests(api: Api, admin: str) -> None:
    key = _key(api, admin, require_signature=True)
    response = api.call("POST", MEMORIES, key, json={"user_id": "u1", "content": "x"})
    assert response.status_code == 401 and response.json()["error"]["code"] == "SIGNATURE_REQUIRED"
    assert api.call("GET", "/api/v1/users/u1/memories").json()["data"]["total"] == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"X-MemBank-Signature": "v1=00"},
        {"X-MemBank-Timestamp": "yesterday", "X-MemBank-Nonce": "n" * 20, "X-MemBank-Signature": "v1=00"},
        {
            "X-MemBank-Timestamp": str(int(time.time())),
            "X-MemBank-Nonce": "short",
            "X-MemBank-Signature": "v1=00",
        },
        {
            "X-MemBank-Timestamp": str(int(time.time())),
            "X-MemBank-Nonce": "n" * 65,
            "X-MemBank-Signature": "v1=00",
        },
    ],
)
def test_malformed_signature_headers_are_invalid(api: Api, admin: str, headers: dict[str, str]) -> None:
    key = _key(api, admin, require_signature=True)
    response = api.client.get("/api/v1/users/u1/memories", headers={"X-API-Key": key, **headers})
    assert response.status_code == 401 and response.json()["error"]["code"] == "INVALID_SIGNATURE"


def test_a_signature_sent_with_any_key_is_verified(api: Api) -> None:
    other = sign_request(api.bob_key, "GET", "/api/v1/users/u1/memories")  # signed with another key's secret
    response = api.call("GET", "/api/v1/users/u1/memories", headers={"X-API-Key": api.alice_key, **other})
    assert response.status_code == 401 and response.json()["error"]["code"] == "INVALID_SIGNATURE"
    good = sign_request(api.alice_key, "GET", "/api/v1/users/u1/memories")
    assert (
        api.call("GET", "/api/v1/users/u1/memories", headers={"X-API-Key": api.alice_key, **good}).status_code
        == 200
    )


def test_a_rotated_key_signs_with_the_secret_it_presents(api: Api, admin: str) -> None:
    response = api.call("POST", "/api/v1/keys", admin, json={"name": "k", "require_signature": True})
    created = response.json()["data"]
    rotated = api.call(
        "POST", f"/api/v1/keys/{created['id']}/rotate", admin, json={"grace_seconds": 60}
    ).json()["data"]
    for key in (created["key"], rotated["key"]):
        assert _signed_post(api, key, {"user_id": "u1", "content": key[-6:]}).status_code == 201
