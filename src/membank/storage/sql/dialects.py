"""The one statement the two engines spell differently: INSERT ... ON CONFLICT (an upsert).

SQLAlchemy has an `Insert` with `on_conflict_do_update` / `on_conflict_do_nothing` per dialect and none in
Core; both take the same arguments (`index_elements`, `set_`, `where`, `excluded`), so callers write one
statement and this picks the construct of the connection's engine.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["upsert"]


def upsert(conn: Connection, table: Table) -> sqlite.Insert | postgresql.Insert:
    """An INSERT into `table` that can take an ON CONFLICT clause, for the engine of `conn`."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
