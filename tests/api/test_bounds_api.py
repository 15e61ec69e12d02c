"""Bounded input (issue 7, defects 1, 2 and 4): a fuzz corpus of the reproductions, each a clean 400 naming the
field and the bound, and nothing stored; and the bounds as settings."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from membank.config import Settings
from tests.api.conftest import Api, open_api

MISSING_ID = "00000000-0000-0000-0000-000000000000"
UTC_YEAR_10000 = "9999-12-31T12:00:00-12:00"
YEAR_ONE = "0001-01-01T00:00:00Z"
BEYOND_64_BITS = "18446744073709551616"
# A lone surrogate as a JSON escape: valid JSON text, but no valid Unicode string.
LONE_HIGH = '"\\ud800"'
LONE_LOW = '"\\udfff"'


def nest(levels: int, leaf: str = "1") -> str:
    """JSON text of objects nested `levels` deep around `leaf` (built as text: json.dumps recurses)."""
    return '{"a":' * levels + leaf + "}" * levels


def obj(**fields: str) -> str:
    """A JSON object from already-encoded JSON texts."""
    return "{" + ",".join(f"{json.dumps(key)}:{value}" for key, value in fields.items()) + "}"


def memory(**fields: str) -> str:
    return obj(user_id='"u1"', content='"User likes tea"', **fields)


def js(value: Any) -> str:
    return json.dumps(value)


def search(**fields: str) -> str:
    return obj(user_id='"u1"', query='"tea"', **fields)


def condition(field: str, op: str, value: str) -> str:
    return obj(field=js(field), op=js(op), value=value)


CREATE = ("POST", "/api/v1/memories")
PATCH_MISSING = ("PATCH", f"/api/v1/memories/{MISSING_ID}")
SEARCH = ("POST", "/api/v1/memories/search")
BATCH = ("POST", "/api/v1/memories/batch")
CONVERSATION = ("POST", "/api/v1/memories/process-conversation")

# (id, (method, path), body, the field the error names (a prefix), a key of the bound it names or None)
CORPUS: list[tuple[str, tuple[str, str], str | bytes, str, str | None]] = [
    ("metadata-127-deep", CREATE, memory(metadata=nest(127)), "metadata", "max_json_depth"),
    ("metadata-300-deep", CREATE, memory(metadata=nest(300)), "metadata", "max_json_depth"),
    ("metadata-5000-deep", CREATE, memory(metadata=nest(5000)), "body", "max_json_depth"),
    ("metadata-20-deep", CREATE, memory(metadata=nest(20)), "metadata", "max_metadata_depth"),
    ("metadata-int-2**64", CREATE, memory(metadata=obj(x=BEYOND_64_BITS)), "metadata.x", "max"),
    ("metadata-int-below-int64", CREATE, memory(metadata=obj(x="-9223372036854775809")), "metadata.x", "min"),
    ("metadata-int-5000-digits", CREATE, memory(metadata=obj(x="9" * 5000)), "body", "max"),
    ("metadata-nan", CREATE, memory(metadata=obj(x="NaN")), "metadata.x", None),
    ("metadata-infinity", CREATE, memory(metadata=obj(x="1e400")), "metadata.x", None),
    ("metadata-lone-surrogate-key", CREATE, memory(metadata="{" + LONE_HIGH + ":1}"), "metadata", None),
    ("metadata-lone-surrogate-value", CREATE, memory(metadata=obj(x=LONE_LOW)), "metadata.x", None),
    (
        "metadata-too-many-items",
        CREATE,
        memory(metadata=js({f"k{i}": i for i in range(1001)})),
        "metadata",
        "max_metadata_items",
    ),
    (
        "metadata-too-large",
        CREATE,
        memory(metadata=js({"x": "y" * 17_000})),
        "metadata",
        "max_metadata_bytes",
    ),
    (
        "source-refs-int-2**64",
        CREATE,
        memory(source_refs=f"[{obj(x=BEYOND_64_BITS)}]"),
        "source_refs[0].x",
        "max",
    ),
    (
        "source-refs-300-deep",
        CREATE,
        memory(source_refs=f"[{nest(300)}]"),
        "source_refs[0]",
        "max_json_depth",
    ),
    (
        "source-refs-20-deep",
        CREATE,
        memory(source_refs=f"[{nest(20)}]"),
        "source_refs[0]",
        "max_metadata_depth",
    ),
    ("valid-from-utc-year-10000", CREATE, memory(valid_from=js(UTC_YEAR_10000)), "valid_from", "latest"),
    ("valid-from-year-1", CREATE, memory(valid_from=js(YEAR_ONE)), "valid_from", "earliest"),
    ("body-not-utf8", CREATE, b'{"user_id":"u1","content":"\xff\xfe"}', "body", None),
    ("patch-missing-id-300-deep", PATCH_MISSING, obj(metadata=nest(300)), "metadata", "max_json_depth"),
    ("patch-missing-id-20-deep", PATCH_MISSING, obj(metadata=nest(20)), "metadata", "max_metadata_depth"),
    ("patch-missing-id-int-2**64", PATCH_MISSING, obj(metadata=obj(x=BEYOND_64_BITS)), "metadata.x", "max"),
    (
        "patch-missing-id-lone-surrogate",
        PATCH_MISSING,
        obj(metadata="{" + LONE_HIGH + ":1}"),
        "metadata",
        None,
    ),
    (
        "filter-value-lone-surrogate",
        SEARCH,
        search(filters=condition("metadata.x", "eq", LONE_LOW)),
        "filters.value",
        None,
    ),
    (
        "filter-value-int-2**64",
        SEARCH,
        search(filters=condition("metadata.x", "gt", BEYOND_64_BITS)),
        "filters.value",
        "max",
    ),
    (
        "filter-epoch-out-of-range",
        SEARCH,
        search(filters=condition("created_at", "gt", "1e300")),
        "filters.value",
        None,
    ),
    (
        "filter-time-utc-year-10000",
        SEARCH,
        search(filters=condition("valid_from", "lt", js(UTC_YEAR_10000))),
        "filters.value",
        None,
    ),
    (
        "filter-value-too-large",
        SEARCH,
        search(filters=condition("metadata.x", "contains", js("y" * 17_000))),
        "filters",
        "max_filter_bytes",
    ),
    (
        "filter-5000-deep",
        SEARCH,
        search(filters='{"NOT":' * 5000 + "{}" + "}" * 5000),
        "body",
        "max_json_depth",
    ),
    ("search-as-of-utc-year-10000", SEARCH, search(as_of=js(UTC_YEAR_10000)), "as_of", "latest"),
    (
        "search-time-range-year-1",
        SEARCH,
        search(time_range=obj(**{"from": js(YEAR_ONE)})),
        "time_range.from",
        None,
    ),
    (
        "batch-valid-from-utc-year-10000",
        BATCH,
        obj(memories=f"[{memory(valid_from=js(UTC_YEAR_10000))}]"),
        "memories[0].valid_from",
        "latest",
    ),
    (
        "batch-metadata-300-deep",
        BATCH,
        obj(memories=f"[{memory(metadata=nest(300))}]"),
        "memories[0].metadata",
        "max_json_depth",
    ),
    (
        "batch-metadata-int-2**64",
        BATCH,
        obj(memories=f"[{memory(metadata=obj(x=BEYOND_64_BITS))}]"),
        "memories[0].metadata.x",
        "max",
    ),
    (
        "batch-conversation-year-1",
        BATCH,
        obj(
            user_id='"u1"',
            conversations=js(
                [{"messages": [{"role": "user", "content": "I live in Paris", "timestamp": YEAR_ONE}]}]
            ),
        ),
        "conversations[0].messages[0].timestamp",
        "earliest",
    ),
    (
        "conversation-timestamp-year-1",
        CONVERSATION,
        obj(user_id='"u1"', user_input='"I live in Paris"', timestamp=js(YEAR_ONE)),
        "timestamp",
        "earliest",
    ),
    (
        "conversation-history-utc-year-10000",
        CONVERSATION,
        obj(
            user_id='"u1"',
            user_input='"I live in Paris"',
            history=js([{"role": "user", "content": "hi", "timestamp": UTC_YEAR_10000}]),
        ),
        "history[0].timestamp",
        "latest",
    ),
    (
        "inferred-create-context-year-1",
        CREATE,
        memory(context=js({"recent_messages": [{"role": "user", "content": "hi", "timestamp": YEAR_ONE}]})),
        "context.recent_messages[0].timestamp",
        "earliest",
    ),
]

# Held before the reproductions were fixed, kept here because they are the same rule.
ALSO_BOUNDED: list[tuple[str, tuple[str, str], str | bytes, str, str | None]] = [
    ("content-lone-surrogate", CREATE, obj(user_id='"u1"', content=LONE_LOW), "content", None),
    ("tag-lone-surrogate", CREATE, memory(tags=f"[{LONE_HIGH}]"), "tags[0]", None),
    (
        "filter-300-deep",
        SEARCH,
        search(filters='{"NOT":' * 300 + "{}" + "}" * 300),
        "filters",
        "max_json_depth",
    ),
]


def _stored(api: Api) -> int:
    page = api.call("GET", "/api/v1/users/u1/memories?include_invalid=true").json()["data"]
    total: int = page["total"]
    return total


def _assert_bound_error(response: Any, field: str, bound: str | None) -> None:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    first = error["details"]["errors"][0]
    assert first["field"].startswith(field), first
    assert error["message"].startswith(first["field"] + ": ")
    if bound is not None:
        assert bound in first["limit"], first
        assert str(first["limit"][bound]) in error["message"]
        assert not bound.startswith("max_") or bound in error["message"]


@pytest.mark.parametrize(
    ("route", "body", "field", "bound"),
    [case[1:] for case in CORPUS + ALSO_BOUNDED],
    ids=[case[0] for case in CORPUS + ALSO_BOUNDED],
)
def test_reproduction_is_a_400_naming_field_and_bound_and_stores_nothing(
    api: Api, route: tuple[str, str], body: str | bytes, field: str, bound: str | None
) -> None:
    method, path = route
    content = body.encode() if isinstance(body, str) else body
    response = api.call(method, path, content=content, headers={"Content-Type": "application/json"})
    _assert_bound_error(response, field, bound)
    assert _stored(api) == 0
    # The instance still answers, search with a metadata filter included.
    filtered = api.search("tea", filters={"field": "metadata.x", "op": "eq", "value": 1})
    assert filtered.status_code == 200 and filtered.json()["data"]["memories"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/u1/memories?offset=9223372036854775808",
        "/api/v1/users/u1/sessions?offset=9223372036854775808",
        "/api/v1/users/u1/memories?offset=10000001",
        "/api/v1/users/u1/sessions?offset=10000001",
    ],
)
def test_list_offset_beyond_the_bound_is_a_400(api: Api, path: str) -> None:
    response = api.call("GET", path)
    _assert_bound_error(response, "offset", "le")


def test_list_offset_at_the_bound_is_an_empty_page(api: Api) -> None:
    api.add("User likes tea")
    for path in ("/api/v1/users/u1/memories", "/api/v1/users/u1/sessions"):
        response = api.call("GET", f"{path}?offset=10000000&limit=100")
        assert response.status_code == 200, response.text
        assert response.json()["data"]["offset"] == 10_000_000


def test_usage_since_out_of_range_is_a_400(api: Api) -> None:
    response = api.call("GET", "/api/v1/usage/llm", params={"since": UTC_YEAR_10000})
    _assert_bound_error(response, "since", "latest")


def test_message_timestamps_are_kept_in_utc(api: Api) -> None:
    response = api.call(
        "POST",
        "/api/v1/memories/process-conversation?wait=true",
        json={
            "user_id": "u1",
            "session_id": "s1",
            "user_input": "I live in Paris",
            "timestamp": "2026-03-01T10:00:00+02:00",
        },
    )
    assert response.status_code == 200 and response.json()["data"]["status"] == "completed", response.text
    session = api.call("GET", "/api/v1/users/u1/sessions/s1").json()["data"]
    assert [m["timestamp"] for m in session["recent_messages"]] == ["2026-03-01T08:00:00Z"]
    assert session["last_message_at"] == "2026-03-01T08:00:00Z"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/users/%ED%A0%80/memories",
        "/api/v1/memories/%ED%A0%80",
        "/api/v1/users/u1/memories?type=%ED%A0%80",
        "/api/v1/jobs/%ED%A0%80",
    ],
)
def test_a_percent_encoded_lone_surrogate_in_path_or_query_is_never_a_500(api: Api, path: str) -> None:
    # Path and query are decoded as UTF-8 with replacement, so no lone surrogate reaches a handler.
    response = api.call("GET", path)
    assert response.status_code in (200, 400, 404), response.text
    assert response.json()["success"] is (response.status_code == 200)


def test_the_bounds_are_settings(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(max_json_depth=12, max_metadata_depth=4, max_metadata_bytes=200)
    with open_api(settings) as api:
        for levels, status in ((4, 201), (5, 400), (9, 400), (12, 400)):
            body = memory(metadata=nest(levels)).encode()
            response = api.call(
                "POST", "/api/v1/memories", content=body, headers={"Content-Type": "application/json"}
            )
            assert response.status_code == status, (levels, response.text)
        deep = api.call(
            "POST",
            "/api/v1/memories",
            content=memory(metadata=nest(5)).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert deep.json()["error"]["details"]["errors"][0]["limit"] == {"max_metadata_depth": 4}
        body_deep = api.call(
            "POST",
            "/api/v1/memories",
            content=memory(metadata=nest(12)).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert body_deep.json()["error"]["details"]["errors"][0]["limit"] == {"max_json_depth": 12}
        big = api.call(
            "POST", "/api/v1/memories", json={"user_id": "u1", "content": "c", "metadata": {"x": "y" * 200}}
        )
        _assert_bound_error(big, "metadata", "max_metadata_bytes")
        assert big.json()["error"]["details"]["errors"][0]["limit"] == {"max_metadata_bytes": 200}


def test_a_batch_at_a_raised_bound_is_imported_by_the_worker(make_settings: Callable[..., Settings]) -> None:
    # The worker re-validates each item: it must use the app's bounds, not the defaults.
    settings = make_settings(max_metadata_depth=14)
    with open_api(settings) as api:
        item = memory(metadata=nest(14)).encode()
        body = b'{"memories":[' + item + b"]}"
        response = api.call(
            "POST",
            "/api/v1/memories/batch?wait=true",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        job = response.json()["data"]
        assert job["status"] == "completed" and job["result"]["created"] == 1, job
