-- 0009: polling the ticket system for changes people made (issue 10, item 5).
--
-- tickets.assignee: who the ticket system last said the ticket is assigned to, so
-- a reassignment is seen once and recorded.
ALTER TABLE tickets ADD COLUMN assignee TEXT;

-- One row per polled mapper (by component hash): where the last poll got to, in
-- the ticket system's own time words, and what was already applied at that time
-- (its times are to the second, so the next poll asks from it again and skips
-- these; keyed on id, updated, state and assignee, as two changes in one second
-- share their time). The lease makes hosts sharing the database poll in turn, once
-- per interval.
CREATE TABLE ticket_poll (
    mapper_sha256 TEXT PRIMARY KEY,
    cursor TEXT NOT NULL DEFAULT '',
    seen TEXT NOT NULL DEFAULT '[]',
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    polled_at BIGINT,
    last_error TEXT
);
