"""Authentication, scopes and tenant isolation."""

from __future__ import annotations

import time

from membank.bootstrap import build_store
from tests.api.conftest import Api


def test_missing_and_bad_keys_are_401(api: Api) -> None:
    no_key = api.client.get("/api/v1/users/u1/memories")
    assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "UNAUTHORIZED"
    bad = api.client.get("/api/v1/users/u1/memories", headers={"X-API-Key": "mbk_000000000000_nope"})
    assert bad.status_code == 401
    forged = api.alice_key[:-4] + "AAAA"
    assert api.client.get("/api/v1/users/u1/memories", headers={"X-API-Key": forged}).status_code == 401


def test_bearer_header_is_accepted(api: Api) -> None:
    response = api.client.get(
        "/api/v1/users/u1/memories", headers={"Authorization": f"Bearer {api.alice_key}"}
    )
    assert response.status_code == 200


def test_revoked_key_stops_working(api: Api) -> None:
    assert api.call("GET", "/api/v1/users/u1/memories", api.bob_key).status_code == 200
    store = build_store(api.settings)
    prefix = api.bob_key.split("_")[1]
    assert store.keys.revoke(prefix, time.time())
    store.close()
    assert api.call("GET", "/api/v1/users/u1/memories", api.bob_key).status_code == 401


def test_read_only_key_cannot_write(api: Api) -> None:
    response = api.call("POST", "/api/v1/memories", api.reader_key, json={"user_id": "u1", "content": "x"})
    assert response.status_code == 403 and response.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
    assert api.call("GET", "/api/v1/users/u1/memories", api.reader_key).status_code == 200


def test_other_tenant_can_never_see_or_touch_memories(api: Api) -> None:
    memory = api.add("Acme secret: launch date is May 5", user_id="u1")
    path = f"/api/v1/memories/{memory['id']}"
    assert api.call("GET", path, api.bob_key).status_code == 404
    assert api.call("GET", f"{path}/history", api.bob_key).status_code == 404
    assert api.call("PATCH", path, api.bob_key, json={"content": "hijacked"}).status_code == 404
    assert api.call("DELETE", path, api.bob_key).status_code == 404
    assert api.call("DELETE", f"{path}?hard=true", api.bob_key).status_code == 404
    assert api.search("launch date", key=api.bob_key).json()["data"]["memories"] == []
    listing = api.call("GET", "/api/v1/users/u1/memories", api.bob_key).json()["data"]
    assert listing["total"] == 0
    assert api.call("GET", "/api/v1/users/u1/memories/stats", api.bob_key).json()["data"]["total"] == 0
    unchanged = api.call("GET", path).json()["data"]
    assert unchanged["content"] == "Acme secret: launch date is May 5" and unchanged["valid_to"] is None


def test_other_tenant_cannot_read_jobs(api: Api) -> None:
    job = api.call(
        "POST", "/api/v1/memories/batch", json={"memories": [{"user_id": "u1", "content": "x"}]}
    ).json()
    response = api.call("GET", f"/api/v1/jobs/{job['data']['id']}", api.bob_key)
    assert response.status_code == 404 and response.json()["error"]["code"] == "JOB_NOT_FOUND"
