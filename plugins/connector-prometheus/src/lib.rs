//! Connector for Prometheus: one `GET /api/v1/query_range` per configured query,
//! through the host's HTTP import (which checks it against the source's allow-list).
//!
//! Settings: `{"url": "http://prometheus:9090", "queries": {"<name>": "<PromQL>"},
//! "step": "15s"?, "org_id": "<tenant>"?}`. A query may use `{plugin}`, `{tenant}` and
//! `{environment}` inside a quoted label value (`plugin="{plugin}"`); they are
//! replaced by the query's values, escaped (template.rs). Every series becomes samples
//! named after the query, labelled with the series' labels. Without `step`, the step
//! keeps each series to about 300 points over the window.

mod response;
mod settings;
mod template;

use casefile_guest::connector::{http_get, Guest};
use casefile_guest::http::{join_url, percent_encode};
use casefile_guest::records::Collector;
use casefile_guest::types::{Batch, HttpResponse, PluginError, Query};
use settings::Settings;

/// Points per series the default step aims at.
const DEFAULT_POINTS: i64 = 300;
/// Prometheus refuses more than 11,000 points per series; a step set too fine for a
/// long window is widened to stay under it rather than fail the query.
const MAX_POINTS: i64 = 10_000;

struct PrometheusConnector;

impl Guest for PrometheusConnector {
    fn validate_settings(settings: String) -> Result<(), PluginError> {
        Settings::parse(&settings).map(|_| ())
    }

    fn fetch(query: Query) -> Result<Batch, PluginError> {
        fetch_with(&query, &mut |url, headers| http_get(url, headers))
    }
}

/// `GET url` with headers: the host's import in the component, a fake in the tests.
type Send<'a> = dyn FnMut(&str, &[(&str, &str)]) -> Result<HttpResponse, PluginError> + 'a;

/// The fetch, with the HTTP call passed in so that it runs natively in the tests.
fn fetch_with(query: &Query, send: &mut Send) -> Result<Batch, PluginError> {
    let settings = Settings::parse(&query.settings)?;
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
    let step_ms = step_ms(settings.step_ms, query.start_ns, query.end_ns);
    let values = template::Values {
        plugin: &query.plugin_id,
        tenant: &query.tenant,
        environment: &query.environment,
    };
    let mut headers = Vec::new();
    if let Some(org) = settings.org_id.as_deref() {
        headers.push(("X-Scope-OrgID", org));
    }
    for (name, promql) in &settings.queries {
        if out.is_full() {
            break;
        }
        let in_context = |e: PluginError| with_context(name, e);
        let promql = template::render(promql, &values)
            .map_err(|e| in_context(PluginError::InvalidInput(e)))?;
        let url = query_range_url(&settings.base, &promql, query.start_ns, query.end_ns, step_ms);
        let response = send(&url, &headers).map_err(in_context)?;
        response::read(name, &response, query.end_ns, &query.environment, &mut out)
            .map_err(in_context)?;
    }
    Ok(out.finish(query.start_ns, &query.environment))
}

/// The error, its message prefixed with the query it came from, its kind kept.
fn with_context(name: &str, e: PluginError) -> PluginError {
    let at = |m: String| format!("query {name:?}: {m}");
    match e {
        PluginError::InvalidInput(m) => PluginError::InvalidInput(at(m)),
        PluginError::Unavailable(m) => PluginError::Unavailable(at(m)),
        PluginError::Denied(m) => PluginError::Denied(at(m)),
        PluginError::Internal(m) => PluginError::Internal(at(m)),
    }
}

/// The configured step, or one giving about [`DEFAULT_POINTS`] points (at least 1 s);
/// never finer than [`MAX_POINTS`] points over the window.
fn step_ms(configured: Option<i64>, start_ns: i64, end_ns: i64) -> i64 {
    let window_ms = (end_ns.saturating_sub(start_ns) / 1_000_000).max(1);
    let wanted = configured.unwrap_or_else(|| ceil_div(window_ms, DEFAULT_POINTS).max(1_000));
    wanted.max(ceil_div(window_ms, MAX_POINTS))
}

fn ceil_div(a: i64, b: i64) -> i64 {
    (a + b - 1) / b
}

/// Unix seconds with milliseconds, as Prometheus reads `start`, `end` and `step`.
fn seconds(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

fn query_range_url(base: &str, promql: &str, start_ns: i64, end_ns: i64, step_ms: i64) -> String {
    // The start rounds down and the end up to the millisecond, so the window is covered.
    let start_ms = start_ns.div_euclid(1_000_000);
    let end_ms = ceil_div_euclid(end_ns, 1_000_000);
    format!(
        "{}?query={}&start={}&end={}&step={}",
        join_url(base, "/api/v1/query_range"),
        percent_encode(promql),
        seconds(start_ms),
        seconds(end_ms),
        seconds(step_ms)
    )
}

fn ceil_div_euclid(a: i64, b: i64) -> i64 {
    let q = a.div_euclid(b);
    if a.rem_euclid(b) == 0 {
        q
    } else {
        q + 1
    }
}

casefile_guest::export_connector!(PrometheusConnector);

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_714_566_896_000_000_000;

    fn query(settings: &str, limit: u32) -> Query {
        Query {
            tenant: "acme".into(),
            plugin_id: "pay\"ments".into(),
            plugin_version: None,
            environment: "prod".into(),
            start_ns: T0,
            end_ns: T0 + 30 * 60 * 1_000_000_000,
            trace_ids: Vec::new(),
            limit,
            settings: settings.into(),
        }
    }

    fn ok(body: &str) -> HttpResponse {
        HttpResponse {
            status: 200,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn matrix(points: usize) -> String {
        let values: Vec<String> = (0..points)
            .map(|i| format!(r#"[{},"{i}"]"#, T0 / 1_000_000_000 + i as i64))
            .collect();
        format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{"plugin":"pay"}},"values":[{}]}}]}}}}"#,
            values.join(",")
        )
    }

    const SETTINGS: &str = r#"{"url": "http://prom:9090/", "org_id": "team-a", "queries": {
        "errors": "sum(rate(errors_total{plugin=\"{plugin}\",tenant=\"{tenant}\",environment=\"{environment}\"}[5m]))",
        "latency": "latency_seconds{plugin=~\"{plugin}\"}"}}"#;

    #[test]
    fn one_request_per_query_with_escaped_values_and_default_step() {
        let mut seen = Vec::new();
        let b = fetch_with(&query(SETTINGS, 1000), &mut |url, headers| {
            seen.push((url.to_owned(), headers.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>()));
            Ok(ok(&matrix(3)))
        })
        .expect("batch");
        assert_eq!(seen.len(), 2);
        let errors = "sum(rate(errors_total{plugin=\"pay\\\"ments\",tenant=\"acme\",environment=\"prod\"}[5m]))";
        assert_eq!(
            seen[0].0,
            format!(
                "http://prom:9090/api/v1/query_range?query={}&start=1714566896.000&end=1714568696.000&step=6.000",
                percent_encode(errors)
            ),
            "30 minutes at 300 points: a 6 s step"
        );
        assert_eq!(seen[0].1, ["X-Scope-OrgID=team-a"]);
        assert!(seen[1].0.contains(&percent_encode("latency_seconds{plugin=~\"pay\\\"ments\"}")), "{}", seen[1].0);
        let names: Vec<&str> = b.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["errors", "errors", "errors", "latency", "latency", "latency"]);
        assert!(b.logs.is_empty() && b.spans.is_empty());
    }

    #[test]
    fn limit_counts_across_queries() {
        let mut calls = 0;
        let b = fetch_with(&query(SETTINGS, 4), &mut |_, _| {
            calls += 1;
            Ok(ok(&matrix(3)))
        })
        .expect("batch");
        assert_eq!(b.metrics.len(), 4);
        assert_eq!(calls, 2);
        let mut calls = 0;
        let b = fetch_with(&query(SETTINGS, 3), &mut |_, _| {
            calls += 1;
            Ok(ok(&matrix(3)))
        })
        .expect("batch");
        assert_eq!((b.metrics.len(), calls), (3, 1), "a full batch asks nothing more");
        let b = fetch_with(&query(SETTINGS, 0), &mut |_, _| panic!("no request for limit 0")).expect("batch");
        assert!(b.metrics.is_empty());
    }

    #[test]
    fn errors_name_the_query_and_keep_their_kind() {
        let e = fetch_with(&query(SETTINGS, 10), &mut |_, _| {
            Ok(HttpResponse {
                status: 400,
                headers: Vec::new(),
                body: br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#.to_vec(),
            })
        })
        .expect_err("bad_data");
        assert!(matches!(&e, PluginError::InvalidInput(m) if m.starts_with("query \"errors\": prometheus bad_data (400): parse error")), "{e:?}");
        let e = fetch_with(&query(SETTINGS, 10), &mut |_, _| Err(PluginError::Denied("not on the allow-list".into())))
            .expect_err("denied");
        assert!(matches!(&e, PluginError::Denied(m) if m.contains("not on the allow-list")), "{e:?}");
        let mut q = query(SETTINGS, 10);
        q.end_ns = q.start_ns;
        assert!(matches!(fetch_with(&q, &mut |_, _| panic!("no request")), Err(PluginError::InvalidInput(_))));
        assert!(matches!(fetch_with(&query("{}", 10), &mut |_, _| panic!("no request")), Err(PluginError::InvalidInput(_))));
    }

    #[test]
    fn steps() {
        let min = 60 * 1_000_000_000;
        assert_eq!(step_ms(None, 0, 30 * min), 6_000);
        assert_eq!(step_ms(None, 0, min), 1_000, "never under a second by default");
        assert_eq!(step_ms(Some(15_000), 0, 30 * min), 15_000);
        assert_eq!(step_ms(Some(1_000), 0, 7 * 24 * 60 * min), 60_480, "widened to 10,000 points");
        assert_eq!(seconds(1500), "1.500");
        assert_eq!(seconds(-1500), "-2.500");
    }
}
