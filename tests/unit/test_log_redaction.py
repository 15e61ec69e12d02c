"""Every log line is redacted: secrets by field name and by shape (nested too), from MemBank's loggers and the
standard library's; memory content and email addresses only with MEMBANK_LOG_REDACT_CONTENT."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from membank.observability.logging import configure_logging, redactor

KEY = "mbk_0123456789ab_" + "S" * 40
JWT = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"
REFRESH = "mbr_" + "r" * 43


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    configure_logging("WARNING", json=False)


def _redact(event: dict[str, object], *, content: bool = False) -> dict[str, object]:
    return dict(redactor(content=content)(None, "info", dict(event)))


def test_secrets_are_masked_by_field_name_and_by_shape_at_any_depth() -> None:
    out = _redact(
        {
            "event": "calling out",
            "Authorization": "Bearer whatever",
            "api_key": "anything",
            "new_password": "hunter2",
            "detail": f"key {KEY} then {JWT} and {REFRESH}",
            "headers": {"x-refresh-token": "plain", "accept": "json"},
            "calls": [{"url": "redis://:pa55@redis:6379/0"}, "Bearer abc.def"],
        }
    )
    text = json.dumps(out)
    for secret in ("whatever", "anything", "hunter2", KEY, JWT, REFRESH, "plain", "pa55", "abc.def"):
        assert secret not in text
    assert out["event"] == "calling out"
    assert out["headers"] == {"x-refresh-token": "***", "accept": "json"}
    assert out["detail"] == "key mbk_*** then <jwt> and mbr_***"
    assert out["calls"] == [{"url": "redis://:***@redis:6379/0"}, "Bearer ***"]


def test_content_and_emails_are_dropped_only_with_the_setting() -> None:
    event = {"event": "extracted", "content": "ann loves tea", "query": "tea?", "by": "ann@acme.example"}
    assert _redact(event) == event
    redacted = _redact(event, content=True)
    assert redacted == {"event": "extracted", "content": "<redacted>", "query": "<redacted>", "by": "<email>"}


@contextlib.contextmanager
def _bare_root() -> Iterator[None]:
    """The root logger as a process starts it: without pytest's capture handlers, which pytest adds again
    at every test phase (configure_logging leaves a root that has handlers alone, like logging.basicConfig)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.handlers = []
    try:
        yield
    finally:
        configure_logging("WARNING", json=False)  # removes its handler again
        root.handlers = handlers
        root.setLevel(level)


def test_stdlib_and_structlog_lines_both_pass_the_redactor(capsys: pytest.CaptureFixture[str]) -> None:
    with _bare_root():
        configure_logging("INFO", json=True, redact_content=True)
        logging.getLogger("httpx").info("HTTP Request: POST with Bearer %s for ann@acme.example", KEY)
        structlog.get_logger("membank.test").info("stored", content="ann loves tea", token=JWT)
        captured = capsys.readouterr().err
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    assert len(lines) == 2
    text = json.dumps(lines)
    for leaked in (KEY, JWT, "ann loves tea", "ann@acme.example"):
        assert leaked not in text
    assert lines[0]["logger"] == "httpx" and lines[0]["level"] == "info"
    assert lines[1]["content"] == "<redacted>" and lines[1]["token"] == "***"


def test_a_root_that_has_handlers_is_left_alone() -> None:
    root = logging.getLogger()
    foreign = root.handlers[:]
    assert foreign  # pytest's capture
    configure_logging("DEBUG", json=True)
    assert root.handlers == foreign


def test_levels_differ_per_module_for_both_kinds_of_logger(capsys: pytest.CaptureFixture[str]) -> None:
    with _bare_root():
        configure_logging(
            "WARNING", json=True, module_levels={"membank.search": "DEBUG", "sqlalchemy.engine": "INFO"}
        )
        structlog.get_logger("membank.search.service").debug("search_planned")
        structlog.get_logger("membank.searching").debug("not_under_membank_search")
        structlog.get_logger("membank.api").info("dropped_at_warning")
        structlog.get_logger("membank.api").warning("kept_at_warning")
        logging.getLogger("sqlalchemy.engine.Engine").info("SELECT 1")
        logging.getLogger("sqlalchemy.pool").info("dropped, outside sqlalchemy.engine")
        configure_logging("WARNING", json=True)  # a reconfiguration forgets the module levels
        structlog.get_logger("membank.search.service").debug("dropped_after_reconfiguration")
        logging.getLogger("sqlalchemy.engine.Engine").info("dropped after reconfiguration")
        captured = capsys.readouterr().err
    events = [json.loads(line)["event"] for line in captured.splitlines() if line.startswith("{")]
    assert events == ["search_planned", "kept_at_warning", "SELECT 1"]


def test_module_levels_are_read_as_json_and_a_bad_one_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from membank.cli.main import cli
    from membank.config import Settings

    monkeypatch.setenv("MEMBANK_LOG_LEVELS", '{"membank.search": "DEBUG", "sqlalchemy.engine": "INFO"}')
    assert Settings().log_levels == {"membank.search": "DEBUG", "sqlalchemy.engine": "INFO"}
    monkeypatch.delenv("MEMBANK_LOG_LEVELS")
    for bad in ('{"membank.search": "LOUD"}', '{"membank search": "INFO"}', "membank.search=DEBUG"):
        result = CliRunner().invoke(cli, ["migrate"], env={"MEMBANK_LOG_LEVELS": bad})
        assert result.exit_code == 1, bad
        assert "MEMBANK_LOG_LEVELS" in result.output, result.output
