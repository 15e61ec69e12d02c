"""Bounds of every JSON value the service stores or compares, and the one check that enforces them.

A value the API accepts must be storable by every backend and readable again: SQLite keeps it as JSON (orjson:
integers of at most 64 bits, no lone surrogates), Qdrant Edge keeps it in its payload and WAL (which fail near
127 levels of nesting) and compares it in filters. So every value is a JSON tree of bounded depth and size, its
integers fit a signed 64-bit integer, its floats are finite and its strings (keys too) are valid Unicode.

The limits come from the settings (``max_*``, see config.py). The API uses the limits of its own settings for
the duration of each request (`use_bounds`); elsewhere (a worker process) they are those of the environment.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from membank.config import Settings, get_settings

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT64_REASON = f"integer outside the signed 64-bit range {INT64_MIN} .. {INT64_MAX}"
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
    the number of keys and items over all levels. The walk is iterative and stops at the depth limit, so any
    value is checked without deep recursion.
    """
    depth_name, max_depth = depth
    counted = 0
    stack: list[tuple[Any, tuple[str | int, ...], int]] = [(value, (), 1)]
    while stack:
        node, path, level = stack.pop()
        if not isinstance(node, dict | list):
            problem = _scalar_problem(node)
            if problem is not None:
                return Violation(path, *problem)
            continue
        if level > max_depth:
            return Violation(
                path, f"nested deeper than {max_depth} levels ({depth_name})", {depth_name: max_depth}
            )
        counted += len(node)
        if items is not None and counted > items[1]:
            return Violation(
                path, f"more than {items[1]} keys and items in all ({items[0]})", {items[0]: items[1]}
            )
        bad_key = _bad_key(node) if isinstance(node, dict) else None
        if bad_key is not None:
            return Violation(path, bad_key, {})
        stack.extend((child, (*path, key), level + 1) for key, child in reversed(list(_children(node))))
    return None


def _children(node: dict[str, Any] | list[Any]) -> Iterator[tuple[str | int, Any]]:
    return iter(node.items()) if isinstance(node, dict) else enumerate(node)


def _bad_key(node: dict[Any, Any]) -> str | None:
    for key in node:
        if not isinstance(key, str):
            return "object keys must be strings"
        if _SURROGATE.search(key):
            return "a key contains a lone surrogate (not valid Unicode)"
    return None


def _scalar_problem(node: Any) -> tuple[str, dict[str, Any]] | None:
    if node is None or isinstance(node, bool):
        return None
    if isinstance(node, int):
        if INT64_MIN <= node <= INT64_MAX:
            return None
        return INT64_REASON, {"min": INT64_MIN, "max": INT64_MAX}
    if isinstance(node, float):
        return None if math.isfinite(node) else ("NaN and infinite numbers are not JSON", {})
    if isinstance(node, str):
        return ("contains a lone surrogate (not valid Unicode)", {}) if _SURROGATE.search(node) else None
    return f"not a JSON value ({type(node).__name__})", {}
