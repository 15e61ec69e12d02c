"""The MCP tools reach MemBank through its REST API, so a tool call is checked exactly like the REST call it
stands for: authentication, IP rules, rate limits, scopes, tenancy, validation, idempotency, usage and audit.

On the HTTP transport (/mcp on the API) the call goes to the same app in-process, with the caller's
credentials and client address; over stdio (`membank mcp`) it goes to a running server over HTTP with the key
from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from mcp.server.mcpserver.exceptions import ToolError

# The headers of an MCP request that its REST calls carry on: who calls (credentials, acting tenant) and from
# where (the proxy headers the API trusts from its configured proxies only), and the request id for the logs.
FORWARDED_HEADERS = (
    "authorization",
    "x-api-key",
    "x-membank-tenant",
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    "x-request-id",
    "user-agent",
)

# A tool's REST call may take longer than the longest wait of a REST call (process_conversation with wait: up
# to 60 s).
CALL_TIMEOUT_SECONDS = 120.0


class RestGateway:
    """REST calls on behalf of one MCP request; errors become tool errors naming MemBank's code."""

    def __init__(
        self, client: httpx.AsyncClient, headers: Mapping[str, str], *, one_call: bool = False
    ) -> None:
        self._client = client
        self._headers = dict(headers)
        # A client made for one tool call (the in-process one, bound to its caller's address) ends with it.
        self._one_call = one_call

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """The envelope's `data`, or a ToolError with the error's code, message and offending fields."""
        try:
            response = await self._client.request(
                method, path, json=json, params=params, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise ToolError(
                f"MemBank is unreachable at {self._client.base_url}: {type(exc).__name__}"
            ) from None
        finally:
            if self._one_call:
                await self._client.aclose()
        try:
            body = response.json()
        except ValueError:
            raise ToolError(f"MemBank answered {response.status_code} without a JSON body") from None
        if body.get("success"):
            return body.get("data")
        raise ToolError(_describe(response.status_code, body.get("error") or {}))


def _describe(status: int, error: dict[str, Any]) -> str:
    text = f"{error.get('code', 'ERROR')} ({status}): {error.get('message', '')}"
    fields = [
        f"{item.get('field')}: {item.get('reason')}"
        for item in (error.get("details") or {}).get("errors", [])
        if isinstance(item, dict)
    ]
    return f"{text} [{'; '.join(fields)}]" if fields else text


def forwarded(headers: Mapping[str, str] | None) -> dict[str, str]:
    """What of an MCP request's headers its REST calls carry (see FORWARDED_HEADERS)."""
    if headers is None:
        return {}
    return {name: headers[name] for name in FORWARDED_HEADERS if name in headers}
