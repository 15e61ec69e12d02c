"""INSERT ... ON CONFLICT, which SQLAlchemy spells once per dialect (with the same API on both)."""

from __future__ import annotations

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

UpsertInsert = sqlite.Insert | postgresql.Insert


def upsert_insert(conn: Connection, table: Table) -> UpsertInsert:
    """The INSERT of the connection's dialect, with `on_conflict_do_update` / `on_conflict_do_nothing`."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
