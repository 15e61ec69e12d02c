"""Conversation processing with the heuristic tier, through the HTTP API: scenarios of issue 3."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from membank.config import Settings
from membank.memories.schemas import MemoryIn
from membank.models import Principal, new_memory
from tests.api.conftest import Api, open_api


def exchange(api: Api, user_input: str, ai_response: str | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"user_id": fields.pop("user_id", "u1"), "user_input": user_input, **fields}
    if ai_response is not None:
        body["ai_response"] = ai_response
    response = api.call("POST", "/api/v1/memories/process-conversation?wait=true", json=body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    assert job["status"] == "completed", job
    return job["result"]


def current(api: Api, user_id: str = "u1") -> list[str]:
    page = api.call("GET", f"/api/v1/users/{user_id}/memories?limit=100").json()["data"]
    return sorted(m["content"] for m in page["memories"])


def events(result: dict[str, Any]) -> list[str]:
    return [action["event"] for action in result["actions"]]


def test_moving_city_supersedes_and_history_keeps_both(api: Api) -> None:
    first = exchange(
        api, "I live in Paris.", "Nice, Paris is lovely.", session_id="s1", timestamp="2026-01-05T09:00:00Z"
    )
    assert events(first) == ["ADD"]
    old_id = first["actions"][0]["memory_id"]
    second = exchange(api, "I moved to Berlin last month.", session_id="s1", timestamp="2026-03-10T12:00:00Z")
    assert events(second) == ["UPDATE"]
    action = second["actions"][0]
    assert "Paris" in action["old"] and "Berlin" in action["new"]
    assert [m for m in current(api) if "Paris" in m] == []
    old = api.call("GET", f"/api/v1/memories/{old_id}").json()["data"]
    assert old["superseded_by"] == action["memory_id"] and old["valid_to"] is not None
    history = api.call("GET", f"/api/v1/memories/{action['memory_id']}/history").json()["data"]["history"]
    assert [h["event"] for h in history] == ["CREATE", "SUPERSEDED", "UPDATE"]
    assert all(h["extractor"] == "heuristic" for h in history)


def test_changing_job_supersedes_only_the_job(api: Api) -> None:
    exchange(api, "I live in Paris and I work at Acme.")
    exchange(api, "I work at Globex now.")
    memories = current(api)
    assert any("Paris" in m for m in memories), memories
    assert any("Globex" in m for m in memories), memories
    assert not any("Acme" in m for m in memories), memories


def test_repeated_fact_is_noop(api: Api) -> None:
    assert events(exchange(api, "I am allergic to peanuts.")) == ["ADD"]
    assert events(exchange(api, "I am allergic to peanuts.")) == ["NOOP"]
    assert len(current(api)) == 1


def test_forget_invalidates(api: Api) -> None:
    added = exchange(api, "I love sushi.")
    memory_id = added["actions"][0]["memory_id"]
    forgot = exchange(api, "Please forget that I love sushi.")
    assert events(forgot) == ["DELETE"]
    assert forgot["actions"][0]["memory_id"] == memory_id
    assert current(api) == []
    deleted = api.call("GET", f"/api/v1/memories/{memory_id}").json()["data"]
    assert deleted["deleted_at"] is not None


def test_question_and_small_talk_store_nothing(api: Api) -> None:
    result = exchange(api, "Hi! What's the weather like in Berlin?", "It is sunny today.")
    assert result["actions"] == []
    assert result["extractor"] == "heuristic"
    assert current(api) == []


def test_relative_dates_become_absolute(api: Api) -> None:
    result = exchange(api, "I went to a pottery class yesterday.", timestamp="2023-05-08T10:00:00Z")
    assert events(result) == ["ADD"]
    content = result["actions"][0]["new"]
    assert "yesterday" not in content and "7 May 2023" in content, content
    memory = api.call("GET", f"/api/v1/memories/{result['actions'][0]['memory_id']}").json()["data"]
    assert memory["valid_from"].startswith("2023-05-07")
    assert memory["source_refs"][0]["message_index"] == 0


def test_session_summary_rolls(api: Api) -> None:
    exchange(api, "I live in Paris.", session_id="trip")
    exchange(api, "I adopted a dog named Rex.", session_id="trip")
    session = api.call("GET", "/api/v1/users/u1/sessions/trip").json()["data"]
    assert session["turn_count"] == 2
    assert any("Rex" in fact for fact in session["key_facts"])
    assert "Paris" in session["summary"] and "Rex" in session["summary"]
    missing = api.call("GET", "/api/v1/users/u1/sessions/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "SESSION_NOT_FOUND"


def synthesize(api: Api, query: str, **fields: Any) -> dict[str, Any]:
    response = api.call(
        "POST", "/api/v1/memories/synthesize-context", json={"user_id": "u1", "query": query, **fields}
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_synthesized_context_is_structured_cited_and_cached_until_a_write(api: Api) -> None:
    api.add("User likes lattes", memory_type="preference", valid_from="2024-03-01T00:00:00Z")
    api.add("User lives in Berlin", memory_type="personal", valid_from="2024-01-01T00:00:00Z")
    first = synthesize(api, "what does the user drink and where do they live")
    assert first["cached"] is False and first["synthesizer"] == "structured"
    assert "Preferences:\n- 2024-03-01: User likes lattes" in first["context"]
    assert "Personal:\n- 2024-01-01: User lives in Berlin" in first["context"]
    for memory in first["memories"]:
        assert f"[{memory['citation']}]" in first["context"] and 0 <= memory["score"] <= 1
    again = synthesize(api, "what does the user drink and where do they live")
    assert again["cached"] is True and again["context"] == first["context"]
    api.add("User drinks green tea", memory_type="preference")
    after_write = synthesize(api, "what does the user drink and where do they live")
    assert after_write["cached"] is False and "green tea" in after_write["context"]
    uncached = synthesize(api, "what does the user drink and where do they live", use_cache=False)
    assert uncached["cached"] is False


def test_synthesize_filters_by_type_and_rejects_bad_input(api: Api) -> None:
    api.add("User likes lattes", memory_type="preference")
    api.add("User lives in Berlin", memory_type="personal")
    only = synthesize(api, "user", memory_types=["personal"])
    assert [m["content"] for m in only["memories"]] == ["User lives in Berlin"]
    bad = api.call(
        "POST", "/api/v1/memories/synthesize-context", json={"user_id": "u1", "query": " ", "max_memories": 0}
    )
    assert bad.status_code == 400
    fields = {e["field"] for e in bad.json()["error"]["details"]["errors"]}
    assert {"query", "max_memories"} <= fields


def test_synthesis_never_caches_an_answer_that_misses_an_unindexed_write(
    make_settings: Callable[..., Settings],
) -> None:
    # The index applier is idle for the test: a write made by another process (here: straight into the
    # store, as a standalone worker does) stays unindexed until applied.
    settings = make_settings(outbox_poll_seconds=3600)
    with open_api(settings) as api:
        api.add("User likes lattes", memory_type="preference")
        assert synthesize(api, "drinks")["cached"] is False
        container = api.client.app.state.container  # type: ignore[attr-defined]
        principal = Principal(tenant_id=container.store.keys.tenant_by_name("acme").id, subject="worker")
        memory = new_memory(principal, MemoryIn(user_id="u1", content="User drinks green tea"))
        vector = asyncio.run(container.embedder.embed([memory.content]))
        container.store.memories.insert(
            [memory], vector.tolist(), container.embedder.model_id, actor="worker"
        )
        if settings.vector_index == "pgvector":
            # The index is written in the memory's own transaction: a committed write is never unindexed.
            at_once = synthesize(api, "drinks")
            assert at_once["cached"] is False and "green tea" in at_once["context"]
            assert synthesize(api, "drinks")["cached"] is True
            return
        stale = synthesize(api, "drinks")
        assert stale["cached"] is False and "green tea" not in stale["context"]
        assert synthesize(api, "drinks")["cached"] is False  # the stale answer was not kept
        container.index_sync.apply_due()
        fresh = synthesize(api, "drinks")
        assert fresh["cached"] is False and "green tea" in fresh["context"]
        assert synthesize(api, "drinks")["cached"] is True
