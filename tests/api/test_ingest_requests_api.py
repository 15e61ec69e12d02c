"""Ingestion requests through the HTTP API: times without an offset, what inferred creates accept, and
Idempotency-Key on every job-creating POST."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
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
    job = api.call("GET", f"/api/v1/jobs/{response.json()['data']['id']}").json()["data"]
    while job["status"] not in ("completed", "dead"):
        job = api.call("GET", f"/api/v1/jobs/{job['id']}").json()["data"]
    memory = api.call("GET", f"/api/v1/memories/{job['result']['actions'][0]['memory_id']}").json()["data"]
    assert memory["tags"] == ["home", "profile"]
    assert memory["metadata"]["source"] == "onboarding" and memory["metadata"]["rank"] == 2
    assert memory["metadata"]["subject"] == "user" and job["result"]["rejected_facts"] == 0


def post(api: Api, path: str, body: dict[str, Any], key: str) -> Any:
    return api.call("POST", path, json=body, headers={"Idempotency-Key": key})


def assert_conflict(response: Any) -> None:
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "CONFLICT" and error["details"]["field"] == "Idempotency-Key"
    assert "Idempotency-Key" in error["message"]


def test_a_conversation_batch_runs_once_per_idempotency_key(api: Api) -> None:
    body = {
        "user_id": "u1",
        "conversations": [{"session_id": "a", "messages": [{"role": "user", "content": "I live in Oslo."}]}],
    }
    first = post(api, "/api/v1/memories/batch", body, "conv-batch-1")
    again = post(api, "/api/v1/memories/batch", body, "conv-batch-1")
    assert first.status_code == again.status_code == 202
    assert again.json()["data"] == first.json()["data"]
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert again.headers["location"] == first.headers["location"]
    other = {**body, "conversations": [{"messages": [{"role": "user", "content": "I live in Rome."}]}]}
    assert_conflict(post(api, "/api/v1/memories/batch", other, "conv-batch-1"))
    assert wait_batch(api, first.json()["data"]["batch_id"])["status"] == "completed"
    assert current(api) == ["User lives in Oslo."]
    sessions = api.call("GET", "/api/v1/users/u1/sessions").json()["data"]["sessions"]
    assert [s["turn_count"] for s in sessions] == [1]


def test_an_exchange_with_another_body_under_a_used_key_is_a_conflict(api: Api) -> None:
    url = "/api/v1/memories/process-conversation"
    body = {"user_id": "u1", "user_input": "I live in Oslo."}
    first = post(api, url, body, "exchange-1")
    again = post(api, url, body, "exchange-1")
    assert first.status_code == again.status_code == 202
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["location"] == f"/api/v1/jobs/{first.json()['data']['id']}"
    assert_conflict(post(api, url, {**body, "user_input": "I live in Rome."}, "exchange-1"))
    # A key is the tenant's, whatever the endpoint: a synchronous create cannot reuse it either.
    assert_conflict(post(api, "/api/v1/memories", {"user_id": "u1", "content": "x"}, "exchange-1"))


def test_inferred_creates_and_memory_batches_conflict_on_another_body(api: Api) -> None:
    infer = {"user_id": "u1", "content": "I live in Oslo.", "infer": True}
    assert post(api, "/api/v1/memories", infer, "infer-1").status_code == 202
    assert_conflict(post(api, "/api/v1/memories", {**infer, "content": "I live in Rome."}, "infer-1"))
    batch = {"memories": [{"user_id": "u1", "content": "User reads novels"}]}
    assert post(api, "/api/v1/memories/batch", batch, "mem-batch-1").status_code == 202
    other = {"memories": [{"user_id": "u1", "content": "User writes novels"}]}
    assert_conflict(post(api, "/api/v1/memories/batch", other, "mem-batch-1"))


def test_wait_stores_the_acceptance_and_a_replay_can_wait_too(api: Api) -> None:
    url = "/api/v1/memories/process-conversation"
    body = {"user_id": "u1", "user_input": "I live in Oslo."}
    waited = post(api, f"{url}?wait=true", body, "wait-1")
    assert waited.status_code == 200 and waited.json()["data"]["status"] == "completed"
    job_id = waited.json()["data"]["id"]
    replay = post(api, url, body, "wait-1")
    assert replay.status_code == 202 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["data"]["id"] == job_id and replay.json()["data"]["status"] == "queued"
    replay_waiting = post(api, f"{url}?wait=true", body, "wait-1")
    assert replay_waiting.status_code == 200 and replay_waiting.headers["idempotent-replayed"] == "true"
    assert replay_waiting.json()["data"] == waited.json()["data"]
    assert current(api) == ["User lives in Oslo."]


def test_racing_requests_with_one_idempotency_key_create_one_batch(api: Api) -> None:
    body = {
        "user_id": "u7",
        "conversations": [{"messages": [{"role": "user", "content": "I live in Oslo."}]}],
    }

    def send(_: int) -> Any:
        return post(api, "/api/v1/memories/batch", body, "race-1")

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(send, range(6)))
    accepted = {r.json()["data"]["batch_id"] for r in responses if r.status_code == 202}
    assert len(accepted) == 1, [r.text for r in responses]
    busy = [r for r in responses if r.status_code == 409]
    assert all("still being processed" in r.json()["error"]["message"] for r in busy)
    assert len(busy) + sum(r.status_code == 202 for r in responses) == 6
