//! Connector for Elasticsearch and OpenSearch: `POST {index}/_search` with a bool
//! query on plugin, tenant, environment and the window, sorted by time and a
//! tiebreaker, paged with `search_after` until the window is covered or the limit is
//! reached. Through the host's HTTP import (which checks the source's allow-list).
//!
//! Settings: `{"url", "index", "fields"?: {timestamp, plugin, tenant, environment,
//! tiebreaker, message, level, host, trace_id, span_id}, "page_size"?}` (settings.rs).

mod response;
mod settings;

use casefile_guest::connector::{http_send, Guest};
use casefile_guest::http::{join_url, percent_encode};
use casefile_guest::records::Collector;
use casefile_guest::types::{Batch, Field, HttpMethod, HttpRequest, HttpResponse, PluginError, Query};
use serde_json::{json, Value};
use settings::Settings;
use std::collections::HashSet;

/// Pages one fetch may ask for; a server that keeps answering full pages past this
/// is not covering the window and is reported rather than followed forever.
const MAX_PAGES: usize = 10_000;

struct ElasticsearchConnector;

impl Guest for ElasticsearchConnector {
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

/// The fetch, with the HTTP POST passed in so that it runs natively in the tests.
fn fetch_with(query: &Query, post: &mut Post) -> Result<Batch, PluginError> {
    let settings = Settings::parse(&query.settings)?;
    let mut out = Collector::new(query.limit);
    if query.end_ns <= query.start_ns {
        return Err(PluginError::InvalidInput(format!(
            "the window ends ({}) before it starts ({})",
            query.end_ns, query.start_ns
        )));
    }
    let url = join_url(&settings.base, &format!("/{}/_search", percent_encode_index(&settings.index)));
    let mut after: Option<Vec<Value>> = None;
    // A document on both sides of a page boundary (ties across shards) is kept once.
    let mut seen = HashSet::new();
    for _ in 0..MAX_PAGES {
        if out.is_full() {
            return Ok(out.finish(query.start_ns, &query.environment));
        }
        let room = u32::try_from(query.limit as usize - out.len()).unwrap_or(u32::MAX);
        let size = settings.page_size.min(room.max(1));
        let body = search_body(&settings, query, size, after.as_deref());
        let response = post(&url, body.to_string().into_bytes())?;
        let page = response::read(&response, &settings.fields, query, &mut seen, &mut out)?;
        if page.hits < size as usize {
            // A short page: nothing more in the window.
            return Ok(out.finish(query.start_ns, &query.environment));
        }
        match page.last_sort {
            Some(sort) if after.as_ref() != Some(&sort) => after = Some(sort),
            Some(_) => {
                return Err(PluginError::Unavailable(
                    "elasticsearch answered the same page twice (search_after did not advance)".to_owned(),
                ))
            }
            None => {
                return Err(PluginError::Unavailable(
                    "elasticsearch answered hits without `sort` values; cannot page".to_owned(),
                ))
            }
        }
    }
    Err(PluginError::Unavailable(format!(
        "elasticsearch answered {MAX_PAGES} full pages without covering the window"
    )))
}

/// Index names may hold `*` and `,` (patterns, lists): those stay, the rest is encoded.
fn percent_encode_index(index: &str) -> String {
    index.split(',').map(|part| part.split('*').map(percent_encode).collect::<Vec<_>>().join("*")).collect::<Vec<_>>().join(",")
}

/// The `_search` body: filters (no scoring), time then tiebreaker order, and the
/// previous page's last sort values.
fn search_body(s: &Settings, q: &Query, size: u32, after: Option<&[Value]>) -> Value {
    let f = &s.fields;
    let mut filter = vec![json!({"term": {f.plugin.as_str(): q.plugin_id}})];
    if !f.tenant.trim().is_empty() {
        filter.push(json!({"term": {f.tenant.as_str(): q.tenant}}));
    }
    if !f.environment.trim().is_empty() && !q.environment.is_empty() {
        filter.push(json!({"term": {f.environment.as_str(): q.environment}}));
    }
    // Milliseconds, the start rounded down and the end up; exact times are checked on
    // each document.
    let start_ms = q.start_ns.div_euclid(1_000_000);
    let end_ms = q.end_ns.div_euclid(1_000_000) + i64::from(q.end_ns.rem_euclid(1_000_000) != 0);
    filter.push(json!({"range": {f.timestamp.as_str(): {"gte": start_ms, "lt": end_ms, "format": "epoch_millis"}}}));
    let mut body = json!({
        "size": size,
        "query": {"bool": {"filter": filter}},
        "sort": [
            {f.timestamp.as_str(): {"order": "asc"}},
            {f.tiebreaker.as_str(): {"order": "asc"}},
        ],
        "track_total_hits": false,
    });
    if let Some(after) = after {
        body["search_after"] = Value::Array(after.to_vec());
    }
    body
}

casefile_guest::export_connector!(ElasticsearchConnector);

#[cfg(test)]
mod tests {
    use super::*;

    const T0_MS: i64 = 1_714_566_896_000;

    fn query(settings: &str, limit: u32) -> Query {
        Query {
            tenant: "acme".into(),
            plugin_id: "checkout".into(),
            plugin_version: None,
            environment: "prod".into(),
            start_ns: T0_MS * 1_000_000,
            end_ns: (T0_MS + 60_000) * 1_000_000 + 1,
            trace_ids: Vec::new(),
            limit,
            settings: settings.into(),
        }
    }

    const SETTINGS: &str = r#"{"url": "http://es:9200/", "index": "logs-*", "page_size": 3,
        "fields": {"plugin": "plugin.keyword", "tenant": "tenant", "tiebreaker": "event.id", "level": "log.level"}}"#;

    /// A fake that pages 8 documents by (time, id) after `search_after`, honouring `size`.
    fn fake(requests: &mut Vec<Value>) -> impl FnMut(&str, Vec<u8>) -> Result<HttpResponse, PluginError> + '_ {
        move |url, body| {
            assert_eq!(url, "http://es:9200/logs-*/_search");
            let body: Value = serde_json::from_slice(&body).expect("JSON body");
            requests.push(body.clone());
            let size = body["size"].as_u64().expect("size") as usize;
            let after = body.get("search_after").cloned();
            let docs: Vec<Value> = (0..8)
                .map(|i| {
                    // Two documents share each time: the tiebreaker orders them.
                    let ts = T0_MS + (i / 2) * 1000;
                    json!({"_id": format!("d{i}"), "_source": {
                        "@timestamp": ts, "message": format!("line {i}"), "log": {"level": if i == 5 { "error" } else { "info" }},
                        "host": "h1", "event": {"id": format!("e{i}")}, "user": "bob"},
                        "sort": [ts, format!("e{i}")]})
                })
                .filter(|d| after.as_ref().is_none_or(|a| (d["sort"][0].as_i64(), d["sort"][1].as_str()) > (a[0].as_i64(), a[1].as_str())))
                .take(size)
                .collect();
            Ok(HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: json!({"took": 1, "timed_out": false, "hits": {"hits": docs}}).to_string().into_bytes(),
            })
        }
    }

    #[test]
    fn pages_with_search_after_until_a_short_page() {
        let mut requests = Vec::new();
        let b = fetch_with(&query(SETTINGS, 100), &mut fake(&mut requests)).expect("batch");
        assert_eq!(requests.len(), 3, "3 + 3 + 2");
        let messages: Vec<&str> = b.logs.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(messages, (0..8).map(|i| format!("line {i}")).collect::<Vec<_>>());
        assert_eq!(requests[0].get("search_after"), None);
        assert_eq!(requests[1]["search_after"], json!([T0_MS + 1000, "e2"]));
        assert_eq!(requests[2]["search_after"], json!([T0_MS + 2000, "e5"]));
        assert_eq!(
            requests[0]["query"]["bool"]["filter"],
            json!([
                {"term": {"plugin.keyword": "checkout"}},
                {"term": {"tenant": "acme"}},
                {"term": {"environment": "prod"}},
                {"range": {"@timestamp": {"gte": T0_MS, "lt": T0_MS + 60_001, "format": "epoch_millis"}}}
            ])
        );
        assert_eq!(requests[0]["sort"], json!([{"@timestamp": {"order": "asc"}}, {"event.id": {"order": "asc"}}]));
        let l = &b.logs[5];
        assert_eq!((l.level, l.host.as_str(), l.environment.as_str()), (casefile_guest::types::Level::Error, "h1", "prod"));
        assert_eq!(l.timestamp_ns, (T0_MS + 2000) * 1_000_000);
        assert!(l.attributes.iter().any(|f| f.key == "user" && f.value == "bob"), "{:?}", l.attributes);
    }

    #[test]
    fn limit_shrinks_the_last_page_and_stops() {
        let mut requests = Vec::new();
        let b = fetch_with(&query(SETTINGS, 4), &mut fake(&mut requests)).expect("batch");
        assert_eq!(b.logs.len(), 4);
        let sizes: Vec<u64> = requests.iter().map(|r| r["size"].as_u64().unwrap_or(0)).collect();
        assert_eq!(sizes, [3, 1]);
    }

    #[test]
    fn a_server_that_does_not_advance_is_unavailable() {
        let page = json!({"hits": {"hits": [{"_id": "a", "_source": {"@timestamp": T0_MS, "message": "m"}, "sort": [T0_MS, 1]}]}});
        let settings = r#"{"url": "http://es", "index": "l", "page_size": 1}"#;
        let e = fetch_with(&query(settings, 10), &mut |_, _| {
            Ok(HttpResponse { status: 200, headers: Vec::new(), body: page.to_string().into_bytes() })
        })
        .expect_err("stuck");
        assert!(matches!(&e, PluginError::Unavailable(m) if m.contains("did not advance")), "{e:?}");
    }

    #[test]
    fn index_patterns_stay_patterns() {
        assert_eq!(percent_encode_index("logs-*,audit"), "logs-*,audit");
        assert_eq!(percent_encode_index("a b"), "a%20b");
    }
}
