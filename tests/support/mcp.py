"""A raw MCP `initialize` request, for the tests that speak to /mcp without the MCP client (credentials are
checked before the MCP layer, so what matters is the HTTP answer)."""

from __future__ import annotations

__all__ = ["INITIALIZE", "MCP_HEADERS"]

MCP_HEADERS = {"Accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"},
    },
}
