"""The one check of every request body before it is parsed for an endpoint: bounded, valid JSON or a 400.

FastAPI parses a body with Python's `json`, which accepts what no store can keep (lone surrogates, NUL
characters, integers of any size, NaN) and, nested deep enough, fails with a RecursionError. This middleware
parses the body first, walks it once (models/bounds.py: nesting, 64-bit integers, finite numbers, valid Unicode
without NUL in every string and key) and answers 400 VALIDATION_ERROR naming the field and the bound; a body that
passes is handed on unchanged. It also puts the app's bounds in force for the request, for the per-field bounds
of the schemas (metadata, filters).
"""

from __future__ import annotations

import asyncio
import json
from email.message import Message as MimeMessage
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from membank.api.envelope import fail
from membank.api.errors import bound_error
from membank.errors import MemBankError
from membank.models.bounds import (
    INT64_MAX,
    INT64_MIN,
    INT64_REASON,
    JsonBounds,
    json_violation,
    reset_bounds,
    use_bounds,
)

# Parsing a body this large blocks for milliseconds: do it off the event loop.
_PARSE_IN_THREAD_BYTES = 256 * 1024


class JsonBoundsMiddleware:
    """Refuses request bodies that are not bounded JSON (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, bounds: JsonBounds) -> None:
        self.app = app
        self.bounds = bounds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = use_bounds(self.bounds)
        try:
            if not _is_json(scope):
                await self.app(scope, receive, send)
                return
            body, finished = await _read_body(receive)
            if not finished:
                return  # the client went away (or the size limit answered 413): nothing to do
            problem = await self._problem(body)
            if problem is not None:
                response = fail(problem.status, problem.code, problem.message, problem.details)
                await response(scope, receive, send)
                return
            await self.app(scope, _replay(body, receive), send)
        finally:
            reset_bounds(token)

    async def _problem(self, body: bytes) -> MemBankError | None:
        if not body:
            return None
        if len(body) > _PARSE_IN_THREAD_BYTES:
            return await asyncio.to_thread(body_problem, body, self.bounds)
        return body_problem(body, self.bounds)


def body_problem(body: bytes, bounds: JsonBounds) -> MemBankError | None:
    """Why a JSON request body is refused, or None (also None for malformed JSON: the endpoint's parser reports
    that with its position)."""
    try:
        value = json.loads(body)
    except json.JSONDecodeError:
        return None
    except RecursionError:
        return bound_error(
            "body",
            f"nested deeper than {bounds.json_depth} levels (max_json_depth)",
            {"max_json_depth": bounds.json_depth},
        )
    except UnicodeDecodeError:
        return bound_error("body", "not valid UTF-8", {})
    except ValueError:  # an integer literal of thousands of digits
        return bound_error("body", INT64_REASON, {"min": INT64_MIN, "max": INT64_MAX})
    violation = json_violation(value, depth=("max_json_depth", bounds.json_depth))
    if violation is None:
        return None
    return bound_error(violation.where() or "body", violation.reason, violation.limit)


def _is_json(scope: Scope) -> bool:
    # The same rule FastAPI uses to decide that it parses a body as JSON.
    content_type = next((v for k, v in scope["headers"] if k == b"content-type"), None)
    if content_type is None:
        return scope.get("method") not in ("GET", "HEAD", "OPTIONS")
    mime = MimeMessage()
    mime["content-type"] = content_type.decode("latin-1")
    subtype = mime.get_content_subtype()
    return mime.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replay(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if delivered:
            return await receive()  # after the body: wait for the disconnect, as the app expects
        delivered = True
        message: dict[str, Any] = {"type": "http.request", "body": body, "more_body": False}
        return message

    return replay
