//! The source's settings: where the logs are and what their fields are called.

use casefile_guest::types::PluginError;
use serde::Deserialize;

/// The document fields the connector filters, sorts and reads by. Dotted names reach
/// into objects (`log.level`) as well as flat keys of that name.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fields {
    pub timestamp: String,
    /// Filtered with a `term` query: a keyword field (`plugin.keyword` for text).
    pub plugin: String,
    /// Filtered when set; `""` leaves the tenant out of the query.
    pub tenant: String,
    /// Filtered when set and the diagnosis names an environment.
    pub environment: String,
    /// The second sort key, so that documents with the same time page in a stable
    /// order: a unique keyword field where there is one (`event.id`); `_doc` (index
    /// order) is stable on a single shard only.
    pub tiebreaker: String,
    pub message: String,
    pub level: String,
    pub host: String,
    pub trace_id: String,
    pub span_id: String,
}

impl Default for Fields {
    fn default() -> Self {
        Fields {
            timestamp: "@timestamp".into(),
            plugin: "plugin".into(),
            tenant: String::new(),
            environment: "environment".into(),
            tiebreaker: "_doc".into(),
            message: "message".into(),
            level: "level".into(),
            host: "host".into(),
            trace_id: "trace_id".into(),
            span_id: "span_id".into(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Raw {
    url: Option<String>,
    index: Option<String>,
    fields: Option<Fields>,
    page_size: Option<u32>,
}

#[derive(Debug)]
pub struct Settings {
    pub base: String,
    pub index: String,
    pub fields: Fields,
    pub page_size: u32,
}

/// Elasticsearch's default `index.max_result_window` caps `size` at 10,000.
pub const MAX_PAGE: u32 = 10_000;
const DEFAULT_PAGE: u32 = 1_000;

fn invalid(m: String) -> PluginError {
    PluginError::InvalidInput(m)
}

impl Settings {
    pub fn parse(json: &str) -> Result<Settings, PluginError> {
        let raw: Raw = casefile_guest::settings::parse(json).map_err(invalid)?;
        let base = casefile_guest::settings::base_url(raw.url.as_deref(), "e.g. http://elasticsearch:9200").map_err(invalid)?;
        let index = raw
            .index
            .map(|i| i.trim().to_owned())
            .filter(|i| !i.is_empty())
            .ok_or_else(|| invalid("settings.index is required (an index, alias or pattern, e.g. logs-*)".to_owned()))?;
        // The index goes into the URL path: no path, query or fragment characters.
        if index.chars().any(|c| matches!(c, '/' | '?' | '#' | '\\' | ' ' | '"') || c.is_control()) || index.starts_with('_') {
            return Err(invalid(format!("settings.index `{index}` is not an index name or pattern")));
        }
        let fields = raw.fields.unwrap_or_default();
        for (name, value) in [
            ("timestamp", &fields.timestamp),
            ("plugin", &fields.plugin),
            ("tiebreaker", &fields.tiebreaker),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(format!("settings.fields.{name} must name a field")));
            }
        }
        let page_size = raw.page_size.unwrap_or(DEFAULT_PAGE);
        if page_size == 0 || page_size > MAX_PAGE {
            return Err(invalid(format!("settings.page_size must be 1..={MAX_PAGE}, not {page_size}")));
        }
        Ok(Settings { base, index, fields, page_size })
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
    fn defaults_and_overrides() {
        let s = Settings::parse(r#"{"url": "http://es:9200", "index": "logs-*", "fields": {"plugin": "plugin.keyword", "tenant": "tenant"}, "page_size": 3}"#)
            .expect("settings");
        assert_eq!((s.index.as_str(), s.page_size), ("logs-*", 3));
        assert_eq!((s.fields.plugin.as_str(), s.fields.tenant.as_str(), s.fields.timestamp.as_str()), ("plugin.keyword", "tenant", "@timestamp"));
        assert_eq!(Settings::parse(r#"{"url": "http://es", "index": "l"}"#).expect("s").page_size, 1000);
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        assert!(err("{}").contains("settings.url is required"));
        assert!(err(r#"{"url": "es:9200", "index": "l"}"#).contains("must start with http"));
        assert!(err(r#"{"url": "http://es"}"#).contains("settings.index is required"));
        assert!(err(r#"{"url": "http://es", "index": "a/_delete"}"#).contains("not an index name"));
        assert!(err(r#"{"url": "http://es", "index": "_all"}"#).contains("not an index name"));
        assert!(err(r#"{"url": "http://es", "index": "l", "size": 5}"#).contains("unknown field `size`"));
        assert!(err(r#"{"url": "http://es", "index": "l", "fields": {"msg": "m"}}"#).contains("unknown field `msg`"));
        assert!(err(r#"{"url": "http://es", "index": "l", "fields": {"tiebreaker": ""}}"#).contains("settings.fields.tiebreaker"));
        assert!(err(r#"{"url": "http://es", "index": "l", "page_size": 0}"#).contains("page_size"));
        assert!(err(r#"{"url": "http://es", "index": "l", "page_size": 10001}"#).contains("page_size"));
    }
}
