"""Distributed tracing with OpenTelemetry: spans for requests, jobs, store/index/cache calls, embedding batches
and LLM calls; W3C `traceparent` in (requests) and out (providers, jobs).

Off unless `MEMBANK_OTLP_ENDPOINT` is set. Off, every request still gets a trace id (the caller's when it sent
a `traceparent`) for the log lines and error answers, but no span is recorded or exported, and the port
wrappers of `traced` are not installed. On, spans are sampled by `MEMBANK_TRACE_SAMPLE_RATIO` at the root and
follow the caller's decision below it, and are exported over OTLP/HTTP in batches from a background thread.

The process-wide tracer provider is installed once (OpenTelemetry allows one); what it samples and where its
spans go are swapped by each `configure_tracing`, so an app built again in one process (tests, the CLI) gets
its own settings.
"""

from __future__ import annotations

import functools
import inspect
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, Status
from opentelemetry.util.types import Attributes

from membank import __version__
from membank.config import Settings
from membank.observability.redaction import clean_text

T = TypeVar("T")

TRACER_NAME = "membank"
_tracer = trace.get_tracer(TRACER_NAME, __version__)


class _SwitchedSampler(Sampler):
    """The sampler of the moment: ParentBased(ALWAYS_OFF) while tracing is off, so a caller's sampled trace is
    still passed on as sampled; ParentBased(ratio) while on."""

    def __init__(self) -> None:
        self.current: Sampler = ParentBased(ALWAYS_OFF)

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        return self.current.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return self.current.get_description()


class _SwitchedProcessor(SpanProcessor):
    """The span processor of the moment (None: spans are dropped as they end)."""

    def __init__(self) -> None:
        self.current: SpanProcessor | None = None

    def on_start(self, span: Any, parent_context: Context | None = None) -> None:
        if self.current is not None:
            self.current.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if self.current is not None:
            self.current.on_end(span)

    def shutdown(self) -> None:
        if self.current is not None:
            self.current.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.current.force_flush(timeout_millis) if self.current is not None else True


_SAMPLER = _SwitchedSampler()
_PROCESSOR = _SwitchedProcessor()
_INSTALLED: list[TracerProvider] = []


def _install_provider() -> None:
    if _INSTALLED:
        return
    provider = TracerProvider(
        sampler=_SAMPLER,
        resource=Resource.create(
            {
                "service.name": "membank",
                "service.version": __version__,
                "service.instance.id": f"{socket.gethostname()}:{os.getpid()}",
            }
        ),
    )
    provider.add_span_processor(_PROCESSOR)
    trace.set_tracer_provider(provider)
    _INSTALLED.append(provider)


class _RedactingExporter(SpanExporter):
    """Masks secrets (and content, by setting) in the string values of spans before they leave: exception
    events carry the error's message and stack trace, and a status its description, which can quote a URL
    with a password or a key the way an unredacted log line would."""

    def __init__(self, inner: SpanExporter, *, content: bool) -> None:
        self._inner = inner
        self._content = content

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([self._redacted(one) for one in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def _attributes(self, attributes: Attributes) -> dict[str, Any]:
        return {key: self._value(value) for key, value in (attributes or {}).items()}

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return clean_text(value, content=self._content)
        if isinstance(value, tuple | list):
            return tuple(self._value(item) for item in value)
        return value

    def _redacted(self, span: ReadableSpan) -> ReadableSpan:
        status = span.status
        if status.description:
            status = Status(status.status_code, clean_text(status.description, content=self._content))
        return ReadableSpan(
            name=span.name,
            context=span.context,
            parent=span.parent,
            resource=span.resource,
            attributes=self._attributes(span.attributes),
            events=[Event(e.name, self._attributes(e.attributes), e.timestamp) for e in span.events],
            links=span.links,
            kind=span.kind,
            status=status,
            start_time=span.start_time,
            end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )


def configure_tracing(
    *, exporter: SpanExporter | None, sample_ratio: float = 1.0, redact_content: bool = False
) -> None:
    """Export sampled spans, redacted, to `exporter` (None: tracing off). Replaces what an earlier call
    configured, flushing its spans first."""
    _install_provider()
    previous, _PROCESSOR.current = _PROCESSOR.current, None
    if previous is not None:
        previous.shutdown()
    if exporter is None:
        _SAMPLER.current = ParentBased(ALWAYS_OFF)
        return
    _SAMPLER.current = ParentBased(TraceIdRatioBased(sample_ratio))
    _PROCESSOR.current = BatchSpanProcessor(_RedactingExporter(exporter, content=redact_content))


def configure_tracing_from(settings: Settings) -> None:
    """`configure_tracing` with MEMBANK_OTLP_ENDPOINT, MEMBANK_OTLP_HEADERS and MEMBANK_TRACE_SAMPLE_RATIO."""
    if settings.otlp_endpoint is None:
        configure_tracing(exporter=None)
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    headers = settings.otlp_headers.get_secret_value() if settings.otlp_headers is not None else ""
    exporter = OTLPSpanExporter(
        endpoint=settings.otlp_endpoint,
        headers=_parse_headers(headers),
        timeout=settings.otlp_timeout_seconds,
    )
    configure_tracing(
        exporter=exporter,
        sample_ratio=settings.trace_sample_ratio,
        redact_content=settings.log_redact_content,
    )


def _parse_headers(text: str) -> dict[str, str]:
    # The OTEL_EXPORTER_OTLP_HEADERS form: key=value pairs separated by commas.
    pairs = (item.split("=", 1) for item in text.split(",") if "=" in item)
    return {key.strip(): value.strip() for key, value in pairs}


def tracing_enabled() -> bool:
    return _PROCESSOR.current is not None


def flush_traces(timeout_seconds: float = 5.0) -> bool:
    """Export the spans that have ended so far (at shutdown, before a process exits)."""
    return _PROCESSOR.force_flush(int(timeout_seconds * 1000))


# -- context ------------------------------------------------------------------------------------------------


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, None outside any."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def current_trace_id() -> str | None:
    ids = current_ids()
    return ids[0] if ids is not None else None


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span (None outside any), to carry into another process."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def context_of(traceparent: str | None) -> Context:
    """The context a `traceparent` names (an empty one when None or malformed: a new trace)."""
    return propagate.extract({"traceparent": traceparent} if traceparent else {})


def add_trace_ids(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: the current trace and span ids on every line logged inside a span."""
    ids = current_ids()
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event


# -- spans --------------------------------------------------------------------------------------------------


@contextmanager
def span(
    name: str,
    *,
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Context | None = None,
    attributes: Attributes = None,
) -> Iterator[trace.Span]:
    """A span around a block, current inside it; an exception ends it with an error status."""
    with _tracer.start_as_current_span(name, context=parent, kind=kind, attributes=attributes) as current:
        yield current


def traced(target: T, component: str) -> T:
    """`target` with a span around each public method call (`<component>.<method>`) made inside a trace, when
    tracing is on; `target` itself when it is off (no cost). For ports wired by bootstrap: stores, indexes,
    caches, the embedder."""
    if target is None or not tracing_enabled():
        return target
    return _TracedPort(target, component)  # type: ignore[return-value]


class _TracedPort:
    """Forwards every attribute to the wrapped object; its public methods run inside a span."""

    def __init__(self, target: Any, component: str) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_component", component)

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name.startswith("_") or not callable(value) or inspect.isclass(value):
            return value
        wrapped = _wrap_call(value, f"{self._component}.{name}", self._component)
        object.__setattr__(self, name, wrapped)  # bound methods are stable: wrap each once
        return wrapped

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._target, name, value)

    def __repr__(self) -> str:
        return f"traced({self._target!r})"


def _wrap_call(method: Callable[..., Any], name: str, component: str) -> Callable[..., Any]:
    attributes = {"membank.component": component}
    # Only inside a request's or a job's trace: background loops (outbox polling, probes) would otherwise
    # start a trace of their own every few seconds.
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            if not trace.get_current_span().get_span_context().is_valid:
                return await method(*args, **kwargs)
            with _tracer.start_as_current_span(name, attributes=attributes):
                return await method(*args, **kwargs)

        return run_async

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not trace.get_current_span().get_span_context().is_valid:
            return method(*args, **kwargs)
        with _tracer.start_as_current_span(name, attributes=attributes):
            return method(*args, **kwargs)

    return run
