//! Connector for Grafana Loki: one `query_range` request through the host's HTTP
//! import (which checks it against the source's allow-list).
//!
//! Settings: `{"url": "http://loki:3100", "query": "<LogQL>"?, "org_id": "<tenant>"?}`.
//! Without `query` the selector is `{plugin="<plugin-id>"}`, plus
//! `environment="<env>"` when the query names an environment.

mod response;

use casefile_guest::connector::{http_get, Guest};
use casefile_guest::http::{expect_success, join_url, percent_encode};
use casefile_guest::types::{Batch, PluginError, Query};
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    url: Option<String>,
    query: Option<String>,
    org_id: Option<String>,
}

impl Settings {
    /// The settings and the base URL they must name.
    fn parse(json: &str) -> Result<(Settings, String), PluginError> {
        let settings: Settings = if json.trim().is_empty() {
            Settings::default()
        } else {
            serde_json::from_str(json)
                .map_err(|e| PluginError::InvalidInput(format!("settings: {e}")))?
        };
        let base = settings
            .url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                PluginError::InvalidInput(
                    "settings.url is required (the Loki base URL, e.g. http://loki:3100)"
                        .to_owned(),
                )
            })?
            .to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(PluginError::InvalidInput(format!(
                "settings.url `{base}` must start with http:// or https://"
            )));
        }
        Ok((settings, base))
    }
}

struct LokiConnector;

impl Guest for LokiConnector {
    fn validate_settings(settings: String) -> Result<(), PluginError> {
        Settings::parse(&settings).map(|_| ())
    }

    fn fetch(query: Query) -> Result<Batch, PluginError> {
        let (settings, base) = Settings::parse(&query.settings)?;
        let base = base.as_str();
        if query.limit == 0 {
            return Ok(Batch {
                logs: Vec::new(),
                spans: Vec::new(),
                metrics: Vec::new(),
            });
        }
        let logql = settings
            .query
            .clone()
            .unwrap_or_else(|| default_selector(&query));
        let url = query_range_url(base, &logql, &query);
        let mut headers = Vec::new();
        if let Some(org) = settings.org_id.as_deref().filter(|o| !o.is_empty()) {
            headers.push(("X-Scope-OrgID", org));
        }
        let response = http_get(&url, &headers)?;
        let body = expect_success("loki", &response)?;
        response::to_batch(body, &query)
    }
}

/// `{plugin="…"}` or `{plugin="…",environment="…"}`.
fn default_selector(query: &Query) -> String {
    let mut s = format!(r#"{{plugin="{}""#, escape_label(&query.plugin_id));
    if !query.environment.is_empty() {
        s.push_str(&format!(
            r#",environment="{}""#,
            escape_label(&query.environment)
        ));
    }
    s.push('}');
    s
}

/// A LogQL double-quoted string: backslashes and quotes escaped.
fn escape_label(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', r#"\""#)
}

fn query_range_url(base: &str, logql: &str, query: &Query) -> String {
    format!(
        "{}?query={}&start={}&end={}&limit={}&direction=forward",
        join_url(base, "/loki/api/v1/query_range"),
        percent_encode(logql),
        query.start_ns,
        query.end_ns,
        query.limit
    )
}

casefile_guest::export_connector!(LokiConnector);

#[cfg(test)]
mod tests {
    use super::*;

    fn query(plugin: &str, env: &str) -> Query {
        Query {
            tenant: "t".into(),
            plugin_id: plugin.into(),
            plugin_version: None,
            environment: env.into(),
            start_ns: 10,
            end_ns: 20,
            trace_ids: Vec::new(),
            limit: 100,
            settings: String::new(),
        }
    }

    #[test]
    fn selector_and_url() {
        assert_eq!(default_selector(&query("pay", "")), r#"{plugin="pay"}"#);
        assert_eq!(
            default_selector(&query(r#"a"b\c"#, "prod")),
            r#"{plugin="a\"b\\c",environment="prod"}"#
        );
        assert_eq!(
            query_range_url("http://loki:3100/", r#"{plugin="pay"}"#, &query("pay", "")),
            "http://loki:3100/loki/api/v1/query_range?query=%7Bplugin%3D%22pay%22%7D&start=10&end=20&limit=100&direction=forward"
        );
    }
}
