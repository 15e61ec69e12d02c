"""Spans leave the process redacted like log lines: an exception recorded on a span (its message and stack
trace) and a status description lose the secrets they quote before the OTLP exporter sends them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.trace import Status, StatusCode

from membank.observability.tracing import configure_tracing, flush_traces, span
from tests.support.otlp import OtlpReceiver, otlp_receiver

KEY = "mbk_0123456789ab_Zr8sQk2LvN4pW7tY"
DATABASE_URL = "postgresql://membank:Pw-never-exported-91c@db.internal:5432/membank"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running:
        yield running


def _trace_to(receiver: OtlpReceiver, *, redact_content: bool) -> None:
    configure_tracing(exporter=OTLPSpanExporter(endpoint=receiver.endpoint), redact_content=redact_content)


@pytest.fixture(autouse=True)
def tracing_off_afterwards() -> Iterator[None]:
    yield
    configure_tracing(exporter=None)


def test_an_exception_recorded_on_a_span_is_exported_without_the_secrets_it_quotes(
    receiver: OtlpReceiver,
) -> None:
    _trace_to(receiver, redact_content=False)
    with pytest.raises(ValueError), span("failing call"):
        raise ValueError(f"could not reach {DATABASE_URL} with key {KEY} for alice@example.com")
    assert flush_traces()
    (failed,) = receiver.wait_for("failing call")
    assert failed.status == 2
    (name, attributes), *_ = failed.events
    assert name == "exception" and attributes["exception.type"] == "ValueError"
    exported = repr(failed)
    assert "Pw-never-exported-91c" not in exported and KEY not in exported
    assert "postgresql://membank:***@db.internal" in attributes["exception.message"]
    assert "mbk_***" in attributes["exception.stacktrace"]
    assert "alice@example.com" in attributes["exception.message"]  # content stays without the setting


def test_with_content_redaction_a_status_description_loses_addresses_too(receiver: OtlpReceiver) -> None:
    _trace_to(receiver, redact_content=True)
    with span("described") as current:
        current.set_status(Status(StatusCode.ERROR, "refused alice@example.com, Bearer s3cr3t-t0ken-value"))
        current.set_attribute("membank.note", f"seen {KEY}")
        current.set_attribute("membank.batch_size", 3)
    assert flush_traces()
    (described,) = receiver.wait_for("described")
    assert described.status_message == "refused <email>, Bearer ***"
    assert described.attributes == {"membank.note": "seen mbk_***", "membank.batch_size": 3}
