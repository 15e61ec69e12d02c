"""Alembic migrations of the system of record: the schema at head is exactly `tables.metadata` on both engines,
a data dir of the pre-Alembic SQLite runner is upgraded in place with every row still readable, and
`membank migrate [--sql]` says what it did."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import inspect

from membank.cli.main import cli
from membank.errors import BackendUnavailable
from membank.models import JobStatus
from membank.storage.sql.schema import current_revision, head_revision
from membank.storage.sql.store import SqlRecordStore
from membank.storage.sql.tables import metadata

LEGACY_FILES = sorted((Path(__file__).parents[1] / "fixtures" / "legacy_sqlite").glob("*.sql"))
SAME_AFFINITY = {("REAL", "FLOAT"), ("INTEGER", "BIGINT")}
ALL_REVISIONS = [
    "0001_initial",
    "0002_conversations",
    "0003_job_items",
    "0004_job_order",
    "0005_fair_claims",
    "0006_identity",
    "0007_keys",
    "0008_tenant_policy",
    "0009_job_trace",
    "0010_usage",
]


@pytest.fixture(params=["sqlite", "postgres"])
def empty_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlRecordStore]:
    if request.param == "postgres":
        store = SqlRecordStore.postgres(request.getfixturevalue("postgres_url"))
    else:
        store = SqlRecordStore.sqlite(tmp_path / "db.sqlite3")
    yield store
    store.close()


def _differences(store: SqlRecordStore) -> list[object]:
    with store.db.read() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def test_the_schema_at_head_is_exactly_the_tables_on_both_engines(empty_store: SqlRecordStore) -> None:
    assert empty_store.migrate() == ALL_REVISIONS
    assert _differences(empty_store) == []
    with empty_store.db.read() as conn:
        assert current_revision(conn) == head_revision()
    assert empty_store.migrate() == []


def test_the_offline_ddl_builds_the_same_schema_without_connecting(postgres_url: str, tmp_path: Path) -> None:
    # Nothing is reachable at the configured URL: --sql renders the DDL without a database.
    env = {"MEMBANK_STORE": "postgres", "MEMBANK_DATABASE_URL": "postgresql://u:pw@127.0.0.1:1/none"}
    result = CliRunner().invoke(cli, ["migrate", "--sql"], env=env)
    assert result.exit_code == 0, result.output
    ddl = result.output
    assert "CREATE TABLE memories" in ddl and "BIGSERIAL" in ddl and "CREATE SEQUENCE jobs_enqueue_seq" in ddl
    with psycopg.connect(postgres_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(ddl.encode())
    store = SqlRecordStore.postgres(postgres_url)
    try:
        assert _differences(store) == []
        assert store.migrate() == []
    finally:
        store.close()


def test_membank_migrate_prints_what_it_applied(tmp_path: Path) -> None:
    env = {"MEMBANK_DATA_DIR": str(tmp_path / "data")}
    first = CliRunner().invoke(cli, ["migrate"], env=env)
    assert first.exit_code == 0, first.output
    assert first.output.strip() == f"applied {len(ALL_REVISIONS)} migration(s): {', '.join(ALL_REVISIONS)}"
    again = CliRunner().invoke(cli, ["migrate"], env=env)
    assert again.output.strip() == "applied 0 migration(s): none pending"


def test_postgres_without_its_url_is_refused_naming_the_setting() -> None:
    result = CliRunner().invoke(cli, ["migrate"], env={"MEMBANK_STORE": "postgres"})
    assert result.exit_code == 1
    assert "MEMBANK_DATABASE_URL" in result.output and "required when MEMBANK_STORE=postgres" in result.output


def test_a_bad_database_url_is_refused_without_echoing_it() -> None:
    env = {"MEMBANK_STORE": "postgres", "MEMBANK_DATABASE_URL": "mysql://admin:s3cr3t-pw@db/x"}
    result = CliRunner().invoke(cli, ["migrate"], env=env)
    assert result.exit_code == 1
    assert "MEMBANK_DATABASE_URL" in result.output and "must be a PostgreSQL URL" in result.output
    assert "s3cr3t-pw" not in result.output


def test_an_unreachable_database_is_reported_without_its_password() -> None:
    env = {"MEMBANK_STORE": "postgres", "MEMBANK_DATABASE_URL": "postgresql://admin:s3cr3t-pw@127.0.0.1:1/x"}
    result = CliRunner().invoke(cli, ["migrate"], env=env)
    assert result.exit_code == 1
    assert "database is unavailable" in result.output and "s3cr3t-pw" not in result.output


def _legacy_database(path: Path, files: list[Path]) -> sqlite3.Connection:
    """A database made as the pre-Alembic runner made it: each file in a transaction, its name recorded."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    for file in files:
        conn.execute("BEGIN IMMEDIATE")
        for statement in file.read_text().split(";\n"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?)", (file.name, time.time()))
        conn.execute("COMMIT")
    return conn


def _insert_legacy_rows(conn: sqlite3.Connection) -> dict[str, str]:
    now = time.time()
    ids = {"tenant": "t-1", "key": "k-1", "memory": str(uuid.uuid4()), "job": str(uuid.uuid4())}
    conn.execute("INSERT INTO tenants VALUES (?, 'acme', ?)", (ids["tenant"], now))
    conn.execute(
        "INSERT INTO api_keys VALUES (?, ?, 'alice', 'mb_abc', 'hash', '[\"memories:read\"]', ?, NULL, NULL)",
        (ids["key"], ids["tenant"], now),
    )
    conn.execute(
        "INSERT INTO memories (id, tenant_id, user_id, agent_id, session_id, content, summary, memory_type, "
        "importance, tags, metadata, entities, source_refs, content_hash, valid_from, valid_to, superseded_by, "
        "supersedes, lineage_id, version, created_at, updated_at, deleted_at) VALUES "
        "(?, ?, 'u1', NULL, NULL, 'User likes tea', NULL, 'preference', 7, '[\"drinks\"]', '{\"k\": 1}', "
        "'[]', '[]', 'h', ?, NULL, NULL, NULL, ?, 1, ?, ?, NULL)",
        (ids["memory"], ids["tenant"], now, ids["memory"], now, now),
    )
    vector = np.arange(4, dtype=np.float32).tobytes()
    conn.execute("INSERT INTO memory_embeddings VALUES (?, 'model', 4, ?)", (ids["memory"], vector))
    conn.execute(
        "INSERT INTO memory_versions (id, memory_id, lineage_id, tenant_id, version, event, old_content, "
        "new_content, actor, job_id, changes, created_at) VALUES (?, ?, ?, ?, 1, 'CREATE', NULL, "
        "'User likes tea', 'alice', NULL, '{}', ?)",
        (str(uuid.uuid4()), ids["memory"], ids["memory"], ids["tenant"], now),
    )
    conn.execute(
        "INSERT INTO jobs (id, tenant_id, kind, status, payload, max_attempts, run_after, actor, created_at, "
        "updated_at) VALUES (?, ?, 'batch_import', 'queued', '{\"n\": 1}', 3, ?, 'alice', ?, ?)",
        (ids["job"], ids["tenant"], now, now, now),
    )
    conn.execute(
        "INSERT INTO outbox (memory_id, tenant_id, created_at, next_attempt_at) VALUES (?, ?, ?, ?)",
        (ids["memory"], ids["tenant"], now, now),
    )
    return ids


def _legacy_only_differences(store: SqlRecordStore) -> list[object]:
    """Differences from the tables beyond the three that the legacy DDL spells differently for the same
    SQLite schema: REAL for FLOAT and INTEGER for BIGINT (the same affinity), a TEXT PRIMARY KEY without NOT NULL (no row has a
    NULL key), and an inline REFERENCES ... ON DELETE CASCADE whose action SQLAlchemy's reflection does not
    read (PRAGMA foreign_key_list shows it: checked below)."""
    left: list[object] = []
    for entry in _differences(store):
        change = entry[0] if isinstance(entry, list) else entry
        kind = change[0]
        if kind == "modify_type" and (str(change[5]), str(change[6]).split("(")[0]) in SAME_AFFINITY:
            continue
        if kind == "modify_nullable" and change[3] in {"id", "memory_id", "name"}:
            continue
        if kind in {"remove_fk", "add_fk"} and change[1].table.name in {"memory_embeddings", "job_items"}:
            continue
        left.append(change)
    with store.db.read() as conn:
        for table in ("memory_embeddings", "job_items"):
            (fk,) = conn.exec_driver_sql(f"PRAGMA foreign_key_list({table})").all()
            assert fk[6] == "CASCADE"
    return left


@pytest.mark.parametrize("applied", [3, 1], ids=["all-legacy-files", "only-the-first"])
def test_a_legacy_sqlite_data_dir_is_upgraded_in_place(tmp_path: Path, applied: int) -> None:
    path = tmp_path / "membank.sqlite3"
    legacy = _legacy_database(path, LEGACY_FILES[:applied])
    ids = _insert_legacy_rows(legacy)
    legacy.close()

    store = SqlRecordStore.sqlite(path)
    try:
        assert store.migrate() == ALL_REVISIONS[applied:]
        with store.db.read() as conn:
            assert current_revision(conn) == head_revision()
            assert "schema_migrations" not in inspect(conn).get_table_names()
        assert _legacy_only_differences(store) == []
        tenant = store.keys.tenant_by_name("acme")
        assert tenant is not None and tenant.id == ids["tenant"]
        key = store.keys.key_by_prefix("mb_abc")
        assert key is not None and key.tenant_id == ids["tenant"] and list(key.scopes) == ["memories:read"]
        memory = store.memories.get(ids["tenant"], ids["memory"])
        assert memory is not None and memory.content == "User likes tea" and memory.metadata == {"k": 1}
        assert memory.slot is None and memory.tags == ["drinks"]
        assert store.memories.vectors([ids["memory"]]) == {ids["memory"]: [0.0, 1.0, 2.0, 3.0]}
        history = store.memories.history(ids["tenant"], ids["memory"])
        assert [(v.event, v.extractor) for v in history] == [("CREATE", None)]
        job = store.jobs.get(ids["tenant"], ids["job"])
        assert (
            job is not None
            and job.status is JobStatus.QUEUED
            and job.priority == 0
            and job.payload == {"n": 1}
        )
        assert [item.memory_id for item in store.outbox.due(time.time() + 1, 10)] == [ids["memory"]]
        claimed = store.jobs.claim("w1", time.time() + 1, 30)
        assert claimed is not None and claimed.id == ids["job"]
        assert store.migrate() == []
    finally:
        store.close()


def test_a_database_from_an_unknown_legacy_migration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "membank.sqlite3"
    legacy = _legacy_database(path, LEGACY_FILES)
    legacy.execute("INSERT INTO schema_migrations VALUES ('0099_future.sql', 0)")
    legacy.close()
    store = SqlRecordStore.sqlite(path)
    try:
        with pytest.raises(BackendUnavailable, match=r"0099_future\.sql"):
            store.migrate()
        with store.db.read() as conn:  # nothing changed: still the legacy bookkeeping, no Alembic
            assert {"schema_migrations", "memories"} <= set(inspect(conn).get_table_names())
            assert current_revision(conn) is None
    finally:
        store.close()


def test_processes_starting_together_on_postgres_migrate_one_after_the_other(postgres_url: str) -> None:
    stores = [SqlRecordStore.postgres(postgres_url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            applied = list(pool.map(lambda store: store.migrate(), stores))
        assert sorted(applied, key=len) == [[], [], ALL_REVISIONS]
        assert _differences(stores[0]) == []
    finally:
        for store in stores:
            store.close()
