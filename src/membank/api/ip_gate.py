"""The global IP rules, applied to every request before anything else reads it (authentication included):
an excluded address gets 403 IP_DENIED and never reaches a route, not even the login routes."""

from __future__ import annotations

from typing import Any

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from membank.api.client_ip import scope_client
from membank.api.envelope import fail
from membank.auth.events import RequestOrigin
from membank.errors import IpDenied


class IpGateMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        container: Any = getattr(scope["app"].state, "container", None) if "app" in scope else None
        if scope["type"] != "http" or container is None:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        # The id RequestContextMiddleware (outside this one) checked or made, never the raw header.
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        origin = RequestOrigin(
            scope_client(scope).ip,
            headers.get("user-agent"),
            request_id if isinstance(request_id, str) else None,
        )
        try:
            await container.ip_rules.check_global(origin)
        except IpDenied as refusal:
            response = fail(refusal.status, refusal.code, refusal.message, refusal.details)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
