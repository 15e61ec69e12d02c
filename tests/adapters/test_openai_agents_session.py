"""MemBankSession, the OpenAI Agents SDK's Session over MemBank, against a real `membank serve`: the
protocol's methods as the Agents SDK documents them (no model is called: the Runner needs one), checked also
through MemBank's API."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agents.memory import Session, SessionSettings
from agents.tool_context import ToolContext

from membank.adapters.openai_agents import MemBankSession, memory_search_tool
from membank.client import AsyncMemBank, ValidationFailed
from tests.e2e.conftest import Served

pytestmark = pytest.mark.e2e

# One of each kind of item a run stores: messages (text and parts), a tool call and its output, reasoning.
ITEMS: list[Any] = [
    {"role": "user", "content": "What is the weather in Lisbon?"},
    {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Need the weather tool."}],
    },
    {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "get_weather",
        "arguments": '{"city": "Lisbon", "unit": "C"}',
        "status": "completed",
    },
    {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21.5, "sky": null}'},
    {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "It is 21.5 °C in Lisbon.", "annotations": []}],
    },
]


@pytest.fixture
async def client(server: Served, tenant_key: str) -> AsyncIterator[AsyncMemBank]:
    async with AsyncMemBank(server.url, api_key=tenant_key) as made:
        yield made


def session(client: AsyncMemBank, user: str, **options: Any) -> MemBankSession:
    return MemBankSession(f"s-{uuid.uuid4().hex[:8]}", client, user_id=user, **options)


async def test_items_of_every_kind_round_trip_in_order(client: AsyncMemBank, user: str) -> None:
    chat = session(client, user)
    assert isinstance(chat, Session)  # the Agents SDK's runtime-checkable protocol
    await chat.add_items(ITEMS[:2])
    await chat.add_items(ITEMS[2:])
    await chat.add_items([ITEMS[0]])  # the same item again is a second item

    assert await chat.get_items() == [*ITEMS, ITEMS[0]]
    stored = (await client.memories.list(user)).memories
    assert {m.session_id for m in stored} == {chat.session_id} and len(stored) == 6
    found = await client.memories.search(
        user, "what did the assistant say about the Lisbon weather?", limit=3
    )
    assert found.memories[0].metadata["item"] in ITEMS


async def test_limits_return_the_latest_items_in_order(client: AsyncMemBank, user: str) -> None:
    chat = session(client, user)
    await chat.add_items(ITEMS)

    assert await chat.get_items(limit=2) == ITEMS[-2:]
    assert await chat.get_items(limit=0) == []
    assert await chat.get_items(limit=50) == ITEMS
    limited = session(client, user, session_settings=SessionSettings(limit=3))
    await limited.add_items(ITEMS)
    assert await limited.get_items() == ITEMS[-3:]
    assert await limited.get_items(limit=1) == ITEMS[-1:]


async def test_pop_removes_the_latest_item(client: AsyncMemBank, user: str) -> None:
    chat = session(client, user)
    await chat.add_items(ITEMS[:3])

    assert await chat.pop_item() == ITEMS[2]
    assert await chat.get_items() == ITEMS[:2]
    assert await chat.pop_item() == ITEMS[1]
    assert await chat.pop_item() == ITEMS[0]
    assert await chat.pop_item() is None
    assert await chat.get_items() == []
    assert (await client.memories.stats(user)).deleted == 3  # invalidated with their history, not erased


async def test_sessions_are_isolated_and_clear_removes_only_its_own(client: AsyncMemBank, user: str) -> None:
    first, second = session(client, user), session(client, user)
    await first.add_items(ITEMS[:2])
    await second.add_items(ITEMS[2:])
    await client.memories.create(user, "a memory that is no session item", session_id=first.session_id)

    assert await first.get_items() == ITEMS[:2]
    assert await second.get_items() == ITEMS[2:]
    await first.clear_session()
    assert await first.get_items() == []
    assert await first.pop_item() is None
    assert await second.get_items() == ITEMS[2:]
    assert [
        m.content for m in (await client.memories.list(user)).memories if m.session_id == first.session_id
    ] == ["a memory that is no session item"]


async def test_a_long_session_is_read_across_pages(client: AsyncMemBank, user: str) -> None:
    chat = session(client, user)
    items = [{"role": "user", "content": f"message {i}"} for i in range(130)]
    await chat.add_items(items)

    assert await chat.get_items() == items
    assert await chat.get_items(limit=105) == items[-105:]


async def test_another_tenant_sees_none_of_the_items(
    client: AsyncMemBank, server: Served, other_tenant_key: str, user: str
) -> None:
    chat = session(client, user)
    await chat.add_items(ITEMS[:1])

    async with AsyncMemBank(server.url, api_key=other_tenant_key) as other_client:
        other = MemBankSession(chat.session_id, other_client, user_id=user)
        assert await other.get_items() == []
        assert await other.pop_item() is None
        await other.clear_session()
    assert await chat.get_items() == ITEMS[:1]


async def test_hostile_ids_and_items_are_refused_clearly(client: AsyncMemBank, user: str) -> None:
    with pytest.raises(ValueError, match="session_id"):
        MemBankSession("../other session", client, user_id=user)
    with pytest.raises(ValueError, match="user_id"):
        MemBankSession("s1", client, user_id="")
    chat = session(client, user)
    with pytest.raises(ValidationFailed, match="max_metadata_bytes"):
        await chat.add_items([{"role": "user", "content": "x" * 20_000}])
    odd: Any = {"role": "user", "content": "   "}  # blank text: the memory's content is the item's JSON
    await chat.add_items([odd, {"role": "user", "content": 'naïve 🤖 "quotes" \\ \n'}])
    assert await chat.get_items() == [odd, {"role": "user", "content": 'naïve 🤖 "quotes" \\ \n'}]


async def test_the_search_tool_recalls_the_users_memories(client: AsyncMemBank, user: str) -> None:
    await client.memories.create(user, "Alice is allergic to peanuts")
    await client.memories.create(user, "Alice's flat is in Porto")
    tool = memory_search_tool(client, user, limit=1)
    arguments = json.dumps({"query": "does alice have any food allergy?"})
    call = ToolContext(context=None, tool_name=tool.name, tool_call_id="call_1", tool_arguments=arguments)

    assert tool.name == "search_memories" and tool.params_json_schema["required"] == ["query"]
    assert await tool.on_invoke_tool(call, arguments) == "- Alice is allergic to peanuts"
    empty = memory_search_tool(client, f"{user}-nobody")
    assert await empty.on_invoke_tool(call, arguments) == "No memories found."
    with pytest.raises(ValueError, match="user_id"):
        memory_search_tool(client, "not a user")
