"""The mem0-compatible routes refuse hostile input with a 400 naming the field, and store nothing then."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api

REFUSED: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("POST", "/v1/memories/", {"messages": "", "user_id": "a"}, "messages"),
    ("POST", "/v1/memories/", {"messages": "   ", "user_id": "a", "infer": False}, "messages"),
    ("POST", "/v1/memories/", {"messages": [], "user_id": "a"}, "messages"),
    (
        "POST",
        "/v1/memories/",
        {"messages": [{"role": "user", "content": " \n "}], "user_id": "a"},
        "messages",
    ),
    ("POST", "/v1/memories/", {"messages": "x" * 20_001, "user_id": "a", "infer": False}, "messages"),
    ("POST", "/v1/memories/", {"messages": [{"role": "robot", "content": "x"}], "user_id": "a"}, "messages"),
    ("POST", "/v1/memories/", {"messages": "x", "user_id": "a" * 200}, "user_id"),
    ("POST", "/v1/memories/", {"messages": "x", "enable_graph": True, "user_id": "a"}, "enable_graph"),
    ("POST", "/v1/memories/", {"messages": "x", "filters": {"user_id": {"in": ["a"]}}}, "filters.user_id"),
    (
        "POST",
        "/v1/memories/",
        {"messages": "x", "user_id": "a", "filters": {"user_id": "b"}},
        "filters.user_id",
    ),
    ("POST", "/v3/memories/search/", {"query": "x", "filters": {"OR": [{"user_id": "a"}]}}, "filters.OR"),
    ("POST", "/v3/memories/search/", {"query": "x", "user_id": "a", "top_k": 101}, "top_k"),
    ("POST", "/v3/memories/search/", {"query": "x", "user_id": "a", "top_k": 5, "limit": 6}, "body"),
    ("POST", "/v3/memories/", {"filters": {"user_id": "a", "agent_id": "b"}}, "filters"),
    ("GET", "/v1/memories/?user_id=a&page=99999999999999", None, "page"),
    ("PUT", "/v1/memories/zzz/", {"text": "x"}, "memory_id"),
    ("PUT", "/v1/memories/00000000-0000-0000-0000-000000000000/", {}, "body"),
    ("DELETE", "/v1/memories/", None, "user_id"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), REFUSED)
def test_hostile_input_is_refused_naming_the_field(
    api: Api, method: str, path: str, body: dict[str, Any] | None, field: str
) -> None:
    answer = api.client.request(method, path, json=body, headers={"Authorization": f"Token {api.alice_key}"})
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] in ("VALIDATION_ERROR", "INVALID_USER_ID")
    assert any(item["field"].startswith(field) for item in error["details"]["errors"]), error
    assert api.call("GET", "/api/v1/users/a/memories?include_invalid=true").json()["data"]["total"] == 0
