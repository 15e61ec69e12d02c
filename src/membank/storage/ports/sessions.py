"""Conversation sessions: a rolling summary and the latest messages of each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["SessionRepository", "SessionState"]


@dataclass(slots=True)
class SessionState:
    """What MemBank keeps of a conversation session: a rolling summary and the latest messages."""

    tenant_id: str
    user_id: str
    session_id: str
    summary: str
    key_facts: list[str]
    recent_messages: list[dict[str, Any]]
    turn_count: int
    fact_count: int
    started_at: float
    updated_at: float
    last_message_at: float | None = None
    last_job_id: str | None = None


class SessionRepository(Protocol):
    """Conversation sessions, scoped by tenant and user."""

    def get(self, tenant_id: str, user_id: str, session_id: str) -> SessionState | None:
        """One session or None."""

    def save(self, state: SessionState, *, job_id: str) -> bool:
        """Insert or replace the session unless `job_id` already saved it (a retried job); True if saved."""

    def list_for_user(self, tenant_id: str, user_id: str, *, limit: int, offset: int) -> list[SessionState]:
        """A user's sessions, most recently updated first."""
