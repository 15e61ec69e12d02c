"""ASGI middleware: request ids, the per-route request size limits, metrics and access logs. The server span
of each request is FastAPI's own (its native OpenTelemetry support, configured in api/app.py)."""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog
from opentelemetry import trace
from opentelemetry.trace import Span
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from membank.api.envelope import error_body, fail
from membank.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS
from membank.observability.route_latency import ROUTE_LATENCY

log = structlog.get_logger("membank.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")

# The routes that take many items at once (a batch of memories, a whole conversation to process) and so
# get the bulk limit instead of the default.
BULK_ROUTES = frozenset(
    {
        ("POST", "/api/v1/memories/batch"),
        ("POST", "/api/v1/memories/process-conversation"),
    }
)


@dataclass(frozen=True, slots=True)
class BodyLimits:
    """The largest request body, in bytes, of each route: `default`, or `bulk` for BULK_ROUTES."""

    default: int
    bulk: int
    bulk_routes: frozenset[tuple[str, str]] = field(default=BULK_ROUTES)

    def limit(self, method: str, path: str) -> int:
        return self.bulk if (method, path.rstrip("/") or "/") in self.bulk_routes else self.default


def _answer_headers(request_id: str, current: Span) -> list[tuple[bytes, bytes]]:
    """X-Request-ID, and the W3C `traceresponse` (Trace Context Level 2: which trace and span answered)."""
    headers = [(b"x-request-id", request_id.encode())]
    context = current.get_span_context()
    if context.is_valid:
        current.set_attribute("membank.request_id", request_id)
        flags = int(context.trace_flags)
        headers.append(
            (b"traceresponse", f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}".encode())
        )
    return headers


class RequestContextMiddleware:
    """Gives each request an id (kept from X-Request-ID when well formed), enforces the route's body size
    limit (the declared Content-Length up front, and the bytes actually received as they stream in, so a
    chunked or lying body is cut off too), records metrics and writes one access log line."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        extra_headers = _answer_headers(request_id, trace.get_current_span())
        started = time.perf_counter()
        status_holder = [500]
        limit = self.limits.limit(scope.get("method", ""), scope.get("path", ""))

        over_limit = [False]
        answered = [False]

        async def send_with_id(message: Message) -> None:
            if over_limit[0]:
                return  # the 413 has been sent; whatever the app answers to the cut-off body is dropped
            if message["type"] == "http.response.start":
                answered[0] = True
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *extra_headers]
            await send(message)

        seen = [0]

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > limit and not over_limit[0]:
                    # A body without (or with a false) Content-Length: answer 413 now, and tell the app the
                    # client went away so it stops reading and writes nothing.
                    await self._too_large(send_with_id, seen[0], limit)
                    status_holder[0] = 413
                    over_limit[0] = True
                    return {"type": "http.disconnect"}
            return message

        try:
            declared = int(headers.get("content-length", "0") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > limit:
                await self._too_large(send_with_id, declared, limit)
                status_holder[0] = 413
            else:
                await self.app(scope, limited_receive, send_with_id)
        except Exception as error:
            if not over_limit[0]:
                status_holder[0] = 500
                await self._crashed(scope, receive, send_with_id, error, answered=answered[0])
        finally:
            self._observe(scope, status_holder[0], time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("request_id", "tenant", "principal")

    @staticmethod
    async def _crashed(
        scope: Scope, receive: Receive, send: Send, error: Exception, *, answered: bool
    ) -> None:
        """Answers an unhandled error here rather than in Starlette's outermost handler: inside this
        middleware the log line and the answer carry the request id, and the answer gets the security
        headers."""
        if answered:
            raise error  # too late to answer: the server closes the connection
        log.error("unhandled_error", path=scope.get("path", ""), exc_info=error)
        crash = fail(500, "INTERNAL_ERROR", "internal error; see the server log with this request id")
        await crash(scope, receive, send)

    @staticmethod
    async def _too_large(send: Send, declared: int, limit: int) -> None:
        body = orjson.dumps(
            error_body(
                "PAYLOAD_TOO_LARGE",
                f"request body of at least {declared} bytes exceeds this route's limit of {limit} bytes",
                {"limit_bytes": limit},
            )
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"connection", b"close"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _observe(scope: Scope, status: int, seconds: float) -> None:
        route: Any = scope.get("route")
        path = getattr(route, "path", None) or "unmatched"
        method = scope.get("method", "")
        HTTP_REQUESTS.labels(method, path, str(status)).inc()
        HTTP_LATENCY.labels(method, path).observe(seconds)
        ROUTE_LATENCY.record(method, path, seconds)
        if path not in ("/health/live", "/metrics"):
            log.info("request", method=method, route=path, status=status, ms=round(seconds * 1000, 2))
