"""Bad input gets a clear error (status, code, field) and changes nothing."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api


def _count(api: Api) -> int:
    total: int = api.call("GET", "/api/v1/users/u1/memories?include_invalid=true").json()["data"]["total"]
    return total


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"content": "no user"}, "INVALID_USER_ID", "user_id"),
        ({"user_id": "bad user!", "content": "x"}, "INVALID_USER_ID", "user_id"),
        ({"user_id": "u1", "content": ""}, "VALIDATION_ERROR", "content"),
        ({"user_id": "u1", "content": "   "}, "VALIDATION_ERROR", "content"),
        ({"user_id": "u1", "content": "x", "importance": "high"}, "VALIDATION_ERROR", "importance"),
        ({"user_id": "u1", "content": "x", "importance": 11}, "VALIDATION_ERROR", "importance"),
        ({"user_id": "u1", "content": "x", "memory_type": "gossip"}, "VALIDATION_ERROR", "memory_type"),
        ({"user_id": "u1", "content": "x", "tags": "not-a-list"}, "VALIDATION_ERROR", "tags"),
        ({"user_id": "u1", "content": "x", "surprise": 1}, "VALIDATION_ERROR", "surprise"),
    ],
)
def test_bad_create_bodies_name_the_field_and_store_nothing(
    api: Api, body: dict, code: str, field: str
) -> None:
    response = api.call("POST", "/api/v1/memories", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert field in [e["field"] for e in error["details"]["errors"]]
    assert _count(api) == 0


def test_malformed_json_is_a_validation_error(api: Api) -> None:
    response = api.call(
        "POST",
        "/api/v1/memories",
        content=b'{"user_id": "u1", "content": ',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert "invalid JSON" in response.json()["error"]["message"]
    assert _count(api) == 0


def test_oversize_body_is_413_payload_too_large(api: Api) -> None:
    big = "x" * (api.settings.max_request_bytes + 10)
    response = api.call("POST", "/api/v1/memories", json={"user_id": "u1", "content": big})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert _count(api) == 0


def test_oversize_chunked_body_is_413(api: Api) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(api.settings.max_request_bytes // 65536 + 2):
            yield b"x" * 65536

    response = api.call(
        "POST", "/api/v1/memories", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"field": "metadata.x", "op": "like", "value": 1}, "filters.op"),
        ({"field": "password", "op": "eq", "value": 1}, "filters.field"),
        ({"AND": []}, "filters.AND"),
        ({"OR": [{"field": "importance", "op": "gt", "value": "high"}]}, "filters.OR[0].value"),
        ({"field": "tags", "op": "in", "value": "a"}, "filters.value"),
        ({"field": "tags", "op": "gt", "value": 3}, "filters.value"),
        ({"NOT": {"field": "created_at", "op": "gte", "value": "yesterday"}}, "filters.NOT.value"),
    ],
)
def test_bad_filters_are_rejected_with_their_path(api: Api, filters: dict, field: str) -> None:
    response = api.search("anything", filters=filters)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["errors"][0]["field"] == field


def test_unknown_routes_and_methods_use_the_envelope(api: Api) -> None:
    missing = api.call("GET", "/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    wrong = api.call("PUT", "/api/v1/memories")
    assert wrong.status_code == 405 and wrong.json()["success"] is False


def test_bad_ids_and_limits_are_validation_errors(api: Api) -> None:
    assert api.call("GET", "/api/v1/memories/not-a-uuid!").json()["error"]["code"] == "VALIDATION_ERROR"
    response = api.search("x", limit=0)
    assert (
        response.status_code == 400 and response.json()["error"]["details"]["errors"][0]["field"] == "limit"
    )
    empty_patch = api.call("PATCH", f"/api/v1/memories/{api.add('User sings')['id']}", json={})
    assert empty_patch.status_code == 400
