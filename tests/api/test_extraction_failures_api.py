"""One odd message never kills a session's extraction (issue 7, item 8): the session of the issue is
extracted in full, and a message that really cannot be processed costs only itself, reported in the job
result, while the job completes with the others."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from membank.config import Settings
from tests.api.conftest import Api, open_api
from tests.api.test_conversations_api import current
from tests.support.openai_stub import OpenAIStub


def run_batch(api: Api, messages: list[dict[str, Any]]) -> dict[str, Any]:
    body = {
        "user_id": "u1",
        "conversations": [{"session_id": "s1", "timestamp": "2026-03-10T20:00:00Z", "messages": messages}],
    }
    response = api.call("POST", "/api/v1/memories/batch", json=body)
    assert response.status_code == 202, response.text
    (job_id,) = response.json()["data"]["job_ids"]
    deadline = time.monotonic() + 60
    while True:
        job: dict[str, Any] = api.call("GET", f"/api/v1/jobs/{job_id}").json()["data"]
        if job["status"] in ("completed", "dead") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_the_session_of_the_issue_is_extracted_in_full(api: Api) -> None:
    filler = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": f"I planted {i} tulips in the garden."}
        for i in range(44)
    ]
    messages = [
        {"role": "user", "content": "We went dancing yesterday night and I loved it.", "id": "m0"},
        *filler,
        {"role": "user", "content": "I moved to Berlin the day before yesterday.", "id": "m45"},
        {"role": "user", "content": "I work at Acme.", "id": "m46"},
    ]
    job = run_batch(api, messages)
    assert job["status"] == "completed" and job["attempts"] == 1, job
    assert job["result"]["skipped_messages"] == []
    memories = current(api)
    assert "User and others went dancing on the night of 9 March 2026. User loved it." in memories
    assert "User works at Acme." in memories
    assert "User moved to Berlin on 8 March 2026." in memories


def test_a_message_the_embedding_service_refuses_costs_only_that_message(
    make_settings: Callable[..., Settings],
    openai_stub_server: tuple[str, OpenAIStub],
    openai_stub: OpenAIStub,
) -> None:
    openai_stub.max_input_words = 200  # the remote model's context, as an OpenAI embedding model has one
    settings = make_settings(
        embedder="openai",
        openai_embedder_base_url=openai_stub_server[0],
        openai_embedder_model="fake-embed",
    )
    essay = "My grandmother's recipe book lists " + ", ".join(f"spice{i}" for i in range(300)) + "."
    messages = [
        {"role": "user", "content": "I live in Oslo.", "id": "m0"},
        {"role": "user", "content": essay, "id": "m1"},
        {"role": "user", "content": "I work at Acme.", "id": "m2"},
    ]
    with open_api(settings) as api:
        job = run_batch(api, messages)
        memories = current(api)
    assert job["status"] == "completed" and job["attempts"] == 1, job
    (skipped,) = job["result"]["skipped_messages"]
    assert skipped["index"] == 1 and skipped["message_id"] == "m1" and skipped["stage"] == "embedding"
    assert "maximum context length" in skipped["error"]
    assert memories == ["User lives in Oslo.", "User works at Acme."]
    assert job["result"]["counts"]["ADD"] == 2
