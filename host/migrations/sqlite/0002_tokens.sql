-- 0002: API tokens (issue 8). Only the SHA-256 of a token is stored; the token
-- itself is shown once, when it is made. `tenants` is a JSON list, ["*"] for all.
-- A revoked token keeps its row (revoked_at) so the audit trail can still name it.

CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    tenants TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
