"""Structured logging: JSON lines (or a console rendering on a terminal) with request ids, every line redacted.

One pipeline for MemBank's own loggers and the standard library's (uvicorn, httpx, SQLAlchemy...): both end in
`redact`, which masks secrets wherever they are (a field named like one, or a value shaped like one: API keys,
refresh tokens, JWTs, bearer credentials, passwords in URLs), in nested values too. With
`MEMBANK_LOG_REDACT_CONTENT` it also drops memory content (fields that carry it: content, query, messages...)
and masks email addresses in every string.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import structlog

from membank.config import Settings
from membank.observability.redaction import clean_field
from membank.observability.tracing import add_trace_ids

EventDict = MutableMapping[str, Any]
# The root handler configure_logging installed (at most one).
_INSTALLED: list[logging.Handler] = []
# The standard-library loggers configure_logging gave a level of their own (reset by the next call).
_LEVELLED: list[str] = []
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
}


def redactor(*, content: bool) -> Callable[[Any, str, EventDict], EventDict]:
    """The processor that masks secrets in every field of a log event (and content, when `content`)."""

    def redact(_: Any, __: str, event: EventDict) -> EventDict:
        for key, value in list(event.items()):
            event[key] = clean_field(key, value, content=content)
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


class _NamedPrintLogger(structlog.PrintLogger):
    """A PrintLogger that knows the name it was asked for (`structlog.get_logger(__name__)`), so that levels
    can differ per module."""

    def __init__(self, name: str, file: Any) -> None:
        super().__init__(file=file)
        self.name = name


def _named_loggers(file: Any) -> Callable[..., _NamedPrintLogger]:
    def named(*args: Any) -> _NamedPrintLogger:
        return _NamedPrintLogger(str(args[0]) if args else "", file)

    return named


def module_level(levels: Mapping[str, int], default: int) -> Callable[[str], int]:
    """The level of a logger name: that of its longest configured prefix (`membank.search` covers
    `membank.search.service`), else `default`."""
    ordered = sorted(levels.items(), key=lambda item: -len(item[0]))

    @functools.lru_cache(maxsize=1024)
    def level_of(name: str) -> int:
        for prefix, level in ordered:
            if name == prefix or name.startswith(prefix + "."):
                return level
        return default

    return level_of


def _filter_by_module(level_of: Callable[[str], int]) -> Callable[[Any, str, EventDict], EventDict]:
    def drop_below_level(logger: Any, method: str, event: EventDict) -> EventDict:
        if _LEVELS.get(method, logging.INFO) < level_of(getattr(logger, "name", "")):
            raise structlog.DropEvent
        return event

    return drop_below_level


def configure_logging_from(settings: Settings) -> None:
    """`configure_logging` with MEMBANK_LOG_LEVEL, MEMBANK_LOG_LEVELS, MEMBANK_LOG_JSON and
    MEMBANK_LOG_REDACT_CONTENT."""
    configure_logging(
        settings.log_level,
        json=settings.log_json,
        redact_content=settings.log_redact_content,
        module_levels=settings.log_levels,
    )


def configure_logging(
    level: str = "INFO",
    *,
    json: bool | None = True,
    redact_content: bool = False,
    module_levels: Mapping[str, str] | None = None,
) -> None:
    """Route structlog and stdlib output through one redacting renderer on stderr. `json=None`: JSON unless
    stderr is a terminal. `module_levels`: loggers (and those under them) at another level than `level`."""
    levels = {name: getattr(logging, value) for name, value in (module_levels or {}).items()}
    default = getattr(logging, level)
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
        processors=[
            _filter_by_module(module_level(levels, default)),
            *shared,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        # The cheap filter first: nothing below the lowest level of any module is even formatted.
        wrapper_class=structlog.make_filtering_bound_logger(min([default, *levels.values()])),
        logger_factory=_named_loggers(sys.stderr),
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
    while _LEVELLED:
        logging.getLogger(_LEVELLED.pop()).setLevel(logging.NOTSET)
    for name, module_level_ in levels.items():
        logging.getLogger(name).setLevel(module_level_)
        _LEVELLED.append(name)
    # Like logging.basicConfig: a root the host already gave handlers (a test harness) is left as it is.
    if not root.handlers:
        root.addHandler(handler)
        _INSTALLED.append(handler)
        root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = True
