"""client.memories: memories, search, batches of them, conversations, context synthesis, a user's list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from membank.client.endpoint import Parts, Resource, TransportT, body, endpoint, idempotency
from membank.client.models import (
    Context,
    Job,
    Memory,
    MemoryDeleted,
    MemoryHistory,
    MemoryPage,
    MemoryStats,
    SearchResult,
)
from membank.client.resources.answers import job_or_batch, job_or_memory

__all__ = ["Memories", "list_query"]


def list_query(
    limit: int | None,
    offset: int | None,
    sort_by: str | None,
    sort_order: str | None,
    memory_type: str | None,
    include_invalid: bool | None,
) -> dict[str, Any]:
    return {
        "limit": limit,
        "offset": offset,
        "sort_by": sort_by,
        "sort_order": sort_order,
        "type": memory_type,
        "include_invalid": include_invalid,
    }


class Memories(Resource[TransportT]):
    @endpoint("POST", "/api/v1/memories", job_or_memory, creates=True)
    def create(
        self,
        /,
        user_id: str,
        content: str,
        *,
        memory_type: str | None = None,
        importance: int | None = None,
        tags: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        infer: bool | None = None,
        wait: bool | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Parts:
        """Store one memory (a `Memory`); with `infer=True` (or a `context`) extract from it as a job (a
        `Job`, finished when `wait=True`). Other fields of MemoryCreateIn (agent_id, session_id, entities,
        summary, slot, source_refs, valid_from, context) go in `fields`."""
        return Parts(
            query={"wait": wait},
            json=body(
                user_id=user_id,
                content=content,
                memory_type=memory_type,
                importance=importance,
                tags=list(tags) if tags is not None else None,
                metadata=metadata,
                infer=infer,
                **fields,
            ),
            headers=idempotency(idempotency_key),
        )

    @endpoint("GET", "/api/v1/memories/{memory_id}", Memory.model_validate)
    def get(self, memory_id: str) -> Parts:
        """One memory, current or not."""
        return Parts(path={"memory_id": memory_id})

    @endpoint("PATCH", "/api/v1/memories/{memory_id}", Memory.model_validate)
    def update(self, /, memory_id: str, **changes: Any) -> Parts:
        """Change a current memory (content, memory_type, importance, tags, entities, metadata, summary):
        the answer is its new version."""
        return Parts(path={"memory_id": memory_id}, json=changes)

    @endpoint("DELETE", "/api/v1/memories/{memory_id}", MemoryDeleted.model_validate)
    def delete(self, memory_id: str, *, hard: bool | None = None) -> Parts:
        """End a memory's validity; `hard=True` erases it and its history."""
        return Parts(path={"memory_id": memory_id}, query={"hard": hard})

    @endpoint("GET", "/api/v1/memories/{memory_id}/history", MemoryHistory.model_validate)
    def history(self, memory_id: str) -> Parts:
        """Every version of a memory, oldest first."""
        return Parts(path={"memory_id": memory_id})

    @endpoint("POST", "/api/v1/memories/search", SearchResult.model_validate, read_only=True)
    def search(self, /, user_id: str, query: str, *, limit: int | None = None, **options: Any) -> Parts:
        """A user's memories ranked for `query`; `options` are SearchIn's other fields (threshold,
        memory_types, tags, entities, time_range, as_of, explain, ...)."""
        return Parts(json=body(user_id=user_id, query=query, limit=limit, **options))

    @endpoint("POST", "/api/v1/memories/batch", job_or_batch, creates=True)
    def batch(
        self,
        memories: Sequence[Mapping[str, Any]] | None = None,
        *,
        conversations: Sequence[Mapping[str, Any]] | None = None,
        user_id: str | None = None,
        skip_duplicates: bool | None = None,
        options: Mapping[str, Any] | None = None,
        wait: bool | None = None,
        idempotency_key: str | None = None,
    ) -> Parts:
        """Import `memories` as one job (a `Job`), or extract from `conversations`, one job each (a
        `BatchAccepted`: follow it with `client.batches.get`)."""
        merged = {**(options or {}), **body(skip_duplicates=skip_duplicates)}
        return Parts(
            query={"wait": wait},
            json=body(
                memories=list(memories) if memories is not None else None,
                conversations=list(conversations) if conversations is not None else None,
                user_id=user_id,
                options=merged or None,
            ),
            headers=idempotency(idempotency_key),
        )

    @endpoint("POST", "/api/v1/memories/process-conversation", Job.model_validate, creates=True)
    def process_conversation(
        self,
        /,
        user_id: str,
        user_input: str,
        ai_response: str | None = None,
        *,
        session_id: str | None = None,
        wait: bool | None = None,
        idempotency_key: str | None = None,
        **fields: Any,
    ) -> Parts:
        """Extract memories from one exchange of a conversation, as a job (finished when `wait=True`);
        `fields`: history, agent_id, user_name, timestamp, options."""
        return Parts(
            query={"wait": wait},
            json=body(
                user_id=user_id,
                user_input=user_input,
                ai_response=ai_response,
                session_id=session_id,
                **fields,
            ),
            headers=idempotency(idempotency_key),
        )

    @endpoint("POST", "/api/v1/memories/synthesize-context", Context.model_validate, read_only=True)
    def synthesize_context(
        self, /, user_id: str, query: str, *, max_memories: int | None = None, **options: Any
    ) -> Parts:
        """A context text for a prompt from the user's memories relevant to `query`, citing them."""
        return Parts(json=body(user_id=user_id, query=query, max_memories=max_memories, **options))

    @endpoint("GET", "/api/v1/users/{user_id}/memories", MemoryPage.model_validate)
    def list(
        self,
        user_id: str,
        *,
        limit: int | None = None,
        offset: int | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        memory_type: str | None = None,
        include_invalid: bool | None = None,
    ) -> Parts:
        """One page of a user's memories (see `iter` for all of them)."""
        return Parts(
            path={"user_id": user_id},
            query=list_query(limit, offset, sort_by, sort_order, memory_type, include_invalid),
        )

    @endpoint("GET", "/api/v1/users/{user_id}/memories/stats", MemoryStats.model_validate)
    def stats(self, user_id: str) -> Parts:
        """Counts of a user's memories: current, superseded, deleted, per type."""
        return Parts(path={"user_id": user_id})
