//! The source's settings: where Tempo is and how to search it.

use casefile_guest::http::unknown_placeholder;
use casefile_guest::types::PluginError;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Raw {
    url: Option<String>,
    tags: Option<String>,
    traceql: Option<String>,
    search: Option<bool>,
    max_traces: Option<u32>,
    org_id: Option<String>,
}

#[derive(Debug)]
pub struct Settings {
    pub base: String,
    /// What `/api/search` is asked; `None` when search is off.
    pub search: Option<Search>,
    pub max_traces: u32,
    pub org_id: Option<String>,
}

/// Tempo's two search forms: logfmt `tags` or a TraceQL query (`q`).
#[derive(Debug, Clone, PartialEq)]
pub enum Search {
    Tags(String),
    TraceQl(String),
}

pub const DEFAULT_TAGS: &str = "service.name={plugin}";
const DEFAULT_MAX_TRACES: u32 = 20;
pub const MAX_TRACES: u32 = 1_000;

fn invalid(m: String) -> PluginError {
    PluginError::InvalidInput(m)
}

impl Settings {
    pub fn parse(json: &str) -> Result<Settings, PluginError> {
        let raw: Raw = casefile_guest::settings::parse(json).map_err(invalid)?;
        let base = casefile_guest::settings::base_url(raw.url.as_deref(), "the Tempo base URL, e.g. http://tempo:3200").map_err(invalid)?;
        let search = match (raw.search.unwrap_or(true), raw.tags, raw.traceql) {
            (false, _, _) => None,
            (true, Some(_), Some(_)) => {
                return Err(invalid("settings.tags and settings.traceql are two ways to search: set one".to_owned()))
            }
            (true, _, Some(q)) => Some(Search::TraceQl(q)),
            (true, tags, None) => Some(Search::Tags(tags.unwrap_or_else(|| DEFAULT_TAGS.to_owned()))),
        };
        if let Some(Search::Tags(t) | Search::TraceQl(t)) = &search {
            if t.trim().is_empty() {
                return Err(invalid("settings.tags/traceql is empty; leave it out for the default or set search: false".to_owned()));
            }
            if let Some(p) = unknown_placeholder(t) {
                return Err(invalid(format!("settings: unknown placeholder {p} (use {{plugin}}, {{tenant}} or {{environment}})")));
            }
        }
        let max_traces = raw.max_traces.unwrap_or(DEFAULT_MAX_TRACES);
        if max_traces == 0 || max_traces > MAX_TRACES {
            return Err(invalid(format!("settings.max_traces must be 1..={MAX_TRACES}, not {max_traces}")));
        }
        Ok(Settings { base, search, max_traces, org_id: raw.org_id.filter(|o| !o.is_empty()) })
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
    fn defaults_and_forms() {
        let s = Settings::parse(r#"{"url": "http://tempo:3200"}"#).expect("settings");
        assert_eq!((s.search, s.max_traces), (Some(Search::Tags(DEFAULT_TAGS.into())), 20));
        let s = Settings::parse(r#"{"url": "http://t", "traceql": "{ resource.plugin.id = \"{plugin}\" }"}"#).expect("q");
        assert!(matches!(s.search, Some(Search::TraceQl(_))));
        assert_eq!(Settings::parse(r#"{"url": "http://t", "search": false}"#).expect("off").search, None);
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        assert!(err("{}").contains("settings.url is required"));
        assert!(err(r#"{"url": "tempo:3200"}"#).contains("must start with http"));
        assert!(err(r#"{"url": "http://t", "tags": "a=b", "traceql": "{}"}"#).contains("set one"));
        assert!(err(r#"{"url": "http://t", "tags": "plugin={plugn}"}"#).contains("unknown placeholder {plugn}"));
        assert!(err(r#"{"url": "http://t", "tags": " "}"#).contains("empty"));
        assert!(err(r#"{"url": "http://t", "max_traces": 0}"#).contains("max_traces"));
        assert!(err(r#"{"url": "http://t", "limit": 5}"#).contains("unknown field `limit`"));
    }
}
