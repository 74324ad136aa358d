//! Connector for Jaeger (jaeger-query): the traces the trigger names, then the traces
//! a search finds for the service in the window, until `max_traces` traces or `limit`
//! spans. Through the host's HTTP import (which checks the source's allow-list).
//!
//! - API v3 (default): `GET /api/v3/traces/{id}` and `GET /api/v3/traces?query.…`,
//!   answered with OTLP JSON (`{"result": {"resourceSpans": …}}`), read by
//!   `casefile_guest::otlp`.
//! - API v2 (the UI's query API): `GET /api/traces/{id}` and
//!   `GET /api/traces?service=…&start=…&end=…&limit=…`, answered with Jaeger's JSON
//!   (`data[].spans[]`, `processes`), read by `v2`.
//!
//! Settings: `{"url", "api"?: "v3"|"v2", "service"?, "operation"?, "tags"?, "search"?,
//! "max_traces"?}` (settings.rs).

mod settings;
mod v2;

use casefile_guest::connector::{http_get, Guest};
use casefile_guest::http::{check_status, fill_placeholders, join_url, percent_encode};
use casefile_guest::otlp::{self, Spans};
use casefile_guest::records::Collector;
use casefile_guest::timefmt::format_rfc3339;
use casefile_guest::types::{Batch, HttpResponse, PluginError, Query};
use settings::{Api, Settings};
use std::collections::HashSet;

struct JaegerConnector;

impl Guest for JaegerConnector {
    fn validate_settings(settings: String) -> Result<(), PluginError> {
        Settings::parse(&settings).map(|_| ())
    }

    fn fetch(query: Query) -> Result<Batch, PluginError> {
        let settings = Settings::parse(&query.settings)?;
        fetch_with(&query, &settings, &mut |url| http_get(url, &[]))
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
    let mut traces = HashSet::new();
    // The trigger's traces first: they are the incident's own.
    for id in query.trace_ids.iter().filter_map(|t| otlp::hex_id(t, 16)) {
        if out.is_full() || traces.len() >= settings.max_traces as usize {
            break;
        }
        if !traces.insert(id.clone()) {
            continue;
        }
        let (url, api) = match settings.api {
            Api::V3 => (format!("/api/v3/traces/{id}"), "jaeger v3"),
            // v2 takes the id as Jaeger writes it: without the zero high half.
            Api::V2 => (format!("/api/traces/{}", id.trim_start_matches('0')), "jaeger"),
        };
        let response = get(&join_url(&settings.base, &url))?;
        if response.status == 404 {
            continue; // A named trace Jaeger does not (or no longer) have.
        }
        let spans = read(settings.api, api, &response)?;
        otlp::push_spans(spans, query, &mut out);
    }
    if let Some(service) = &settings.service {
        if !out.is_full() && traces.len() < settings.max_traces as usize {
            let room = settings.max_traces as usize - traces.len();
            let url = search_url(settings, service, query, room);
            let response = get(&url)?;
            // v3 answers a search that found nothing with 404 and a JSON error.
            let nothing = settings.api == Api::V3 && response.status == 404;
            if !nothing {
                let api = if settings.api == Api::V3 { "jaeger v3 search" } else { "jaeger search" };
                let mut spans = read(settings.api, api, &response)?;
                // Traces already read by id are not added twice.
                spans.spans.retain(|s| !traces.contains(&s.span.trace_id));
                if settings.api == Api::V3 {
                    keep_tagged(&mut spans, settings, query);
                }
                otlp::push_spans(spans, query, &mut out);
            }
        }
    }
    Ok(out.finish(query.start_ns, &query.environment))
}

/// jaeger-query's v3 HTTP gateway does not pass tags on to the search (its
/// `parseFindTracesQuery` leaves them empty; `query.attributes` is sent anyway for a
/// gateway that does), so the tags are applied here: a trace is kept when one of its
/// spans carries every tag, as Jaeger's own search matches them.
fn keep_tagged(spans: &mut Spans, settings: &Settings, q: &Query) {
    if settings.tags.is_empty() {
        return;
    }
    let fill = |t: &str| fill_placeholders(t, [&q.plugin_id, &q.tenant, &q.environment]);
    let wanted: Vec<(String, String)> = settings.tags.iter().map(|(k, v)| (fill(k), fill(v))).collect();
    let has = |s: &otlp::TraceSpan, key: &str, value: &str| match key {
        // The resource attributes the OTLP reader turns into span fields.
        "service.name" => s.span.service == value,
        "host.name" => s.span.host == value,
        "deployment.environment" | "deployment.environment.name" => s.span.environment == value,
        "plugin.id" | "plugin" if s.plugin.is_some() => s.plugin.as_deref() == Some(value),
        _ => s.span.attributes.iter().any(|f| f.key == key && f.value == value),
    };
    let matching: HashSet<String> = spans
        .spans
        .iter()
        .filter(|s| wanted.iter().all(|(k, v)| has(s, k, v)))
        .map(|s| s.span.trace_id.clone())
        .collect();
    spans.spans.retain(|s| matching.contains(&s.span.trace_id));
}

fn read(api: Api, service: &str, response: &HttpResponse) -> Result<Spans, PluginError> {
    let body = check_status(service, response)?;
    match api {
        Api::V3 => otlp::parse_slice(body).map_err(|e| PluginError::Unavailable(format!("{service} answered {e}"))),
        Api::V2 => v2::parse(body),
    }
}

/// The search for `service` (and `operation`, `tags`) in the window, at most `max`
/// traces. v2 takes microseconds; v3 RFC 3339 times.
fn search_url(s: &Settings, service: &str, q: &Query, max: usize) -> String {
    let fill = |t: &str| percent_encode(&fill_placeholders(t, [&q.plugin_id, &q.tenant, &q.environment]));
    match s.api {
        Api::V2 => {
            let mut url = format!(
                "{}?service={}&start={}&end={}&limit={max}",
                join_url(&s.base, "/api/traces"),
                fill(service),
                q.start_ns.div_euclid(1_000),
                q.end_ns.div_euclid(1_000) + i64::from(q.end_ns.rem_euclid(1_000) != 0),
            );
            if let Some(op) = &s.operation {
                url.push_str(&format!("&operation={}", fill(op)));
            }
            if !s.tags.is_empty() {
                // v2 takes the tags as one JSON object.
                let tags: serde_json::Map<String, serde_json::Value> = s
                    .tags
                    .iter()
                    .map(|(k, v)| {
                        let fill = |t: &str| fill_placeholders(t, [&q.plugin_id, &q.tenant, &q.environment]);
                        (fill(k), serde_json::Value::String(fill(v)))
                    })
                    .collect();
                url.push_str(&format!("&tags={}", percent_encode(&serde_json::Value::Object(tags).to_string())));
            }
            url
        }
        Api::V3 => {
            let mut url = format!(
                "{}?query.service_name={}&query.start_time_min={}&query.start_time_max={}&query.num_traces={max}",
                join_url(&s.base, "/api/v3/traces"),
                fill(service),
                percent_encode(&format_rfc3339(q.start_ns)),
                percent_encode(&format_rfc3339(q.end_ns)),
            );
            if let Some(op) = &s.operation {
                url.push_str(&format!("&query.operation_name={}", fill(op)));
            }
            for (k, v) in &s.tags {
                url.push_str(&format!("&query.attributes[{}]={}", fill(k), fill(v)));
            }
            url
        }
    }
}

casefile_guest::export_connector!(JaegerConnector);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const T0: i64 = 1_684_778_327_000_000_000;
    const T0_US: i64 = T0 / 1_000;

    fn query(trace_ids: &[&str], limit: u32) -> Query {
        Query {
            tenant: "acme".into(),
            plugin_id: "checkout".into(),
            plugin_version: None,
            environment: "prod".into(),
            start_ns: T0,
            end_ns: T0 + 60_000_000_000,
            trace_ids: trace_ids.iter().map(|s| s.to_string()).collect(),
            limit,
            settings: String::new(),
        }
    }

    fn ok(v: Value) -> Result<HttpResponse, PluginError> {
        Ok(HttpResponse { status: 200, headers: Vec::new(), body: v.to_string().into_bytes() })
    }

    fn not_found() -> Result<HttpResponse, PluginError> {
        Ok(HttpResponse { status: 404, headers: Vec::new(), body: br#"{"error":{"httpCode":404,"message":"trace not found"}}"#.to_vec() })
    }

    /// OTLP JSON as the v3 gateway wraps it, hex ids.
    fn v3_trace(trace: &str, spans: &[&str]) -> Value {
        v3_trace_of(trace, spans, None)
    }

    /// The same, its resource naming a plugin.
    fn v3_trace_of(trace: &str, spans: &[&str], plugin: Option<&str>) -> Value {
        let spans: Vec<Value> = spans
            .iter()
            .map(|s| json!({"traceId": trace, "spanId": s, "name": "op", "kind": 2,
                "startTimeUnixNano": (T0 + 1_000).to_string(), "endTimeUnixNano": (T0 + 2_000).to_string()}))
            .collect();
        let mut attributes = vec![
            json!({"key": "service.name", "value": {"stringValue": "checkout"}}),
            json!({"key": "host.name", "value": {"stringValue": "runtime-1"}}),
        ];
        if let Some(p) = plugin {
            attributes.push(json!({"key": "plugin.id", "value": {"stringValue": p}}));
        }
        json!({"result": {"resourceSpans": [{"resource": {"attributes": attributes},
            "scopeSpans": [{"scope": {}, "spans": spans}]}]}})
    }

    fn v2_trace(trace: &str, spans: &[&str]) -> Value {
        let spans: Vec<Value> = spans
            .iter()
            .map(|s| json!({"traceID": trace, "spanID": s, "operationName": "op", "references": [],
                "startTime": T0_US + 1, "duration": 1, "tags": [], "processID": "p1"}))
            .collect();
        json!({"traceID": trace, "spans": spans, "processes": {"p1": {"serviceName": "checkout", "tags": []}}})
    }

    const A: &str = "0af7651916cd43dd8448eb211c80319c";
    const B: &str = "00000000000000004bf92f3577b34da6";
    const C: &str = "0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c";

    #[test]
    fn v3_by_id_then_search() {
        let mut urls = Vec::new();
        let s = Settings::parse(r#"{"url": "http://jaeger:16686", "tags": {"plugin.id": "{plugin}"}}"#).expect("settings");
        let b = fetch_with(&query(&[A, "ffffffffffffffffffffffffffffff01"], 100), &s, &mut |url: &str| {
            urls.push(url.trim_start_matches("http://jaeger:16686").to_owned());
            match url.trim_start_matches("http://jaeger:16686") {
                p if p == format!("/api/v3/traces/{A}") => ok(v3_trace(A, &["00f067aa0ba902b7"])),
                p if p.starts_with("/api/v3/traces/") => not_found(),
                p if p.starts_with("/api/v3/traces?") => {
                    // One document holding every trace found: A again, B, and C of
                    // another plugin (the real gateway ignores `query.attributes`).
                    let mut doc = v3_trace(A, &["00f067aa0ba902b7"]);
                    for more in [
                        v3_trace_of(B, &["1111111111111111", "2222222222222222"], Some("checkout")),
                        v3_trace_of(C, &["3333333333333333"], Some("billing")),
                    ] {
                        doc["result"]["resourceSpans"].as_array_mut().expect("list").extend(more["result"]["resourceSpans"].as_array().expect("list").clone());
                    }
                    ok(doc)
                }
                other => panic!("unexpected {other}"),
            }
        })
        .expect("batch");
        assert_eq!(urls.len(), 3, "{urls:?}");
        assert_eq!(
            urls[2],
            "/api/v3/traces?query.service_name=checkout&query.start_time_min=2023-05-22T17%3A58%3A47Z&query.start_time_max=2023-05-22T17%3A59%3A47Z&query.num_traces=18&query.attributes[plugin.id]=checkout"
        );
        let ids: Vec<(&str, &str)> = b.spans.iter().map(|s| (s.trace_id.as_str(), s.span_id.as_str())).collect();
        assert_eq!(ids, [(A, "00f067aa0ba902b7"), (B, "1111111111111111"), (B, "2222222222222222")]);
        assert_eq!(b.spans[0].host, "runtime-1");
    }

    #[test]
    fn v3_search_that_finds_nothing_is_empty() {
        let s = Settings::parse(r#"{"url": "http://j"}"#).expect("settings");
        let b = fetch_with(&query(&[], 10), &s, &mut |_: &str| not_found()).expect("empty");
        assert!(b.spans.is_empty());
    }

    #[test]
    fn v2_by_id_then_search() {
        let mut urls = Vec::new();
        let s = Settings::parse(r#"{"url": "http://jaeger:16686", "api": "v2", "operation": "POST /pay", "tags": {"tenant": "{tenant}"}}"#).expect("settings");
        let b = fetch_with(&query(&[B], 2), &s, &mut |url: &str| {
            urls.push(url.trim_start_matches("http://jaeger:16686").to_owned());
            match url.trim_start_matches("http://jaeger:16686") {
                "/api/traces/4bf92f3577b34da6" => ok(json!({"data": [v2_trace("4bf92f3577b34da6", &["1"])], "errors": null})),
                p if p.starts_with("/api/traces?") => ok(json!({"data": [v2_trace(A, &["2", "3"]), v2_trace("4bf92f3577b34da6", &["1"])], "errors": null})),
                other => panic!("unexpected {other}"),
            }
        })
        .expect("batch");
        assert_eq!(
            urls[1],
            format!("/api/traces?service=checkout&start={T0_US}&end={}&limit=19&operation=POST%20%2Fpay&tags=%7B%22tenant%22%3A%22acme%22%7D", T0_US + 60_000_000)
        );
        // The limit (2 spans) stops after B's span and A's first.
        let ids: Vec<(&str, &str)> = b.spans.iter().map(|s| (s.trace_id.as_str(), s.span_id.as_str())).collect();
        assert_eq!(ids, [(B, "0000000000000001"), (A, "0000000000000002")]);
    }

    #[test]
    fn errors_keep_their_kind() {
        let s = Settings::parse(r#"{"url": "http://j", "api": "v2"}"#).expect("settings");
        let answer = |status: u16, body: &'static str| move |_: &str| Ok(HttpResponse { status, headers: Vec::new(), body: body.as_bytes().to_vec() });
        let e = fetch_with(&query(&[], 10), &s, &mut answer(502, "bad gateway")).expect_err("502");
        assert!(matches!(&e, PluginError::Unavailable(m) if m.contains("502")), "{e:?}");
        let e = fetch_with(&query(&[], 10), &s, &mut answer(400, r#"{"errors":[{"code":400,"msg":"bad"}]}"#)).expect_err("400");
        assert!(matches!(e, PluginError::InvalidInput(_)), "{e:?}");
        let e = fetch_with(&query(&[], 10), &s, &mut answer(404, "")).expect_err("v2 404 on search is a wrong URL");
        assert!(matches!(e, PluginError::InvalidInput(_)), "{e:?}");
    }
}
