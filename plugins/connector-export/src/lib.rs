//! Connector for the platform's own export contract:
//! `POST {url}/internal/debug/logs/export`, one page per request, following
//! `next_cursor` until it is null, the limit is reached or `max_pages` pages were read.
//! Through the host's HTTP import (which checks the source's allow-list).
//!
//! Request: `{"plugin", "plugin_version", "tenant", "environment",
//! "window": {"from": RFC3339, "to": RFC3339}, "cursor": null|str, "limit": n,
//! "trace_ids": [str]}`; response: `{"records": [record], "next_cursor": null|str}`,
//! each record an object in the NDJSON line format of `casefile_guest::records` (a log
//! line, `"kind":"span"` or `"kind":"metric"`). The README and the OpenAPI
//! description (`LogsExportRequest`, `LogsExportResponse`) document it for platforms.
//!
//! Settings: `{"url", "page_size"?, "max_pages"?}`.

use casefile_guest::connector::{http_send, Guest};
use casefile_guest::http::{check_status, join_url};
use casefile_guest::records::{parse_object, Collector, Defaults};
use casefile_guest::timefmt::format_rfc3339;
use casefile_guest::types::{Batch, Field, HttpMethod, HttpRequest, HttpResponse, PluginError, Query};
use serde::Deserialize;
use serde_json::{json, Value};

pub const PATH: &str = "/internal/debug/logs/export";
const DEFAULT_PAGE: u32 = 1_000;
const MAX_PAGE: u32 = 10_000;
const DEFAULT_MAX_PAGES: u32 = 1_000;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Raw {
    url: Option<String>,
    page_size: Option<u32>,
    max_pages: Option<u32>,
}

#[derive(Debug)]
struct Settings {
    base: String,
    page_size: u32,
    max_pages: u32,
}

fn invalid(m: String) -> PluginError {
    PluginError::InvalidInput(m)
}

impl Settings {
    fn parse(json: &str) -> Result<Settings, PluginError> {
        let raw: Raw = casefile_guest::settings::parse(json).map_err(invalid)?;
        let base = casefile_guest::settings::base_url(raw.url.as_deref(), &format!("the platform's base URL; the connector posts to <url>{PATH}")).map_err(invalid)?;
        if base.trim_end_matches('/').ends_with(PATH) {
            return Err(invalid(format!("settings.url `{base}` is the base URL without {PATH}")));
        }
        let page_size = raw.page_size.unwrap_or(DEFAULT_PAGE);
        if page_size == 0 || page_size > MAX_PAGE {
            return Err(invalid(format!("settings.page_size must be 1..={MAX_PAGE}, not {page_size}")));
        }
        let max_pages = raw.max_pages.unwrap_or(DEFAULT_MAX_PAGES);
        if max_pages == 0 {
            return Err(invalid("settings.max_pages must be at least 1".to_owned()));
        }
        Ok(Settings { base, page_size, max_pages })
    }
}

#[derive(Deserialize)]
struct Page {
    records: Vec<Value>,
    next_cursor: Option<String>,
}

struct ExportConnector;

impl Guest for ExportConnector {
    fn validate_settings(settings: String) -> Result<(), PluginError> {
        Settings::parse(&settings).map(|_| ())
    }

    fn fetch(query: Query) -> Result<Batch, PluginError> {
        fetch_with(&query, &mut |url, body| {
            http_send(&HttpRequest {
                method: HttpMethod::Post,
                url: url.to_owned(),
                headers: vec![Field { key: "Content-Type".into(), value: "application/json".into() }],
                body,
            })
        })
    }
}

/// `POST url` with a JSON body: the host's import in the component, a fake in the tests.
type Post<'a> = dyn FnMut(&str, Vec<u8>) -> Result<HttpResponse, PluginError> + 'a;

fn fetch_with(query: &Query, post: &mut Post) -> Result<Batch, PluginError> {
    let settings = Settings::parse(&query.settings)?;
    if query.end_ns <= query.start_ns {
        return Err(PluginError::InvalidInput(format!(
            "the window ends ({}) before it starts ({})",
            query.end_ns, query.start_ns
        )));
    }
    let url = join_url(&settings.base, PATH);
    let mut out = Collector::new(query.limit);
    let mut cursor: Option<String> = None;
    for _ in 0..settings.max_pages {
        if out.is_full() {
            return Ok(out.finish(query.start_ns, &query.environment));
        }
        let room = u32::try_from(query.limit as usize - out.len()).unwrap_or(u32::MAX);
        let body = request_body(query, settings.page_size.min(room.max(1)), cursor.as_deref());
        let response = post(&url, body.to_string().into_bytes())?;
        let bytes = check_status("the export endpoint", &response)?;
        let page: Page = serde_json::from_slice(bytes).map_err(|e| {
            PluginError::Unavailable(format!("the export endpoint answered what is not {{\"records\": [...], \"next_cursor\": ...}}: {e}"))
        })?;
        for record in page.records {
            let Value::Object(map) = record else {
                out.skip();
                continue;
            };
            match parse_object(map, &Defaults::default()) {
                Ok(p) => {
                    let ts = p.timestamp_ns();
                    let in_window = query.start_ns <= ts && ts < query.end_ns;
                    let plugin_ok = p.plugin.as_deref().is_none_or(|id| id == query.plugin_id);
                    if in_window && plugin_ok {
                        out.push(p.record);
                    }
                }
                Err(_) => out.skip(),
            }
        }
        match page.next_cursor.filter(|c| !c.is_empty()) {
            None => return Ok(out.finish(query.start_ns, &query.environment)),
            Some(next) if cursor.as_deref() == Some(next.as_str()) => {
                return Err(PluginError::Unavailable(format!(
                    "the export endpoint answered the cursor {next:?} it was sent (it does not advance)"
                )))
            }
            Some(next) => cursor = Some(next),
        }
    }
    Err(PluginError::Unavailable(format!(
        "the export endpoint still had a next cursor after {} pages (settings.max_pages)",
        settings.max_pages
    )))
}

fn request_body(q: &Query, limit: u32, cursor: Option<&str>) -> Value {
    json!({
        "plugin": q.plugin_id,
        "plugin_version": q.plugin_version,
        "tenant": q.tenant,
        "environment": q.environment,
        "window": {"from": format_rfc3339(q.start_ns), "to": format_rfc3339(q.end_ns)},
        "cursor": cursor,
        "limit": limit,
        "trace_ids": q.trace_ids,
    })
}

casefile_guest::export_connector!(ExportConnector);

#[cfg(test)]
mod tests {
    use super::*;
    use casefile_guest::types::Level;

    const T0: i64 = 1_714_566_896_000_000_000; // 2024-05-01T12:34:56Z

    fn query(settings: &str, limit: u32) -> Query {
        Query {
            tenant: "acme".into(),
            plugin_id: "checkout".into(),
            plugin_version: Some("1.4.2".into()),
            environment: "prod".into(),
            start_ns: T0,
            end_ns: T0 + 60_000_000_000,
            trace_ids: vec!["4bf92f3577b34da6a3ce929d0e0e4736".into()],
            limit,
            settings: settings.into(),
        }
    }

    /// Serves seven records (one malformed, one outside the window) two per page, the
    /// cursor being the next index, as the README documents the contract.
    fn fake(requests: &mut Vec<Value>) -> impl FnMut(&str, Vec<u8>) -> Result<HttpResponse, PluginError> + '_ {
        move |url, body| {
            assert_eq!(url, "http://platform:8080/internal/debug/logs/export");
            let body: Value = serde_json::from_slice(&body).expect("a JSON request");
            requests.push(body.clone());
            let records = [
                json!({"ts": "2024-05-01T12:34:56Z", "level": "info", "msg": "start", "host": "h1"}),
                json!({"ts": "2024-05-01T12:34:57.5Z", "level": "error", "msg": "charge failed", "trace_id": "4bf9"}),
                json!("not an object"),
                json!({"kind": "span", "trace_id": "4bf9", "span_id": "01", "name": "charge", "start": "2024-05-01T12:34:57Z", "duration_ms": 3}),
                json!({"ts": "2024-05-01T13:00:00Z", "msg": "after the window"}),
                json!({"kind": "metric", "name": "queue_depth", "value": 4, "ts": "2024-05-01T12:35:00Z"}),
                json!({"ts": "2024-05-01T12:35:01Z", "msg": "done"}),
            ];
            let from: usize = body["cursor"].as_str().map(|c| c.parse().expect("our cursor")).unwrap_or(0);
            let size = 2.min(body["limit"].as_u64().expect("limit") as usize);
            let page: Vec<Value> = records.iter().skip(from).take(size).cloned().collect();
            let next = (from + size < records.len()).then(|| (from + size).to_string());
            Ok(HttpResponse { status: 200, headers: Vec::new(), body: json!({"records": page, "next_cursor": next}).to_string().into_bytes() })
        }
    }

    const SETTINGS: &str = r#"{"url": "http://platform:8080/"}"#;

    #[test]
    fn follows_the_cursor_until_null() {
        let mut requests = Vec::new();
        let b = fetch_with(&query(SETTINGS, 100), &mut fake(&mut requests)).expect("batch");
        assert_eq!(requests.len(), 4, "2+2+2+1");
        assert_eq!(
            requests[0],
            json!({"plugin": "checkout", "plugin_version": "1.4.2", "tenant": "acme", "environment": "prod",
                "window": {"from": "2024-05-01T12:34:56Z", "to": "2024-05-01T12:35:56Z"}, "cursor": null, "limit": 100,
                "trace_ids": ["4bf92f3577b34da6a3ce929d0e0e4736"]})
        );
        assert_eq!(requests.iter().map(|r| r["cursor"].clone()).collect::<Vec<_>>(), [json!(null), json!("2"), json!("4"), json!("6")]);
        let messages: Vec<&str> = b.logs.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(messages, ["start", "charge failed", "done"]);
        assert_eq!(b.logs[1].level, Level::Error);
        assert_eq!(b.spans.len(), 1);
        assert_eq!(b.metrics.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(), ["queue_depth", casefile_guest::records::SKIPPED_LINES_METRIC]);
    }

    #[test]
    fn the_limit_shrinks_the_pages_and_stops() {
        let mut requests = Vec::new();
        let b = fetch_with(&query(SETTINGS, 3), &mut fake(&mut requests)).expect("batch");
        assert_eq!(b.logs.len() + b.spans.len() + b.metrics.len(), 3);
        assert_eq!(requests.iter().map(|r| r["limit"].as_u64().unwrap_or(0)).collect::<Vec<_>>(), [3, 1], "the skipped record takes the last slot");
    }

    #[test]
    fn a_cursor_that_does_not_advance_and_bad_answers() {
        let mut same = |_: &str, _: Vec<u8>| {
            Ok(HttpResponse { status: 200, headers: Vec::new(), body: br#"{"records": [], "next_cursor": "c1"}"#.to_vec() })
        };
        let e = fetch_with(&query(SETTINGS, 10), &mut same).expect_err("stuck");
        assert!(matches!(&e, PluginError::Unavailable(m) if m.contains("does not advance")), "{e:?}");
        let answer = |status: u16, body: &'static str| move |_: &str, _: Vec<u8>| Ok(HttpResponse { status, headers: Vec::new(), body: body.as_bytes().to_vec() });
        let e = fetch_with(&query(SETTINGS, 10), &mut answer(200, r#"{"logs": []}"#)).expect_err("shape");
        assert!(matches!(&e, PluginError::Unavailable(m) if m.contains("records")), "{e:?}");
        assert!(matches!(fetch_with(&query(SETTINGS, 10), &mut answer(500, "")), Err(PluginError::Unavailable(_))));
        assert!(matches!(fetch_with(&query(SETTINGS, 10), &mut answer(422, "unknown tenant")), Err(PluginError::InvalidInput(_))));
        let mut endless = 0;
        let e = fetch_with(&query(r#"{"url": "http://p", "max_pages": 3}"#, 10), &mut |_: &str, _: Vec<u8>| {
            endless += 1;
            Ok(HttpResponse { status: 200, headers: Vec::new(), body: format!(r#"{{"records": [], "next_cursor": "c{endless}"}}"#).into_bytes() })
        })
        .expect_err("endless");
        assert!(matches!(&e, PluginError::Unavailable(m) if m.contains("3 pages")), "{e:?}");
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        let err = |json: &str| match Settings::parse(json) {
            Err(PluginError::InvalidInput(m)) => m,
            other => panic!("{json}: {other:?}"),
        };
        assert!(err("{}").contains("settings.url is required"));
        assert!(err(r#"{"url": "platform"}"#).contains("must start with http"));
        assert!(err(r#"{"url": "http://p/internal/debug/logs/export"}"#).contains("without /internal"));
        assert!(err(r#"{"url": "http://p", "page_size": 0}"#).contains("page_size"));
        assert!(err(r#"{"url": "http://p", "max_pages": 0}"#).contains("max_pages"));
        assert!(err(r#"{"url": "http://p", "token": "x"}"#).contains("unknown field `token`"));
    }
}
