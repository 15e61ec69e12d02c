"""The OpenAI Agents SDK's conversation memory over MemBank: `MemBankSession`, an `agents.memory.Session`.

    from agents import Agent, Runner
    from membank.adapters.openai_agents import MemBankSession
    from membank.client import AsyncMemBank

    session = MemBankSession("chat-42", AsyncMemBank(url, api_key=key), user_id="alice")
    await Runner.run(agent, "Where did I say I live?", session=session)

MemBank's own conversation sessions keep a summary, key facts and the recent messages' role and text, not
the Agents SDK's items (tool calls, reasoning, outputs), which must come back exactly. So each item is one
memory of the user, with the session's `session_id`, the item itself in `metadata.item` and its position
in `metadata.agents_session.position`; its content (what MemBank embeds, so `memories.search` finds what was
said) is the item's role or type and text. `pop_item` and `clear_session` delete memories, which MemBank
invalidates and keeps in their history. `memory_search_tool` gives an agent MemBank's search as a tool.
Only `membank.client` is used.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any, cast

from agents import FunctionTool, function_tool
from agents.memory import SessionSettings, resolve_session_limit

from membank.client import AsyncMemBank, Memory

if TYPE_CHECKING:
    from agents.items import TResponseInputItem

__all__ = ["MemBankSession", "memory_search_tool"]

# MemBank's user and session ids (memories/schemas.py IDENTIFIER_PATTERN), checked when the session is made.
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,127}$")
PAGE = 100  # the largest page of GET /users/{id}/memories
MAX_CONTENT = 20_000


class MemBankSession:
    """An Agents SDK session (the `Session` protocol) whose items are memories of `user_id` in MemBank.

    Reading scans the user's memories newest first (the list API has no session filter), stopping once
    `limit` items are found: give agents with long histories a user id of their own. Items are ordered by
    the position this process gave them when added (nanoseconds, strictly increasing), so sessions written
    by several processes at once order by their clocks. An item must fit MemBank's metadata bounds (16 KiB
    encoded by default): a larger one is refused with `ValidationFailed` and nothing of that call after it
    is stored."""

    def __init__(
        self,
        session_id: str,
        client: AsyncMemBank,
        *,
        user_id: str,
        session_settings: SessionSettings | None = None,
    ) -> None:
        for name, value in (("session_id", session_id), ("user_id", user_id)):
            if not IDENTIFIER.match(value):
                raise ValueError(f"{name} {value!r} is not a MemBank identifier ({IDENTIFIER.pattern})")
        self.session_id = session_id
        self.user_id = user_id
        self.client = client
        self.session_settings = session_settings or SessionSettings()

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        """The session's items in order; with a limit (or the settings' limit), the latest `limit`."""
        wanted = resolve_session_limit(limit, self.session_settings)
        if wanted is not None and wanted <= 0:
            return []
        newest_first = await self._memories(wanted)
        return [item_of(memory) for memory in sorted(newest_first, key=position)]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        """Store items after the session's current ones, one memory each, in order."""
        for item in items:
            await self.client.memories.create(
                self.user_id,
                item_text(cast("dict[str, Any]", item)),
                memory_type="episodic",
                session_id=self.session_id,
                metadata={"agents_session": {"position": next_position()}, "item": item},
            )

    async def pop_item(self) -> TResponseInputItem | None:
        """Remove the latest item and return it (None when the session is empty)."""
        latest = await self._memories(1)
        if not latest:
            return None
        await self.client.memories.delete(latest[0].id)
        return item_of(latest[0])

    async def clear_session(self) -> None:
        """Remove every item of the session."""
        for memory in await self._memories(None):
            await self.client.memories.delete(memory.id)

    async def _memories(self, limit: int | None) -> list[Memory]:
        """The session's item memories, latest first; at most `limit`."""
        found: list[Memory] = []
        offset = 0
        while True:
            page = await self.client.memories.list(
                self.user_id, limit=PAGE, offset=offset, sort_by="created_at", sort_order="desc"
            )
            found.extend(m for m in page.memories if m.session_id == self.session_id and is_item(m))
            offset += len(page.memories)
            if (limit is not None and len(found) >= limit) or not page.memories or offset >= page.total:
                found.sort(key=position, reverse=True)
                return found if limit is None else found[:limit]


def memory_search_tool(client: AsyncMemBank, user_id: str, *, limit: int = 5) -> FunctionTool:
    """An Agents SDK tool, `search_memories(query)`: the user's memories most relevant to the query, one
    line each, for an agent to recall what it was told (`Agent(tools=[memory_search_tool(client, "alice")])`)."""
    if not IDENTIFIER.match(user_id):
        raise ValueError(f"user_id {user_id!r} is not a MemBank identifier ({IDENTIFIER.pattern})")

    async def search_memories(query: str) -> str:
        """Search the user's long-term memories.

        Args:
            query: What to recall, in natural language.
        """
        found = await client.memories.search(user_id, query, limit=limit)
        return "\n".join(f"- {hit.content}" for hit in found.memories) or "No memories found."

    return function_tool(search_memories)


_last_position = 0


def next_position() -> int:
    """Now in nanoseconds, and always after the previous position this process gave."""
    global _last_position
    _last_position = max(time.time_ns(), _last_position + 1)
    return _last_position


def is_item(memory: Memory) -> bool:
    meta = memory.metadata.get("agents_session")
    return isinstance(meta, dict) and isinstance(meta.get("position"), int) and "item" in memory.metadata


def position(memory: Memory) -> int:
    return int(memory.metadata["agents_session"]["position"])


def item_of(memory: Memory) -> TResponseInputItem:
    return cast("TResponseInputItem", memory.metadata["item"])


def item_text(item: dict[str, Any]) -> str:
    """What was said or done, for search: "user: ...", "function_call: {...}"."""
    content = item.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    else:
        text = ""
    if not text.strip():
        text = json.dumps(item, ensure_ascii=False, sort_keys=True, default=str)
    label = item.get("role") or item.get("type") or "item"
    return f"{label}: {text}"[:MAX_CONTENT]
