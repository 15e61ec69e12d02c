"""Batch import as a job; health, metrics and request ids."""

from __future__ import annotations

import time

from tests.api.conftest import Api


def _wait(api: Api, job_id: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = api.call("GET", f"/api/v1/jobs/{job_id}").json()["data"]
        if job["status"] in ("completed", "dead"):
            return job
        time.sleep(0.05)
    raise AssertionError("job did not finish")


def test_batch_import_is_a_job_that_stores_everything(api: Api) -> None:
    items = [
        {"user_id": "u1", "content": f"User fact number {i}", "importance": 1 + i % 10} for i in range(120)
    ]
    response = api.call("POST", "/api/v1/memories/batch", json={"memories": items})
    assert response.status_code == 202
    job = response.json()["data"]
    assert job["status"] in ("queued", "processing", "completed") and response.headers["location"].endswith(
        job["id"]
    )
    done = _wait(api, job["id"])
    assert done["status"] == "completed" and done["result"]["created"] == 120
    assert done["progress"] == {"done": 120, "total": 120, "percent": 100.0}
    assert api.call("GET", "/api/v1/users/u1/memories").json()["data"]["total"] == 120
    hits = api.search("fact number 77").json()["data"]["memories"]
    assert hits[0]["content"] == "User fact number 77"


def test_batch_wait_true_returns_the_finished_job(api: Api) -> None:
    response = api.call(
        "POST",
        "/api/v1/memories/batch?wait=true",
        json={"memories": [{"user_id": "u1", "content": "User likes jazz"}]},
    )
    assert response.status_code == 200 and response.json()["data"]["status"] == "completed"


def test_batch_idempotency_key_returns_the_same_job(api: Api) -> None:
    body = {"memories": [{"user_id": "u1", "content": "User reads novels"}]}
    first = api.call("POST", "/api/v1/memories/batch", json=body, headers={"Idempotency-Key": "b-1"}).json()[
        "data"
    ]
    second = api.call("POST", "/api/v1/memories/batch", json=body, headers={"Idempotency-Key": "b-1"})
    assert second.json()["data"]["id"] == first["id"]
    assert second.headers["idempotent-replayed"] == "true"
    _wait(api, first["id"])
    assert api.call("GET", "/api/v1/users/u1/memories").json()["data"]["total"] == 1


def test_batch_skip_duplicates(api: Api) -> None:
    api.add("User likes jazz")
    items = [
        {"user_id": "u1", "content": "user likes  JAZZ"},
        {"user_id": "u1", "content": "User likes rock"},
        {"user_id": "u1", "content": "User likes rock"},
    ]
    job = api.call(
        "POST",
        "/api/v1/memories/batch?wait=true",
        json={"memories": items, "options": {"skip_duplicates": True}},
    ).json()["data"]
    assert job["result"]["created"] == 1 and job["result"]["skipped"] == 2


def test_batch_validates_every_item_before_queueing(api: Api) -> None:
    items = [{"user_id": "u1", "content": "ok"}, {"user_id": "u1", "content": "x", "importance": 0}]
    response = api.call("POST", "/api/v1/memories/batch", json={"memories": items})
    assert response.status_code == 400
    assert response.json()["error"]["details"]["errors"][0]["field"] == "memories[1].importance"


def test_health_ready_live_metrics_and_request_id(api: Api) -> None:
    ready = api.client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["data"]["components"]["store"]["status"] == "ok"
    assert ready.json()["data"]["components"]["vector_index"]["status"] == "ok"
    assert ready.json()["data"]["components"]["embedder"]["status"] == "ok"
    assert api.client.get("/health/live").json()["data"]["status"] == "ok"
    response = api.client.get("/health", headers={"X-Request-ID": "trace-abc-123"})
    assert response.headers["x-request-id"] == "trace-abc-123"
    assert len(api.client.get("/health").headers["x-request-id"]) == 32
    metrics = api.client.get("/metrics").text
    assert 'membank_http_requests_total{method="GET",route="/health",status="200"}' in metrics
    assert "membank_http_request_duration_seconds_bucket" in metrics
    assert api.client.get("/docs").status_code == 200
    assert "/api/v1/memories/search" in api.client.get("/openapi.json").json()["paths"]


def test_ready_reports_a_derived_index_that_is_down_as_degraded(api: Api) -> None:
    # Only the system of record (and the embedder) make the service unready; the index is derived.
    api.client.app.state.container.index.close()  # type: ignore[attr-defined]
    ready = api.client.get("/health/ready")
    assert ready.status_code == 200
    body = ready.json()["data"]
    assert body["status"] == "degraded"
    assert body["components"]["vector_index"]["status"] == "degraded"
    assert body["components"]["vector_index"]["cause"] == "closed"
    assert body["components"]["store"]["status"] == "ok"
    assert api.client.get("/health/live").status_code == 200
