"""/mcp on the app: credentials are checked before the MCP layer, a tool call is the REST call it stands for
(the caller's tenant, scopes and address), and the endpoint serves on every run of the app object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from membank.api import create_app
from membank.auth.keys import issue_key
from membank.bootstrap import build_store
from membank.config import Settings
from tests.api.conftest import Api
from tests.support.mcp import INITIALIZE, MCP_HEADERS


def _tool(client: TestClient, key: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }
    answer = client.post("/mcp", json=call, headers={**MCP_HEADERS, "X-API-Key": key})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()["result"]
    return result


def test_mcp_refuses_requests_without_valid_credentials(api: Api) -> None:
    for headers in ({}, {"X-API-Key": "mbk_wrong"}, {"Authorization": "Token nope"}):
        answer = api.client.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, **headers})
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "UNAUTHORIZED"
    accepted = api.client.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "X-API-Key": api.alice_key})
    assert accepted.status_code == 200 and accepted.json()["result"]["serverInfo"]["name"] == "membank"


def test_a_tool_call_is_its_rest_call_with_the_callers_tenant_and_scopes(api: Api) -> None:
    memory = api.add("Alice keeps bees in Lyon", user_id="alice")
    found = _tool(api.client, api.alice_key, "search_memories", {"user_id": "alice", "query": "bees"})
    assert not found["isError"] and found["structuredContent"]["memories"][0]["id"] == memory["id"]
    other = _tool(api.client, api.bob_key, "get_memory", {"memory_id": memory["id"]})
    assert other["isError"] and "MEMORY_NOT_FOUND" in other["content"][0]["text"]
    refused = _tool(api.client, api.reader_key, "add_memory", {"user_id": "alice", "content": "sneaky"})
    assert refused["isError"] and "INSUFFICIENT_PERMISSIONS" in refused["content"][0]["text"]
    listed = api.call("GET", "/api/v1/users/alice/memories").json()["data"]
    assert [m["content"] for m in listed["memories"]] == ["Alice keeps bees in Lyon"]


def test_the_endpoint_serves_on_every_run_of_the_app(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    store = build_store(settings)
    key = issue_key(store.keys, tenant_name="acme", name="twice").plaintext
    store.close()
    app = create_app(settings)
    for _ in range(2):  # a session manager runs once: each run of the app needs its own
        with TestClient(app) as client:
            answer = client.post("/mcp", json=INITIALIZE, headers={**MCP_HEADERS, "X-API-Key": key})
            assert answer.status_code == 200, answer.text
