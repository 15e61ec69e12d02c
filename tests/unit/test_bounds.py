"""The bounded-JSON check, the one range of accepted times and the body check, as rules."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from membank.api.bounds import body_problem
from membank.config import Settings
from membank.errors import ValidationFailed
from membank.ingest.extraction.llm import LlmExtractor
from membank.models.bounds import INT64_MAX, INT64_MIN, JsonBounds, json_violation
from membank.models.time import EARLIEST, LATEST, from_epoch, in_time_range, to_epoch
from membank.search.filters import parse_filter
from tests.support.openai_stub import OpenAIStub, reply_json
from tests.unit.test_llm_extractor import CONVERSATION, FACTS, chat_model

DEPTH = ("max_metadata_depth", 3)
BOUNDS = JsonBounds.from_settings(Settings())


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


def test_depth_counts_objects_and_arrays_and_names_the_path() -> None:
    assert json_violation({"a": [{"b": 1}]}, depth=DEPTH) is None
    violation = json_violation({"a": [{"b": {"c": 1}}]}, depth=DEPTH)
    assert violation is not None
    assert violation.path == ("a", 0, "b") and violation.where() == "a[0].b"
    assert violation.limit == {"max_metadata_depth": 3} and "max_metadata_depth" in violation.reason


def test_a_value_nested_far_beyond_any_recursion_limit_is_walked_only_to_the_depth_limit() -> None:
    violation = json_violation(nested(100_000), depth=DEPTH)
    assert violation is not None and violation.where() == "a.a.a"


@pytest.mark.parametrize(
    "value",
    [
        INT64_MAX,
        INT64_MIN,
        0,
        -1,
        1.5,
        float(2**63 - 1024),
        -float(2**63),
        True,
        None,
        "text",
        "🧠 \U0001d518 日本",
    ],
)
def test_json_scalars_in_range_pass(value: Any) -> None:
    assert json_violation({"v": [value]}, depth=DEPTH) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (INT64_MAX + 1, "64-bit"),
        (INT64_MIN - 1, "64-bit"),
        (2**64, "64-bit"),
        (1e308, "number outside the range"),
        (-float(2**63 + 2048), "number outside the range"),
        (float("nan"), "NaN"),
        (float("inf"), "infinite"),
        ("\ud800", "surrogate"),
        ("ok \udfff", "surrogate"),
        ("tea\x00", "NUL"),
        ({1, 2}, "not a JSON value"),
        (b"bytes", "not a JSON value"),
    ],
)
def test_values_no_store_can_keep_are_named(value: Any, reason: str) -> None:
    violation = json_violation({"v": [value]}, depth=DEPTH)
    assert violation is not None and violation.where() == "v[0]" and reason in violation.reason


@pytest.mark.parametrize(("key", "reason"), [("\ud800", "surrogate"), ("k\x00", "NUL"), (7, "strings")])
def test_bad_keys_are_refused_at_their_object(key: Any, reason: str) -> None:
    violation = json_violation({"m": {key: 1}}, depth=DEPTH)
    assert violation is not None and violation.where() == "m" and reason in violation.reason


def test_keys_and_items_are_counted_over_all_levels() -> None:
    items = ("max_metadata_items", 5)
    assert json_violation({"a": [1, 2], "b": {"c": 1}}, depth=DEPTH, items=items) is None  # 2 + 2 + 1
    violation = json_violation({"a": [1, 2], "b": {"c": 1, "d": 2}}, depth=DEPTH, items=items)
    assert violation is not None and violation.limit == {"max_metadata_items": 5}


def test_every_time_in_the_range_reads_back_to_the_microsecond() -> None:
    rng = random.Random(7)
    span = int((LATEST - EARLIEST).total_seconds())
    samples = [EARLIEST, LATEST, EARLIEST + timedelta(microseconds=1), LATEST - timedelta(microseconds=1)]
    samples += [
        EARLIEST + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6))
        for _ in range(20_000)
    ]
    assert [t for t in samples if from_epoch(to_epoch(t)) != t] == []


def test_beyond_the_range_a_double_loses_microseconds() -> None:
    # Why the range ends where it does: in year 9000 an epoch double no longer holds every microsecond.
    moment = datetime(9000, 6, 1, 12, 0, 0, 123_457, tzinfo=UTC)
    assert from_epoch(to_epoch(moment)) != moment


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(1700, 1, 1), EARLIEST),
        (datetime(1700, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), EARLIEST),
        (datetime(2200, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), LATEST),
        (datetime(2026, 3, 1, 10, tzinfo=timezone(timedelta(hours=2))), datetime(2026, 3, 1, 8, tzinfo=UTC)),
        (datetime(1699, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), None),
        (datetime(2201, 1, 1, tzinfo=UTC), None),
        (datetime(1, 1, 1, tzinfo=UTC), None),
        (datetime(9999, 12, 31, 12, tzinfo=timezone(timedelta(hours=-12))), None),  # year 10000 in UTC
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1))), None),  # year 0 in UTC
    ],
)
def test_in_time_range_converts_to_utc_or_refuses(value: datetime, expected: datetime | None) -> None:
    result = in_time_range(value)
    assert result == expected
    assert result is None or result.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [1e300, -1e300, -9e9, 8e9, "9999-12-31T12:00:00-12:00", "0001-01-01T00:00:00+01:00", "1699-12-31"],
)
def test_filter_times_outside_the_range_are_refused(value: Any) -> None:
    with pytest.raises(ValidationFailed, match=r"filters\.value: must lie between 1700"):
        parse_filter({"field": "valid_from", "op": "gte", "value": value})


def test_filter_times_inside_the_range_are_epoch_seconds() -> None:
    node = parse_filter({"field": "valid_from", "op": "lt", "value": "2200-12-31T23:59:59.999999Z"})
    assert node.value == LATEST.timestamp()  # type: ignore[union-attr]


def test_metadata_depth_must_leave_room_in_a_body() -> None:
    with pytest.raises(ValidationError, match="MAX_METADATA_DEPTH"):
        Settings(max_json_depth=16, max_metadata_depth=14)
    assert Settings(max_json_depth=16, max_metadata_depth=13).max_metadata_depth == 13


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (b"[" * 5000 + b"]" * 5000, "body", "nested deeper than 32 levels (max_json_depth)"),
        (b'{"a":' + b"1" * 5000 + b"}", "body", "64-bit"),
        (b'{"a":"\xff"}', "body", "UTF-8"),
        (b'{"a":{"\\ud800":1}}', "a", "surrogate"),
        (b'{"a":[NaN]}', "a[0]", "NaN"),
        (b'{"a":[-Infinity]}', "a[0]", "infinite"),
    ],
)
def test_the_body_check_names_field_and_bound(body: bytes, field: str, reason: str) -> None:
    problem = body_problem(body, BOUNDS)
    assert problem is not None and problem.code == "VALIDATION_ERROR"
    entry = problem.details["errors"][0]
    assert entry["field"] == field and reason in entry["reason"]


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": [1, 2', b'{"fine": {"x": [1, 2.5, "t", null, true]}}'])
def test_the_body_check_leaves_fine_and_malformed_bodies_to_the_endpoint(body: bytes) -> None:
    # Malformed JSON is the endpoint parser's to report, with its position.
    assert body_problem(body, BOUNDS) is None


async def test_an_llm_date_outside_the_range_is_unknown(
    openai_stub_server: tuple[str, OpenAIStub], openai_stub: OpenAIStub
) -> None:
    dates = ["0001-01-01", "9999-12-31", "9999-12-31T12:00:00-12:00", "2024-04-01"]
    openai_stub.script = [reply_json({"facts": [{**FACTS[0], "valid_from": d} for d in dates]})]
    chat = chat_model(openai_stub_server[0])
    try:
        result = await LlmExtractor(chat, max_tokens=300).extract(CONVERSATION)
    finally:
        await chat.aclose()
    assert [f.valid_from for f in result.facts] == [None, None, None, datetime(2024, 4, 1, tzinfo=UTC)]
