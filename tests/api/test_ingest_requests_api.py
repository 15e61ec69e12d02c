"""Ingestion requests through the HTTP API: times without an offset, what inferred creates accept, and
Idempotency-Key on every job-creating POST."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.test_conversation_jobs_api import wait_batch


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
