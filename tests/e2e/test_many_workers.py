"""Several `membank worker` processes on one system of record: every job runs once, and a user's
conversation jobs run in the order they were queued, however the workers race for them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import all_contents

pytestmark = pytest.mark.e2e

USERS = ("ana", "ben", "chloe")
HOMES = ("Paris", "Berlin", "Lisbon", "Madrid")


def _queue_conversation(server: Any, user: str, text: str) -> str:
    body = {"user_id": user, "session_id": f"{user}-s1", "user_input": text}
    response = server.client.post("/api/v1/memories/process-conversation", json=body)
    assert response.status_code == 202, response.text
    return str(response.json()["data"]["id"])


def _current(server: Any, user: str) -> list[str]:
    page = server.client.get(f"/api/v1/users/{user}/memories?limit=100").json()["data"]
    return sorted(m["content"] for m in page["memories"])


def test_three_workers_run_every_job_once_and_each_users_conversations_in_order(
    launch: Callable[..., Any],
) -> None:
    settings = {"MEMBANK_BATCH_CHUNK_SIZE": "50"}
    server = launch(extra=["--no-workers"], **settings)
    for _ in range(3):
        launch("worker", **settings)
    batch = server.client.post(
        "/api/v1/memories/batch",
        json={"memories": [{"user_id": "bulk", "content": f"Bulk fact number {i}"} for i in range(600)]},
    ).json()["data"]["id"]
    # Queued back to back for three users: each user's moves must apply in this order, one after another.
    jobs = [batch]
    for home_index, home in enumerate(HOMES):
        for user in USERS:
            verb = "live in" if home_index == 0 else "moved to"
            jobs.append(_queue_conversation(server, user, f"I {verb} {home}."))

    finished = [server.wait_job(job_id, timeout=300) for job_id in jobs]

    assert [job["status"] for job in finished] == ["completed"] * len(jobs)
    assert [job["attempts"] for job in finished] == [1] * len(jobs)
    assert finished[0]["result"]["created"] == 600
    bulk = all_contents(server, "bulk")
    assert len(bulk) == 600 and len(set(bulk)) == 600
    for user in USERS:
        assert _current(server, user) == [f"User moved to {HOMES[-1]}."]
        memory_id = server.client.get(f"/api/v1/users/{user}/memories").json()["data"]["memories"][0]["id"]
        history = server.client.get(f"/api/v1/memories/{memory_id}/history").json()["data"]
        texts = [
            entry["new_content"] for entry in history["history"] if entry["event"] in ("CREATE", "UPDATE")
        ]
        assert [t.split()[-1].rstrip(".") for t in texts] == list(HOMES)
