"""Usage for cost and capacity reports on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, case, func, insert, select

from membank.storage.ports import (
    CapacitySnapshot,
    LlmUsageTotal,
    TenantStorage,
    UsageRecord,
)
from membank.storage.sql.database import SqlDatabase, retry_conflicts, retry_reads
from membank.storage.sql.memories import valid_at
from membank.storage.sql.tables import capacity_history, llm_usage, memories, tenant_usage
from membank.storage.sql.upsert import upsert_insert

L = llm_usage.c
U = tenant_usage.c
M = memories.c
C = capacity_history.c


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
                L.model,
                L.purpose,
                func.count().label("calls"),
                func.sum(L.prompt_tokens).label("prompt_tokens"),
                func.sum(L.completion_tokens).label("completion_tokens"),
            )
            .where(L.tenant_id == tenant_id, L.created_at >= since)
            .group_by(L.model, L.purpose)
            .order_by(L.model, L.purpose)
        )
        with self._db.read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    @retry_reads
    def llm_totals(self, *, since: float, until: float) -> list[LlmUsageTotal]:
        query = (
            select(
                L.tenant_id,
                L.model,
                L.purpose,
                func.count(),
                func.sum(L.prompt_tokens),
                func.sum(L.completion_tokens),
            )
            .where(L.created_at >= since, L.created_at < until)
            .group_by(L.tenant_id, L.model, L.purpose)
            .order_by(L.tenant_id, L.model, L.purpose)
        )
        with self._db.read() as conn:
            return [
                LlmUsageTotal(tenant, model, purpose, int(calls), int(prompt), int(completion))
                for tenant, model, purpose, calls, prompt, completion in conn.execute(query)
            ]

    @retry_conflicts
    def add_counts(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        if not counts:
            return
        with self._db.write() as conn:
            # Sorted, so concurrent flushes of several processes take row locks in one order.
            for (tenant_id, day, metric), amount in sorted(counts.items()):
                statement = upsert_insert(conn, tenant_usage).values(
                    tenant_id=tenant_id, day=day, metric=metric, amount=amount
                )
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=[U.tenant_id, U.day, U.metric],
                        set_={"amount": U.amount + statement.excluded.amount},
                    )
                )

    @retry_reads
    def counts(self, *, since_day: str, until_day: str) -> dict[str, dict[str, int]]:
        query = (
            select(U.tenant_id, U.metric, func.sum(U.amount))
            .where(U.day >= since_day, U.day <= until_day)
            .group_by(U.tenant_id, U.metric)
        )
        found: dict[str, dict[str, int]] = {}
        with self._db.read() as conn:
            for tenant_id, metric, amount in conn.execute(query):
                found.setdefault(tenant_id, {})[metric] = int(amount)
        return found

    @retry_reads
    def daily_counts(self, tenant_id: str, *, since_day: str, until_day: str) -> dict[str, dict[str, int]]:
        query = (
            select(U.day, U.metric, U.amount)
            .where(U.tenant_id == tenant_id, U.day >= since_day, U.day <= until_day)
            .order_by(U.day)
        )
        found: dict[str, dict[str, int]] = {}
        with self._db.read() as conn:
            for day, metric, amount in conn.execute(query):
                found.setdefault(day, {})[metric] = int(amount)
        return found

    @retry_reads
    def storage(self) -> list[TenantStorage]:
        live = and_(valid_at(time.time()), M.deleted_at.is_(None))
        query = (
            select(
                M.tenant_id,
                func.count(),
                func.coalesce(func.sum(case((live, 1), else_=0)), 0),
                func.coalesce(func.sum(func.length(M.content) + func.length(M.metadata)), 0),
            )
            .group_by(M.tenant_id)
            .order_by(M.tenant_id)
        )
        with self._db.read() as conn:
            return [
                TenantStorage(tenant, int(stored), int(valid), int(size))
                for tenant, stored, valid, size in conn.execute(query)
            ]

    @retry_reads
    def store_bytes(self) -> int:
        return self._db.size_bytes()

    @retry_conflicts
    def record_capacity(self, snapshot: CapacitySnapshot) -> None:
        values = {field: getattr(snapshot, field) for field in snapshot.__dataclass_fields__}
        with self._db.write() as conn:
            statement = upsert_insert(conn, capacity_history).values(**values)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=[C.day],
                    set_={name: getattr(statement.excluded, name) for name in values if name != "day"},
                )
            )

    @retry_reads
    def capacity_history(self, *, since_day: str) -> list[CapacitySnapshot]:
        query = select(capacity_history).where(C.day >= since_day).order_by(C.day)
        with self._db.read() as conn:
            return [CapacitySnapshot(**row) for row in conn.execute(query).mappings()]
