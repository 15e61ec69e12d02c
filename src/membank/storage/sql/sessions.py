"""Conversation sessions on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import RowMapping, select

from membank.storage.ports import SessionState
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.rows import dumps, loads
from membank.storage.sql.tables import sessions
from membank.storage.sql.upsert import upsert_insert

_KEY = (sessions.c.tenant_id, sessions.c.user_id, sessions.c.session_id)


def _session_from_row(row: RowMapping) -> SessionState:
    return SessionState(
        tenant_id=row["tenant_id"],
        user_id=row["user_id"],
        session_id=row["session_id"],
        summary=row["summary"],
        key_facts=loads(row["key_facts"]),
        recent_messages=loads(row["recent_messages"]),
        turn_count=row["turn_count"],
        fact_count=row["fact_count"],
        started_at=row["started_at"],
        updated_at=row["updated_at"],
        last_message_at=row["last_message_at"],
        last_job_id=row["last_job_id"],
    )


class SqlSessionRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_reads
    def get(self, tenant_id: str, user_id: str, session_id: str) -> SessionState | None:
        with self._db.read() as conn:
            row = (
                conn.execute(
                    select(sessions).where(
                        sessions.c.tenant_id == tenant_id,
                        sessions.c.user_id == user_id,
                        sessions.c.session_id == session_id,
                    )
                )
                .mappings()
                .first()
            )
        return _session_from_row(row) if row is not None else None

    @retry_conflicts
    def save(self, state: SessionState, *, job_id: str) -> bool:
        with self._db.write() as conn:
            statement = upsert_insert(conn, sessions).values(
                tenant_id=state.tenant_id,
                user_id=state.user_id,
                session_id=state.session_id,
                summary=state.summary,
                key_facts=dumps(state.key_facts),
                recent_messages=dumps(state.recent_messages),
                turn_count=state.turn_count,
                fact_count=state.fact_count,
                last_job_id=job_id,
                started_at=state.started_at,
                last_message_at=state.last_message_at,
                updated_at=state.updated_at,
            )
            replaced = {
                column.name: statement.excluded[column.name]
                for column in sessions.c
                if not column.primary_key
            }
            # A retried job that already saved the session must not apply its turn twice.
            saved = conn.execute(
                statement.on_conflict_do_update(
                    index_elements=list(_KEY),
                    set_=replaced,
                    where=sessions.c.last_job_id.is_distinct_from(statement.excluded.last_job_id),
                ).returning(sessions.c.session_id)
            ).first()
            return saved is not None

    @retry_reads
    def list_for_user(self, tenant_id: str, user_id: str, *, limit: int, offset: int) -> list[SessionState]:
        with self._db.read() as conn:
            rows = conn.execute(
                select(sessions)
                .where(sessions.c.tenant_id == tenant_id, sessions.c.user_id == user_id)
                .order_by(sessions.c.updated_at.desc(), sessions.c.session_id)
                .limit(limit)
                .offset(offset)
            ).mappings()
            return [_session_from_row(row) for row in rows]
