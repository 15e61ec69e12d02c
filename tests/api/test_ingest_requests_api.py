"""Ingestion requests through the HTTP API: times without an offset, what inferred creates accept, and
Idempotency-Key on every job-creating POST."""

from __future__ import annotations

from typing import Any

from membank.bootstrap import build_store
from tests.api.conftest import Api
from tests.api.test_conversation_jobs_api import wait_batch
from tests.api.test_conversations_api import current


def job_payload(api: Api, job_id: str) -> dict[str, Any]:
    store = build_store(api.settings)
    try:
        tenant = store.keys.tenant_by_name("acme")
        assert tenant is not None
        job = store.jobs.get(tenant.id, job_id)
        assert job is not None
        return job.payload
    finally:
        store.close()


def test_a_time_without_offset_is_utc_and_mixes_with_aware_times(api: Api) -> None:
    body = {
        "user_id": "u1",
        "conversations": [
            {
                "session_id": "mixed",
                "messages": [
                    {"role": "user", "content": "I live in Oslo.", "timestamp": "2026-01-01T09:00:00Z"},
                    {"role": "user", "content": "I play the cello.", "timestamp": "2026-01-01T09:05:00"},
                ],
            }
        ],
    }
    response = api.call("POST", "/api/v1/memories/batch", json=body)
    assert response.status_code == 202, response.text
    batch = wait_batch(api, response.json()["data"]["batch_id"])
    assert batch["status"] == "completed", batch
    session = api.call("GET", "/api/v1/users/u1/sessions/mixed")
    assert session.status_code == 200, session.text
    data: dict[str, Any] = session.json()["data"]
    assert data["turn_count"] == 2
    assert data["started_at"] == "2026-01-01T09:00:00Z" and data["last_message_at"] == "2026-01-01T09:05:00Z"


def test_a_naive_valid_from_is_stored_as_utc(api: Api) -> None:
    memory = api.add("User likes tea", valid_from="2025-03-01T12:00:00")
    assert memory["valid_from"] == "2025-03-01T12:00:00Z"


def test_an_extracting_create_refuses_a_second_user_input(api: Api) -> None:
    body = {
        "user_id": "u1",
        "content": "I live in Oslo.",
        "context": {"current_exchange": {"user_input": "I live in Rome.", "ai_response": "Nice!"}},
    }
    response = api.call("POST", "/api/v1/memories", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert [e["field"] for e in error["details"]["errors"]] == ["context.current_exchange.user_input"]
    assert "content" in error["details"]["errors"][0]["reason"]
    answered = {**body, "context": {"current_exchange": {"ai_response": "Oslo is lovely."}}}
    job = api.call("POST", "/api/v1/memories?wait=true", json=answered).json()["data"]
    assert job["status"] == "completed", job
    assert current(api) == ["User lives in Oslo."]


def test_an_extracting_create_refuses_fields_extraction_sets_and_names_each(api: Api) -> None:
    body = {
        "user_id": "u1",
        "content": "I live in Oslo.",
        "infer": True,
        "memory_type": "personal",
        "importance": 9,
        "summary": "lives in Oslo",
        "entities": ["Oslo"],
        "source_refs": [{"message_id": "m1"}],
    }
    response = api.call("POST", "/api/v1/memories", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    fields = [e["field"] for e in error["details"]["errors"]]
    assert sorted(fields) == ["entities", "importance", "memory_type", "source_refs", "summary"]
    assert all(name in error["message"] for name in fields)
    with_context = {key: value for key, value in body.items() if key != "infer"}
    with_context["context"] = {"summary": "Talking about home."}
    assert api.call("POST", "/api/v1/memories", json=with_context).status_code == 400
    assert current(api) == []


def test_an_extracting_create_carries_tags_and_metadata_to_the_job(api: Api) -> None:
    body = {
        "user_id": "u1",
        "content": "I live in Oslo.",
        "infer": True,
        "tags": ["home", "profile"],
        "metadata": {"source": "onboarding", "rank": 2},
        "valid_from": "2025-02-01T10:00:00Z",
    }
    response = api.call("POST", "/api/v1/memories", json=body)
    assert response.status_code == 202, response.text
    payload = job_payload(api, response.json()["data"]["id"])
    assert payload["options"]["tags"] == ["home", "profile"]
    assert payload["options"]["metadata"] == {"source": "onboarding", "rank": 2}
    assert payload["messages"][-1]["content"] == "I live in Oslo."
    assert payload["messages"][-1]["timestamp"] == "2025-02-01T10:00:00Z"
