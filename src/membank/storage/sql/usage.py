"""LLM token usage on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select

from membank.storage.ports import UsageRecord
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.tables import llm_usage


class SqlUsageRepository:
    def __init__(self, db: SqlDatabase) -> None:
        self._db = db

    @retry_conflicts
    def record(self, usage: UsageRecord) -> None:
        with self._db.write_one() as conn:
            conn.execute(
                insert(llm_usage).values(
                    tenant_id=usage.tenant_id,
                    job_id=usage.job_id,
                    purpose=usage.purpose,
                    model=usage.model,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    created_at=usage.created_at,
                )
            )

    @retry_reads
    def summary(self, tenant_id: str, *, since: float) -> list[dict[str, Any]]:
        query = (
            select(
                llm_usage.c.model,
                llm_usage.c.purpose,
                func.count().label("calls"),
                func.sum(llm_usage.c.prompt_tokens).label("prompt_tokens"),
                func.sum(llm_usage.c.completion_tokens).label("completion_tokens"),
            )
            .where(llm_usage.c.tenant_id == tenant_id, llm_usage.c.created_at >= since)
            .group_by(llm_usage.c.model, llm_usage.c.purpose)
            .order_by(llm_usage.c.model, llm_usage.c.purpose)
        )
        with self._db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
