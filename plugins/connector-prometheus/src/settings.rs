//! The source's settings, checked once in `validate-settings` and again per fetch.

use crate::template;
use casefile_guest::types::PluginError;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Raw {
    url: Option<String>,
    queries: BTreeMap<String, String>,
    /// A Prometheus duration (`"15s"`, `"1m30s"`) or a number of seconds.
    step: Option<Value>,
    /// `X-Scope-OrgID` for multi-tenant Prometheus APIs (Mimir, Cortex, Thanos).
    org_id: Option<String>,
}

#[derive(Debug)]
pub struct Settings {
    /// The base URL, e.g. `http://prometheus:9090`.
    pub base: String,
    /// (name, PromQL template), by name.
    pub queries: Vec<(String, String)>,
    pub step_ms: Option<i64>,
    pub org_id: Option<String>,
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidInput(message)
}

impl Settings {
    pub fn parse(json: &str) -> Result<Settings, PluginError> {
        let raw: Raw = casefile_guest::settings::parse(json).map_err(invalid)?;
        let base = casefile_guest::settings::base_url(raw.url.as_deref(), "the Prometheus base URL, e.g. http://prometheus:9090").map_err(invalid)?;
        if raw.queries.is_empty() {
            return Err(invalid(
                "settings.queries is required: an object of {name: PromQL}, e.g. {\"errors\": \"sum(rate(errors_total{plugin=\\\"{plugin}\\\"}[5m]))\"}"
                    .to_owned(),
            ));
        }
        let mut queries = Vec::with_capacity(raw.queries.len());
        for (name, promql) in raw.queries {
            if name.trim().is_empty() {
                return Err(invalid("settings.queries: a query name is empty".to_owned()));
            }
            if promql.trim().is_empty() {
                return Err(invalid(format!("settings.queries.{name} is empty")));
            }
            template::check(&promql)
                .map_err(|e| invalid(format!("settings.queries.{name}: {e}")))?;
            queries.push((name, promql));
        }
        let step_ms = raw
            .step
            .as_ref()
            .map(|v| parse_step(v).map_err(|e| invalid(format!("settings.step: {e}"))))
            .transpose()?;
        Ok(Settings {
            base,
            queries,
            step_ms,
            org_id: raw.org_id.filter(|o| !o.trim().is_empty()),
        })
    }
}

/// A step in milliseconds: a positive number of seconds, or a Prometheus duration
/// (`1h30m`, `15s`, `500ms`; units ms, s, m, h, d, w, y).
fn parse_step(v: &Value) -> Result<i64, String> {
    let ms = match v {
        Value::Number(n) => {
            let secs = n.as_f64().ok_or("not a number")?;
            if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
                return Err(format!("{secs} is not a positive number of seconds"));
            }
            (secs * 1000.0).round() as i64
        }
        Value::String(s) => parse_duration(s.trim())?,
        other => return Err(format!("{other} is neither a duration nor seconds")),
    };
    if ms <= 0 {
        return Err("must be at least 1ms".to_owned());
    }
    Ok(ms)
}

fn parse_duration(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Err("empty duration".to_owned());
    }
    let bad = || format!("{s:?} is not a duration like 15s, 1m30s or 500ms");
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let n: i64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit_ms: i64 = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "y" => 365 * 86_400_000,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total = n
            .checked_mul(unit_ms)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    Ok(total)
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
    fn good_settings() {
        let s = Settings::parse(
            r#"{"url": "http://prom:9090", "queries": {"b": "up", "a": "errors_total{plugin=\"{plugin}\"}"}, "step": "1m30s", "org_id": "t1"}"#,
        )
        .expect("settings");
        assert_eq!(s.base, "http://prom:9090");
        assert_eq!(s.queries.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(s.step_ms, Some(90_000));
        assert_eq!(s.org_id.as_deref(), Some("t1"));
        let s = Settings::parse(r#"{"url": "https://p", "queries": {"a": "up"}, "step": 0.5}"#).expect("settings");
        assert_eq!(s.step_ms, Some(500));
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        assert!(err("").contains("settings.url is required"));
        assert!(err(r#"{"url": "prom:9090", "queries": {"a": "up"}}"#).contains("must start with http"));
        assert!(err(r#"{"url": "http://p"}"#).contains("settings.queries is required"));
        assert!(err(r#"{"url": "http://p", "queries": {"a": " "}}"#).contains("settings.queries.a is empty"));
        assert!(err(r#"{"url": "http://p", "queries": {"a": "up"}, "query": "x"}"#).contains("unknown field `query`"));
        assert!(err(r#"{"url": "http://p", "queries": {"a": "up{p=\"{plugn}\"}"}}"#).contains("unknown placeholder {plugn}"));
        assert!(err(r#"{"url": "http://p", "queries": {"a": "up"}, "step": "5 min"}"#).contains("settings.step"));
        assert!(err(r#"{"url": "http://p", "queries": {"a": "up"}, "step": -1}"#).contains("settings.step"));
        assert!(err(r#"{"url": "http://p", "queries": {"a": "up"}, "step": "0s"}"#).contains("settings.step"));
        assert!(err(r#"{"url": "http://p", "queries": ["up"]}"#).contains("settings:"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15s"), Ok(15_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        for bad in ["", "s", "15", "1.5s", "15x", "-1s", "99999999999999999999y"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
