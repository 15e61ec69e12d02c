"""`membank mcp`: MemBank's MCP tools over stdio, for agents that start their tools as processes (desktop
assistants, IDEs). The tools call a running server (MEMBANK_API_URL) with the key from MEMBANK_API_KEY, so
they act with that key's scopes and tenant, exactly as the REST API would."""

from __future__ import annotations

import click
import httpx

from membank.config import Settings


@click.command("mcp")
def mcp_stdio() -> None:
    """Serve the MCP tools over stdio, acting with MEMBANK_API_KEY on the server at MEMBANK_API_URL."""
    from membank.client import MemBank
    from membank.mcp_server.gateway import CALL_TIMEOUT_SECONDS, RestGateway
    from membank.mcp_server.tools import build_server

    settings = Settings()
    if settings.api_key is None:
        raise click.ClickException(
            "MEMBANK_API_KEY is not set; fix: set it to an API key of the server (`membank keys create`)"
        )
    key = settings.api_key.get_secret_value()
    url = settings.api_url.rstrip("/")
    # Checked before serving, so a wrong key or address fails here, readably (the CLI's one-line errors),
    # instead of in every tool call.
    with MemBank(url, api_key=key, timeout=10) as check:
        check.auth.me()
    headers = {"X-API-Key": key}
    client = httpx.AsyncClient(base_url=url, headers=headers, timeout=CALL_TIMEOUT_SECONDS)
    gateway = RestGateway(client, {})
    build_server(lambda _ctx: gateway).run("stdio")
