"""Conversations: memory slots, extraction provenance, job batches, priorities and sequences, sessions,
named locks, user revisions, LLM usage.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Epoch = sa.Float(precision=53)
AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Plain ADD COLUMN and CREATE INDEX: SQLite does both in place, no table copy (batch mode) needed.
    op.add_column("memories", sa.Column("slot", sa.Text))
    op.create_index(
        "memories_slot",
        "memories",
        ["tenant_id", "user_id", "slot"],
        sqlite_where=sa.text("slot IS NOT NULL"),
        postgresql_where=sa.text("slot IS NOT NULL"),
    )
    op.add_column("memory_versions", sa.Column("extractor", sa.Text))
    op.add_column("memory_versions", sa.Column("prompt_version", sa.Text))
    op.add_column("jobs", sa.Column("batch_id", sa.Text))
    op.add_column("jobs", sa.Column("priority", sa.Integer, nullable=False, server_default=sa.text("0")))
    op.add_column("jobs", sa.Column("sequence_key", sa.Text))
    op.create_index(
        "jobs_batch",
        "jobs",
        ["tenant_id", "batch_id"],
        sqlite_where=sa.text("batch_id IS NOT NULL"),
        postgresql_where=sa.text("batch_id IS NOT NULL"),
    )
    op.create_index(
        "jobs_sequence",
        "jobs",
        ["sequence_key", "status", "created_at"],
        sqlite_where=sa.text("sequence_key IS NOT NULL"),
        postgresql_where=sa.text("sequence_key IS NOT NULL"),
    )
    op.create_table(
        "batches",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("job_count", sa.Integer, nullable=False),
        sa.Column("options", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("key_facts", sa.Text, nullable=False),
        sa.Column("recent_messages", sa.Text, nullable=False),
        sa.Column("turn_count", sa.Integer, nullable=False),
        sa.Column("fact_count", sa.Integer, nullable=False),
        sa.Column("last_job_id", sa.Text),
        sa.Column("started_at", Epoch, nullable=False),
        sa.Column("last_message_at", Epoch),
        sa.Column("updated_at", Epoch, nullable=False),
    )
    op.create_table(
        "scope_locks",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("expires_at", Epoch, nullable=False),
    )
    op.create_table(
        "user_revisions",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("user_id", sa.Text, primary_key=True),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "llm_usage",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("job_id", sa.Text),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("prompt_tokens", sa.Integer, nullable=False),
        sa.Column("completion_tokens", sa.Integer, nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("llm_usage_tenant", "llm_usage", ["tenant_id", "created_at"])
