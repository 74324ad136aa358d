-- 0010: a task's audit trail, archived when a passing regression closes it
-- (issue 10, item 6).
--
-- One row per task: its audit entries as they stood at the close, each with the
-- chain hashes that let it be checked on its own, and a SHA-256 over the whole
-- (also written to the audit log as `audit.archived`). Retention purges reports
-- and bundles of closed tasks; it does not purge these.
CREATE TABLE audit_archives (
    task_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    archived_at BIGINT NOT NULL,
    entries TEXT NOT NULL,
    sha256 TEXT NOT NULL
);

CREATE INDEX audit_archives_tenant ON audit_archives (tenant, archived_at);
