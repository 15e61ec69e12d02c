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
