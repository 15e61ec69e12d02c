"""Fair claiming and the per-tenant queue bound through the real API, with the real workers, on SQLite and
PostgreSQL: a tenant with a 20,000-memory import queued does not delay another tenant's process-conversation
job by more than one job's run time (one chunk, even behind a single long import job), and a tenant past its
bound gets 429 JOB_QUEUE_FULL with Retry-After."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest

from membank.bootstrap import build_store
from membank.config import Settings
from tests.api.conftest import Api, open_api

IMPORT_MEMORIES = 20_000
IMPORT_REQUESTS = 40  # the import sent as requests of 500 memories: 40 batch_import jobs


@pytest.fixture(params=["sqlite", "postgres"])
def store_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "sqlite":
        # The embedded index explicitly: a suite re-run on pgvector (tests/support/on_pgvector.py) sets the
        # index in the environment, and pgvector needs PostgreSQL.
        return {"store": "sqlite", "vector_index": "qdrant-edge"}
    return {"store": "postgres", "database_url": request.getfixturevalue("postgres_url")}


@pytest.fixture
def two_worker_api(make_settings: Callable[..., Settings], store_settings: dict[str, Any]) -> Iterator[Api]:
    with open_api(make_settings(workers=2, shutdown_grace_seconds=0.5, **store_settings)) as served:
        yield served


def _at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def test_a_big_import_of_one_tenant_delays_another_tenants_conversation_by_at_most_one_job(
    two_worker_api: Api,
) -> None:
    api = two_worker_api
    per_request = IMPORT_MEMORIES // IMPORT_REQUESTS
    imports = []
    for request in range(IMPORT_REQUESTS):
        memories = [
            {"user_id": "importer", "content": f"Imported fact {request}-{n} about project {n % 97}"}
            for n in range(per_request)
        ]
        response = api.call("POST", "/api/v1/memories/batch", json={"memories": memories})
        assert response.status_code == 202, response.text
        imports.append(response.json()["data"]["id"])
    conversation = api.call(
        "POST",
        "/api/v1/memories/process-conversation",
        api.bob_key,
        json={"user_id": "u1", "user_input": "I moved to Lisbon last spring and I love surfing."},
    )
    assert conversation.status_code == 202, conversation.text
    job = _wait_as(api, api.bob_key, conversation.json()["data"]["id"])
    assert job["status"] == "completed" and job["result"]["counts"]["ADD"] >= 1, job
    queued_at, started_at = _at(job["created_at"]), _at(job["started_at"])
    states = [api.call("GET", f"/api/v1/jobs/{job_id}").json()["data"] for job_id in imports]
    started = [_at(state["started_at"]) for state in states if state["started_at"] is not None]
    # The import was still mostly waiting when the conversation had run: it was queued behind it by time.
    assert len(started) <= IMPORT_REQUESTS // 2, f"{len(started)} of the import's jobs had started"
    # What the conversation waited for: the import jobs already running, and at most one started in between.
    passed_it = [moment for moment in started if queued_at < moment < started_at]
    assert len(passed_it) <= 1, f"{len(passed_it)} import jobs started while the conversation waited"


def _wait_as(api: Api, key: str, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job: dict[str, Any] = api.call("GET", f"/api/v1/jobs/{job_id}", key).json()["data"]
        if job["status"] in ("completed", "dead"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_a_tenant_past_its_queue_bound_gets_429_with_retry_after_and_nothing_is_queued(
    make_settings: Callable[..., Settings], store_settings: dict[str, Any]
) -> None:
    settings = make_settings(workers=0, job_queue_max_per_tenant=2, **store_settings)
    exchange = {"user_id": "u1", "user_input": "I like green tea."}
    with open_api(settings) as api:
        for _ in range(2):
            assert api.call("POST", "/api/v1/memories/process-conversation", json=exchange).status_code == 202
        refused = [
            api.call("POST", "/api/v1/memories/process-conversation", json=exchange),
            api.call(
                "POST", "/api/v1/memories/batch", json={"memories": [{"user_id": "u1", "content": "x"}]}
            ),
            api.call(
                "POST",
                "/api/v1/memories/batch",
                json={"user_id": "u1", "conversations": [{"messages": [{"role": "user", "content": "Hi."}]}]},
            ),
        ]
        for response in refused:
            assert response.status_code == 429, response.text
            error = response.json()["error"]
            assert error["code"] == "JOB_QUEUE_FULL" and error["details"]["limit"] == 2
            assert int(response.headers["Retry-After"]) >= 1
        # Another tenant has a queue of its own.
        assert (
            api.call("POST", "/api/v1/memories/process-conversation", api.bob_key, json=exchange).status_code
            == 202
        )
    store = build_store(settings)
    try:
        assert store.jobs.counts() == {"queued": 3}
    finally:
        store.close()


def test_one_long_import_gives_way_between_chunks_and_still_imports_everything_once(
    make_settings: Callable[..., Settings], store_settings: dict[str, Any]
) -> None:
    settings = make_settings(workers=1, batch_chunk_size=100, shutdown_grace_seconds=0.5, **store_settings)
    memories = [{"user_id": "importer", "content": f"Long import fact {n}"} for n in range(3000)]
    with open_api(settings) as api:
        response = api.call("POST", "/api/v1/memories/batch", json={"memories": memories})
        assert response.status_code == 202, response.text
        import_id = response.json()["data"]["id"]
        deadline = time.monotonic() + 60
        while api.call("GET", f"/api/v1/jobs/{import_id}").json()["data"]["progress"]["done"] == 0:
            assert time.monotonic() < deadline, "the import never started"
            time.sleep(0.02)
        conversation = api.call(
            "POST",
            "/api/v1/memories/process-conversation",
            api.bob_key,
            json={"user_id": "u1", "user_input": "I live in Porto."},
        )
        job = _wait_as(api, api.bob_key, conversation.json()["data"]["id"])
        state = api.call("GET", f"/api/v1/jobs/{import_id}").json()["data"]
        # One worker: the conversation ran while the import was still under way, not after all of it.
        assert job["status"] == "completed" and state["status"] != "completed", state
        assert state["progress"]["done"] < len(memories)
        done = _wait_as(api, api.alice_key, import_id)
        assert done["status"] == "completed" and done["attempts"] == 1, done
        assert done["result"]["created"] == len(memories) and done["result"]["failed"] == 0
        stats = api.call("GET", "/api/v1/users/importer/memories/stats").json()["data"]
        assert stats["total"] == stats["active"] == len(memories), stats
