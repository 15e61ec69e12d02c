"""Job results stay small and scopes mean what they say: a batch import reports counts and pages its items
through GET /jobs/{id}/items; memory text in a job needs memories:read besides jobs:read."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from membank.auth.keys import issue_key
from membank.bootstrap import build_store
from membank.config import Settings
from membank.models import Job, JobStatus, now_utc
from tests.api.conftest import Api, open_api
from tests.api.test_jobs_api import _wait


@pytest.fixture
def small_chunks(make_settings: Callable[..., Settings]) -> Iterator[Api]:
    with open_api(make_settings(batch_chunk_size=40)) as served:
        yield served


def _key(api: Api, *scopes: str) -> str:
    store = build_store(api.settings)
    try:
        return issue_key(store.keys, tenant_name="acme", name="+".join(scopes), scopes=scopes).plaintext
    finally:
        store.close()


def _items(api: Api, job_id: str, key: str | None = None, **query: Any) -> Any:
    return api.call("GET", f"/api/v1/jobs/{job_id}/items", key, params=query)


def test_batch_result_has_counts_and_items_page_through_every_memory(small_chunks: Api) -> None:
    api = small_chunks
    api.add("User likes jazz")
    memories = [{"user_id": "u1", "content": f"User fact number {i}"} for i in range(100)]
    memories[10] = {"user_id": "u1", "content": "User likes jazz"}  # a current memory of the user
    memories[20] = {"user_id": "u1", "content": "User fact number 5"}  # an earlier item of the batch
    body = {"memories": memories, "options": {"skip_duplicates": True}}
    job = _wait(api, api.call("POST", "/api/v1/memories/batch", json=body).json()["data"]["id"])
    assert job["status"] == "completed"
    assert job["result"] == {
        "created": 98,
        "skipped": 2,
        "failed": 0,
        "total": 100,
        "items": f"/api/v1/jobs/{job['id']}/items",
    }
    pages = [_items(api, job["id"], limit=30, offset=offset).json()["data"] for offset in (0, 30, 60, 90)]
    items = [item for page in pages for item in page["items"]]
    assert [page["total"] for page in pages] == [100] * 4 and [len(p["items"]) for p in pages] == [
        30,
        30,
        30,
        10,
    ]
    assert [item["index"] for item in items] == list(range(100))
    skipped = {item["index"]: item for item in items if item["status"] == "skipped"}
    assert set(skipped) == {10, 20} and all(item["memory_id"] is None for item in skipped.values())
    assert "already has" in skipped[10]["reason"] and "earlier item" in skipped[20]["reason"]
    created = [item for item in items if item["status"] == "created"]
    stored = api.call("GET", f"/api/v1/memories/{created[42]['memory_id']}").json()["data"]
    assert stored["content"] == memories[created[42]["index"]]["content"]
    assert len({item["memory_id"] for item in created}) == 98
    beyond = _items(api, job["id"], offset=500).json()["data"]
    assert beyond["items"] == [] and beyond["total"] == 100


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 2**63}, "offset"),
        ({"limit": "many"}, "limit"),
    ],
)
def test_item_page_bounds_are_validation_errors(api: Api, query: dict[str, Any], field: str) -> None:
    job = api.call(
        "POST", "/api/v1/memories/batch?wait=true", json={"memories": [{"user_id": "u1", "content": "x"}]}
    )
    response = _items(api, job.json()["data"]["id"], **query)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["details"]["errors"][0]["field"] == field


def test_one_bad_item_fails_alone(api: Api) -> None:
    # Items are validated when queued; a job queued by an older, looser version may still hold a bad one.
    store = build_store(api.settings)
    tenant = store.keys.tenant_by_name("acme")
    assert tenant is not None
    now = now_utc()
    job = Job(
        id=str(uuid.uuid4()),
        tenant_id=tenant.id,
        kind="batch_import",
        status=JobStatus.QUEUED,
        payload={
            "memories": [{"user_id": "u1", "content": "User likes tea"}, {"user_id": "u1"}],
            "options": {},
        },
        created_at=now,
        updated_at=now,
        run_after=now,
        progress_total=2,
        actor="test",
    )
    store.jobs.enqueue(job)
    store.close()
    done = _wait(api, job.id)
    assert done["status"] == "completed" and done["result"]["created"] == 1 and done["result"]["failed"] == 1
    items = _items(api, job.id).json()["data"]["items"]
    assert [(i["index"], i["status"]) for i in items] == [(0, "created"), (1, "failed")]
    assert "content" in items[1]["error"] and items[1]["memory_id"] is None


def _conversation_job(api: Api) -> dict[str, Any]:
    body = {"user_id": "u1", "user_input": "I live in Paris. I work at Acme as a designer."}
    response = api.call("POST", "/api/v1/memories/process-conversation?wait=true", json=body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["data"]
    assert len(job["result"]["actions"]) >= 2
    return job


def test_job_results_with_memory_text_need_memories_read(api: Api) -> None:
    job = _conversation_job(api)
    jobs_only = _key(api, "jobs:read")
    full = api.call("GET", f"/api/v1/jobs/{job['id']}").json()["data"]
    assert full["withheld"] == [] and any("Paris" in (a["new"] or "") for a in full["result"]["actions"])
    assert full["result"]["actions_truncated"] is False

    partial = api.call("GET", f"/api/v1/jobs/{job['id']}", jobs_only)
    assert partial.status_code == 200
    data = partial.json()["data"]
    assert "Paris" not in partial.text and "actions" not in data["result"]
    assert data["result"]["counts"] == full["result"]["counts"] and data["status"] == "completed"
    assert "result.actions" in data["withheld"]

    refused = _items(api, job["id"], jobs_only)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "INSUFFICIENT_PERMISSIONS"
    assert "memories:read" in refused.json()["error"]["message"]
    assert _items(api, job["id"], api.reader_key).status_code == 403  # memories:read without jobs:read
    assert api.call("GET", f"/api/v1/jobs/{job['id']}", api.reader_key).status_code == 403


def test_conversation_job_items_page_through_its_actions(api: Api) -> None:
    job = _conversation_job(api)
    actions = job["result"]["actions"]
    first = _items(api, job["id"], limit=1).json()["data"]
    second = _items(api, job["id"], limit=1, offset=1).json()["data"]
    assert first["total"] == second["total"] == len(actions) and first["kind"] == "process_conversation"
    for page, action in ((first, actions[0]), (second, actions[1])):
        (item,) = page["items"]
        assert item["status"] == action["event"] and item["memory_id"] == action["memory_id"]
        assert item["new"] == action["new"] and item["source"] == action["source"]


def test_another_tenant_cannot_page_a_jobs_items(api: Api) -> None:
    job = api.call(
        "POST", "/api/v1/memories/batch?wait=true", json={"memories": [{"user_id": "u1", "content": "x"}]}
    )
    response = _items(api, job.json()["data"]["id"], api.bob_key)
    assert response.status_code == 404 and response.json()["error"]["code"] == "JOB_NOT_FOUND"


def test_a_running_jobs_items_grow_with_its_chunks(small_chunks: Api) -> None:
    api = small_chunks
    memories = [{"user_id": "u1", "content": f"User remembers item {i}"} for i in range(400)]
    job_id = api.call("POST", "/api/v1/memories/batch", json={"memories": memories}).json()["data"]["id"]
    seen: list[int] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        page = _items(api, job_id, limit=1000).json()["data"]
        seen.append(page["total"])
        if page["status"] == "completed":
            break
        time.sleep(0.01)
    assert seen[-1] == 400 and seen == sorted(seen)
    assert all(total % 40 == 0 for total in seen)  # whole chunks only: items commit with their chunk
