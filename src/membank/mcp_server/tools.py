"""MemBank's MCP tools: one per thing an agent does with memory, each the REST call it stands for (see
gateway.py), with an input schema from its parameters and structured output in the REST API's own shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from membank import __version__
from membank.jobs.schemas import JobOut
from membank.mcp_server.gateway import RestGateway
from membank.memories.schemas import (
    MemoryDeletedOut,
    MemoryHistoryOut,
    MemoryOut,
    MemoryPageOut,
    MemoryType,
)
from membank.search.schemas import ContextOut, SearchOut

GatewayFor = Callable[[Context], RestGateway]

UserId = Annotated[str, Field(description="The end user whose memories these are")]
MemoryId = Annotated[str, Field(description="A memory's id")]
AgentId = Annotated[str | None, Field(description="Narrow to one agent's memories")]
SessionId = Annotated[str | None, Field(description="Narrow to one conversation session")]

_READ = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)
_WRITE = ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False)
_DELETE = ToolAnnotations(readOnlyHint=False, destructiveHint=True, idempotentHint=True, openWorldHint=False)

INSTRUCTIONS = (
    "Long-term memory of the users you talk to. Before answering, call synthesize_context (or "
    "search_memories) with the user's question; after an exchange worth remembering, call "
    "process_conversation with what the user said and what you answered: MemBank extracts the facts, keeps "
    "them current and never loses the history."
)


def build_server(gateway_for: GatewayFor) -> MCPServer:
    """The MCP server; `gateway_for` gives each tool call the REST gateway of its request."""
    server = MCPServer(name="membank", version=__version__, instructions=INSTRUCTIONS)

    @server.tool(annotations=_WRITE)
    async def add_memory(
        ctx: Context,
        user_id: UserId,
        content: Annotated[str, Field(description="The fact, as a sentence")],
        memory_type: MemoryType = "factual",
        importance: Annotated[int, Field(ge=1, le=10)] = 5,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        agent_id: AgentId = None,
        session_id: SessionId = None,
    ) -> MemoryOut:
        """Store one memory as given (to let MemBank decide what to remember, use process_conversation)."""
        body = {
            "user_id": user_id,
            "content": content,
            "memory_type": memory_type,
            "importance": importance,
            "tags": tags or [],
            "metadata": metadata or {},
            "agent_id": agent_id,
            "session_id": session_id,
        }
        data = await gateway_for(ctx).call("POST", "/api/v1/memories", json=_present(body))
        return MemoryOut.model_validate(data)

    @server.tool(annotations=_READ)
    async def search_memories(
        ctx: Context,
        user_id: UserId,
        query: Annotated[str, Field(description="What to look for, in natural language")],
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        memory_types: list[MemoryType] | None = None,
        tags: list[str] | None = None,
        agent_id: AgentId = None,
        session_id: SessionId = None,
    ) -> SearchOut:
        """Hybrid (semantic + keyword) search of a user's current memories, best first, each with its score."""
        body = {
            "user_id": user_id,
            "query": query,
            "limit": limit,
            "memory_types": memory_types,
            "tags": tags,
            "agent_id": agent_id,
            "session_id": session_id,
        }
        data = await gateway_for(ctx).call("POST", "/api/v1/memories/search", json=_present(body))
        return SearchOut.model_validate(data)

    @server.tool(annotations=_WRITE)
    async def process_conversation(
        ctx: Context,
        user_id: UserId,
        user_input: Annotated[str, Field(description="What the user said")],
        ai_response: Annotated[str | None, Field(description="What you answered")] = None,
        session_id: SessionId = None,
        agent_id: AgentId = None,
        wait: Annotated[bool, Field(description="Wait (up to a minute) for the extraction to finish")] = True,
    ) -> JobOut:
        """Let MemBank extract what is worth remembering from one exchange; returns the extraction job (its
        result lists the memories added, updated and retired)."""
        body = {
            "user_id": user_id,
            "user_input": user_input,
            "ai_response": ai_response,
            "session_id": session_id,
            "agent_id": agent_id,
        }
        data = await gateway_for(ctx).call(
            "POST",
            "/api/v1/memories/process-conversation",
            json=_present(body),
            params={"wait": str(wait).lower()},
        )
        return JobOut.model_validate(data)

    @server.tool(annotations=_READ)
    async def synthesize_context(
        ctx: Context,
        user_id: UserId,
        query: Annotated[str, Field(description="The question you are about to answer")],
        max_memories: Annotated[int, Field(ge=1, le=50)] = 10,
    ) -> ContextOut:
        """A compact context for a question from the user's most relevant memories, with citations."""
        body = {"user_id": user_id, "query": query, "max_memories": max_memories}
        data = await gateway_for(ctx).call("POST", "/api/v1/memories/synthesize-context", json=body)
        return ContextOut.model_validate(data)

    @server.tool(annotations=_READ)
    async def get_memory(ctx: Context, memory_id: MemoryId) -> MemoryOut:
        """One memory, current or not (valid_to, superseded_by and deleted_at tell)."""
        return MemoryOut.model_validate(await gateway_for(ctx).call("GET", f"/api/v1/memories/{memory_id}"))

    @server.tool(annotations=_WRITE)
    async def update_memory(
        ctx: Context,
        memory_id: MemoryId,
        content: Annotated[str | None, Field(description="New text: supersedes the memory")] = None,
        importance: Annotated[int | None, Field(ge=1, le=10)] = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> MemoryOut:
        """Change a memory; new content supersedes it (the old version stays in its history) and the answer
        is the new version, with its new id."""
        body = {"content": content, "importance": importance, "tags": tags, "metadata": metadata}
        data = await gateway_for(ctx).call("PATCH", f"/api/v1/memories/{memory_id}", json=_present(body))
        return MemoryOut.model_validate(data)

    @server.tool(annotations=_DELETE)
    async def delete_memory(ctx: Context, memory_id: MemoryId) -> MemoryDeletedOut:
        """Invalidate a memory: it is no longer found, and its history keeps it."""
        data = await gateway_for(ctx).call("DELETE", f"/api/v1/memories/{memory_id}")
        return MemoryDeletedOut.model_validate(data)

    @server.tool(annotations=_READ)
    async def list_memories(
        ctx: Context,
        user_id: UserId,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        offset: Annotated[int, Field(ge=0)] = 0,
        include_invalid: Annotated[bool, Field(description="Also superseded and deleted memories")] = False,
    ) -> MemoryPageOut:
        """A page of a user's memories, newest first."""
        params = {"limit": limit, "offset": offset, "include_invalid": str(include_invalid).lower()}
        data = await gateway_for(ctx).call("GET", f"/api/v1/users/{user_id}/memories", params=params)
        return MemoryPageOut.model_validate(data)

    @server.tool(annotations=_READ)
    async def memory_history(ctx: Context, memory_id: MemoryId) -> MemoryHistoryOut:
        """Every version event of a memory, oldest first: what changed, when, and who or what changed it."""
        data = await gateway_for(ctx).call("GET", f"/api/v1/memories/{memory_id}/history")
        return MemoryHistoryOut.model_validate(data)

    @server.tool(annotations=_READ)
    async def get_job(ctx: Context, job_id: Annotated[str, Field(description="A job's id")]) -> JobOut:
        """A background job (an extraction, an import): its status, progress and, once completed, result."""
        return JobOut.model_validate(await gateway_for(ctx).call("GET", f"/api/v1/jobs/{job_id}"))

    return server


def _present(body: dict[str, Any]) -> dict[str, Any]:
    # Unset optional arguments are left out, so the API applies its own defaults.
    return {name: value for name, value in body.items() if value is not None}
