-- 0005: durable ticket delivery (issue 10, items 1 and 2).
--
-- tickets stays one row per (tenant, fingerprint): its primary key is what makes
-- "one ticket per fingerprint" hold when two workers or hosts race, since the
-- second insert of a fingerprint finds the first one's row instead of sending a
-- second create. The row is always the fingerprint's current ticket: a ticket
-- replaced after the reopen window is remembered in previous_ticket_id, so an
-- old closed ticket can never be the one a lookup finds.
--   state: pending (create not delivered yet), open, closed, rejected (its create
--   was refused or cancelled; the next diagnosis starts a new one), or the ticket
--   system's own word.
ALTER TABLE tickets ADD COLUMN occurrences BIGINT NOT NULL DEFAULT 1;
ALTER TABLE tickets ADD COLUMN closed_at BIGINT;
ALTER TABLE tickets ADD COLUMN previous_ticket_id TEXT;
ALTER TABLE tickets ADD COLUMN previous_url TEXT;

-- Every ticket action, written before it is sent and kept after. Entries of one
-- fingerprint are delivered in id order (a comment never overtakes its create).
-- key makes enqueueing idempotent: a task retried after a crash finds its entry.
-- state: pending, delivered, rejected (the ticket system or the mapper refused it;
-- answer holds why), cancelled (by a person).
CREATE TABLE ticket_outbox (
    id BIGSERIAL PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    tenant TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    task_id TEXT NOT NULL,
    action TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until BIGINT,
    answer TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT
);

CREATE INDEX ticket_outbox_due ON ticket_outbox (state, next_at);
CREATE INDEX ticket_outbox_by_fingerprint ON ticket_outbox (tenant, fingerprint, state, id);
CREATE INDEX ticket_outbox_by_task ON ticket_outbox (task_id);
