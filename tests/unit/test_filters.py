"""Parsing and validation of the filter language."""

from __future__ import annotations

import pytest

from membank.errors import ValidationFailed
from membank.search.filters import parse_filter
from membank.storage.filters import And, Condition, Not, Or, all_of


def test_parses_nested_logic_and_normalises_values() -> None:
    tree = parse_filter(
        {
            "AND": [
                {"field": "metadata.project", "op": "eq", "value": "apollo"},
                {
                    "OR": [
                        {"field": "tags", "op": "in", "value": ["a", "b"]},
                        {"NOT": {"field": "created_at", "op": "gte", "value": "2024-01-01T00:00:00Z"}},
                    ]
                },
            ]
        }
    )
    assert tree == And(
        (
            Condition("metadata.project", "eq", "apollo"),
            Or((Condition("tags", "in", ("a", "b")), Not(Condition("created_at", "gte", 1704067200.0)))),
        )
    )


def test_naive_datetimes_are_utc() -> None:
    assert parse_filter({"field": "valid_from", "op": "lt", "value": "2024-01-01T00:00:00"}) == Condition(
        "valid_from", "lt", 1704067200.0
    )


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        ([], "filters", "must be an object"),
        ({"AND": [], "OR": []}, "filters", "exactly one key"),
        ({"field": "nope", "op": "eq", "value": 1}, "filters.field", "unknown field"),
        ({"field": "metadata.a b", "op": "eq", "value": 1}, "filters.field", "unknown field"),
        ({"field": "importance", "op": "between", "value": 1}, "filters.op", "unknown operator"),
        ({"field": "importance", "op": "eq"}, "filters.value", "required"),
        ({"field": "importance", "op": "gt", "value": True}, "filters.value", "number"),
        ({"field": "user_id", "op": "gt", "value": 1}, "filters.value", "numeric or time field"),
        ({"field": "importance", "op": "contains", "value": "1"}, "filters.value", "text or array"),
        ({"field": "tags", "op": "contains", "value": ""}, "filters.value", "non-empty string"),
        ({"field": "tags", "op": "in", "value": []}, "filters.value", "list of 1 to"),
        (
            {"field": "metadata.x", "op": "eq", "value": {"a": 1}},
            "filters.value",
            "string, number or boolean",
        ),
        ({"field": "metadata.x", "op": "eq", "value": 1, "extra": 2}, "filters", "unknown keys"),
    ],
)
def test_errors_name_the_place_and_reason(raw: object, field: str, reason: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_filter(raw)
    error = info.value.details["errors"][0]
    assert error["field"] == field and reason in error["reason"]


def test_depth_and_size_are_bounded() -> None:
    deep: dict = {"field": "importance", "op": "eq", "value": 1}
    for _ in range(8):
        deep = {"NOT": deep}
    with pytest.raises(ValidationFailed, match="nesting"):
        parse_filter(deep)
    wide = {"OR": [{"field": "importance", "op": "eq", "value": i} for i in range(65)]}
    with pytest.raises(ValidationFailed, match="more than 64"):
        parse_filter(wide)


def test_all_of_skips_missing_nodes() -> None:
    one = Condition("importance", "eq", 1)
    assert all_of(None, None) is None
    assert all_of(None, one) == one
    assert all_of(one, one) == And((one, one))
