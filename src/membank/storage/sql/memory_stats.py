"""A user's memory statistics in two aggregate queries, the same on every engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, select

from membank.storage.sql import tables

__all__ = ["user_stats"]

M = tables.memories.c


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def user_stats(conn: Connection, tenant_id: str, user_id: str, valid: ColumnElement[bool]) -> dict[str, Any]:
    """Counts by state and type, the average importance of the valid ones, first and last creation time."""
    mine = (M.tenant_id == tenant_id, M.user_id == user_id)
    row = conn.execute(
        select(
            func.count().label("total"),
            _count_where(valid).label("active"),
            _count_where(M.superseded_by.is_not(None)).label("superseded"),
            _count_where(M.deleted_at.is_not(None)).label("deleted"),
            func.avg(case((valid, M.importance))).label("avg_importance"),
            func.min(M.created_at).label("first"),
            func.max(M.created_at).label("last"),
        ).where(*mine)
    ).one()
    by_type = conn.execute(
        select(M.memory_type, func.count()).where(*mine, valid).group_by(M.memory_type)
    ).all()
    # PostgreSQL's AVG of integers is a numeric (Decimal) and its SUM a bigint: plain numbers for JSON.
    average = row.avg_importance
    return {
        "total": int(row.total),
        "active": int(row.active),
        "superseded": int(row.superseded),
        "deleted": int(row.deleted),
        "by_type": {memory_type: int(count) for memory_type, count in by_type},
        "average_importance": round(float(average), 3) if average is not None else None,
        "first_created_at": row.first,
        "last_created_at": row.last,
    }
