"""Declaring operations once for both twins.

A resource (`client.memories`, `client.keys`, ...) is a class whose methods are declared with `@endpoint`:
the HTTP method, the OpenAPI path template, how to read the answer, and a function from the method's
arguments to the request's `Parts`. The same class serves `MemBank` and `AsyncMemBank`: reading the method
from a resource bound to a `SyncTransport` gives a function returning the result, from one bound to an
`AsyncTransport` a function returning an awaitable of it (the type checker knows which, from the overloads
of `Endpoint.__get__`). `OPERATIONS` is read from these declarations (`operations_of`)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload
from urllib.parse import quote

from membank.client.call import Call, Parts
from membank.client.transport import AsyncTransport, SyncTransport

__all__ = ["Endpoint", "Parts", "Resource", "endpoint", "operations_of"]

P = ParamSpec("P")
T = TypeVar("T")
TransportT = TypeVar("TransportT", SyncTransport, AsyncTransport)
_IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "DELETE"})


class Resource(Generic[TransportT]):
    """A group of operations, bound to one client's transport."""

    def __init__(self, transport: TransportT) -> None:
        self._transport: TransportT = transport


class Endpoint(Generic[P, T]):
    """One operation: `METHOD template`, its request builder and its answer's parser."""

    def __init__(
        self,
        method: str,
        template: str,
        build: Callable[Concatenate[Any, P], Parts],
        parse: Callable[[Any], T],
        *,
        creates: bool,
        read_only: bool,
        retries: bool,
        text: bool,
    ) -> None:
        self.method = method
        self.template = template
        self._build = build
        self._parse = parse
        self._creates = creates
        self._retry_safe = method in _IDEMPOTENT_METHODS or read_only or creates
        self._retries = retries
        self._text = text
        self._name = build.__name__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = name

    def call(self, resource: Resource[Any], *args: P.args, **kwargs: P.kwargs) -> Call[T]:
        parts = self._build(resource, *args, **kwargs)
        path = self.template
        if parts.path:
            path = path.format_map({name: quote(value, safe="") for name, value in parts.path.items()})
        headers = dict(parts.headers or {})
        if self._creates and "Idempotency-Key" not in headers:
            # The same key on every attempt of this call: a retried create is done once.
            headers["Idempotency-Key"] = str(uuid.uuid4())
        query = {k: v for k, v in parts.query.items() if v is not None} if parts.query else None
        return Call(
            self.method,
            path,
            query,
            parts.json,
            headers,
            self._parse,
            self._retry_safe,
            retries=self._retries,
            text=self._text,
        )

    @overload
    def __get__(self, resource: None, owner: type[Any]) -> Endpoint[P, T]: ...
    @overload
    def __get__(self, resource: Resource[SyncTransport], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(self, resource: Resource[AsyncTransport], owner: type[Any]) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, resource: Resource[Any] | None, owner: type[Any]) -> Any:
        if resource is None:
            return self
        send = resource._transport.send

        @functools.wraps(self._build)
        def bound(*args: Any, **kwargs: Any) -> Any:
            return send(self.call(resource, *args, **kwargs))

        # Kept on the instance: later reads find it there without calling __get__ again.
        resource.__dict__[self._name] = bound
        return bound


def endpoint(
    method: str,
    template: str,
    parse: Callable[[Any], T],
    *,
    creates: bool = False,
    read_only: bool = False,
    retries: bool = True,
    text: bool = False,
) -> Callable[[Callable[Concatenate[Any, P], Parts]], Endpoint[P, T]]:
    """Declare a resource method as the operation `method template`. `creates`: it honours Idempotency-Key
    (one is sent unless the caller gives `idempotency_key`); `read_only`: a POST that changes nothing (so it
    may be retried); `retries=False`: never retried (health checks should report, not wait); `text`: the
    answer is text, not an envelope."""

    def declare(build: Callable[Concatenate[Any, P], Parts]) -> Endpoint[P, T]:
        return Endpoint(
            method, template, build, parse, creates=creates, read_only=read_only, retries=retries, text=text
        )

    return declare


def operations_of(resources: Iterable[type[Any]]) -> list[tuple[str, str]]:
    """(METHOD, path template) of every operation the resource classes declare, in declaration order."""
    found: list[tuple[str, str]] = []
    for cls in resources:
        for klass in reversed(cls.__mro__):
            for value in vars(klass).values():
                if isinstance(value, Endpoint) and (value.method, value.template) not in found:
                    found.append((value.method, value.template))
    return found


def idempotency(key: str | None) -> dict[str, str] | None:
    """The Idempotency-Key header the caller chose, if any."""
    return {"Idempotency-Key": key} if key else None


def body(**fields: Any) -> dict[str, Any]:
    """A JSON body of the given fields, leaving out those that are None (the server's defaults apply)."""
    return {name: value for name, value in fields.items() if value is not None}
