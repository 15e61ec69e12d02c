"""Each tenant's authentication policy: self-registration (allowed, with which role, from which email
domains) and a tenant-wide second-factor requirement. A tenant without a row has the defaults (closed,
`user`, any domain, MFA per role only).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Epoch = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "tenant_policies",
        sa.Column("tenant_id", sa.Text(), sa.ForeignKey("tenants.id"), primary_key=True),
        sa.Column("allow_registration", sa.Integer(), nullable=False),
        sa.Column("registration_role", sa.Text(), nullable=False),
        sa.Column("registration_email_domains", sa.Text(), nullable=False),
        sa.Column("mfa_required", sa.Integer(), nullable=False),
        sa.Column("updated_at", Epoch, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_policies")
