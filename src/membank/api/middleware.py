"""ASGI middleware: request ids, the request size limit, metrics and access logs."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from membank.api.envelope import error_body
from membank.observability.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("membank.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,128}$")


class RequestContextMiddleware:
    """Gives each request an id (kept from X-Request-ID when well formed), enforces the body size limit,
    records metrics and writes one access log line."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status_holder = [500]

        over_limit = [False]

        async def send_with_id(message: Message) -> None:
            if over_limit[0]:
                return  # the 413 has been sent; whatever the app answers to the cut-off body is dropped
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        seen = [0]

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                seen[0] += len(message.get("body", b""))
                if seen[0] > self.max_body_bytes and not over_limit[0]:
                    # A body without (or with a false) Content-Length: answer 413 now, and tell the app the
                    # client went away so it stops reading and writes nothing.
                    await self._too_large(send_with_id, seen[0])
                    status_holder[0] = 413
                    over_limit[0] = True
                    return {"type": "http.disconnect"}
            return message

        try:
            declared = int(headers.get("content-length", "0") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > self.max_body_bytes:
                await self._too_large(send_with_id, declared)
                status_holder[0] = 413
            else:
                await self.app(scope, limited_receive, send_with_id)
        except Exception:
            if not over_limit[0]:
                raise
        finally:
            self._observe(scope, status_holder[0], time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("request_id")

    async def _too_large(self, send: Send, declared: int) -> None:
        body = orjson.dumps(
            error_body(
                "PAYLOAD_TOO_LARGE",
                f"request body of at least {declared} bytes exceeds {self.max_body_bytes} bytes",
                {"limit_bytes": self.max_body_bytes},
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
        if path not in ("/health/live", "/metrics"):
            log.info("request", method=method, route=path, status=status, ms=round(seconds * 1000, 2))
