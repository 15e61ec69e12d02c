"""Jobs are claimed fairly across tenants, and each tenant's queue is bounded: `job_tenants`.

One row per tenant that ever queued a job: how many of its jobs are unfinished (queued, processing or
failed) and the turn at which a worker last claimed one of them. The claim serves the tenant with unfinished jobs that
was served least recently, walking that tenant's jobs through the new partial index `jobs_tenant_runnable`.
Existing unfinished jobs are counted into the new rows.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_UNFINISHED = sa.text("status IN ('queued', 'processing', 'failed')")
_HAS_UNFINISHED = sa.text("unfinished > 0")


def upgrade() -> None:
    op.create_table(
        "job_tenants",
        sa.Column("tenant_id", sa.Text(), primary_key=True),
        sa.Column("unfinished", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("served_seq", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.schema.CreateSequence(sa.Sequence("job_tenant_turns")))
    op.create_index(
        "job_tenants_turn",
        "job_tenants",
        ["served_seq", "tenant_id"],
        sqlite_where=_HAS_UNFINISHED,
        postgresql_where=_HAS_UNFINISHED,
    )
    op.create_index(
        "jobs_tenant_runnable",
        "jobs",
        ["tenant_id", sa.text("priority DESC"), "run_after", "created_at", "enqueue_seq"],
        sqlite_where=_UNFINISHED,
        postgresql_where=_UNFINISHED,
    )
    op.execute(
        "INSERT INTO job_tenants (tenant_id, unfinished, served_seq) "
        "SELECT tenant_id, SUM(CASE WHEN status IN ('queued', 'processing', 'failed') THEN 1 ELSE 0 END), 0 "
        "FROM jobs GROUP BY tenant_id"
    )


def downgrade() -> None:
    op.drop_index("jobs_tenant_runnable", table_name="jobs")
    op.drop_index("job_tenants_turn", table_name="job_tenants")
    op.drop_table("job_tenants")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.schema.DropSequence(sa.Sequence("job_tenant_turns")))
