"""The LLM tier through the HTTP API, against an OpenAI-compatible stub on a real socket: extraction with
provenance and usage, and for every fault (malformed, truncated or wrong-schema JSON, 429, 500, timeouts)
the heuristic tier takes over so that no fact is lost; context synthesis with cited sentences."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from membank.config import Settings
from tests.api.conftest import Api, open_api
from tests.api.metrics_support import moved, samples
from tests.api.test_conversations_api import current, exchange, synthesize
from tests.support.openai_stub import OpenAIStub, Reply, Status, Step, reply_json

FACT = {
    "content": "User moved to Lisbon",
    "memory_type": "personal",
    "importance": 7,
    "subject": "user",
    "attribute": "residence",
    "operation": "assert",
    "entities": ["Lisbon"],
    "source_turns": [0],
    "speaker": "user",
    "valid_from": None,
}


@pytest.fixture
def llm_api(
    make_settings: Callable[..., Settings],
    openai_stub_server: tuple[str, OpenAIStub],
    openai_stub: OpenAIStub,
) -> Iterator[Api]:
    settings = make_settings(
        llm_base_url=openai_stub_server[0],
        llm_model="stub-model",
        llm_api_key="sk-test-secret-key",
        llm_timeout_seconds=0.5,
        llm_max_retries=1,
        llm_backoff_seconds=0.01,
        llm_breaker_failures=1000,
    )
    openai_stub.sleep_seconds = 1.0
    with open_api(settings) as served:
        yield served


def test_llm_tier_extracts_with_prompt_version_and_usage(llm_api: Api, openai_stub: OpenAIStub) -> None:
    openai_stub.script = [reply_json({"facts": [FACT]})]
    before = samples(llm_api)
    result = exchange(llm_api, "I moved to Lisbon.", "Lisbon is lovely!", session_id="s1")
    after = samples(llm_api)
    assert moved(before, after, "membank_extractions_total", extractor="llm", outcome="ok") == 1
    tokens = "membank_llm_tokens_used_total"
    model = result["usage"]["model"]
    for kind in ("prompt", "completion"):
        spent = moved(before, after, tokens, purpose="extraction", model=model, kind=kind)
        assert spent == result["usage"][f"{kind}_tokens"] > 0
    assert result["extractor"] == "llm:stub-model"
    assert result["prompt_version"] == "extract-v2"
    assert result["usage"]["prompt_tokens"] > 0 and result["usage"]["model"]
    assert current(llm_api) == ["User moved to Lisbon"]
    memory_id = result["actions"][0]["memory_id"]
    history = llm_api.call("GET", f"/api/v1/memories/{memory_id}/history").json()["data"]["history"]
    assert [(h["extractor"], h["prompt_version"]) for h in history] == [("llm:stub-model", "extract-v2")]
    request = openai_stub.chat_requests()[0]
    assert request["authorization"] == "Bearer sk-test-secret-key"
    assert "I moved to Lisbon." in str(request["body"]["messages"])
    usage = llm_api.call("GET", "/api/v1/usage/llm").json()["data"]
    assert usage["totals"][0]["purpose"] == "extraction" and usage["totals"][0]["calls"] == 1


FAULTS: dict[str, list[Step]] = {
    "malformed": [Reply("{not json"), Reply("{still not json")],
    "truncated": [Reply('{"facts": [{"content": "User mo', "length")] * 2,
    "wrong_schema": [reply_json({"memories": ["User moved to Lisbon"]})] * 2,
    "http_500": [Status(500)] * 4,
    "http_429": [Status(429, "0")] * 4,
    "timeout": ["sleep"] * 4,
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_no_fact_is_lost_to_llm_faults(llm_api: Api, openai_stub: OpenAIStub, fault: str) -> None:
    openai_stub.script = list(FAULTS[fault])
    before = samples(llm_api)
    result = exchange(llm_api, "I moved to Lisbon last week and I adopted a dog named Rex.")
    fallbacks = "membank_extractions_total"
    assert moved(before, samples(llm_api), fallbacks, extractor="llm", outcome="fallback") == 1
    assert result["extractor"].startswith("heuristic (llm failed:"), result["extractor"]
    stored = current(llm_api)
    assert any("Lisbon" in m for m in stored) and any("Rex" in m for m in stored), stored
    assert "sk-test-secret-key" not in str(result)


def test_partial_invalid_output_never_drops_facts_silently(llm_api: Api, openai_stub: OpenAIStub) -> None:
    broken = {**FACT, "content": "  "}
    openai_stub.script = [reply_json({"facts": [broken]}), reply_json({"facts": [broken]})]
    result = exchange(llm_api, "I moved to Lisbon.")
    assert result["extractor"].startswith("heuristic (llm failed:")
    assert any("Lisbon" in m for m in current(llm_api))


def test_synthesis_with_llm_cites_memories_or_falls_back(llm_api: Api, openai_stub: OpenAIStub) -> None:
    llm_api.add("User likes lattes", memory_type="preference")
    openai_stub.script = [reply_json({"sentences": [{"text": "The user likes lattes.", "citations": [1]}]})]
    summary = synthesize(llm_api, "drinks")
    assert summary["synthesizer"] == "llm:stub-model" and summary["context"] == "The user likes lattes. [1]"
    assert summary["prompt_version"] == "synthesize-v1"
    openai_stub.script = [reply_json({"sentences": [{"text": "Made up.", "citations": [7]}]})]
    fallback = synthesize(llm_api, "drinks", use_cache=False)
    assert fallback["synthesizer"].startswith("structured (llm failed:")
    assert "User likes lattes [1]" in fallback["context"]


# Every metric the observability issue names (prefixed membank_), and what stands for the job queue, the
# outbox, embedding batches, backend health and the pool. Samples carry histograms' _count and counters' _total.
SEED_METRICS = (
    "membank_http_requests_total",
    "membank_http_request_duration_seconds_count",
    "membank_memories_created_total",
    "membank_memories_updated_total",
    "membank_memories_deleted_total",
    "membank_memory_operation_duration_seconds_count",
    "membank_search_requests_total",
    "membank_search_latency_seconds_count",
    "membank_llm_requests_total",
    "membank_llm_tokens_used_total",
    "membank_llm_request_duration_seconds_count",
    "membank_llm_cost_total",
    "membank_cache_hit_ratio",
    "membank_audit_events_total",
    "membank_jobs",
    "membank_job_oldest_age_seconds",
    "membank_outbox_pending",
    "membank_outbox_lag_seconds",
    "membank_embedding_batch_size_count",
    "membank_embedding_batch_duration_seconds_count",
    "membank_backend_up",
    "membank_db_pool_connections",
    "membank_db_pool_max_connections",
    "membank_disk_free_bytes",
    "process_resident_memory_bytes",
)


def test_metrics_expose_every_name_of_the_issue_after_a_scenario(
    make_settings: Callable[..., Settings],
    openai_stub_server: tuple[str, OpenAIStub],
    openai_stub: OpenAIStub,
) -> None:
    llm = {
        "llm_base_url": openai_stub_server[0],
        "llm_model": "stub-model",
        "llm_prices": {"stub-model": {"prompt": 1.0, "completion": 2.0}},
    }
    with open_api(make_settings(**llm)) as api:
        created = api.add("alice keeps bees")
        patched = api.call("PATCH", f"/api/v1/memories/{created['id']}", json={"importance": 8})
        assert patched.status_code == 200, patched.text
        assert api.call("DELETE", f"/api/v1/memories/{created['id']}").status_code == 200
        assert api.search("bees").status_code == 200
        assert api.search("bees").status_code == 200  # from the search cache
        login = {"tenant": "acme", "email": "nobody@acme.example", "password": "wrong-Password-1"}
        assert api.client.post("/api/v1/auth/login", json=login).status_code == 401
        openai_stub.script = [reply_json({"facts": [FACT]})]
        exchange(api, "I moved to Lisbon.", session_id="s1")
    # The registry is the process's: a second app without workers adds a job that stays queued, for the
    # backlog's age.
    with open_api(make_settings(workers=0)) as idle:
        body = {"user_id": "u1", "session_id": "s2", "user_input": "I moved to Porto."}
        queued = idle.call("POST", "/api/v1/memories/process-conversation", json=body)
        assert queued.status_code == 202, queued.text
        names = {name for name, _ in samples(idle)}
    missing = [name for name in SEED_METRICS if name not in names]
    assert missing == [], f"not exposed: {missing}"
