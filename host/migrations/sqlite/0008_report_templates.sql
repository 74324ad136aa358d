-- 0008: a tenant's report template (sections and limits) as versioned data, kept
-- like masking policies: the newest row of a tenant is in force, rollback writes a
-- new row that repeats an older one, the config file's template is version 1.

CREATE TABLE report_templates (
    tenant TEXT NOT NULL,
    version BIGINT NOT NULL,
    template TEXT NOT NULL,
    actor TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant, version)
);
