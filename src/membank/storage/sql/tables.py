"""The tables of the system of record, defined once for SQLite and PostgreSQL.

Times are epoch seconds (double precision), JSON values are their compact JSON text, vectors are float32
bytes: the same bytes on both engines, so a dump of one loads into the other. Alembic migrations
(storage/sql/migrations) create exactly these tables; tests compare the two.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Sequence,
    Table,
    Text,
    text,
)

metadata = MetaData()

# SQLite gives an autoincrementing key only to a column declared exactly INTEGER PRIMARY KEY.
AutoId = BigInteger().with_variant(Integer(), "sqlite")
Epoch = Float(precision=53)

tenants = Table(
    "tenants",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", Epoch, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("prefix", Text, nullable=False, unique=True),
    Column("secret_hash", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("created_at", Epoch, nullable=False),
    Column("last_used_at", Epoch),
    Column("revoked_at", Epoch),
    Column("roles", Text),
    Column("user_ids", Text),
    Column("team_ids", Text),
    Column("service_account_id", Text),
    Column("expires_at", Epoch),
    Column("allowed_ips", Text),
    Column("require_signature", Integer, nullable=False, server_default=text("0")),
    Column("previous_secret_hash", Text),
    Column("previous_valid_until", Epoch),
    Index("api_keys_tenant", "tenant_id"),
)

# Requests per key and UTC day (YYYY-MM-DD), added to by each process's periodic flush.
key_usage = Table(
    "key_usage",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("day", Text, primary_key=True),
    Column("requests", BigInteger, nullable=False),
)

memories = Table(
    "memories",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("agent_id", Text),
    Column("session_id", Text),
    Column("content", Text, nullable=False),
    Column("summary", Text),
    Column("memory_type", Text, nullable=False),
    Column("importance", Integer, nullable=False),
    Column("tags", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("entities", Text, nullable=False),
    Column("source_refs", Text, nullable=False),
    Column("content_hash", Text, nullable=False),
    Column("valid_from", Epoch, nullable=False),
    Column("valid_to", Epoch),
    Column("superseded_by", Text),
    Column("supersedes", Text),
    Column("lineage_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", Epoch, nullable=False),
    Column("updated_at", Epoch, nullable=False),
    Column("deleted_at", Epoch),
    Column("slot", Text),
    Index("memories_user_created", "tenant_id", "user_id", "created_at"),
    Index("memories_hash", "tenant_id", "user_id", "content_hash"),
    Index("memories_lineage", "tenant_id", "lineage_id"),
    Index(
        "memories_slot",
        "tenant_id",
        "user_id",
        "slot",
        sqlite_where=text("slot IS NOT NULL"),
        postgresql_where=text("slot IS NOT NULL"),
    ),
)

memory_embeddings = Table(
    "memory_embeddings",
    metadata,
    Column("memory_id", Text, ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True),
    Column("model", Text, nullable=False),
    Column("dim", Integer, nullable=False),
    Column("vector", LargeBinary, nullable=False),
)

memory_versions = Table(
    "memory_versions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("memory_id", Text, nullable=False),
    Column("lineage_id", Text, nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event", Text, nullable=False),
    Column("old_content", Text),
    Column("new_content", Text),
    Column("actor", Text, nullable=False),
    Column("job_id", Text),
    Column("changes", Text, nullable=False),
    Column("created_at", Epoch, nullable=False),
    Column("extractor", Text),
    Column("prompt_version", Text),
    Index("memory_versions_lineage", "tenant_id", "lineage_id", "created_at"),
)

# Where `jobs.enqueue_seq` numbers come from on PostgreSQL (SQLite takes MAX()+1 inside its serialised write).
job_order = Sequence("jobs_enqueue_seq", metadata=metadata)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("result", Text),
    Column("error", Text),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("max_attempts", Integer, nullable=False),
    Column("progress_done", Integer, nullable=False, server_default=text("0")),
    Column("progress_total", Integer, nullable=False, server_default=text("0")),
    Column("idempotency_key", Text),
    Column("lease_owner", Text),
    Column("lease_expires_at", Epoch),
    Column("run_after", Epoch, nullable=False),
    Column("checkpoint", Text, nullable=False, server_default=text("'{}'")),
    Column("actor", Text, nullable=False),
    Column("created_at", Epoch, nullable=False),
    Column("updated_at", Epoch, nullable=False),
    Column("started_at", Epoch),
    Column("finished_at", Epoch),
    Column("batch_id", Text),
    Column("priority", Integer, nullable=False, server_default=text("0")),
    Column("sequence_key", Text),
    Column("trace_parent", Text),
    # The order jobs were queued in, the same on both engines (created_at ties within a batch; rowid is
    # SQLite's own). The default only lets SQLite add the column NOT NULL: every insert sets the number.
    Column("enqueue_seq", BigInteger, nullable=False, server_default=text("0")),
    Index("jobs_claim", "status", "run_after"),
    Index("jobs_enqueue_order", "enqueue_seq", unique=True),
    Index(
        "jobs_idempotency",
        "tenant_id",
        "idempotency_key",
        unique=True,
        sqlite_where=text("idempotency_key IS NOT NULL"),
        postgresql_where=text("idempotency_key IS NOT NULL"),
    ),
    Index(
        "jobs_batch",
        "tenant_id",
        "batch_id",
        sqlite_where=text("batch_id IS NOT NULL"),
        postgresql_where=text("batch_id IS NOT NULL"),
    ),
    Index(
        "jobs_sequence",
        "sequence_key",
        "status",
        "enqueue_seq",
        sqlite_where=text("sequence_key IS NOT NULL"),
        postgresql_where=text("sequence_key IS NOT NULL"),
    ),
)

# The claim walks this in its order and takes the first runnable row, instead of sorting every unfinished
# job on each claim (finished jobs are left out of it).
Index(
    "jobs_runnable",
    jobs.c.priority.desc(),
    jobs.c.run_after,
    jobs.c.created_at,
    jobs.c.enqueue_seq,
    sqlite_where=text("status IN ('queued', 'processing', 'failed')"),
    postgresql_where=text("status IN ('queued', 'processing', 'failed')"),
)

# Fair claiming across tenants: the claim takes the first runnable job of the tenant with unfinished jobs that
# was served least recently (lowest `served_seq`, a number drawn at each claim: from `job_tenant_turns` on
# PostgreSQL, MAX()+1 on SQLite). `unfinished` counts the tenant's queued, processing and failed jobs; it
# changes in the transaction that queues, completes or kills a job, so it bounds the tenant's queue atomically.
job_turns = Sequence("job_tenant_turns", metadata=metadata)

job_tenants = Table(
    "job_tenants",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("unfinished", Integer, nullable=False, server_default=text("0")),
    Column("served_seq", BigInteger, nullable=False, server_default=text("0")),
    Index(
        "job_tenants_turn",
        "served_seq",
        "tenant_id",
        sqlite_where=text("unfinished > 0"),
        postgresql_where=text("unfinished > 0"),
    ),
)

# The claim of one tenant walks this in the claim order (priority, due time, creation, queue order).
Index(
    "jobs_tenant_runnable",
    jobs.c.tenant_id,
    jobs.c.priority.desc(),
    jobs.c.run_after,
    jobs.c.created_at,
    jobs.c.enqueue_seq,
    sqlite_where=text("status IN ('queued', 'processing', 'failed')"),
    postgresql_where=text("status IN ('queued', 'processing', 'failed')"),
)

job_items = Table(
    "job_items",
    metadata,
    Column("job_id", Text, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("status", Text, nullable=False),
    Column("memory_id", Text),
    Column("reason", Text),
    Column("error", Text),
    sqlite_with_rowid=False,
)

batches = Table(
    "batches",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("job_count", Integer, nullable=False),
    Column("options", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("created_at", Epoch, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("memory_id", Text, nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("created_at", Epoch, nullable=False),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("next_attempt_at", Epoch, nullable=False),
    Column("last_error", Text),
    Index("outbox_due", "next_attempt_at"),
    Index("outbox_memory", "memory_id"),
    sqlite_autoincrement=True,
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("request_hash", Text, nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", Epoch, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("user_id", Text, primary_key=True),
    Column("session_id", Text, primary_key=True),
    Column("summary", Text, nullable=False),
    Column("key_facts", Text, nullable=False),
    Column("recent_messages", Text, nullable=False),
    Column("turn_count", Integer, nullable=False),
    Column("fact_count", Integer, nullable=False),
    Column("last_job_id", Text),
    Column("started_at", Epoch, nullable=False),
    Column("last_message_at", Epoch),
    Column("updated_at", Epoch, nullable=False),
)

scope_locks = Table(
    "scope_locks",
    metadata,
    Column("name", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("expires_at", Epoch, nullable=False),
)

user_revisions = Table(
    "user_revisions",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("user_id", Text, primary_key=True),
    Column("revision", BigInteger, nullable=False),
)

llm_usage = Table(
    "llm_usage",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("tenant_id", Text, nullable=False),
    Column("job_id", Text),
    Column("purpose", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("created_at", Epoch, nullable=False),
    Index("llm_usage_tenant", "tenant_id", "created_at"),
    sqlite_autoincrement=True,
)

# Usage per tenant and UTC day (YYYY-MM-DD) by metric (requests, searches, memory_writes, ...), added to by
# each process's periodic flush (migration 0010).
tenant_usage = Table(
    "tenant_usage",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("day", Text, primary_key=True),
    Column("metric", Text, primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

# One snapshot of the deployment's size per UTC day (the day's last), the history capacity forecasts fit.
capacity_history = Table(
    "capacity_history",
    metadata,
    Column("day", Text, primary_key=True),
    Column("memories", BigInteger, nullable=False),
    Column("content_bytes", BigInteger, nullable=False),
    Column("store_bytes", BigInteger, nullable=False),
    Column("index_bytes", BigInteger, nullable=False),
    Column("disk_free_bytes", BigInteger, nullable=False),
    Column("disk_size_bytes", BigInteger, nullable=False),
    Column("rss_bytes", BigInteger, nullable=False),
    Column("memory_size_bytes", BigInteger, nullable=False),
    Column("recorded_at", Epoch, nullable=False),
)

# Identity and access (migration 0006). Lists (roles, bound end users, teams, CIDRs) are JSON text like every
# other list here; `user_ids`/`team_ids` NULL means "not bound" (the role's scope decides), [] binds to nobody.

users = Table(
    "users",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.id"), nullable=False),
    Column("email", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("roles", Text, nullable=False),
    Column("user_ids", Text),
    Column("team_ids", Text),
    Column("password_hash", Text),
    Column("password_changed_at", Epoch),
    Column("must_change_password", Integer, nullable=False),
    Column("mfa_secret", Text),
    Column("mfa_enabled_at", Epoch),
    Column("last_login_at", Epoch),
    Column("created_at", Epoch, nullable=False),
    Column("updated_at", Epoch, nullable=False),
    Index("users_tenant_email", "tenant_id", "email", unique=True),
)

# Failed logins per (tenant, email), whether or not an account has that email: a lockout then says nothing
# about which accounts exist.
login_failures = Table(
    "login_failures",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("email", Text, primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("lockouts", Integer, nullable=False),
    Column("locked_until", Epoch),
    Column("updated_at", Epoch, nullable=False),
)

password_history = Table(
    "password_history",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("user_id", Text, ForeignKey("users.id"), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("created_at", Epoch, nullable=False),
    Index("password_history_user", "user_id", "created_at"),
    sqlite_autoincrement=True,
)

mfa_recovery_codes = Table(
    "mfa_recovery_codes",
    metadata,
    Column("user_id", Text, ForeignKey("users.id"), primary_key=True),
    Column("code_hash", Text, primary_key=True),
    Column("created_at", Epoch, nullable=False),
    Column("used_at", Epoch),
)

service_accounts = Table(
    "service_accounts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("created_at", Epoch, nullable=False),
    Column("disabled_at", Epoch),
    Index("service_accounts_tenant_name", "tenant_id", "name", unique=True),
)

roles = Table(
    "roles",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("permissions", Text, nullable=False),
    Column("created_at", Epoch, nullable=False),
    Column("updated_at", Epoch, nullable=False),
    Index("roles_tenant_name", "tenant_id", "name", unique=True),
)

teams = Table(
    "teams",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text, ForeignKey("tenants.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("created_at", Epoch, nullable=False),
    Index("teams_tenant_name", "tenant_id", "name", unique=True),
)

# The agent end users (memories' user_id) of a team.
team_members = Table(
    "team_members",
    metadata,
    Column("team_id", Text, ForeignKey("teams.id"), primary_key=True),
    Column("user_id", Text, primary_key=True),
    Column("added_at", Epoch, nullable=False),
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text, nullable=False),
    Column("account_id", Text, ForeignKey("users.id"), nullable=False),
    Column("device", Text, nullable=False),
    Column("ip", Text, nullable=False),
    Column("user_agent", Text, nullable=False),
    Column("mfa_at", Epoch),
    Column("created_at", Epoch, nullable=False),
    Column("last_seen_at", Epoch, nullable=False),
    Column("expires_at", Epoch, nullable=False),
    Column("revoked_at", Epoch),
    Column("revoked_reason", Text),
    Index("auth_sessions_account", "account_id", "created_at"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("id", Text, primary_key=True),
    Column("session_id", Text, ForeignKey("auth_sessions.id"), nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("parent_id", Text),
    Column("issued_at", Epoch, nullable=False),
    Column("expires_at", Epoch, nullable=False),
    Column("used_at", Epoch),
    Index("refresh_tokens_session", "session_id"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", Text, primary_key=True),
    Column("algorithm", Text, nullable=False),
    Column("private_key", Text, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", Epoch, nullable=False),
    Column("retired_at", Epoch),
)

ip_rules = Table(
    "ip_rules",
    metadata,
    Column("id", Text, primary_key=True),
    Column("tenant_id", Text),  # NULL: a global rule
    Column("cidr", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", Epoch, nullable=False),
    Index("ip_rules_tenant", "tenant_id"),
)

tenant_policies = Table(
    "tenant_policies",
    metadata,
    Column("tenant_id", Text, ForeignKey("tenants.id"), primary_key=True),
    Column("allow_registration", Integer, nullable=False),
    Column("registration_role", Text, nullable=False),
    Column("registration_email_domains", Text, nullable=False),  # JSON array of lower-case domains
    Column("mfa_required", Integer, nullable=False),
    Column("updated_at", Epoch, nullable=False),
)

request_nonces = Table(
    "request_nonces",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("nonce", Text, primary_key=True),
    Column("expires_at", Epoch, nullable=False),
    Index("request_nonces_expiry", "expires_at"),
)

# Append-only: the repository inserts and reads; the governance audit log will chain these rows.
security_events = Table(
    "security_events",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("at", Epoch, nullable=False),
    Column("tenant_id", Text),
    Column("kind", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("target", Text),
    Column("ip", Text),
    Column("user_agent", Text),
    Column("request_id", Text),
    Column("details", Text, nullable=False),
    Index("security_events_tenant", "tenant_id", "at"),
    Index("security_events_kind", "kind", "at"),
    sqlite_autoincrement=True,
)
