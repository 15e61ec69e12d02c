"""Tracing through a served app, its spans received by a real OTLP/HTTP endpoint: the span tree of a search
(request -> cache, embedder, embedding batch, index, store), a caller's `traceparent` continued, the trace id
in the answer headers, in error envelopes and in log lines, and nothing recorded with tracing off."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from membank.config import Settings
from membank.observability.tracing import flush_traces
from tests.api.conftest import Api, open_api
from tests.support.otlp import OtlpReceiver, ReceivedSpan, otlp_receiver

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
SAMPLED = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
SERVER = 2


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running:
        yield running


@pytest.fixture
def traced_api(make_settings: Callable[..., Settings], receiver: OtlpReceiver) -> Iterator[Api]:
    with open_api(make_settings(otlp_endpoint=receiver.endpoint)) as served:
        yield served


def _descendants(spans: list[ReceivedSpan], root: ReceivedSpan) -> list[ReceivedSpan]:
    children = {root.span_id}
    found: list[ReceivedSpan] = []
    grew = True
    while grew:
        grew = False
        for span in spans:
            if span.parent_id in children and span.span_id not in children:
                children.add(span.span_id)
                found.append(span)
                grew = True
    return found


def test_a_search_is_one_trace_from_the_request_to_the_index_and_the_store(
    traced_api: Api, receiver: OtlpReceiver
) -> None:
    traced_api.add("Alice's locker code is 7731")
    found = traced_api.search("locker code")
    assert found.status_code == 200, found.text
    assert flush_traces()

    (server,) = receiver.wait_for("POST /api/v1/memories/search")
    assert server.kind == SERVER
    assert server.parent_id == ""  # no caller trace: a root
    assert server.attributes["http.route"] == "/api/v1/memories/search"
    assert server.attributes["http.response.status_code"] == 200
    # Sampled (and, Trace Context Level 2, a random trace id): flags 03.
    assert found.headers["traceresponse"] == f"00-{server.trace_id}-{server.span_id}-03"

    below = _descendants(receiver.of_trace(server.trace_id), server)
    names = {span.name for span in below}
    for expected in (
        "rate_limits.hit",
        "cache.search.lookup",
        "embedder.embed",
        "embedding batch",
        "index.search",
    ):
        assert expected in names, names
    assert any(name.startswith("store.memories.") for name in names), names
    assert all(span.trace_id == server.trace_id for span in below)
    container = traced_api.client.app.state.container  # type: ignore[attr-defined]
    assert container.search._memories is not container.store.memories
    # The write before it was a trace of its own.
    (write,) = receiver.named("POST /api/v1/memories")
    assert write.trace_id != server.trace_id


def test_a_callers_traceparent_is_continued_and_named_in_errors_and_logs(
    make_settings: Callable[..., Settings], receiver: OtlpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = make_settings(otlp_endpoint=receiver.endpoint, log_json=True, log_level="INFO")
    with open_api(settings) as traced_api:
        _missing_with_caller_trace(traced_api, receiver)
        assert traced_api.client.get("/api/v1/users/u1/memories").status_code == 401
    access = [
        json.loads(line)
        for line in capsys.readouterr().err.splitlines()
        if line.startswith("{") and '"event": "request"' in line
    ]
    (missing,) = [line for line in access if line.get("trace_id") == CALLER_TRACE and line["status"] == 404]
    # The access line names who asked: the tenant and the key (by its public prefix, never the secret).
    assert missing["tenant"] and missing["principal"] == f"api_key:{traced_api.alice_key.split('_')[1]}"
    (refused,) = [line for line in access if line["status"] == 401]
    assert "tenant" not in refused and "principal" not in refused  # nothing left over from the request before


def _missing_with_caller_trace(traced_api: Api, receiver: OtlpReceiver) -> None:
    missing = traced_api.call(
        "GET", "/api/v1/memories/00000000-0000-4000-8000-000000000000", headers={"traceparent": SAMPLED}
    )
    assert missing.status_code == 404
    assert missing.json()["error"]["trace_id"] == CALLER_TRACE
    assert missing.headers["traceresponse"].startswith(f"00-{CALLER_TRACE}-")
    assert flush_traces()

    (server,) = receiver.wait_for("GET /api/v1/memories/{memory_id}")
    assert (server.trace_id, server.parent_id) == (CALLER_TRACE, CALLER_SPAN)


def test_a_malformed_traceparent_starts_a_new_trace(traced_api: Api, receiver: OtlpReceiver) -> None:
    answer = traced_api.call("GET", "/api/v1/users/u1/memories", headers={"traceparent": "00-zz-yy-01"})
    assert answer.status_code == 200
    assert flush_traces()
    (server,) = receiver.wait_for("GET /api/v1/users/{user_id}/memories")
    assert server.parent_id == "" and server.trace_id != CALLER_TRACE


def test_probes_and_scrapes_record_no_span(traced_api: Api, receiver: OtlpReceiver) -> None:
    for path in ("/health/live", "/health/ready", "/metrics"):
        assert traced_api.client.get(path).status_code == 200
    traced_api.call("GET", "/api/v1/users/u1/memories")
    assert flush_traces()
    receiver.wait_for("GET /api/v1/users/{user_id}/memories")
    assert not [span for span in receiver.spans if "health" in span.name or "metrics" in span.name]


def test_with_tracing_off_errors_still_carry_the_trace_id_and_nothing_is_sent(
    make_settings: Callable[..., Settings], receiver: OtlpReceiver
) -> None:
    with open_api(make_settings()) as api:
        container = api.client.app.state.container  # type: ignore[attr-defined]
        assert container.search._memories is container.store.memories  # no span wrapper when off
        missing = api.call(
            "GET", "/api/v1/memories/00000000-0000-4000-8000-000000000000", headers={"traceparent": SAMPLED}
        )
        assert missing.json()["error"]["trace_id"] == CALLER_TRACE
        unnamed = api.call("GET", "/api/v1/memories/00000000-0000-4000-8000-000000000000")
        assert len(unnamed.json()["error"]["trace_id"]) == 32
        assert unnamed.json()["error"]["trace_id"] != CALLER_TRACE
        api.search("anything")
        flush_traces()
    assert receiver.spans == []
