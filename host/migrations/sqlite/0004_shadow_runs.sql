-- 0004: shadow runs (issue 9). A candidate masker bound in shadow mode runs beside
-- the active chain on live tasks; its output is discarded and only the differences
-- (counts per rule, how many records only one side masked, their positions) are
-- kept here, never a value.

CREATE TABLE shadow_runs (
    task_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    active TEXT NOT NULL,
    shadow TEXT NOT NULL,
    diff TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE INDEX shadow_runs_by_tenant ON shadow_runs (tenant, created_at);
