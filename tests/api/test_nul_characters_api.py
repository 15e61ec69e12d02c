"""A NUL character (U+0000) anywhere in a request body is a 400 naming its field, on both stores: PostgreSQL's
text cannot hold it, and SQLite refuses it too so that data moves between the stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from membank.config import Settings
from tests.api.conftest import Api, open_api


@pytest.fixture(params=["sqlite", "postgres"])
def any_store_api(request: pytest.FixtureRequest, make_settings: Callable[..., Settings]) -> Iterator[Api]:
    overrides: dict[str, Any] = {}
    if request.param == "postgres":
        overrides = {"store": "postgres", "database_url": request.getfixturevalue("postgres_url")}
    with open_api(make_settings(**overrides)) as served:
        yield served


NUL = "\x00"
CASES = [
    ("POST", "/api/v1/memories", {"user_id": "u1", "content": f"tea{NUL}time"}, "content"),
    ("POST", "/api/v1/memories", {"user_id": "u1", "content": "tea", "tags": ["ok", NUL]}, "tags[1]"),
    ("POST", "/api/v1/memories", {"user_id": "u1", "content": "tea", "metadata": {f"k{NUL}": 1}}, "metadata"),
    (
        "POST",
        "/api/v1/memories",
        {"user_id": "u1", "content": "tea", "metadata": {"k": [f"{NUL}"]}},
        "metadata.k[0]",
    ),
    ("POST", "/api/v1/memories/search", {"user_id": "u1", "query": f"{NUL}tea"}, "query"),
    (
        "POST",
        "/api/v1/memories/batch",
        {"user_id": "u1", "memories": [{"content": "a"}, {"content": f"b{NUL}"}]},
        "memories[1].content",
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), CASES, ids=[case[3] for case in CASES])
def test_a_nul_character_is_refused_naming_its_field(
    any_store_api: Api, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    response = any_store_api.call(method, path, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"]["errors"][0]["field"] == field
    assert "NUL" in error["message"] and error["message"].startswith(f"{field}: ")
    listed = any_store_api.call("GET", "/api/v1/users/u1/memories?include_invalid=true").json()["data"]
    assert listed["total"] == 0


def test_text_without_nul_is_stored_and_read_back(any_store_api: Api) -> None:
    created = any_store_api.add("tea\ttime \u00e9\U0001f375", metadata={"k": "v\u0001"})
    read = any_store_api.call("GET", f"/api/v1/memories/{created['id']}").json()["data"]
    assert read["content"] == "tea\ttime \u00e9\U0001f375" and read["metadata"] == {"k": "v\u0001"}
