"""Bounds of every JSON value the service stores or compares, and the one check that enforces them.

A value the API accepts must be storable by every backend and readable again: SQLite keeps it as JSON (orjson:
integers of at most 64 bits, no lone surrogates), Qdrant Edge keeps it in its payload and WAL (which fail near
127 levels of nesting) and compares it in filters. So every value is a JSON tree of bounded depth and size, its
integers fit a signed 64-bit integer, its floats are finite and its strings (keys too) are valid Unicode without
NUL characters (PostgreSQL's text cannot hold U+0000; refused on SQLite too, so data moves between stores).

The limits come from the settings (``max_*``, see config.py). The API uses the limits of its own settings for
the duration of each request (`use_bounds`); elsewhere (a worker process) they are those of the environment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from contextvars import ContextVar, Token
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from membank.config import Settings, get_settings

# Pagination: the deepest page of any list (an OFFSET far past any real row count, well inside 64 bits).
MAX_PAGE_OFFSET = 10_000_000
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT64_REASON = f"integer outside the signed 64-bit range {INT64_MIN} .. {INT64_MAX}"
# Every number of a stored JSON value lies in the same range, so one bound says it (and the OpenAPI document).
NUMBER_REASON = f"number outside the range {INT64_MIN} .. {INT64_MAX}"
JSON_VALUE_REF = "#/components/schemas/JsonValue_{level}"


def json_value_schemas(depth: int) -> dict[str, dict[str, Any]]:
    """The values of a stored JSON object (metadata, a source_ref) for the OpenAPI document, one named schema
    per level below the object itself (``JsonValue_2`` .. ``JsonValue_<depth+1>``): every number in the 64-bit
    range, containers at most `depth` levels deep counting the object (a level deeper holds scalars only).
    Item count and encoded size are bounded too, and checked on arrival (400 naming the bound). Unrolled,
    not recursive, so the document states the depth bound exactly."""
    scalars: list[dict[str, Any]] = [
        {"type": "string"},
        {"type": "number", "minimum": INT64_MIN, "maximum": INT64_MAX},
        {"type": "boolean"},
        {"type": "null"},
    ]
    schemas: dict[str, dict[str, Any]] = {}
    for level in range(2, depth + 2):
        below = {"$ref": JSON_VALUE_REF.format(level=level + 1)}
        containers = (
            [{"type": "array", "items": below}, {"type": "object", "additionalProperties": below}]
            if level <= depth
            else []
        )
        schemas[f"JsonValue_{level}"] = {
            "description": f"A JSON value at nesting level {level} of a stored object",
            "anyOf": [*scalars, *containers],
        }
    return schemas


_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN_PATH_PARTS = 4


@dataclass(frozen=True, slots=True)
class JsonBounds:
    """The limits of the settings of the same names (`max_<name>`)."""

    json_depth: int
    metadata_depth: int
    metadata_bytes: int
    metadata_items: int
    filter_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> JsonBounds:
        return cls(
            json_depth=settings.max_json_depth,
            metadata_depth=settings.max_metadata_depth,
            metadata_bytes=settings.max_metadata_bytes,
            metadata_items=settings.max_metadata_items,
            filter_bytes=settings.max_filter_bytes,
        )


_active: ContextVar[JsonBounds | None] = ContextVar("membank_json_bounds", default=None)


@lru_cache(maxsize=1)
def _from_environment() -> JsonBounds:
    return JsonBounds.from_settings(get_settings())


def active_bounds() -> JsonBounds:
    """The bounds in force here: those of the running app's settings, else the environment's."""
    return _active.get() or _from_environment()


def use_bounds(bounds: JsonBounds) -> Token[JsonBounds | None]:
    """Put `bounds` in force in this context (and in tasks created from it); reset with the token."""
    return _active.set(bounds)


def reset_bounds(token: Token[JsonBounds | None]) -> None:
    _active.reset(token)


@dataclass(frozen=True, slots=True)
class Violation:
    """Where (a path into the value) and how a JSON value breaks a bound; `limit` names the bound."""

    path: tuple[str | int, ...]
    reason: str
    limit: dict[str, Any]

    def where(self) -> str:
        """The path as a field name (`memories[0].metadata`), its first few parts only; "" at the root."""
        out = ""
        for part in self.path[:_SHOWN_PATH_PARTS]:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
        return out


def json_violation(
    value: Any, *, depth: tuple[str, int], items: tuple[str, int] | None = None
) -> Violation | None:
    """The first way `value` is not a bounded JSON value, or None.

    `depth` and `items` are (setting name, limit) of the nesting depth (an object or array is one level) and of
    the number of keys and items over all levels. The walk stops at the depth limit, so however deep the value,
    it recurses no deeper than that limit (at most 100 by the settings).
    """
    return _Walk(depth, items).value(value, 1)


class _Walk:
    __slots__ = ("counted", "depth", "items")

    def __init__(self, depth: tuple[str, int], items: tuple[str, int] | None) -> None:
        self.depth = depth
        self.items = items
        self.counted = 0

    def value(self, node: Any, level: int) -> Violation | None:
        if isinstance(node, dict | list):
            return self._container(node, level)
        problem = _scalar_problem(node)
        return None if problem is None else Violation((), *problem)

    def _container(self, node: dict[Any, Any] | list[Any], level: int) -> Violation | None:
        name, max_depth = self.depth
        if level > max_depth:
            return Violation((), f"nested deeper than {max_depth} levels ({name})", {name: max_depth})
        self.counted += len(node)
        if self.items is not None and self.counted > self.items[1]:
            name, most = self.items
            return Violation((), f"more than {most} keys and items in all ({name})", {name: most})
        pairs: Iterable[tuple[Any, Any]] = enumerate(node)
        if isinstance(node, dict):
            bad_key = _bad_key(node)
            if bad_key is not None:
                return Violation((), bad_key, {})
            pairs = node.items()
        for key, child in pairs:
            found = self.value(child, level + 1)
            if found is not None:
                return Violation((key, *found.path), found.reason, found.limit)
        return None


def _bad_key(node: dict[Any, Any]) -> str | None:
    for key in node:
        if not isinstance(key, str):
            return "object keys must be strings"
        problem = _text_problem(key)
        if problem is not None:
            return f"a key {problem}"
    return None


def _text_problem(text: str) -> str | None:
    # PostgreSQL's text type cannot hold U+0000: refused on every store, so data moves between them.
    if "\x00" in text:
        return "contains a NUL character (U+0000), which text cannot hold"
    if not text.isascii() and _SURROGATE.search(text):
        return "contains a lone surrogate (not valid Unicode)"
    return None


def _scalar_problem(node: Any) -> tuple[str, dict[str, Any]] | None:
    if node is None or isinstance(node, bool):
        return None
    if isinstance(node, int):
        if INT64_MIN <= node <= INT64_MAX:
            return None
        return INT64_REASON, {"min": INT64_MIN, "max": INT64_MAX}
    if isinstance(node, float):
        if not math.isfinite(node):
            return "NaN and infinite numbers are not JSON", {}
        if INT64_MIN <= node <= INT64_MAX:
            return None
        return NUMBER_REASON, {"min": INT64_MIN, "max": INT64_MAX}
    if isinstance(node, str):
        problem = _text_problem(node)
        return None if problem is None else (problem, {})
    return f"not a JSON value ({type(node).__name__})", {}
