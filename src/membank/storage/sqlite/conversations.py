"""Sessions, named locks and LLM usage in SQLite."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson

from membank.storage.ports import SessionState, UsageRecord
from membank.storage.sqlite.database import SqliteDatabase
from membank.storage.sqlite.rows import dumps


def _session_from_row(row: sqlite3.Row) -> SessionState:
    return SessionState(
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        session_id=row["session_id"],
        summary=row["summary"],
        key_facts=orjson.loads(row["key_facts"]),
        recent_messages=orjson.loads(row["recent_messages"]),
        turn_count=row["turn_count"],
        fact_count=row["fact_count"],
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        last_message_at=row["last_message_at"],
        last_job_id=row["last_job_id"],
    )


class SqliteSessionRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def get(self, tenant_id: str, user_id: str, session_id: str) -> SessionState | None:
        row = (
            self._db.read()
            .execute(
                "SELECT * FROM sessions WHERE tenant_id = ? AND user_id = ? AND session_id = ?",
                (tenant_id, user_id, session_id),
            )
            .fetchone()
        )
        return _session_from_row(row) if row else None

    def save(self, state: SessionState, *, job_id: str) -> bool:
        with self._db.write() as conn:
            row = conn.execute(
                "SELECT last_job_id FROM sessions WHERE tenant_id = ? AND user_id = ? AND session_id = ?",
                (state.tenant_id, state.user_id, state.session_id),
            ).fetchone()
            if row is not None and row[0] == job_id:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    state.tenant_id,
                    state.user_id,
                    state.session_id,
                    state.summary,
                    dumps(state.key_facts),
                    dumps(state.recent_messages),
                    state.turn_count,
                    state.fact_count,
                    job_id,
                    state.started_at,
                    state.last_message_at,
                    state.updated_at,
                ),
            )
        return True

    def list_for_user(self, tenant_id: str, user_id: str, *, limit: int, offset: int) -> list[SessionState]:
        rows = self._db.read().execute(
            "SELECT * FROM sessions WHERE tenant_id = ? AND user_id = ? ORDER BY updated_at DESC LIMIT ? OFFSET ?",
            (tenant_id, user_id, limit, offset),
        )
        return [_session_from_row(row) for row in rows]


class SqliteLockRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def acquire(self, name: str, owner: str, now: float, ttl: float) -> bool:
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO scope_locks VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE "
                "SET owner = excluded.owner, expires_at = excluded.expires_at "
                "WHERE scope_locks.owner = excluded.owner OR scope_locks.expires_at < ?",
                (name, owner, now + ttl, now),
            )
            return cursor.rowcount == 1

    def release(self, name: str, owner: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM scope_locks WHERE name = ? AND owner = ?", (name, owner))


class SqliteUsageRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    def record(self, usage: UsageRecord) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO llm_usage (tenant_id, job_id, purpose, model, prompt_tokens, completion_tokens, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    usage.tenant_id,
                    usage.job_id,
                    usage.purpose,
                    usage.model,
                    usage.prompt_tokens,
                    usage.completion_tokens,
                    usage.created_at,
                ),
            )

    def summary(self, tenant_id: str, *, since: float) -> list[dict[str, Any]]:
        rows = self._db.read().execute(
            "SELECT model, purpose, COUNT(*) AS calls, SUM(prompt_tokens) AS prompt_tokens, "
            "SUM(completion_tokens) AS completion_tokens FROM llm_usage WHERE tenant_id = ? AND created_at >= ? "
            "GROUP BY model, purpose ORDER BY model, purpose",
            (tenant_id, since),
        )
        return [dict(row) for row in rows]
