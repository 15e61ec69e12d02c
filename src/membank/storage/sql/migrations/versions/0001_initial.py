"""Tenants, API keys, memories with embeddings and history, jobs, the outbox, idempotency keys.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Epoch = sa.Float(precision=53)
AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", Epoch, nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("prefix", sa.Text, nullable=False, unique=True),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("last_used_at", Epoch),
        sa.Column("revoked_at", Epoch),
    )
    op.create_index("api_keys_tenant", "api_keys", ["tenant_id"])
    op.create_table(
        "memories",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("agent_id", sa.Text),
        sa.Column("session_id", sa.Text),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("summary", sa.Text),
        sa.Column("memory_type", sa.Text, nullable=False),
        sa.Column("importance", sa.Integer, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("metadata", sa.Text, nullable=False),
        sa.Column("entities", sa.Text, nullable=False),
        sa.Column("source_refs", sa.Text, nullable=False),
        sa.Column("content_hash", sa.Text, nullable=False),
        sa.Column("valid_from", Epoch, nullable=False),
        sa.Column("valid_to", Epoch),
        sa.Column("superseded_by", sa.Text),
        sa.Column("supersedes", sa.Text),
        sa.Column("lineage_id", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("updated_at", Epoch, nullable=False),
        sa.Column("deleted_at", Epoch),
    )
    op.create_index("memories_user_created", "memories", ["tenant_id", "user_id", "created_at"])
    op.create_index("memories_hash", "memories", ["tenant_id", "user_id", "content_hash"])
    op.create_index("memories_lineage", "memories", ["tenant_id", "lineage_id"])
    op.create_table(
        "memory_embeddings",
        sa.Column("memory_id", sa.Text, sa.ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("dim", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "memory_versions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("memory_id", sa.Text, nullable=False),
        sa.Column("lineage_id", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("event", sa.Text, nullable=False),
        sa.Column("old_content", sa.Text),
        sa.Column("new_content", sa.Text),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("job_id", sa.Text),
        sa.Column("changes", sa.Text, nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
    )
    op.create_index("memory_versions_lineage", "memory_versions", ["tenant_id", "lineage_id", "created_at"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("result", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("progress_done", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("progress_total", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_expires_at", Epoch),
        sa.Column("run_after", Epoch, nullable=False),
        sa.Column("checkpoint", sa.Text, nullable=False, server_default=sa.text("'{}'")),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("updated_at", Epoch, nullable=False),
        sa.Column("started_at", Epoch),
        sa.Column("finished_at", Epoch),
    )
    op.create_index("jobs_claim", "jobs", ["status", "run_after"])
    op.create_index(
        "jobs_idempotency",
        "jobs",
        ["tenant_id", "idempotency_key"],
        unique=True,
        sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("memory_id", sa.Text, nullable=False),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("next_attempt_at", Epoch, nullable=False),
        sa.Column("last_error", sa.Text),
        sqlite_autoincrement=True,
    )
    op.create_index("outbox_due", "outbox", ["next_attempt_at"])
    op.create_index("outbox_memory", "outbox", ["memory_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
    )
