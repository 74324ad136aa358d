-- 0006: tenants declared through the API (issue 9), beside those the config
-- declares. A declared tenant inherits the config's `default` bindings; its own
-- owners and sources are kept here, its components are bound through bindings.

CREATE TABLE tenants (
    name TEXT PRIMARY KEY,
    owners TEXT NOT NULL,
    sources TEXT,
    actor TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
