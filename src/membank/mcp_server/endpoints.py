"""/mcp on the API: MemBank's MCP tools over streamable HTTP.

Stateless, with JSON answers: every MCP request stands alone, so any API instance behind a load balancer
serves any of them (no sticky sessions, nothing to lose when an instance stops). A request without valid
credentials is refused (401, MemBank's envelope) before the MCP layer sees it; a tool call then runs as the
REST call it stands for (gateway.py), in-process, with the caller's credentials and address, so it is limited,
scoped and audited like that call. DNS-rebinding checks of the MCP SDK are off: they guard servers that answer
without credentials, and this one never does."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI, Request
from mcp.server.mcpserver import Context
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from membank.api.deps import limit_unauthenticated, presented_key
from membank.api.envelope import fail
from membank.bootstrap import Container
from membank.errors import MemBankError, NotReady, Unauthorized
from membank.mcp_server.gateway import CALL_TIMEOUT_SECONDS, RestGateway, forwarded
from membank.mcp_server.tools import build_server

MCP_PATH = "/mcp"
# In-process calls need a URL; the host name only appears in the app's own logs.
_IN_PROCESS_URL = "http://membank.in-process"


class McpEndpoint:
    """The ASGI app of /mcp and what it needs to run (the MCP session manager), for the API's lifespan."""

    def __init__(self, api: FastAPI) -> None:
        self._api = api
        self._mcp: StreamableHTTPASGIApp | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # A session manager runs once: each run of the app (a test client, a reload) gets its own.
        server = build_server(self._gateway_for)
        server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = server.session_manager
        async with manager.run():
            self._mcp = StreamableHTTPASGIApp(manager)
            try:
                yield
            finally:
                self._mcp = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        container: Container = request.app.state.container
        try:
            await container.auth.authenticate_key(presented_key(request))
        except Unauthorized as refused:
            error: MemBankError = refused
            try:
                await limit_unauthenticated(request, container)
            except MemBankError as limited:  # guessing keys is limited per client address, as on REST
                error = limited
            response = fail(error.status, error.code, error.message, error.details)
            await response(scope, receive, send)
            return
        if self._mcp is None:
            unready = NotReady("the MCP endpoint is not running (the app is starting or stopping)")
            await fail(unready.status, unready.code, unready.message)(scope, receive, send)
            return
        await self._mcp(scope, receive, send)

    def _gateway_for(self, ctx: Context) -> RestGateway:
        request = ctx.request_context.request
        client = getattr(request, "client", None)
        transport = httpx.ASGITransport(
            app=self._api, client=(client.host, client.port) if client else ("127.0.0.1", 0)
        )
        http = httpx.AsyncClient(transport=transport, base_url=_IN_PROCESS_URL, timeout=CALL_TIMEOUT_SECONDS)
        return RestGateway(http, forwarded(ctx.headers), one_call=True)


def install_mcp(app: FastAPI) -> McpEndpoint:
    """Serve /mcp on the app; the caller runs `endpoint.running()` in the app's lifespan."""
    endpoint = McpEndpoint(app)
    app.router.routes.append(Route(MCP_PATH, endpoint, methods=["GET", "POST", "DELETE"]))
    return endpoint
