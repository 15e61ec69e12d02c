"""Memories found by id stay on SQLite's primary key, however large the tenant: the legacy adapter needed a
`+tenant_id` planner hint for that; the portable repository reads by id alone and checks the tenant in Python."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from membank.models import Memory, fresh_memory, now_utc
from membank.storage.sql.store import SqlRecordStore

TENANT = "acme"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlRecordStore]:
    s = SqlRecordStore.sqlite(tmp_path / "db.sqlite3")
    s.migrate()
    yield s
    s.close()


def _memories(count: int) -> list[Memory]:
    return [
        fresh_memory(
            tenant_id=TENANT,
            user_id="u1",
            content=f"fact {i}",
            valid_from=None,
            memory_type="factual",
            importance=5,
        )
        for i in range(count)
    ]


def _statements_of(store: SqlRecordStore, action: Any) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, many: bool) -> None:
        if not many and "memories" in statement and "WHERE" in statement:
            seen.append((statement, parameters))

    event.listen(store.db.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(store.db.engine, "before_cursor_execute", record)
    return seen


def test_reads_and_guarded_writes_by_id_use_the_primary_key(store: SqlRecordStore) -> None:
    stored = _memories(3000)
    store.memories.insert(stored, [[1.0, 0.0]] * len(stored), "m", actor="test")
    with store.db.write() as conn:
        conn.exec_driver_sql("ANALYZE")  # the planner knows the tenant index matches every row
    first, second = stored[0], stored[1]
    now = now_utc()

    def work() -> None:
        assert set(store.memories.get_many(TENANT, [first.id, second.id])) == {first.id, second.id}
        assert store.memories.get("other-tenant", first.id) is None
        store.memories.update_fields(
            replace(first, importance=9, version=2, updated_at=now), {"importance": 9}, actor="test"
        )
        store.memories.invalidate(
            replace(second, valid_to=now, deleted_at=now, updated_at=now, version=2), actor="test"
        )

    statements = _statements_of(store, work)
    by_id = [(s, p) for s, p in statements if "memories.id" in s and "memory_versions" not in s]
    assert len(by_id) >= 4
    with store.db.read() as conn:
        for statement, parameters in by_id:
            plan = " | ".join(
                row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
            assert "USING INDEX sqlite_autoindex_memories_1 (id=?)" in plan, (statement, plan)
            assert "SCAN memories" not in plan, (statement, plan)
