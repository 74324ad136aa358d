//! Contracts casefile calls on the platform rather than serves: described in the
//! OpenAPI document as schemas so that a platform can implement them, and used by the
//! tests' stand-in servers to read what the shipped components really send.
//!
//! `POST {url}/internal/debug/logs/export` (the `connector-export` component): one
//! page of a plugin's records for a tenant, environment and window; the connector
//! sends the `next_cursor` of each answer back until it is null.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The path the export connector posts to, below the source's `settings.url`.
pub const LOGS_EXPORT_PATH: &str = "/internal/debug/logs/export";

/// What `connector-export` posts to `{url}/internal/debug/logs/export` (a contract the
/// platform implements; casefile does not serve it).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsExportRequest {
    /// The plugin id of the diagnosis.
    pub plugin: String,
    pub plugin_version: Option<String>,
    pub tenant: String,
    /// One environment per request (`""` when the diagnosis names none).
    pub environment: String,
    pub window: LogsExportWindow,
    /// `null` for the first page, then the `next_cursor` of the answer before.
    #[schema(required = true)]
    pub cursor: Option<String>,
    /// Most records wanted in this page; the answer may hold fewer.
    #[schema(minimum = 1)]
    pub limit: u32,
    /// Traces the trigger named; the platform may use them to narrow the export.
    pub trace_ids: Vec<String>,
}

/// The window, RFC 3339 UTC, `from` inclusive and `to` exclusive.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsExportWindow {
    #[schema(format = DateTime)]
    pub from: String,
    #[schema(format = DateTime)]
    pub to: String,
}

/// The platform's answer: one page of records and where the next page starts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LogsExportResponse {
    /// Objects in casefile's NDJSON record format (README, "Sources"): a log line
    /// (`ts`, `level`, `msg`, `host`, `trace_id`, `span_id`, any other key an
    /// attribute), a span (`"kind": "span"`) or a metric sample (`"kind": "metric"`).
    /// Records outside the window or of another plugin are dropped; unreadable ones
    /// are counted in the report.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Value>,
    /// `null` on the last page; else sent back as `cursor` (it must change from page
    /// to page).
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's example request and answer read as the described types.
    #[test]
    fn the_documented_example_fits_the_schemas() {
        let req: LogsExportRequest = serde_json::from_value(serde_json::json!({
            "plugin": "checkout", "plugin_version": "2.1.0", "tenant": "acme", "environment": "prod",
            "window": {"from": "2026-01-02T03:00:00Z", "to": "2026-01-02T03:10:00Z"},
            "cursor": null, "limit": 1000, "trace_ids": ["4bf92f3577b34da6a3ce929d0e0e4736"]
        }))
        .expect("request");
        assert_eq!((req.plugin.as_str(), req.cursor, req.limit), ("checkout", None, 1000));
        let answer: LogsExportResponse = serde_json::from_value(serde_json::json!({
            "records": [{"ts": "2026-01-02T03:04:05Z", "level": "error", "msg": "charge failed", "host": "runtime-1"}],
            "next_cursor": "c1"
        }))
        .expect("answer");
        assert_eq!(answer.next_cursor.as_deref(), Some("c1"));
        let extra = serde_json::json!({"plugin": "p", "plugin_version": null, "tenant": "t", "environment": "",
            "window": {"from": "x", "to": "y"}, "cursor": null, "limit": 1, "trace_ids": [], "page": 2});
        assert!(serde_json::from_value::<LogsExportRequest>(extra).is_err(), "unknown fields are refused");
    }
}
