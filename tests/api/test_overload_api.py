"""Bounded in-flight embedding work through the real API: when the embedder already has
MEMBANK_EMBEDDER_MAX_PENDING texts in flight, a create or a search answers 503 OVERLOADED with Retry-After at
once, instead of queueing behind them, and writes nothing; background jobs are never refused."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from membank.config import Settings
from tests.api.conftest import Api, open_api
from tests.support.openai_stub import OpenAIStub


def _slow_embedder_settings(
    make_settings: Callable[..., Settings], url: str, stub: OpenAIStub, **overrides: Any
) -> Settings:
    stub.sleep_seconds = 1.5
    stub.script = ["sleep"] * 4  # the first embedding calls take 1.5 s each: the texts stay in flight
    return make_settings(
        embedder="openai",
        openai_embedder_base_url=url,
        openai_embedder_model="fake-embed",
        embedder_max_pending=2,
        **overrides,
    )


def _wait_for_embedding_calls(stub: OpenAIStub, count: int) -> None:
    deadline = time.monotonic() + 10
    while sum(r["path"] == "/v1/embeddings" for r in stub.requests) < count:
        assert time.monotonic() < deadline, "the embedder was never called"
        time.sleep(0.01)


def _contents(api: Api) -> list[str]:
    page = api.call("GET", "/api/v1/users/u1/memories").json()["data"]
    return sorted(memory["content"] for memory in page["memories"])


def test_past_the_bound_a_create_and_a_search_get_503_overloaded_and_nothing_is_written(
    make_settings: Callable[..., Settings],
    openai_stub_server: tuple[str, OpenAIStub],
    openai_stub: OpenAIStub,
) -> None:
    settings = _slow_embedder_settings(make_settings, openai_stub_server[0], openai_stub)
    with open_api(settings) as api, ThreadPoolExecutor(2) as pool:
        first = pool.submit(api.add, "I live in Oslo.")
        _wait_for_embedding_calls(openai_stub, 1)
        second = pool.submit(api.add, "I work at Acme.")
        time.sleep(0.3)  # the second text is queued behind the first batch: two in flight
        started = time.monotonic()
        refused = api.call("POST", "/api/v1/memories", json={"user_id": "u1", "content": "I like tea."})
        search = api.search("where do I live")
        waited = time.monotonic() - started
        for response in (refused, search):
            assert response.status_code == 503, response.text
            error = response.json()["error"]
            assert error["code"] == "OVERLOADED", error
            assert error["details"] == {"in_flight": 2, "limit": 2, "requested": 1}
            assert int(response.headers["Retry-After"]) >= 1
        assert waited < 1.0, f"the refusals took {waited:.2f} s: they waited for the embedder"
        first.result(timeout=30)
        second.result(timeout=30)
        # Once the embedder has room, the same request succeeds; the refused one had written nothing.
        assert _contents(api) == ["I live in Oslo.", "I work at Acme."]
        api.add("I like tea.")
        assert _contents(api) == ["I like tea.", "I live in Oslo.", "I work at Acme."]


def test_a_background_import_is_not_refused_while_the_embedder_is_saturated(
    make_settings: Callable[..., Settings],
    openai_stub_server: tuple[str, OpenAIStub],
    openai_stub: OpenAIStub,
) -> None:
    settings = _slow_embedder_settings(make_settings, openai_stub_server[0], openai_stub)
    memories = [{"user_id": "u1", "content": f"Imported fact number {n}."} for n in range(10)]
    with open_api(settings) as api:
        response = api.call("POST", "/api/v1/memories/batch?wait=true", json={"memories": memories})
        assert response.status_code in (200, 202), response.text
        deadline = time.monotonic() + 30
        while (job := api.call("GET", f"/api/v1/jobs/{response.json()['data']['id']}").json()["data"])[
            "status"
        ] not in ("completed", "dead"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # Ten texts in one chunk, five times the bound: a job waits for the embedder, it is not refused.
        assert job["status"] == "completed" and job["attempts"] == 1, job
        assert job["result"]["created"] == 10
