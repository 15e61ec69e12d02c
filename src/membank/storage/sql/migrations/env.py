"""Alembic's entry point for the migrations of the system of record (run by `storage.sql.schema`).

Online, the caller hands over a connection already inside its transaction (`config.attributes["connection"]`),
so a migration and its bookkeeping commit or roll back together. Offline (`membank migrate --sql`), the DDL
is rendered for the dialect named by the `sqlalchemy.url` option without connecting anywhere.
"""

from __future__ import annotations

from alembic import context

from membank.storage.sql.tables import metadata

config = context.config

if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True
    )
else:
    context.configure(connection=config.attributes["connection"], target_metadata=metadata)

with context.begin_transaction():
    context.run_migrations()
