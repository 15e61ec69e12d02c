"""The filter tree: what a search filter is once parsed, and what every index backend compiles.

Storage owns it because the indexes are what must implement it; the request language that builds it (JSON
parsing, validation, the OpenAPI grammar) is the search feature's (`membank.search.filters`).

Semantics, identical on every backend (proven by tests/contract/test_vector_index.py):

- ``eq``: the field equals the value; on an array field, some element equals it.
- ``ne``: NOT eq (true when the field is missing).
- ``in``: eq for some value of the list; ``nin``: NOT in (true when missing).
- ``gt gte lt lte``: numeric (or, on time fields, datetime) comparison; false when missing.
- ``contains``: the string value, or some string element of an array, contains the text (case-sensitive).
- Values compare as JSON: ``true`` does not equal ``1``, ranges never match booleans, ``2`` equals ``2.0``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ARRAY_FIELDS",
    "INTEGER_FIELDS",
    "KEYWORD_FIELDS",
    "METADATA_PREFIX",
    "OPS",
    "TIME_FIELDS",
    "And",
    "Condition",
    "FilterNode",
    "Not",
    "Or",
    "all_of",
    "matches",
]

OPS: tuple[str, ...] = ("eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "contains")
KEYWORD_FIELDS = frozenset({"user_id", "agent_id", "session_id", "memory_type"})
ARRAY_FIELDS = frozenset({"tags", "entities"})
INTEGER_FIELDS = frozenset({"importance"})
TIME_FIELDS = frozenset({"created_at", "updated_at", "valid_from", "valid_to"})
METADATA_PREFIX = "metadata."


@dataclass(frozen=True, slots=True)
class Condition:
    """One comparison. Time values are epoch seconds; `in`/`nin` values are tuples."""

    field: str
    op: str
    value: Any


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[FilterNode, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[FilterNode, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: FilterNode


FilterNode = Condition | And | Or | Not


def all_of(*nodes: FilterNode | None) -> FilterNode | None:
    """AND of the given nodes, skipping None; None when nothing is left."""
    present = tuple(node for node in nodes if node is not None)
    if not present:
        return None
    return present[0] if len(present) == 1 else And(present)


def matches(node: FilterNode, fields: Mapping[str, Any]) -> bool:
    """Whether a document's `fields` satisfy `node`, with the semantics above, evaluated in Python: for a
    search that runs without an index (the keyword fallback over the system of record). `fields` holds the
    top-level fields by name (a missing or None field is absent) and the whole `metadata` tree."""
    if isinstance(node, And):
        return all(matches(item, fields) for item in node.items)
    if isinstance(node, Or):
        return any(matches(item, fields) for item in node.items)
    if isinstance(node, Not):
        return not matches(node.item, fields)
    values = _values_at(fields, node.field)
    op, wanted = node.op, node.value
    if op == "eq":
        return _any_equal(values, wanted)
    if op == "ne":
        return not _any_equal(values, wanted)
    if op == "in":
        return any(_any_equal(values, option) for option in wanted)
    if op == "nin":
        return not any(_any_equal(values, option) for option in wanted)
    if op in _RANGES:
        compare = _RANGES[op]
        return any(_is_number(value) and compare(float(value), float(wanted)) for value in values)
    if op == "contains":
        return any(isinstance(value, str) and str(wanted) in value for value in values)
    raise ValueError(f"unknown filter operator {op!r}")


_RANGES: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda value, bound: value > bound,
    "gte": lambda value, bound: value >= bound,
    "lt": lambda value, bound: value < bound,
    "lte": lambda value, bound: value <= bound,
}


def _values_at(fields: Mapping[str, Any], name: str) -> list[Any]:
    """The leaf values at a field path; arrays give their elements (a condition holds for some element)."""
    if name.startswith(METADATA_PREFIX):
        found: list[Any] = [fields.get("metadata")]
        for key in name[len(METADATA_PREFIX) :].split("."):
            found = [
                item[key]
                for value in found
                for item in _flat(value)
                if isinstance(item, dict) and key in item
            ]
    else:
        found = [fields.get(name)]
    return [leaf for value in found for leaf in _flat(value) if leaf is not None]


def _flat(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _any_equal(values: list[Any], wanted: Any) -> bool:
    # JSON equality: a boolean equals only a boolean, numbers compare as numbers (2 == 2.0), strings exactly.
    if isinstance(wanted, bool):
        return any(isinstance(value, bool) and value is wanted for value in values)
    if _is_number(wanted):
        return any(_is_number(value) and float(value) == float(wanted) for value in values)
    return any(isinstance(value, str) and value == wanted for value in values)
