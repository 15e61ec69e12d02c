"""One API call as data: what to send and how to read the answer; the transports send it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Parts:
    """What an operation's arguments contribute to its request (None values of `query` are left out)."""

    path: Mapping[str, str] | None = None
    query: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """A request ready to send: `parse` turns the envelope's `data` (or, for `text`, the body) into T.
    `retry_safe`: sending it twice does no more than once (a read, an idempotent method, an
    Idempotency-Key); `retries`: whether to retry it at all."""

    method: str
    path: str
    query: Mapping[str, Any] | None
    json: Any
    headers: Mapping[str, str]
    parse: Callable[[Any], T]
    retry_safe: bool
    retries: bool = True
    text: bool = False
