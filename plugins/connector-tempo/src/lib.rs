//! Connector for Grafana Tempo: the traces the trigger names (`GET /api/traces/{id}`),
//! then the traces `GET /api/search` finds in the window (by `tags` or TraceQL), each
//! fetched by id, until `max_traces` traces or `limit` spans. Through the host's HTTP
//! import (which checks the source's allow-list). Tempo answers OTLP JSON (`batches`
//! with base64 ids, or `resourceSpans`), read by `casefile_guest::otlp`.
//!
//! Settings: `{"url", "tags"? | "traceql"?, "search"?, "max_traces"?, "org_id"?}`
//! (settings.rs).

mod settings;

use casefile_guest::connector::{http_get, Guest};
use casefile_guest::http::{check_status, fill_placeholders, join_url, percent_encode};
use casefile_guest::otlp;
use casefile_guest::records::Collector;
use casefile_guest::types::{Batch, HttpResponse, PluginError, Query};
use serde_json::Value;
use settings::{Search, Settings};

struct TempoConnector;

impl Guest for TempoConnector {
    fn validate_settings(settings: String) -> Result<(), PluginError> {
        Settings::parse(&settings).map(|_| ())
    }

    fn fetch(query: Query) -> Result<Batch, PluginError> {
        let settings = Settings::parse(&query.settings)?;
        let org = settings.org_id.clone();
        fetch_with(&query, &settings, &mut |url| {
            let headers: Vec<(&str, &str)> = org.iter().map(|o| ("X-Scope-OrgID", o.as_str())).collect();
            http_get(url, &headers)
        })
    }
}

/// `GET url`: the host's import in the component, a fake in the tests.
type Get<'a> = dyn FnMut(&str) -> Result<HttpResponse, PluginError> + 'a;

fn fetch_with(query: &Query, settings: &Settings, get: &mut Get) -> Result<Batch, PluginError> {
    if query.end_ns <= query.start_ns {
        return Err(PluginError::InvalidInput(format!(
            "the window ends ({}) before it starts ({})",
            query.end_ns, query.start_ns
        )));
    }
    let mut out = Collector::new(query.limit);
    // The trigger's traces first: they are the incident's own.
    let mut ids: Vec<String> = Vec::new();
    for id in query.trace_ids.iter().filter_map(|t| otlp::hex_id(t, 16)) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    if let Some(search) = &settings.search {
        if ids.len() < settings.max_traces as usize && query.limit > 0 {
            for id in search_ids(&settings.base, search, query, settings.max_traces, get)? {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
    }
    ids.truncate(settings.max_traces as usize);
    for id in ids {
        if out.is_full() {
            break;
        }
        let response = get(&join_url(&settings.base, &format!("/api/traces/{id}")))?;
        if response.status == 404 {
            // A named trace Tempo does not (or no longer) have: nothing to add.
            continue;
        }
        let body = check_status("tempo", &response)?;
        let spans = otlp::parse_slice(body)
            .map_err(|e| PluginError::Unavailable(format!("tempo answered trace {id} with {e}")))?;
        otlp::push_spans(spans, query, &mut out);
    }
    Ok(out.finish(query.start_ns, &query.environment))
}

/// The ids `/api/search` finds in the window (Tempo takes whole unix seconds: the
/// window is widened to them; spans are checked against it exactly).
fn search_ids(base: &str, search: &Search, query: &Query, max: u32, get: &mut Get) -> Result<Vec<String>, PluginError> {
    let url = search_url(base, search, query, max);
    let response = get(&url)?;
    let body = check_status("tempo search", &response)?;
    let answer: Value = serde_json::from_slice(body)
        .map_err(|e| PluginError::Unavailable(format!("tempo search answered bad JSON: {e}")))?;
    let traces = match answer.get("traces") {
        Some(Value::Array(t)) => t.as_slice(),
        Some(Value::Null) | None => &[],
        Some(other) => return Err(PluginError::Unavailable(format!("tempo search answered `traces` as {other}"))),
    };
    Ok(traces
        .iter()
        .filter_map(|t| t.get("traceID").and_then(Value::as_str))
        .filter_map(|t| otlp::hex_id(t, 16))
        .collect())
}

fn search_url(base: &str, search: &Search, query: &Query, max: u32) -> String {
    let values = [query.plugin_id.as_str(), query.tenant.as_str(), query.environment.as_str()];
    let param = match search {
        Search::Tags(t) => {
            let quoted = values.map(logfmt_value);
            format!("tags={}", percent_encode(&fill_placeholders(t, [&quoted[0], &quoted[1], &quoted[2]])))
        }
        Search::TraceQl(q) => {
            let quoted = values.map(|v| v.replace('\\', r"\\").replace('"', r#"\""#));
            format!("q={}", percent_encode(&fill_placeholders(q, [&quoted[0], &quoted[1], &quoted[2]])))
        }
    };
    let start = query.start_ns.div_euclid(1_000_000_000);
    let end = query.end_ns.div_euclid(1_000_000_000) + i64::from(query.end_ns.rem_euclid(1_000_000_000) != 0);
    format!("{}?{param}&start={start}&end={end}&limit={max}", join_url(base, "/api/search"))
}

/// A value in Tempo's logfmt `tags`: quoted when it holds a space, `=` or a quote.
fn logfmt_value(v: &str) -> String {
    if v.is_empty() || v.contains([' ', '=', '"', '\\']) {
        format!("\"{}\"", v.replace('\\', r"\\").replace('"', r#"\""#))
    } else {
        v.to_owned()
    }
}

casefile_guest::export_connector!(TempoConnector);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T0: i64 = 1_684_778_327_000_000_000;

    fn query(trace_ids: &[&str], limit: u32) -> Query {
        Query {
            tenant: "acme".into(),
            plugin_id: "checkout".into(),
            plugin_version: None,
            environment: "prod".into(),
            start_ns: T0,
            end_ns: T0 + 60_000_000_001,
            trace_ids: trace_ids.iter().map(|s| s.to_string()).collect(),
            limit,
            settings: String::new(),
        }
    }

    /// A `/api/traces/{id}` answer as Tempo writes it: `batches`, base64 ids.
    fn trace_doc(trace_b64: &str, spans: &[(&str, i64)]) -> Value {
        let spans: Vec<Value> = spans
            .iter()
            .map(|(span_b64, at)| json!({"traceId": trace_b64, "spanId": span_b64, "name": "op", "kind": "SPAN_KIND_SERVER",
                "startTimeUnixNano": (T0 + at).to_string(), "endTimeUnixNano": (T0 + at + 1000).to_string()}))
            .collect();
        json!({"batches": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}}]},
            "scopeSpans": [{"scope": {"name": "x"}, "spans": spans}]}]})
    }

    fn ok(v: Value) -> Result<HttpResponse, PluginError> {
        Ok(HttpResponse { status: 200, headers: Vec::new(), body: v.to_string().into_bytes() })
    }

    // 16-byte trace ids 0…01 / 0…02 / 0…03 and 8-byte span ids, base64 as Tempo writes them.
    const TRACE1: &str = "AAAAAAAAAAAAAAAAAAAAAQ==";
    const TRACE2: &str = "AAAAAAAAAAAAAAAAAAAAAg==";
    const HEX1: &str = "00000000000000000000000000000001";
    const HEX2: &str = "00000000000000000000000000000002";
    const HEX3: &str = "00000000000000000000000000000003";

    fn fake<'a>(urls: &'a mut Vec<String>) -> impl FnMut(&str) -> Result<HttpResponse, PluginError> + 'a {
        move |url: &str| {
            urls.push(url.to_owned());
            let path = url.trim_start_matches("http://tempo:3200");
            if path.starts_with("/api/search?") {
                // The documented search answer: trace summaries with hex `traceID`.
                return ok(json!({"traces": [
                    {"traceID": HEX2, "rootServiceName": "checkout", "rootTraceName": "POST /pay", "startTimeUnixNano": T0.to_string(), "durationMs": 12},
                    {"traceID": "1", "rootServiceName": "checkout"},
                    {"traceID": "3", "rootServiceName": "checkout"}],
                    "metrics": {"inspectedTraces": 3, "inspectedBytes": "1000"}}));
            }
            match path {
                p if p == format!("/api/traces/{HEX1}") => ok(trace_doc(TRACE1, &[("AAAAAAAAAAE=", 0), ("AAAAAAAAAAI=", -120_000_000_000)])),
                p if p == format!("/api/traces/{HEX2}") => ok(trace_doc(TRACE2, &[("AAAAAAAAAAM=", 5), ("AAAAAAAAAAQ=", 6)])),
                p if p == format!("/api/traces/{HEX3}") => Ok(HttpResponse { status: 404, headers: Vec::new(), body: b"trace not found".to_vec() }),
                other => panic!("unexpected request {other}"),
            }
        }
    }

    fn settings(json: &str) -> Settings {
        Settings::parse(json).expect("settings")
    }

    #[test]
    fn named_traces_then_search_results_each_fetched_once() {
        let mut urls = Vec::new();
        let s = settings(r#"{"url": "http://tempo:3200", "tags": "plugin={plugin} env={environment}"}"#);
        let b = fetch_with(&query(&[HEX1], 100), &s, &mut fake(&mut urls)).expect("batch");
        assert_eq!(
            urls.iter().map(|u| u.trim_start_matches("http://tempo:3200")).collect::<Vec<_>>(),
            [
                &format!("/api/search?tags=plugin%3Dcheckout%20env%3Dprod&start={}&end={}&limit=20", T0 / 1_000_000_000, T0 / 1_000_000_000 + 61),
                &format!("/api/traces/{HEX1}"),
                &format!("/api/traces/{HEX2}"),
                &format!("/api/traces/{HEX3}"),
            ]
        );
        // Trace 1's second span ended two minutes before the window; trace 3 is gone (404).
        let ids: Vec<(&str, &str)> = b.spans.iter().map(|s| (s.trace_id.as_str(), s.span_id.as_str())).collect();
        assert_eq!(ids, [(HEX1, "0000000000000001"), (HEX2, "0000000000000003"), (HEX2, "0000000000000004")]);
        assert_eq!(b.spans[0].service, "checkout");
    }

    #[test]
    fn limits_stop_the_fetches() {
        let mut urls = Vec::new();
        let s = settings(r#"{"url": "http://tempo:3200", "search": false}"#);
        let b = fetch_with(&query(&[HEX2, HEX1], 1), &s, &mut fake(&mut urls)).expect("batch");
        assert_eq!((b.spans.len(), urls.len()), (1, 1), "{urls:?}");
        let mut urls = Vec::new();
        let s = settings(r#"{"url": "http://tempo:3200", "max_traces": 2}"#);
        fetch_with(&query(&[], 100), &s, &mut fake(&mut urls)).expect("batch");
        assert!(urls[0].ends_with("&limit=2"), "{urls:?}");
        assert_eq!(urls.len(), 3, "search + the first two traces: {urls:?}");
    }

    #[test]
    fn traceql_values_are_escaped() {
        let s = settings(r#"{"url": "http://tempo:3200", "traceql": "{ resource.plugin.id = \"{plugin}\" }"}"#);
        let q = Query { plugin_id: r#"a"b"#.into(), ..query(&[], 5) };
        let url = search_url(&s.base, s.search.as_ref().expect("search"), &q, 5);
        assert!(url.contains(&format!("q={}", percent_encode(r#"{ resource.plugin.id = "a\"b" }"#))), "{url}");
        assert_eq!(logfmt_value("a b"), r#""a b""#);
        assert_eq!(logfmt_value("plain"), "plain");
    }

    #[test]
    fn errors_keep_their_kind() {
        let s = settings(r#"{"url": "http://tempo:3200"}"#);
        let answer = |status: u16, body: &'static str| move |_: &str| Ok(HttpResponse { status, headers: Vec::new(), body: body.as_bytes().to_vec() });
        let e = fetch_with(&query(&[], 10), &s, &mut answer(503, "ingester down")).expect_err("503");
        assert!(matches!(&e, PluginError::Unavailable(m) if m.contains("503")), "{e:?}");
        let e = fetch_with(&query(&[], 10), &s, &mut answer(400, "invalid tags")).expect_err("400");
        assert!(matches!(&e, PluginError::InvalidInput(m) if m.contains("invalid tags")), "{e:?}");
        let e = fetch_with(&query(&[], 10), &s, &mut answer(200, "<html>")).expect_err("html");
        assert!(matches!(&e, PluginError::Unavailable(m) if m.contains("bad JSON")), "{e:?}");
        let e = fetch_with(&query(&[], 10), &s, &mut |_: &str| Err(PluginError::Unavailable("timed out".into()))).expect_err("timeout");
        assert!(matches!(&e, PluginError::Unavailable(m) if m == "timed out"), "{e:?}");
        let backwards = Query { end_ns: T0 - 1, ..query(&[], 10) };
        assert!(matches!(fetch_with(&backwards, &s, &mut answer(200, "{}")), Err(PluginError::InvalidInput(_))));
    }
}
