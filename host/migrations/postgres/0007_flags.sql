-- 0007: feature flags set at runtime (issue 10). The config gives the first value;
-- a row here, written through the API, overrides it on every host.

CREATE TABLE flags (
    name TEXT PRIMARY KEY,
    enabled BIGINT NOT NULL,
    actor TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
