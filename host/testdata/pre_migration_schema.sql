-- The schema casefile 0.1.0 created at every start, before versioned migrations,
-- kept verbatim: the migration tests build an old database from it.

CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    error_event_id TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    request TEXT NOT NULL,
    state TEXT NOT NULL,
    report TEXT,
    report_md TEXT,
    bundle_sha256 TEXT,
    fingerprint TEXT,
    ticket_id TEXT,
    components TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    regression_ref TEXT,
    lease_owner TEXT,
    lease_until BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant, error_event_id)
);

CREATE INDEX IF NOT EXISTS tasks_state ON tasks (state, lease_until);

CREATE TABLE IF NOT EXISTS task_events (
    task_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    state TEXT NOT NULL,
    detail TEXT
);

CREATE INDEX IF NOT EXISTS task_events_task ON task_events (task_id, at);

CREATE TABLE IF NOT EXISTS tickets (
    tenant TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    url TEXT,
    state TEXT NOT NULL,
    task_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, fingerprint)
);

CREATE TABLE IF NOT EXISTS components (
    sha256 TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    size BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS tenant_keys (
    tenant TEXT PRIMARY KEY,
    key_hex TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS review_queue (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    task_id TEXT NOT NULL,
    record TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT,
    expected TEXT,
    created_at BIGINT NOT NULL,
    reviewed_at BIGINT
);

CREATE TABLE IF NOT EXISTS audit (
    seq BIGINT PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
