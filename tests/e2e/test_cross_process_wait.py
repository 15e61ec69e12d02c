"""`?wait=true` when the job runs in another process: `membank serve --no-workers` queues it, a standalone
`membank worker` runs it, and the waiting request wakes within a fraction of a second of the job's end (it
polls the job's status in the store; the in-process wake-up cannot reach it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

# The poll backs off to every 250 ms; the rest is the request's own round trip and a busy 2-core machine.
WAKE_WITHIN_SECONDS = 0.75


def _waited(server: Any, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], float]:
    response = server.client.post(f"{path}?wait=true", json=body)
    answered = time.time()
    assert response.status_code == 200, response.text
    return response.json()["data"], answered


def _late_by(job: dict[str, Any], answered: float) -> float:
    return answered - datetime.fromisoformat(job["finished_at"]).timestamp()


def test_a_waiting_request_wakes_promptly_when_a_worker_of_another_process_ends_the_job(
    launch: Callable[..., Any],
) -> None:
    server = launch(extra=["--no-workers"])
    launch("worker")
    lateness = []
    for said in ("I live in Lisbon.", "I work at Acme.", "My sister is called Ana."):
        job, answered = _waited(
            server,
            "/api/v1/memories/process-conversation",
            {"user_id": "u1", "session_id": "s1", "user_input": said},
        )
        assert job["status"] == "completed", job
        lateness.append(_late_by(job, answered))
    imported, answered = _waited(
        server,
        "/api/v1/memories/batch",
        {"memories": [{"user_id": "u2", "content": f"Imported fact {n}"} for n in range(300)]},
    )
    assert imported["status"] == "completed" and imported["result"]["created"] == 300, imported
    lateness.append(_late_by(imported, answered))
    # What the worker of the other process wrote is there once the wait returned.
    contents = [
        m["content"] for m in server.client.get("/api/v1/users/u1/memories").json()["data"]["memories"]
    ]
    assert any("Lisbon" in text for text in contents) and any("Acme" in text for text in contents), contents
    assert max(lateness) < WAKE_WITHIN_SECONDS, f"woke {lateness} s after the jobs ended"
