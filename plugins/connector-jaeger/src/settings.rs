//! The source's settings: where jaeger-query is, which API it speaks, what to search.

use casefile_guest::http::unknown_placeholder;
use casefile_guest::types::PluginError;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Jaeger's two HTTP APIs: v3 answers OTLP JSON, v2 (the UI's query API) its own JSON.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    V3,
    V2,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Raw {
    url: Option<String>,
    api: Option<Api>,
    service: Option<String>,
    operation: Option<String>,
    tags: BTreeMap<String, String>,
    search: Option<bool>,
    max_traces: Option<u32>,
}

#[derive(Debug)]
pub struct Settings {
    pub base: String,
    pub api: Api,
    /// Templates (`{plugin}`, `{tenant}`, `{environment}`); `service` is `None` when
    /// search is off.
    pub service: Option<String>,
    pub operation: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub max_traces: u32,
}

const DEFAULT_MAX_TRACES: u32 = 20;
pub const MAX_TRACES: u32 = 1_000;

fn invalid(m: String) -> PluginError {
    PluginError::InvalidInput(m)
}

impl Settings {
    pub fn parse(json: &str) -> Result<Settings, PluginError> {
        let raw: Raw = casefile_guest::settings::parse(json).map_err(invalid)?;
        let base = casefile_guest::settings::base_url(raw.url.as_deref(), "jaeger-query's base URL, e.g. http://jaeger:16686").map_err(invalid)?;
        let service = raw.search.unwrap_or(true).then(|| raw.service.unwrap_or_else(|| "{plugin}".to_owned()));
        if service.as_deref().is_some_and(|s| s.trim().is_empty()) {
            return Err(invalid("settings.service is empty; leave it out for {plugin} or set search: false".to_owned()));
        }
        let templates = service.iter().chain(raw.operation.iter()).chain(raw.tags.keys()).chain(raw.tags.values());
        for t in templates {
            if let Some(p) = unknown_placeholder(t) {
                return Err(invalid(format!("settings: unknown placeholder {p} (use {{plugin}}, {{tenant}} or {{environment}})")));
            }
        }
        let max_traces = raw.max_traces.unwrap_or(DEFAULT_MAX_TRACES);
        if max_traces == 0 || max_traces > MAX_TRACES {
            return Err(invalid(format!("settings.max_traces must be 1..={MAX_TRACES}, not {max_traces}")));
        }
        Ok(Settings {
            base,
            api: raw.api.unwrap_or(Api::V3),
            service,
            operation: raw.operation.filter(|o| !o.is_empty()),
            tags: raw.tags,
            max_traces,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> String {
        match Settings::parse(json) {
            Err(PluginError::InvalidInput(m)) => m,
            other => panic!("{json}: {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let s = Settings::parse(r#"{"url": "http://jaeger:16686"}"#).expect("settings");
        assert_eq!((s.api, s.service.as_deref(), s.max_traces), (Api::V3, Some("{plugin}"), 20));
        let s = Settings::parse(r#"{"url": "http://j", "api": "v2", "search": false}"#).expect("v2");
        assert_eq!((s.api, s.service), (Api::V2, None));
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        assert!(err("{}").contains("settings.url is required"));
        assert!(err(r#"{"url": "jaeger"}"#).contains("must start with http"));
        assert!(err(r#"{"url": "http://j", "api": "v1"}"#).contains("unknown variant `v1`"));
        assert!(err(r#"{"url": "http://j", "service": "{plugin_id}"}"#).contains("unknown placeholder {plugin_id}"));
        assert!(err(r#"{"url": "http://j", "tags": {"env": "{env}"}}"#).contains("unknown placeholder {env}"));
        assert!(err(r#"{"url": "http://j", "max_traces": 5000}"#).contains("max_traces"));
        assert!(err(r#"{"url": "http://j", "lookback": "1h"}"#).contains("unknown field `lookback`"));
    }
}
