ALTER TABLE memories ADD COLUMN slot TEXT;
CREATE INDEX memories_slot ON memories(tenant_id, user_id, slot) WHERE slot IS NOT NULL;

ALTER TABLE memory_versions ADD COLUMN extractor TEXT;
ALTER TABLE memory_versions ADD COLUMN prompt_version TEXT;

ALTER TABLE jobs ADD COLUMN batch_id TEXT;
ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN sequence_key TEXT;
CREATE INDEX jobs_batch ON jobs(tenant_id, batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX jobs_sequence ON jobs(sequence_key, status, created_at) WHERE sequence_key IS NOT NULL;

CREATE TABLE batches (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    job_count INTEGER NOT NULL,
    options TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at REAL NOT NULL
);

CREATE TABLE sessions (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    key_facts TEXT NOT NULL,
    recent_messages TEXT NOT NULL,
    turn_count INTEGER NOT NULL,
    fact_count INTEGER NOT NULL,
    last_job_id TEXT,
    started_at REAL NOT NULL,
    last_message_at REAL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (tenant_id, user_id, session_id)
);

CREATE TABLE scope_locks (
    name TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at REAL NOT NULL
);

CREATE TABLE user_revisions (
    tenant_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);

CREATE TABLE llm_usage (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    job_id TEXT,
    purpose TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX llm_usage_tenant ON llm_usage(tenant_id, created_at);
