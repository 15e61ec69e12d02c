"""Conversation processing end to end against real processes: `membank serve` with the heuristic tier, with
the LLM tier on a real local model (llama-cpp-python serving Gemma 3 270M), and a standalone `membank worker`
doing the extraction while the server owns the index."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tests.support.llama_server import LlamaServer


def _process(server: Any, user_input: str, **fields: Any) -> dict[str, Any]:
    body = {"user_id": "u1", "session_id": "s1", "user_input": user_input, **fields}
    response = server.client.post("/api/v1/memories/process-conversation", json=body)
    assert response.status_code == 202, response.text
    job: dict[str, Any] = server.wait_job(response.json()["data"]["id"], timeout=300)
    assert job["status"] == "completed", job
    return job


def _current(server: Any) -> list[str]:
    page = server.client.get("/api/v1/users/u1/memories?limit=100").json()["data"]
    return sorted(m["content"] for m in page["memories"])


def test_process_conversation_through_a_real_local_llm(
    launch: Callable[..., Any], llama_server: LlamaServer
) -> None:
    server = launch(
        MEMBANK_LLM_BASE_URL=llama_server.base_url,
        MEMBANK_LLM_MODEL=llama_server.model,
        MEMBANK_LLM_TIMEOUT_SECONDS="120",
        MEMBANK_LLM_MAX_RETRIES="0",
        MEMBANK_LLM_MAX_TOKENS="96",
    )
    job = _process(
        server, "I moved to Berlin last month and I work at Acme.", ai_response="Welcome to Berlin!"
    )
    result = job["result"]
    # The tiny model's facts need not be wise; the path must work: its facts, or the labelled fallback.
    assert result["extractor"] == f"llm:{llama_server.model}" or result["extractor"].startswith(
        "heuristic (llm failed:"
    ), result["extractor"]
    assert result["usage"]["prompt_tokens"] > 0 and result["prompt_version"] == "extract-v2"
    if result["extractor"].startswith("heuristic"):
        assert any("Berlin" in m for m in _current(server))
    assert len(_current(server)) == result["counts"]["ADD"] + result["counts"]["UPDATE"]
    usage = server.client.get("/api/v1/usage/llm").json()["data"]["totals"]
    assert usage and usage[0]["prompt_tokens"] >= result["usage"]["prompt_tokens"]


def test_standalone_worker_extracts_and_the_server_finds_it(launch: Callable[..., Any]) -> None:
    server = launch(extra=["--no-workers"])
    launch("worker")
    _process(server, "I live in Paris.")
    job = _process(server, "I moved to Berlin.")
    assert [a["event"] for a in job["result"]["actions"]] == ["UPDATE"]
    assert _current(server) == ["User moved to Berlin."]
    deadline = time.monotonic() + 30
    hits: list[str] = []
    while time.monotonic() < deadline and not hits:
        found = server.client.post(
            "/api/v1/memories/search", json={"user_id": "u1", "query": "where does the user live"}
        )
        hits = [m["content"] for m in found.json()["data"]["memories"]]
        time.sleep(0.1)
    assert hits == ["User moved to Berlin."]
