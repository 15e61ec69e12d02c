"""The trace a job belongs to: the W3C `traceparent` of the request that queued it, so that the worker that
runs it (in any process) continues that trace. Jobs queued before this revision have none and start a trace
of their own.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("trace_parent", sa.Text()))


def downgrade() -> None:
    # In place on both engines (SQLite >= 3.35): a rebuilt jobs table would cascade-delete its job items.
    op.drop_column("jobs", "trace_parent")
