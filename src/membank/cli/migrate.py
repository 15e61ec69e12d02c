"""`membank migrate`: bring the system of record's schema to the current revision, or print its DDL."""

from __future__ import annotations

import click

from membank.config import Settings


@click.command()
@click.option(
    "--sql",
    "as_sql",
    is_flag=True,
    help="Print the PostgreSQL DDL of every migration instead of applying it (connects to no database).",
)
def migrate(as_sql: bool) -> None:
    """Apply pending schema migrations to the system of record (MEMBANK_STORE)."""
    if as_sql:
        from membank.storage.sql.schema import offline_sql

        click.echo(offline_sql("postgresql"), nl=False)
        return
    from membank.bootstrap import build_store

    store = build_store(Settings(), migrate=False)
    try:
        applied = store.migrate()
    finally:
        store.close()
    click.echo(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")
