"""Schema migrations of the system of record: Alembic, run in-process (no alembic.ini at run time).

`upgrade` applies the pending revisions of `storage/sql/migrations/versions` in the caller's write
transaction, so a failed migration leaves the schema as it was. Data dirs of the MemBank versions before
Alembic kept the names of the applied .sql files in `schema_migrations`: those are adopted in place (the
revision matching the last applied file is stamped, the old table dropped) and then upgraded.
"""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError
from sqlalchemy import Connection, inspect, text

from membank.errors import BackendUnavailable
from membank.storage.sql.database import SqlDatabase
from membank.storage.sql.tables import metadata

__all__ = ["LEGACY_REVISIONS", "current_revision", "head_revision", "offline_sql", "upgrade"]

SCRIPT_LOCATION = "membank.storage.sql:migrations"
# The .sql files of the hand-written runner and the revision that made the same schema.
LEGACY_REVISIONS = {
    "0001_initial.sql": "0001",
    "0002_conversations.sql": "0002",
    "0003_job_items.sql": "0003",
}
# Key of the PostgreSQL advisory lock that makes processes starting together migrate one after another.
_MIGRATION_LOCK_KEY = 7_263_401_118


def _config(**attributes: object) -> Config:
    config = Config(attributes=dict(attributes))
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


def _name(revision: str) -> str:
    """The revision as its file is named, e.g. 0001_initial."""
    script = ScriptDirectory.from_config(_config()).get_revision(revision)
    assert script is not None and script.path is not None
    return Path(script.path).stem


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: SqlDatabase) -> list[str]:
    """Apply every pending revision; returns their names, oldest first (empty when already at head)."""
    with db.write() as conn:
        if db.is_postgres:
            # A backfill of a large table may outlast the statement timeout meant for requests.
            conn.execute(text("SET LOCAL statement_timeout = 0"))
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        _adopt_legacy_schema(conn)
        current = current_revision(conn)
        script = ScriptDirectory.from_config(_config())
        try:
            pending = [s.revision for s in script.iterate_revisions("head", current)]
            command.upgrade(_config(connection=conn), "head")
        except (CommandError, RevisionError):
            raise BackendUnavailable(
                f"the database schema is at revision {current!r}, which this MemBank does not know "
                "(was it migrated by a newer version?); fix: run the MemBank version that migrated it, "
                "or use another database"
            ) from None
        _verify_tables(conn)
    return [_name(revision) for revision in reversed(pending)]


def _verify_tables(conn: Connection) -> None:
    """A table or column removed by hand would fail every request that needs it, as an internal error:
    name it at start-up instead (extra tables and columns are let be)."""
    # Only our tables: others in the database (the pgvector index's, of a type SQLAlchemy does not know) are let be.
    ours = [table.name for table in metadata.sorted_tables]
    present = {
        table: {column["name"] for column in columns}
        for (_schema, table), columns in inspect(conn).get_multi_columns(filter_names=ours).items()
    }
    problems = []
    for table in metadata.sorted_tables:
        if table.name not in present:
            problems.append(f"table {table.name} is missing")
            continue
        missing = [column.name for column in table.columns if column.name not in present[table.name]]
        if missing:
            problems.append(f"table {table.name} has no column {', '.join(missing)}")
    if problems:
        raise BackendUnavailable(
            f"the database schema at revision {head_revision()} was changed by hand: {'; '.join(problems)}; "
            "fix: restore the database from a backup"
        )


def offline_sql(dialect: str = "postgresql") -> str:
    """The DDL that brings an empty database of `dialect` to head, for a DBA to review and run."""
    buffer = io.StringIO()
    config = Config(output_buffer=buffer)
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.set_main_option("sqlalchemy.url", f"{dialect}://")
    command.upgrade(config, "head", sql=True)
    return buffer.getvalue()


def _adopt_legacy_schema(conn: Connection) -> None:
    tables = set(inspect(conn).get_table_names())
    if "schema_migrations" not in tables or "alembic_version" in tables:
        return
    applied = sorted(conn.execute(text("SELECT name FROM schema_migrations")).scalars())
    unknown = [name for name in applied if name not in LEGACY_REVISIONS]
    if unknown:
        raise BackendUnavailable(
            f"the database has migrations this MemBank does not know ({', '.join(unknown)}); "
            "was it migrated by a newer version?"
        )
    if applied:
        command.stamp(_config(connection=conn), LEGACY_REVISIONS[applied[-1]])
    conn.execute(text("DROP TABLE schema_migrations"))
