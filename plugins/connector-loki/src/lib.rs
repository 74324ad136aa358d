//! Connector for Grafana Loki: `query_range` through the host's HTTP import (which
//! checks it against the source's allow-list), paged until the window is covered or
//! the limit is reached. A page that comes back with `limit` entries may not be the
//! last: the next one starts at its last line's time (forward; backward pages end just
//! after their oldest line's), and the lines at that time, which come again, are
//! dropped by stream and text.
//!
//! Settings: `{"url": "http://loki:3100", "query": "<LogQL>"?, "org_id": "<tenant>"?,
//! "direction": "forward"|"backward"?, "page_size": n?, "max_pages": n?}`. Without
//! `query` the selector is `{plugin="<plugin-id>"}`, plus `environment="<env>"` when the
//! query names an environment. `backward` reads the newest lines first (so a limit
//! keeps the ones nearest the failure).

mod response;

use casefile_guest::connector::{http_get, Guest};
use casefile_guest::http::{check_status, join_url, percent_encode};
use casefile_guest::records::Collector;
use casefile_guest::types::{Batch, HttpResponse, PluginError, Query};
use response::{Direction, Edge};
use serde::Deserialize;

/// Loki's default `max_entries_limit_per_query`: a larger page is refused.
const MAX_PAGE: u32 = 5_000;
const DEFAULT_PAGE: u32 = 1_000;
const DEFAULT_MAX_PAGES: u32 = 1_000;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    url: Option<String>,
    query: Option<String>,
    org_id: Option<String>,
    direction: Option<Direction>,
    page_size: Option<u32>,
    max_pages: Option<u32>,
}

impl Settings {
    /// The settings and the base URL they must name.
    fn parse(json: &str) -> Result<(Settings, String), PluginError> {
        let settings: Settings = casefile_guest::settings::parse(json).map_err(PluginError::InvalidInput)?;
        let base = casefile_guest::settings::base_url(settings.url.as_deref(), "the Loki base URL, e.g. http://loki:3100").map_err(PluginError::InvalidInput)?;
        if let Some(size) = settings.page_size.filter(|s| *s == 0 || *s > MAX_PAGE) {
            return Err(PluginError::InvalidInput(format!(
                "settings.page_size must be 1..={MAX_PAGE} (Loki's default max_entries_limit_per_query), not {size}"
            )));
        }
        if settings.max_pages == Some(0) {
            return Err(PluginError::InvalidInput("settings.max_pages must be at least 1".to_owned()));
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
        let (settings, _) = Settings::parse(&query.settings)?;
        let org = settings.org_id.clone().filter(|o| !o.is_empty());
        fetch_with(&query, &mut |url| {
            let headers: Vec<(&str, &str)> = org.iter().map(|o| ("X-Scope-OrgID", o.as_str())).collect();
            http_get(url, &headers)
        })
    }
}

/// `GET url`: the host's import in the component, a fake in the tests.
type Get<'a> = dyn FnMut(&str) -> Result<HttpResponse, PluginError> + 'a;

fn fetch_with(query: &Query, get: &mut Get) -> Result<Batch, PluginError> {
    let (settings, base) = Settings::parse(&query.settings)?;
    let mut out = Collector::new(query.limit);
    if query.limit == 0 {
        return Ok(out.finish(query.start_ns, &query.environment));
    }
    if query.end_ns <= query.start_ns {
        return Err(PluginError::InvalidInput(format!(
            "the window ends ({}) before it starts ({})",
            query.end_ns, query.start_ns
        )));
    }
    let logql = settings.query.clone().unwrap_or_else(|| default_selector(query));
    let direction = settings.direction.unwrap_or(Direction::Forward);
    let page_size = settings.page_size.unwrap_or(DEFAULT_PAGE);
    let max_pages = settings.max_pages.unwrap_or(DEFAULT_MAX_PAGES);
    let (mut start, mut end) = (query.start_ns, query.end_ns);
    let mut edge = Edge::new(direction);
    for _ in 0..max_pages {
        let room = u32::try_from(query.limit as usize - out.len()).unwrap_or(u32::MAX);
        // The lines at the edge come again: ask for room beyond them.
        let want = (room as usize).max(1).saturating_add(edge.count());
        let size = page_size.min(u32::try_from(want).unwrap_or(u32::MAX));
        let url = query_range_url(&base, &logql, (start, end), size, direction);
        let response = get(&url)?;
        let body = check_status("loki", &response)?;
        let page = response::read_page(body, query, &mut edge, &mut out)?;
        if !page.streams || page.entries < size as usize || out.is_full() {
            return Ok(out.finish(query.start_ns, &query.environment));
        }
        // A full page: go on from its edge. A page of nothing but lines already read
        // (more lines at one nanosecond than a page holds) steps past that nanosecond.
        let Some(at) = edge.ts() else {
            return Ok(out.finish(query.start_ns, &query.environment));
        };
        let stuck = page.new == 0;
        match direction {
            Direction::Forward => start = if stuck { at + 1 } else { at },
            Direction::Backward => end = if stuck { at } else { at + 1 },
        }
        if start >= end {
            return Ok(out.finish(query.start_ns, &query.environment));
        }
    }
    Err(PluginError::Unavailable(format!(
        "loki answered {max_pages} full pages without covering the window (settings.max_pages)"
    )))
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

fn query_range_url(base: &str, logql: &str, (start, end): (i64, i64), limit: u32, direction: Direction) -> String {
    format!(
        "{}?query={}&start={start}&end={end}&limit={limit}&direction={}",
        join_url(base, "/loki/api/v1/query_range"),
        percent_encode(logql),
        direction.as_str()
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
            query_range_url("http://loki:3100/", r#"{plugin="pay"}"#, (10, 20), 100, Direction::Forward),
            "http://loki:3100/loki/api/v1/query_range?query=%7Bplugin%3D%22pay%22%7D&start=10&end=20&limit=100&direction=forward"
        );
    }

    /// A Loki of two streams answering `query_range` as Loki does: the `limit` entries
    /// nearest the direction's start within `[start, end)`, grouped by stream.
    struct FakeLoki {
        lines: Vec<(&'static str, i64, String)>,
        urls: Vec<String>,
    }

    impl FakeLoki {
        fn new() -> Self {
            let mut lines = Vec::new();
            for i in 0..10i64 {
                // Lines 3, 4 and 5 share a nanosecond across both streams.
                let ts = 100 + if (3..=5).contains(&i) { 3 } else { i };
                lines.push((if i % 2 == 0 { "a" } else { "b" }, ts, format!("line {i}")));
            }
            FakeLoki { lines, urls: Vec::new() }
        }

        fn get(&mut self, url: &str) -> Result<HttpResponse, PluginError> {
            self.urls.push(url.to_owned());
            let param = |k: &str| url.split(['?', '&']).find_map(|p| p.strip_prefix(&format!("{k}="))).unwrap_or("").to_owned();
            let (start, end): (i64, i64) = (param("start").parse().unwrap_or(0), param("end").parse().unwrap_or(0));
            let limit: usize = param("limit").parse().unwrap_or(0);
            let mut hits: Vec<&(&str, i64, String)> = self.lines.iter().filter(|l| start <= l.1 && l.1 < end).collect();
            hits.sort_by_key(|l| l.1);
            if param("direction") == "backward" {
                hits.reverse();
            }
            hits.truncate(limit);
            let streams: Vec<serde_json::Value> = ["a", "b"]
                .iter()
                .map(|s| {
                    let values: Vec<serde_json::Value> =
                        hits.iter().filter(|l| l.0 == *s).map(|l| serde_json::json!([l.1.to_string(), l.2])).collect();
                    serde_json::json!({"stream": {"plugin": "pay", "s": s}, "values": values})
                })
                .collect();
            let body = serde_json::json!({"status": "success", "data": {"resultType": "streams", "result": streams, "stats": {}}});
            Ok(HttpResponse { status: 200, headers: Vec::new(), body: body.to_string().into_bytes() })
        }
    }

    fn paged(settings: &str, limit: u32) -> (Vec<String>, Vec<String>) {
        let mut loki = FakeLoki::new();
        let q = Query { start_ns: 100, end_ns: 200, limit, settings: settings.into(), ..query("pay", "") };
        let b = fetch_with(&q, &mut |url| loki.get(url)).expect("batch");
        let mut messages: Vec<String> = b.logs.iter().map(|l| l.message.clone()).collect();
        messages.sort();
        let pages = loki.urls.iter().map(|u| u.split_once("&start=").map(|(_, r)| r.to_owned()).unwrap_or_default()).collect();
        (messages, pages)
    }

    fn all(range: std::ops::Range<usize>) -> Vec<String> {
        let mut v: Vec<String> = range.map(|i| format!("line {i}")).collect();
        v.sort();
        v
    }

    #[test]
    fn forward_pages_cover_the_window_once() {
        let (messages, pages) = paged(r#"{"url": "http://loki", "page_size": 3}"#, 100);
        assert_eq!(messages, all(0..10), "every line once");
        assert_eq!(
            pages,
            [
                "100&end=200&limit=3&direction=forward",
                "102&end=200&limit=3&direction=forward", // line 2 comes again
                "103&end=200&limit=3&direction=forward", // 3, 4 again, 5 new (all at 103)
                "103&end=200&limit=3&direction=forward", // nothing new: step past 103
                "104&end=200&limit=3&direction=forward",
                "108&end=200&limit=3&direction=forward", // a short page: done
            ]
        );
    }

    #[test]
    fn backward_pages_and_the_limit() {
        let (messages, pages) = paged(r#"{"url": "http://loki", "page_size": 4, "direction": "backward"}"#, 100);
        assert_eq!(messages, all(0..10));
        assert_eq!(pages[0], "100&end=200&limit=4&direction=backward");
        assert_eq!(pages[1], "100&end=107&limit=4&direction=backward", "up to and including line 6's time");
        // The newest five, asking only for what fits.
        let (messages, pages) = paged(r#"{"url": "http://loki", "page_size": 4, "direction": "backward"}"#, 5);
        let mut want: Vec<String> = (5..10).map(|i| format!("line {i}")).collect();
        want.sort();
        assert_eq!(messages, want);
        assert_eq!(pages.last().map(String::as_str), Some("100&end=107&limit=2&direction=backward"), "room for one, plus line 6 again");
    }

    #[test]
    fn endless_full_pages_and_bad_settings() {
        let q = Query { start_ns: 100, end_ns: 200, settings: r#"{"url": "http://loki", "page_size": 1, "max_pages": 2}"#.into(), ..query("pay", "") };
        let mut loki = FakeLoki::new();
        let e = fetch_with(&q, &mut |url| loki.get(url)).expect_err("max pages");
        assert!(matches!(&e, PluginError::Unavailable(m) if m.contains("2 full pages")), "{e:?}");
        for (settings, why) in [
            (r#"{"url": "http://loki", "page_size": 0}"#, "page_size"),
            (r#"{"url": "http://loki", "page_size": 5001}"#, "max_entries_limit_per_query"),
            (r#"{"url": "http://loki", "direction": "sideways"}"#, "unknown variant"),
            (r#"{"url": "http://loki", "max_pages": 0}"#, "max_pages"),
        ] {
            match Settings::parse(settings) {
                Err(PluginError::InvalidInput(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{settings}: {other:?}"),
            }
        }
        let e = fetch_with(&Query { settings: r#"{"url": "http://loki"}"#.into(), ..query("pay", "") }, &mut |_| {
            Ok(HttpResponse { status: 400, headers: Vec::new(), body: b"parse error at line 1".to_vec() })
        })
        .expect_err("400");
        assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains("parse error")), "{e:?}");
    }
}
