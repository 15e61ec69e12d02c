"""MemBank's MCP server through the official MCP client, over both transports: streamable HTTP on a real
`membank serve` (/mcp) and stdio (`membank mcp` as a subprocess, calling that server). The tools work, have
input and output schemas, and hold the REST API's authentication, scopes and tenancy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from tests.e2e.conftest import ADMIN_KEY, BIN, Served, run_cli, served_module
from tests.support.mcp import INITIALIZE, MCP_HEADERS

pytestmark = pytest.mark.e2e

TOOLS = {
    "add_memory",
    "search_memories",
    "process_conversation",
    "synthesize_context",
    "get_memory",
    "update_memory",
    "delete_memory",
    "list_memories",
    "memory_history",
    "get_job",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served_module(tmp_path_factory.mktemp("mcp")) as module_server:
        yield module_server


@asynccontextmanager
async def over_http(served: Served, key: str) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"X-API-Key": key}, timeout=60)
    async with http, Client(streamable_http_client(f"{served.server.url}/mcp", http_client=http)) as client:
        yield client


def over_stdio(served: Served, key: str) -> Client:
    env = {**served.env, "MEMBANK_API_URL": served.server.url, "MEMBANK_API_KEY": key}
    return Client(StdioServerParameters(command=str(BIN / "membank"), args=["mcp"], env=env))


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error, result.structured_content
    return " ".join(getattr(part, "text", "") for part in result.content)


async def test_the_tools_over_http_do_what_the_rest_api_does(served: Served) -> None:
    async with over_http(served, ADMIN_KEY) as mcp:
        listed = await mcp.list_tools()
        assert {tool.name for tool in listed.tools} == TOOLS
        for tool in listed.tools:
            assert tool.input_schema["type"] == "object" and tool.output_schema, tool.name
        search_schema = next(t for t in listed.tools if t.name == "search_memories").input_schema
        assert set(search_schema["required"]) == {"user_id", "query"}

        added = structured(
            await mcp.call_tool("add_memory", {"user_id": "alice", "content": "Alice keeps bees in Lyon"})
        )
        memory_id = added["id"]
        found = structured(await mcp.call_tool("search_memories", {"user_id": "alice", "query": "bees"}))
        assert found["memories"][0]["id"] == memory_id and found["memories"][0]["score"] > 0
        assert structured(await mcp.call_tool("get_memory", {"memory_id": memory_id}))["content"].startswith(
            "Alice keeps bees"
        )
        updated = structured(
            await mcp.call_tool(
                "update_memory", {"memory_id": memory_id, "content": "Alice keeps bees in Lyon and Nice"}
            )
        )
        assert updated["supersedes"] == memory_id
        history = structured(await mcp.call_tool("memory_history", {"memory_id": updated["id"]}))
        assert [entry["event"] for entry in history["history"]][-1] == "UPDATE"
        page = structured(await mcp.call_tool("list_memories", {"user_id": "alice"}))
        assert [m["id"] for m in page["memories"]] == [updated["id"]]

        job = structured(
            await mcp.call_tool(
                "process_conversation",
                {"user_id": "alice", "user_input": "I work as a nurse in Lyon", "ai_response": "Great!"},
            )
        )
        assert job["status"] == "completed" and job["result"]["counts"]["ADD"] >= 1
        assert structured(await mcp.call_tool("get_job", {"job_id": job["id"]}))["status"] == "completed"
        context = structured(
            await mcp.call_tool("synthesize_context", {"user_id": "alice", "query": "what does alice do?"})
        )
        assert "nurse" in context["context"]

        deleted = structured(await mcp.call_tool("delete_memory", {"memory_id": updated["id"]}))
        assert deleted["deleted"] is True
        after = structured(await mcp.call_tool("search_memories", {"user_id": "alice", "query": "bees"}))
        assert updated["id"] not in [m["id"] for m in after["memories"]]

        bad = await mcp.call_tool("add_memory", {"user_id": "alice", "content": "x", "importance": 99})
        assert bad.is_error
        invalid = await mcp.call_tool("get_memory", {"memory_id": "not-hex!"})
        assert "VALIDATION_ERROR" in error_text(invalid)


def test_http_without_valid_credentials_is_refused(served: Served) -> None:
    for credentials in ({}, {"X-API-Key": "mb_live_not-a-key"}, {"Authorization": "Bearer nope"}):
        answer = httpx.post(
            f"{served.server.url}/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **credentials}
        )
        assert answer.status_code == 401, (credentials, answer.text)
        assert answer.json()["error"]["code"] == "UNAUTHORIZED"
    assert ADMIN_KEY not in served.server.output()


async def test_tenancy_and_scopes_hold_over_http(served: Served) -> None:
    async with over_http(served, ADMIN_KEY) as owner:
        secret = structured(
            await owner.call_tool("add_memory", {"user_id": "dave", "content": "Dave's locker code is 4711"})
        )["id"]
    async with over_http(served, served.key("globex")) as intruder:
        assert "MEMORY_NOT_FOUND" in error_text(await intruder.call_tool("get_memory", {"memory_id": secret}))
        assert "MEMORY_NOT_FOUND" in error_text(
            await intruder.call_tool("delete_memory", {"memory_id": secret})
        )
        found = structured(
            await intruder.call_tool("search_memories", {"user_id": "dave", "query": "locker"})
        )
        assert found["memories"] == []
    async with over_http(served, served.key("default", "memories:read")) as reader:
        assert structured(await reader.call_tool("get_memory", {"memory_id": secret}))["id"] == secret
        refused = await reader.call_tool("add_memory", {"user_id": "dave", "content": "sneaky"})
        assert "INSUFFICIENT_PERMISSIONS" in error_text(refused)
    async with over_http(served, ADMIN_KEY) as owner:
        page = structured(await owner.call_tool("list_memories", {"user_id": "dave"}))
        assert [m["content"] for m in page["memories"]] == ["Dave's locker code is 4711"]


async def test_stdio_acts_with_the_key_from_the_environment(served: Served) -> None:
    async with over_stdio(served, served.key("initech")) as mcp:
        assert {tool.name for tool in (await mcp.list_tools()).tools} == TOOLS
        added = structured(
            await mcp.call_tool("add_memory", {"user_id": "erin", "content": "Erin plays the oboe"})
        )
        found = structured(await mcp.call_tool("search_memories", {"user_id": "erin", "query": "oboe"}))
        assert found["memories"][0]["id"] == added["id"]
    # The memory is the key's tenant's: the admin of the default tenant does not see it.
    async with over_http(served, ADMIN_KEY) as other:
        assert "MEMORY_NOT_FOUND" in error_text(
            await other.call_tool("get_memory", {"memory_id": added["id"]})
        )


def test_stdio_with_a_wrong_key_fails_readably(served: Served) -> None:
    env = {**served.env, "MEMBANK_API_URL": served.server.url, "MEMBANK_API_KEY": "mb_live_wrong"}
    result = run_cli(env, "mcp", check=False)
    assert result.returncode == 1
    assert (
        result.stderr.strip().startswith("Error: the server answered 401")
        and "MEMBANK_API_KEY" in result.stderr
    )
    assert "mb_live_wrong" not in result.stderr
    without = {k: v for k, v in env.items() if k != "MEMBANK_API_KEY"}
    missing = run_cli(without, "mcp", check=False)
    assert missing.returncode == 1 and "MEMBANK_API_KEY is not set" in missing.stderr
    stopped = run_cli({**env, "MEMBANK_API_URL": "http://127.0.0.1:9"}, "mcp", check=False)
    assert stopped.returncode == 1 and "membank serve" in stopped.stderr and "Traceback" not in stopped.stderr
