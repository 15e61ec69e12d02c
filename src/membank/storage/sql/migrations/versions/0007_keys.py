"""API-key lifecycle: IP allow lists, required request signing, rotation grace, per-day usage counts.

A rotated key keeps its previous secret's hash until `previous_valid_until` (the grace period), so clients
can switch without an outage. `key_usage` holds request counts per key and UTC day, flushed from memory by
each process (the request path never writes them).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Epoch = sa.Float(precision=53)


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("allowed_ips", sa.Text()))
        batch.add_column(
            sa.Column("require_signature", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("previous_secret_hash", sa.Text()))
        batch.add_column(sa.Column("previous_valid_until", Epoch))
    op.create_table(
        "key_usage",
        sa.Column("key_id", sa.Text(), primary_key=True),
        sa.Column("day", sa.Text(), primary_key=True),
        sa.Column("requests", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("key_usage")
    with op.batch_alter_table("api_keys") as batch:
        for name in ("previous_valid_until", "previous_secret_hash", "require_signature", "allowed_ips"):
            batch.drop_column(name)
