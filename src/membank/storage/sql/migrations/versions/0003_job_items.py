"""What became of each input item of a job (a batch import's memories), written in the transaction of the
chunk it belongs to and paged by GET /api/v1/jobs/{id}/items, so a job's result stays small at any size.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_items",
        sa.Column("job_id", sa.Text, sa.ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("memory_id", sa.Text),
        sa.Column("reason", sa.Text),
        sa.Column("error", sa.Text),
        sqlite_with_rowid=False,
    )
