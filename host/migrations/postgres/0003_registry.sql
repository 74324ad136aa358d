-- 0003: the component lifecycle (issue 9). A component is uploaded (pending), then
-- approved or rejected by security, and may be revoked later; config-declared
-- components are recorded as approved by `config`. Bindings and masking policies
-- are versioned rows: the newest row of a (tenant, slot) is in force, rollback
-- writes a new row that repeats an older one, so history is never rewritten.

ALTER TABLE components ADD COLUMN version TEXT;
ALTER TABLE components ADD COLUMN status TEXT NOT NULL DEFAULT 'approved';
ALTER TABLE components ADD COLUMN world TEXT NOT NULL DEFAULT '';
ALTER TABLE components ADD COLUMN imports TEXT NOT NULL DEFAULT '[]';
ALTER TABLE components ADD COLUMN uploader TEXT NOT NULL DEFAULT 'config';
ALTER TABLE components ADD COLUMN signature TEXT;
ALTER TABLE components ADD COLUMN signature_status TEXT NOT NULL DEFAULT 'none';
ALTER TABLE components ADD COLUMN reviewer TEXT;
ALTER TABLE components ADD COLUMN reviewed_at BIGINT;
ALTER TABLE components ADD COLUMN reason TEXT;

CREATE TABLE bindings (
    tenant TEXT NOT NULL,
    slot TEXT NOT NULL,
    version BIGINT NOT NULL,
    components TEXT NOT NULL,
    mode TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, slot, mode, version)
);

CREATE TABLE policies (
    tenant TEXT NOT NULL,
    version BIGINT NOT NULL,
    policy TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, version)
);
