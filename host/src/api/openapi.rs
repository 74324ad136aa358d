//! The OpenAPI description served at /openapi.json. The paths come from the route
//! table in `api::routes` (each handler's `#[utoipa::path]`); this module adds what
//! belongs to the whole API: its title, the error shape and the security schemes.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::contracts::{LogsExportRequest, LogsExportResponse, LogsExportWindow};
use crate::api::{ErrorBody, ErrorDetail};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "casefile",
        description = "Diagnostic host for plugin platforms: collect, mask, report, ticket, verify. \
            Every error is `{\"error\": {\"code\", \"message\"}}` (schema `ErrorBody`) with a 4xx or 5xx status. \
            Every route but /healthz (and /metrics and /openapi.json unless the config closes them) takes \
            `Authorization: Bearer <token>` (scheme `bearer`); what each role may call is in the README's access matrix. \
            Contracts casefile calls on the platform (not served here) are described as schemas for implementers: \
            the `connector-export` source posts `LogsExportRequest` to `{url}/internal/debug/logs/export` and reads \
            `LogsExportResponse`, sending `next_cursor` back as `cursor` until it is null.",
    ),
    components(schemas(ErrorBody, ErrorDetail, LogsExportRequest, LogsExportWindow, LogsExportResponse)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "diagnosis", description = "Triggers, tasks, reports and bundles"),
        (name = "registry", description = "Components: upload, review, bindings"),
        (name = "policies", description = "Tenants' masking policies as versioned data"),
        (name = "tenants", description = "Tenants declared in the config or through the API"),
        (name = "flags", description = "Feature flags switched at runtime"),
        (name = "review", description = "Security review of masked samples"),
        (name = "audit", description = "The hash-chained audit log"),
        (name = "access", description = "Tokens (admin)"),
        (name = "operations", description = "Health, metrics and this description"),
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("`Authorization: Bearer <token>`"))
                    .build(),
            ),
        );
    }
}

/// The description without paths; `api::routes` adds one per route.
pub fn base() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// The whole description, as served.
pub fn spec() -> serde_json::Value {
    serde_json::to_value(crate::api::openapi_document()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// The routes DESIGN.md and the README promise; the route table may have more.
    const PROMISED: &[(&str, &str)] = &[
        ("post", "/internal/debug/report"),
        ("get", "/internal/debug/report/{task_id}"),
        ("get", "/internal/debug/report/{task_id}/bundle"),
        ("get", "/internal/debug/report/{task_id}/markdown"),
        ("post", "/internal/debug/report/{task_id}/regression"),
        ("post", "/internal/debug/alerts"),
        ("post", "/internal/debug/events"),
        ("get", "/internal/components"),
        ("post", "/internal/components"),
        ("get", "/internal/audit"),
        ("get", "/internal/review"),
        ("get", "/internal/review/cases"),
        ("post", "/internal/review/{id}"),
        ("get", "/internal/audit/verify"),
        ("post", "/internal/tokens"),
        ("get", "/internal/tokens"),
        ("delete", "/internal/tokens/{id}"),
        ("get", "/internal/report.schema.json"),
        ("get", "/healthz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ];

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut out = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
        out
    }

    #[test]
    fn every_promised_route_is_described_with_its_types() {
        let doc = super::spec();
        assert!(doc["openapi"].as_str().unwrap_or("").starts_with("3."), "{}", doc["openapi"]);
        let ops = operations(&doc);
        for (method, path) in PROMISED {
            assert!(ops.iter().any(|(m, p, _)| m == method && p == path), "{method} {path} is not in the description");
        }
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for name in ["ErrorBody", "ErrorDetail", "ReportRequest", "TaskRef", "TaskView", "Report", "SourceStatus", "AlertmanagerWebhook", "LogsExportRequest", "LogsExportResponse"] {
            assert!(schemas.contains_key(name), "schema {name} is missing: {:?}", schemas.keys().collect::<Vec<_>>());
        }
        assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
        // The export contract a platform implements: its fields, the cursor nullable.
        let export = &schemas["LogsExportRequest"];
        let mut required: Vec<&str> = export["required"].as_array().expect("required").iter().filter_map(Value::as_str).collect();
        required.sort();
        assert_eq!(required, ["cursor", "environment", "limit", "plugin", "tenant", "trace_ids", "window"], "{export:#}");
        assert_eq!(schemas["LogsExportResponse"]["properties"]["records"]["type"], "array");
        // The source status is an enum, not free text.
        assert_eq!(schemas["SourceStatus"]["enum"], serde_json::json!(["used", "degraded", "missing"]));
    }

    #[test]
    fn every_operation_documents_its_errors_in_the_error_shape() {
        let doc = super::spec();
        let exempt = ["/metrics", "/openapi.json", "/internal/report.schema.json"];
        for (method, path, op) in operations(&doc) {
            let responses = op["responses"].as_object().unwrap_or_else(|| panic!("{method} {path}: no responses"));
            assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path}: no success response");
            if exempt.contains(&path.as_str()) {
                continue;
            }
            let errors: Vec<&String> = responses.keys().filter(|s| s.starts_with('4') || s.starts_with('5')).collect();
            assert!(!errors.is_empty(), "{method} {path}: no error responses");
            for s in errors {
                let schema = &responses[s]["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/ErrorBody", "{method} {path} {s}");
            }
            if method == "post" && !path.ends_with("/internal/components") {
                assert!(op["requestBody"]["content"]["application/json"]["schema"].is_object(), "{method} {path}: no request schema");
            }
        }
    }

    /// Runs the standard validator (`openapi-spec-validator`, installed by
    /// scripts/setup) over the served description.
    #[test]
    fn the_description_passes_openapi_spec_validator() {
        let dir = std::env::temp_dir().join(format!("casefile-openapi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("openapi.json");
        std::fs::write(&file, serde_json::to_vec_pretty(&super::spec()).expect("json")).expect("write");
        let has_validator = || {
            std::process::Command::new("python3")
                .args(["-c", "import openapi_spec_validator"])
                .status()
                .is_ok_and(|s| s.success())
        };
        if !has_validator() {
            // Only when missing, as scripts/setup does.
            let _ = std::process::Command::new("python3").args(["-m", "pip", "install", "--quiet", "openapi-spec-validator"]).status();
        }
        assert!(has_validator(), "openapi-spec-validator is not installed and cannot be installed: run scripts/setup");
        let out = std::process::Command::new("python3")
            .args(["-m", "openapi_spec_validator"])
            .arg(&file)
            .output()
            .expect("run openapi-spec-validator");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "openapi-spec-validator rejects the description:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
