"""Structured logging: JSON lines (or a console rendering on a terminal) with request ids, every line redacted.

One pipeline for MemBank's own loggers and the standard library's (uvicorn, httpx, SQLAlchemy...): both end in
`redact`, which masks secrets wherever they are (a field named like one, or a value shaped like one: API keys,
refresh tokens, JWTs, bearer credentials, passwords in URLs), in nested values too. With
`MEMBANK_LOG_REDACT_CONTENT` it also drops memory content (fields that carry it: content, query, messages...)
and masks email addresses in every string.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import structlog

from membank.config import Settings
from membank.observability.tracing import add_trace_ids

_SECRET_FIELD = re.compile(
    r"(api[_-]?key|authorization|password|passphrase|secret|token|cookie|credential)", re.IGNORECASE
)
# (pattern, replacement) for values shaped like a secret, whatever field carries them.
_SECRET_VALUES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"mbk_[0-9a-f]{12}_[A-Za-z0-9\-]+"), "mbk_***"),
    (re.compile(r"mbr_[A-Za-z0-9_\-]{8,}"), "mbr_***"),
    (re.compile(r"eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*"), "<jwt>"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=\-]+"), r"\1 ***"),
    (re.compile(r"(\w+://[^:/@\s]*:)[^@\s]+@"), r"\1***@"),
)
# Fields whose values are memory content or what users wrote (dropped with MEMBANK_LOG_REDACT_CONTENT).
_CONTENT_FIELDS = frozenset(
    {"content", "query", "text", "turn", "messages", "memory", "memories", "answer", "context", "prompt"}
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# Fields structlog and the stdlib bridge own: never redacted by name.
_OWN_FIELDS = frozenset({"event", "level", "timestamp", "logger", "request_id", "trace_id", "span_id"})

EventDict = MutableMapping[str, Any]
# The root handler configure_logging installed (at most one).
_INSTALLED: list[logging.Handler] = []


def _clean_text(text: str, *, content: bool) -> str:
    for pattern, replacement in _SECRET_VALUES:
        text = pattern.sub(replacement, text)
    return _EMAIL.sub("<email>", text) if content else text


def _clean(value: object, *, content: bool) -> object:
    if isinstance(value, str):
        return _clean_text(value, content=content)
    if isinstance(value, Mapping):
        return {key: _clean_field(str(key), item, content=content) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_clean(item, content=content) for item in value]
    return value


def _clean_field(key: str, value: object, *, content: bool) -> object:
    if key not in _OWN_FIELDS and _SECRET_FIELD.search(key):
        return "***"
    if content and key.lower() in _CONTENT_FIELDS:
        return "<redacted>"
    return _clean(value, content=content)


def redactor(*, content: bool) -> Callable[[Any, str, EventDict], EventDict]:
    """The processor that masks secrets in every field of a log event (and content, when `content`)."""

    def redact(_: Any, __: str, event: EventDict) -> EventDict:
        for key, value in list(event.items()):
            event[key] = _clean_field(key, value, content=content)
        return event

    return redact


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to `sys.stderr` as it is at each line (a CLI runner in tests swaps it for its own stream)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging_from(settings: Settings) -> None:
    """`configure_logging` with MEMBANK_LOG_LEVEL, MEMBANK_LOG_JSON and MEMBANK_LOG_REDACT_CONTENT."""
    configure_logging(settings.log_level, json=settings.log_json, redact_content=settings.log_redact_content)


def configure_logging(level: str = "INFO", *, json: bool | None = True, redact_content: bool = False) -> None:
    """Route structlog and stdlib output through one redacting renderer on stderr. `json=None`: JSON unless
    stderr is a terminal."""
    as_json = json if json is not None else not sys.stderr.isatty()
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    )
    redact = redactor(content=redact_content)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_trace_ids,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, redact, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        # Not cached: a reconfiguration (a second app in one process, log capture in tests) must reach loggers
        # that already logged; the cost is one small bind per log call.
        cache_logger_on_first_use=False,
    )
    handler = _StderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    while _INSTALLED:
        root.removeHandler(_INSTALLED.pop())
    # Like logging.basicConfig: a root the host already gave handlers (a test harness) is left as it is.
    if not root.handlers:
        root.addHandler(handler)
        _INSTALLED.append(handler)
        root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = True
