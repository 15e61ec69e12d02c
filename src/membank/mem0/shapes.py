"""MemBank's memories, history entries and extraction actions in mem0's answer shapes."""

from __future__ import annotations

from typing import Any

from membank.models import Memory, MemoryVersion, iso

# MemBank's history events by mem0's names: a memory superseded by a newer version was updated.
_EVENTS = {"CREATE": "ADD", "UPDATE": "UPDATE", "SUPERSEDED": "UPDATE", "DELETE": "DELETE"}


def mem0_memory(memory: Memory) -> dict[str, Any]:
    """A memory as mem0 answers it; `superseded_by` (MemBank's) names the newer version after an update."""
    return {
        "id": memory.id,
        "memory": memory.content,
        "user_id": memory.user_id,
        "agent_id": memory.agent_id,
        "run_id": memory.session_id,
        "hash": memory.content_hash,
        "metadata": memory.metadata or None,
        "categories": list(memory.tags),
        "created_at": iso(memory.created_at),
        "updated_at": iso(memory.updated_at),
        "expiration_date": None,
        "immutable": False,
        "superseded_by": memory.superseded_by,
    }


def mem0_history_entry(version: MemoryVersion, user_id: str) -> dict[str, Any]:
    return {
        "id": version.id,
        "memory_id": version.memory_id,
        "event": _EVENTS.get(version.event, version.event),
        "old_memory": version.old_content,
        "new_memory": version.new_content,
        "user_id": user_id,
        "input": [],
        "metadata": version.changes or None,
        "created_at": iso(version.created_at),
        "updated_at": iso(version.created_at),
    }


def mem0_add_results(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An extraction job's actions as mem0's add results (what was added, updated or deleted)."""
    return [
        {
            "id": action["memory_id"],
            "memory": action["new"] if action["event"] != "DELETE" else action["old"],
            "event": action["event"],
        }
        for action in actions
        if action["event"] != "NOOP" and action["memory_id"] is not None
    ]
