"""Whatever is accepted can be read, updated, erased, listed, searched, reindexed and checked: memories built at
every bound (deepest, largest and fullest metadata, 64-bit extremes, astral-plane keys, the earliest and latest
accepted times) go through the whole life cycle, `membank reindex` and `membank check`, and a restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from click.testing import CliRunner

from membank.cli.main import cli
from membank.config import Settings
from membank.models.bounds import INT64_MAX, INT64_MIN
from tests.api.conftest import Api, open_api

EARLIEST = "1700-01-01T00:00:00Z"
LATEST = "2200-12-31T23:59:59.999999Z"
DEFAULTS = Settings()


def _deepest(tag: str) -> dict[str, Any]:
    """Metadata exactly max_metadata_depth levels deep (the outer object is level 1)."""
    inner: dict[str, Any] = {"leaf": INT64_MIN, "ok": True}
    for level in range(DEFAULTS.max_metadata_depth - 2):
        inner = {f"l{level}": inner}
    return {"tag": tag, "deep": inner}


def _largest(tag: str) -> dict[str, Any]:
    """Metadata of exactly max_metadata_bytes when encoded."""
    value: dict[str, Any] = {"tag": tag, "pad": ""}
    value["pad"] = "x" * (DEFAULTS.max_metadata_bytes - len(orjson.dumps(value)))
    assert len(orjson.dumps(value)) == DEFAULTS.max_metadata_bytes
    return value


def _fullest(tag: str) -> dict[str, Any]:
    """Metadata of exactly max_metadata_items keys."""
    value: dict[str, Any] = {"tag": tag}
    value.update({f"k{i}": i for i in range(DEFAULTS.max_metadata_items - 1)})
    return value


AT_THE_BOUNDS: dict[str, dict[str, Any]] = {
    "deepest": {"metadata": _deepest("deepest"), "source_refs": [_deepest("ref")] * 32},
    "largest": {"metadata": _largest("largest"), "source_refs": [_largest("ref")]},
    "fullest": {"metadata": _fullest("fullest")},
    "extremes": {
        "metadata": {
            "tag": "extremes",
            "max": INT64_MAX,
            "min": INT64_MIN,
            "all": [INT64_MAX, INT64_MIN, float(2**63 - 1024), -float(2**63)],  # the widest floats in range
        },
        "source_refs": [{"message_id": INT64_MAX, "offset": INT64_MIN}],
    },
    "unicode": {
        "metadata": {
            "tag": "unicode",
            "🧠": "brain",
            "\U0001d518\U0001d52b\U0001d526": "\U0001d4b6\U0001d4c8\U0001d4c9",  # Fraktur and script letters
            "日本語": "東京",
            "ключ": "👩\u200d💻",
        },
        "tags": ["\U0001d531\U0001d51e\U0001d524", "日本"],
        "entities": ["Zoë 🧠"],
    },
    "earliest": {"metadata": {"tag": "earliest"}, "valid_from": EARLIEST},
    "earliest-offset": {
        "metadata": {"tag": "earliest-offset"},
        "valid_from": "1700-01-01T01:00:00.000001+01:00",
    },
    "latest": {"metadata": {"tag": "latest"}, "valid_from": LATEST},
}
EXPECTED_VALID_FROM = {
    "earliest": EARLIEST,
    "earliest-offset": "1700-01-01T00:00:00.000001Z",
    "latest": LATEST,
}
# Not valid now (they become true in 2200): found by a search as of then.
FUTURE = {"latest"}


def _create_all(api: Api) -> dict[str, dict[str, Any]]:
    created = {}
    for name, fields in AT_THE_BOUNDS.items():
        created[name] = api.add(f"User fact at the bound {name}", **fields)
    return created


def _assert_read_back(api: Api, name: str, memory: dict[str, Any]) -> None:
    sent = AT_THE_BOUNDS[name]
    got = api.call("GET", f"/api/v1/memories/{memory['id']}")
    assert got.status_code == 200, got.text
    data = got.json()["data"]
    assert data["metadata"] == sent["metadata"]
    assert data["source_refs"] == sent.get("source_refs", [])
    assert data["tags"] == sent.get("tags", [])
    if name in EXPECTED_VALID_FROM:
        assert data["valid_from"] == EXPECTED_VALID_FROM[name]


def _found_by_filter(api: Api, name: str, **extra: Any) -> list[str]:
    response = api.search(
        "User fact at the bound",
        filters={"field": "metadata.tag", "op": "eq", "value": name},
        limit=50,
        **extra,
    )
    assert response.status_code == 200, response.text
    return [hit["id"] for hit in response.json()["data"]["memories"]]


def _assert_searchable(api: Api, created: dict[str, dict[str, Any]]) -> None:
    for name, memory in created.items():
        as_of = {"as_of": LATEST} if name in FUTURE else {}
        assert _found_by_filter(api, name, **as_of) == [memory["id"]], name
    for condition in (
        {"field": "metadata.max", "op": "eq", "value": INT64_MAX},
        {"field": "metadata.min", "op": "lte", "value": INT64_MIN},
        {"field": "metadata.all", "op": "in", "value": [INT64_MAX, INT64_MIN]},
    ):
        hits = api.search("User fact at the bound", filters=condition, limit=50)
        assert [h["id"] for h in hits.json()["data"]["memories"]] == [created["extremes"]["id"]], condition
    as_of_earliest = api.search("User fact at the bound", as_of=EARLIEST, limit=50).json()["data"]["memories"]
    assert [h["id"] for h in as_of_earliest] == [created["earliest"]["id"]]


def _assert_nothing_pending(api: Api) -> None:
    # No index write failed: nothing waits in the outbox for a retry.
    store = api.client.app.state.container.store
    deadline = time.monotonic() + 10
    while store.outbox.due(float("inf"), 10) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert store.outbox.due(float("inf"), 10) == []


def _cli(settings: Settings, *args: str) -> str:
    env = {"MEMBANK_DATA_DIR": str(settings.data_dir), "MEMBANK_LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_memories_at_every_bound_live_through_reads_updates_erasure_reindex_and_check(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    with open_api(settings) as api:
        created = _create_all(api)
        for name, memory in created.items():
            _assert_read_back(api, name, memory)
            history = api.call("GET", f"/api/v1/memories/{memory['id']}/history")
            assert history.status_code == 200 and len(history.json()["data"]["history"]) == 1
        listed = api.call(
            "GET", "/api/v1/users/u1/memories?include_invalid=true&limit=100&sort_by=valid_from"
        )
        assert listed.status_code == 200 and listed.json()["data"]["total"] == len(AT_THE_BOUNDS)
        stats = api.call("GET", "/api/v1/users/u1/memories/stats")
        assert stats.status_code == 200, stats.text
        _assert_searchable(api, created)
        _assert_nothing_pending(api)

    _cli(settings, "check")
    assert "done" in _cli(settings, "reindex")
    report = orjson.loads(_cli(settings, "check", "--repair").strip().splitlines()[-1])
    assert report["consistent"] and report["records"] == len(AT_THE_BOUNDS)

    with open_api(settings) as api:  # a restart on the reindexed data
        _assert_searchable(api, created)
        for name, memory in created.items():
            _assert_read_back(api, name, memory)
        _update_and_erase(api, created)
        _assert_nothing_pending(api)

    report = orjson.loads(_cli(settings, "check").strip().splitlines()[-1])
    assert report["consistent"]


def _update_and_erase(api: Api, created: dict[str, dict[str, Any]]) -> None:
    for name, memory in created.items():
        metadata = {**AT_THE_BOUNDS[name]["metadata"], "tag": name[::-1]}  # the same size: still in bounds
        patched = api.call("PATCH", f"/api/v1/memories/{memory['id']}", json={"metadata": metadata})
        assert patched.status_code == 200 and patched.json()["data"]["metadata"] == metadata, patched.text
        successor = api.call(
            "PATCH", f"/api/v1/memories/{memory['id']}", json={"content": f"User fact {name} v2"}
        )
        assert successor.status_code == 200, successor.text
        new_id = successor.json()["data"]["id"]
        assert successor.json()["data"]["metadata"] == metadata
        history = api.call("GET", f"/api/v1/memories/{new_id}/history").json()["data"]["history"]
        assert len(history) >= 2
        soft = api.call("DELETE", f"/api/v1/memories/{new_id}")
        assert soft.status_code == 200 and soft.json()["data"]["deleted"], soft.text
        hard = api.call("DELETE", f"/api/v1/memories/{memory['id']}?hard=true")
        assert hard.status_code == 200 and hard.json()["data"]["erased_versions"] == 2, hard.text
        assert api.call("GET", f"/api/v1/memories/{new_id}").status_code == 404
    listed = api.call("GET", "/api/v1/users/u1/memories?include_invalid=true").json()["data"]
    assert listed["total"] == 0


def test_a_batch_import_at_every_bound_completes_and_reads_back(api: Api) -> None:
    items = [
        {"user_id": "u1", "content": f"User fact at the bound {name}", **fields}
        for name, fields in AT_THE_BOUNDS.items()
    ]
    response = api.call("POST", "/api/v1/memories/batch?wait=true", json={"memories": items})
    assert response.status_code == 200, response.text
    job = response.json()["data"]
    assert job["status"] == "completed" and job["result"]["created"] == len(items), job
    page = api.call("GET", f"/api/v1/jobs/{job['id']}/items?limit=1000").json()["data"]
    assert [item["status"] for item in page["items"]] == ["created"] * len(items)
    memory_ids = [item["memory_id"] for item in page["items"]]
    for name, memory_id in zip(AT_THE_BOUNDS, memory_ids, strict=True):
        _assert_read_back(api, name, {"id": memory_id})
    _assert_nothing_pending(api)


def test_a_conversation_at_the_earliest_and_latest_times_completes(api: Api) -> None:
    for moment in (EARLIEST, LATEST):
        response = api.call(
            "POST",
            "/api/v1/memories/process-conversation?wait=true",
            json={
                "user_id": "u1",
                "session_id": "s1",
                "user_input": "I moved to Lisbon yesterday. Last week I started a new job.",
                "history": [
                    {"role": "user", "content": "Two days ago I adopted a cat.", "timestamp": moment}
                ],
                "timestamp": moment,
            },
        )
        assert response.status_code == 200, response.text
        assert response.json()["data"]["status"] == "completed", response.json()["data"]
    session = api.call("GET", "/api/v1/users/u1/sessions/s1")
    assert session.status_code == 200, session.text
