"""Usage and capacity history: per tenant and UTC day, what each tenant did (requests, searches, writes, jobs,
embedded texts), and one snapshot a day of the deployment's size for capacity forecasts.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Epoch = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "tenant_usage",
        sa.Column("tenant_id", sa.Text(), primary_key=True),
        sa.Column("day", sa.Text(), primary_key=True),
        sa.Column("metric", sa.Text(), primary_key=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "capacity_history",
        sa.Column("day", sa.Text(), primary_key=True),
        sa.Column("memories", sa.BigInteger(), nullable=False),
        sa.Column("content_bytes", sa.BigInteger(), nullable=False),
        sa.Column("store_bytes", sa.BigInteger(), nullable=False),
        sa.Column("index_bytes", sa.BigInteger(), nullable=False),
        sa.Column("disk_free_bytes", sa.BigInteger(), nullable=False),
        sa.Column("disk_size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("rss_bytes", sa.BigInteger(), nullable=False),
        sa.Column("memory_size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", Epoch, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("capacity_history")
    op.drop_table("tenant_usage")
