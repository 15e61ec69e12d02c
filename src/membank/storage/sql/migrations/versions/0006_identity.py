"""Identity and access: accounts, roles, teams, sessions, signing keys, IP rules, security events.

`users` are the human accounts of a tenant (not the agent end users whose memories are stored: those are
`memories.user_id`); `team_members` lists a team's end users. API keys gain roles, bound end users and teams,
a service account and an expiry; keys made before keep `roles` NULL and are read by their scopes.
`login_failures` counts failed logins per (tenant, email), existing account or not. `security_events` is
append-only.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

Epoch = sa.Float(precision=53)
AutoId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_KEY_COLUMNS = ("roles", "user_ids", "team_ids", "service_account_id", "expires_at")


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        for name in _KEY_COLUMNS:
            batch.add_column(sa.Column(name, Epoch if name == "expires_at" else sa.Text()))
    op.create_table(
        "users",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("email", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("roles", sa.Text(), nullable=False),
        sa.Column("user_ids", sa.Text()),
        sa.Column("team_ids", sa.Text()),
        sa.Column("password_hash", sa.Text()),
        sa.Column("password_changed_at", Epoch),
        sa.Column("must_change_password", sa.Integer(), nullable=False),
        sa.Column("mfa_secret", sa.Text()),
        sa.Column("mfa_enabled_at", Epoch),
        sa.Column("last_login_at", Epoch),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("updated_at", Epoch, nullable=False),
    )
    op.create_index("users_tenant_email", "users", ["tenant_id", "email"], unique=True)
    op.create_table(
        "login_failures",
        sa.Column("tenant_id", sa.Text(), primary_key=True),
        sa.Column("email", sa.Text(), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lockouts", sa.Integer(), nullable=False),
        sa.Column("locked_until", Epoch),
        sa.Column("updated_at", Epoch, nullable=False),
    )
    op.create_table(
        "password_history",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Text(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("password_history_user", "password_history", ["user_id", "created_at"])
    op.create_table(
        "mfa_recovery_codes",
        sa.Column("user_id", sa.Text(), sa.ForeignKey("users.id"), primary_key=True),
        sa.Column("code_hash", sa.Text(), primary_key=True),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("used_at", Epoch),
    )
    op.create_table(
        "service_accounts",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("disabled_at", Epoch),
    )
    op.create_index("service_accounts_tenant_name", "service_accounts", ["tenant_id", "name"], unique=True)
    op.create_table(
        "roles",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("permissions", sa.Text(), nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("updated_at", Epoch, nullable=False),
    )
    op.create_index("roles_tenant_name", "roles", ["tenant_id", "name"], unique=True)
    op.create_table(
        "teams",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), sa.ForeignKey("tenants.id"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
    )
    op.create_index("teams_tenant_name", "teams", ["tenant_id", "name"], unique=True)
    op.create_table(
        "team_members",
        sa.Column("team_id", sa.Text(), sa.ForeignKey("teams.id"), primary_key=True),
        sa.Column("user_id", sa.Text(), primary_key=True),
        sa.Column("added_at", Epoch, nullable=False),
    )
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("tenant_id", sa.Text(), nullable=False),
        sa.Column("account_id", sa.Text(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("device", sa.Text(), nullable=False),
        sa.Column("ip", sa.Text(), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("mfa_at", Epoch),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("last_seen_at", Epoch, nullable=False),
        sa.Column("expires_at", Epoch, nullable=False),
        sa.Column("revoked_at", Epoch),
        sa.Column("revoked_reason", sa.Text()),
    )
    op.create_index("auth_sessions_account", "auth_sessions", ["account_id", "created_at"])
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("session_id", sa.Text(), sa.ForeignKey("auth_sessions.id"), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False, unique=True),
        sa.Column("parent_id", sa.Text()),
        sa.Column("issued_at", Epoch, nullable=False),
        sa.Column("expires_at", Epoch, nullable=False),
        sa.Column("used_at", Epoch),
    )
    op.create_index("refresh_tokens_session", "refresh_tokens", ["session_id"])
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.Text(), primary_key=True),
        sa.Column("algorithm", sa.Text(), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("public_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
        sa.Column("retired_at", Epoch),
    )
    op.create_table(
        "ip_rules",
        sa.Column("id", sa.Text(), primary_key=True),
        sa.Column("tenant_id", sa.Text()),
        sa.Column("cidr", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", Epoch, nullable=False),
    )
    op.create_index("ip_rules_tenant", "ip_rules", ["tenant_id"])
    op.create_table(
        "request_nonces",
        sa.Column("key_id", sa.Text(), primary_key=True),
        sa.Column("nonce", sa.Text(), primary_key=True),
        sa.Column("expires_at", Epoch, nullable=False),
    )
    op.create_index("request_nonces_expiry", "request_nonces", ["expires_at"])
    op.create_table(
        "security_events",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("at", Epoch, nullable=False),
        sa.Column("tenant_id", sa.Text()),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("target", sa.Text()),
        sa.Column("ip", sa.Text()),
        sa.Column("user_agent", sa.Text()),
        sa.Column("request_id", sa.Text()),
        sa.Column("details", sa.Text(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("security_events_tenant", "security_events", ["tenant_id", "at"])
    op.create_index("security_events_kind", "security_events", ["kind", "at"])


_TABLES = (
    "security_events",
    "request_nonces",
    "ip_rules",
    "signing_keys",
    "refresh_tokens",
    "auth_sessions",
    "team_members",
    "teams",
    "roles",
    "service_accounts",
    "mfa_recovery_codes",
    "password_history",
    "login_failures",
    "users",
)


def downgrade() -> None:
    for table in _TABLES:
        op.drop_table(table)
    with op.batch_alter_table("api_keys") as batch:
        for name in _KEY_COLUMNS:
            batch.drop_column(name)
