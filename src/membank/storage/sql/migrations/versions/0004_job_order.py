"""Jobs get a portable queue order: `jobs.enqueue_seq`.

Jobs of one sequence run in the order they were queued, which SQLite's `rowid` used to break ties on (jobs
of one batch share `created_at`). `enqueue_seq` is that order on both engines: existing SQLite rows take
their rowid, existing PostgreSQL rows their (created_at, id) order, and new jobs draw from the
`jobs_enqueue_seq` sequence on PostgreSQL and from MAX()+1 on SQLite. The claim walks the new partial
index `jobs_runnable` in its order (priority, due time, creation, queue order) over unfinished jobs only.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SEQUENCE_INDEX_WHERE = sa.text("sequence_key IS NOT NULL")
_RUNNABLE_INDEX_WHERE = sa.text("status IN ('queued', 'processing', 'failed')")


def upgrade() -> None:
    # SQLite adds a NOT NULL column only with a default; the backfill below replaces every 0.
    op.add_column(
        "jobs", sa.Column("enqueue_seq", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.schema.CreateSequence(sa.Sequence("jobs_enqueue_seq")))
        op.execute(
            "UPDATE jobs SET enqueue_seq = ordered.n FROM "
            "(SELECT id, row_number() OVER (ORDER BY created_at, id) AS n FROM jobs) AS ordered "
            "WHERE jobs.id = ordered.id"
        )
        op.execute(
            "SELECT setval('jobs_enqueue_seq', COALESCE((SELECT MAX(enqueue_seq) FROM jobs), 0) + 1, false)"
        )
    else:
        op.execute("UPDATE jobs SET enqueue_seq = rowid")
    op.create_index("jobs_enqueue_order", "jobs", ["enqueue_seq"], unique=True)
    op.create_index(
        "jobs_runnable",
        "jobs",
        [sa.text("priority DESC"), "run_after", "created_at", "enqueue_seq"],
        sqlite_where=_RUNNABLE_INDEX_WHERE,
        postgresql_where=_RUNNABLE_INDEX_WHERE,
    )
    _replace_sequence_index(["sequence_key", "status", "enqueue_seq"])


def downgrade() -> None:
    _replace_sequence_index(["sequence_key", "status", "created_at"])
    op.drop_index("jobs_runnable", table_name="jobs")
    op.drop_index("jobs_enqueue_order", table_name="jobs")
    op.drop_column("jobs", "enqueue_seq")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.schema.DropSequence(sa.Sequence("jobs_enqueue_seq")))


def _replace_sequence_index(columns: list[str]) -> None:
    op.drop_index("jobs_sequence", table_name="jobs")
    op.create_index(
        "jobs_sequence",
        "jobs",
        columns,
        sqlite_where=_SEQUENCE_INDEX_WHERE,
        postgresql_where=_SEQUENCE_INDEX_WHERE,
    )
