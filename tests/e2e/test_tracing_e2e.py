"""One trace across processes: a `membank serve` that queues a conversation and a standalone `membank worker`
that runs it, both exporting over OTLP/HTTP to a real receiver. The worker's job span continues the request's
trace; the LLM call, the embedding batch and the store calls are below it; the LLM provider receives the
same trace in its `traceparent`; a price table turns the call's tokens into cost on /metrics."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.api.test_llm_conversations_api import FACT
from tests.support.openai_stub import OpenAIStub, reply_json
from tests.support.otlp import OtlpReceiver, ReceivedSpan, otlp_receiver
from tests.support.processes import free_port

pytestmark = pytest.mark.e2e

SERVER, CONSUMER, CLIENT = 2, 5, 3


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running:
        yield running


def _sample(exposition: str, series: str) -> float:
    for line in exposition.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{series} not exposed")


def _ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    by_id = {s.span_id: s for s in spans}
    chain = []
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


def test_a_conversation_is_one_trace_across_the_server_and_the_worker(
    launch: Callable[..., Any],
    receiver: OtlpReceiver,
    openai_stub_server: tuple[str, OpenAIStub],
) -> None:
    base_url, stub = openai_stub_server
    stub.reset()
    stub.chat_reply = reply_json({"facts": [FACT]})
    tracing = {
        "MEMBANK_OTLP_ENDPOINT": receiver.endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # the SDK's export batch interval, ms: spans arrive promptly
        "MEMBANK_LLM_BASE_URL": base_url,
        "MEMBANK_LLM_MODEL": "stub-model",
        "MEMBANK_LLM_PRICES": json.dumps({"stub-model": {"prompt": 2.0, "completion": 8.0}}),
    }
    server = launch(extra=["--no-workers"], **tracing)
    metrics_port = free_port()
    worker = launch("worker", MEMBANK_WORKER_METRICS_PORT=str(metrics_port), **tracing)
    queued = server.client.post(
        "/api/v1/memories/process-conversation",
        json={"user_id": "u1", "session_id": "s1", "user_input": "I live in Lisbon now."},
    )
    assert queued.status_code == 202, queued.text
    trace_id = queued.headers["traceresponse"].split("-")[1]
    job = server.wait_job(queued.json()["data"]["id"])
    assert job["status"] == "completed", job
    assert job["result"]["extractor"] == "llm:stub-model", job["result"]

    (job_span,) = receiver.wait_for("job process_conversation")
    chat = receiver.wait_for("chat stub-model")
    assert job_span.trace_id == trace_id and job_span.kind == CONSUMER
    spans = receiver.of_trace(trace_id)
    (request,) = [s for s in spans if s.name == "POST /api/v1/memories/process-conversation"]
    assert request.kind == SERVER
    assert request.process != job_span.process  # two processes, one trace
    assert request in _ancestors(job_span, spans)  # the job continues the request that queued it

    (llm,) = [s for s in chat if s.trace_id == trace_id]
    assert llm.kind == CLIENT and job_span in _ancestors(llm, spans)
    assert llm.attributes["gen_ai.usage.input_tokens"] > 0
    assert llm.attributes["membank.outcome"] == "ok"
    below_job = {s.name for s in spans if job_span in _ancestors(s, spans)}
    assert "embedding batch" in below_job, below_job
    assert any(name.startswith("store.") for name in below_job), below_job

    # The provider was told which trace called it.
    (sent,) = stub.chat_requests()
    assert sent["traceparent"] is not None and sent["traceparent"].split("-")[1] == trace_id

    # The worker's own /metrics: the LLM call counted and priced (prompt 2 $/M, completion 8 $/M).
    prompt, completion = (
        llm.attributes["gen_ai.usage.input_tokens"],
        llm.attributes["gen_ai.usage.output_tokens"],
    )
    scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    assert (
        _sample(
            scraped, 'membank_llm_requests_total{model="stub-model",outcome="ok",purpose="extracted_facts"}'
        )
        == 1
    )
    cost = _sample(scraped, 'membank_llm_cost_total{model="stub-model",purpose="extracted_facts"}')
    assert cost == pytest.approx((prompt * 2.0 + completion * 8.0) / 1e6)

    worker.stop()
    server.stop()
    # The worker's last spans were flushed at shutdown, and the server's log lines carry the trace id.
    assert f'"trace_id": "{trace_id}"' in server.output()
