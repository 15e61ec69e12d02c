"""The rate limit headers on every answer to an authenticated request (success and error alike)."""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Where the request's dependency (api/deps.py) leaves the headers in the request state.
STATE_KEY = "rate_limit_headers"

_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed per period by the tightest limit on this key or its tenant",
    "X-RateLimit-Remaining": "Requests still allowed right now under that limit",
    "X-RateLimit-Reset": "Seconds until that limit's allowance is full again",
}
_RETRY_AFTER = {"Retry-After": "Seconds to wait before the request would be allowed"}
# Answers given before the key is known, so before any limit is checked: no key (401), a body too large (413).
_BEFORE_THE_LIMITER = {"401", "413"}


class RateLimitHeadersMiddleware:
    """Adds the headers the rate limiter chose (state[STATE_KEY]) to the response, whatever made it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The same dict as `request.state` of the routes below (Starlette keeps the state in the scope).
        state: dict[str, Any] = scope.setdefault("state", {})

        async def send_with_limits(message: Message) -> None:
            headers: dict[str, str] | None = state.get(STATE_KEY)
            if message["type"] == "http.response.start" and headers:
                encoded = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
                message["headers"] = [*message.get("headers", []), *encoded]
            await send(message)

        await self.app(scope, receive, send_with_limits)


def document_rate_limit_headers(schema: dict[str, Any]) -> None:
    """Declare the headers in the OpenAPI document (once, under components.headers): on the answers of an
    operation that can answer 429 (but those given before the limiter runs), with Retry-After on the 429."""
    declared = schema.setdefault("components", {}).setdefault("headers", {})
    for name, description in {**_LIMIT_HEADERS, **_RETRY_AFTER}.items():
        declared[name] = {"description": description, "schema": {"type": "integer"}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses: dict[str, Any] = operation.get("responses", {})
            if "429" not in responses:
                continue
            for status, response in responses.items():
                if status in _BEFORE_THE_LIMITER:
                    continue
                names = [*_LIMIT_HEADERS, *(_RETRY_AFTER if status == "429" else ())]
                response.setdefault("headers", {}).update(
                    {name: {"$ref": f"#/components/headers/{name}"} for name in names}
                )
