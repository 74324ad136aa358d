//! Sources against real servers: a real Prometheus (Debian's package, installed by
//! scripts/setup) started on loopback by the test, scraping a small exporter of the
//! test's own, queried by the shipped `connector-prometheus` through the real binary.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use support::*;

const PROMETHEUS: &str = "/usr/bin/prometheus";
/// How long Prometheus may take to start and land its first scrape.
const PROMETHEUS_WAIT: Duration = Duration::from_secs(60);

/// What the exporter serves: the plugin's errors and latency for two tenants, two
/// plugins and two environments, so that the templated queries must select.
const EXPOSITION: &str = "\
# HELP plugin_errors_total Errors a plugin raised.
# TYPE plugin_errors_total counter
plugin_errors_total{plugin=\"checkout\",tenant=\"acme\",environment=\"prod\"} 7
plugin_errors_total{plugin=\"checkout\",tenant=\"globex\",environment=\"prod\"} 99
plugin_errors_total{plugin=\"search\",tenant=\"acme\",environment=\"prod\"} 5
plugin_errors_total{plugin=\"checkout\",tenant=\"acme\",environment=\"staging\"} 3
# HELP plugin_latency_seconds Latency of the plugin's last call.
# TYPE plugin_latency_seconds gauge
plugin_latency_seconds{plugin=\"checkout\",tenant=\"acme\",environment=\"prod\"} 0.25
plugin_latency_seconds{plugin=\"checkout\",tenant=\"acme\",environment=\"staging\"} 1.5
plugin_latency_seconds{plugin=\"checkout\",tenant=\"globex\",environment=\"prod\"} 42
";

/// A running Prometheus; killed when dropped, its log kept in a file for failures.
struct Prometheus {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Prometheus {
    fn start(dir: &Path, scrape_target: &str) -> Prometheus {
        assert!(
            Path::new(PROMETHEUS).exists(),
            "{PROMETHEUS} is missing: this test needs Debian's `prometheus` package; run scripts/setup (scripts/install-prometheus installs it)"
        );
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{ scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }}\n\
                 scrape_configs:\n  - job_name: plugin-exporter\n    static_configs: [ {{ targets: [\"{scrape_target}\"] }} ]\n"
            ),
        )
        .expect("write prometheus.yml");
        let storage = dir.join("tsdb");
        std::fs::create_dir_all(&storage).expect("storage dir");
        let log = dir.join("prometheus.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let port = closed_port();
        let child = Command::new(PROMETHEUS)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", storage.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("start prometheus");
        Prometheus { child, base: format!("http://127.0.0.1:{port}"), log }
    }

    fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until an instant query for `promql` returns `series` series,
    /// i.e. until a scrape of the exporter has landed.
    async fn wait_for_series(&mut self, promql: &str, series: usize) {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + PROMETHEUS_WAIT;
        let mut last = String::new();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited ({status}) before a scrape landed; its log:\n{}", self.log());
            }
            let answer = http
                .get(format!("{}/api/v1/query", self.base))
                .query(&[("query", promql)])
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            if let Ok(r) = answer {
                if let Ok(v) = r.json::<Value>().await {
                    if v["data"]["result"].as_array().is_some_and(|r| r.len() == series) {
                        return;
                    }
                    last = v.to_string();
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "prometheus did not return {series} series for {promql} within {PROMETHEUS_WAIT:?}; last answer: {last}\nits log:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn labels(sample: &Value) -> std::collections::BTreeMap<String, String> {
    sample["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|f| (f["key"].as_str().expect("key").to_string(), f["value"].as_str().expect("value").to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_metrics_reach_the_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let exporter = serve(Router::new().route("/metrics", get(|| async { EXPOSITION }))).await;
    let mut prometheus = Prometheus::start(dir.path(), &exporter.to_string());
    prometheus.wait_for_series("plugin_errors_total", 4).await;
    prometheus.wait_for_series("plugin_latency_seconds", 3).await;

    let settings = json!({
        "url": prometheus.base,
        "queries": {
            "errors": r#"plugin_errors_total{plugin="{plugin}",tenant="{tenant}",environment="{environment}"}"#,
            "latency": r#"plugin_latency_seconds{plugin=~"{plugin}",tenant="{tenant}"}"#,
        },
        "step": "2s",
    });
    // PromQL that Prometheus itself refuses (bad_data): final, so the source is missing
    // with invalid-input rather than retried or fallen back.
    let bad_settings = json!({
        "url": prometheus.base,
        "queries": {"broken": r#"rate(plugin_errors_total{plugin="{plugin}"}[5m]"#},
    });
    let template = dir.path().join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, traces, metrics, masking]\n").expect("template");
    let config = dir.path().join("casefile.yaml");
    std::fs::write(
        &config,
        format!(
            r#"report: {{ template: {template} }}
runtime: {{ cache_dir: {cache} }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  prometheus: {{ kind: connector, source: "builtin:connector-prometheus" }}
sources:
  prometheus: {{ component: prometheus, settings: {settings}, grant: {{ allow_hosts: ["{allow}"] }} }}
  prometheus-bad: {{ component: prometheus, settings: {bad_settings}, grant: {{ allow_hosts: ["{allow}"] }} }}
default: {{ masker: masker, sources: [] }}
tenants:
  acme: {{ sources: [prometheus, prometheus-bad] }}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            allow = prometheus.addr(),
            bad_settings = bad_settings,
        ),
    )
    .expect("config");
    let host = Host::start(&config, &dir.path().join("data"));

    let now = chrono::Utc::now();
    let start = now - chrono::Duration::minutes(2);
    let end = now + chrono::Duration::seconds(10);
    let (status, created) = host
        .post(
            "/internal/debug/report",
            &json!({
                "error_event_id": "evt-prom-1", "tenant": "acme",
                "plugin": {"id": "checkout"}, "environments": ["prod"],
                "window": {"start": start.to_rfc3339(), "end": end.to_rfc3339()},
            }),
        )
        .await;
    assert_eq!(status, 202, "{created}");
    let task = created["task_id"].as_str().expect("task id").to_string();
    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    let report = &t["report"];
    let source = report["sources"].as_array().expect("sources").iter().find(|s| s["name"] == "prometheus").cloned();
    assert_eq!(source.as_ref().map(|s| s["status"].clone()), Some(json!("used")), "{:#}", report["sources"]);
    let bad = report["sources"].as_array().expect("sources").iter().find(|s| s["name"] == "prometheus-bad").cloned();
    assert_eq!(
        bad.as_ref().map(|s| (s["status"].clone(), s["error_kind"].clone())),
        Some((json!("missing"), json!("invalid-input"))),
        "{:#}",
        report["sources"]
    );
    let why = bad.as_ref().and_then(|s| s["error"].as_str()).unwrap_or("");
    assert!(why.contains(r#"query "broken": prometheus bad_data (400)"#), "{why}");

    // The report's metrics section: one entry per configured query, only the tenant's
    // plugin's series (globex's 99 and 42, search's 5 would show in min/max).
    let metrics = report["metrics"].as_array().expect("metrics section");
    let by_name = |n: &str| metrics.iter().find(|m| m["name"] == n).unwrap_or_else(|| panic!("no {n} in {metrics:#?}"));
    let errors = by_name("errors");
    assert!(errors["samples"].as_u64().unwrap_or(0) >= 1, "{errors}");
    assert_eq!((errors["min"].as_f64(), errors["max"].as_f64(), errors["last"].as_f64()), (Some(7.0), Some(7.0), Some(7.0)), "{errors}");
    let latency = by_name("latency");
    assert_eq!((latency["min"].as_f64(), latency["max"].as_f64()), (Some(0.25), Some(1.5)), "prod and staging: {latency}");
    assert_eq!(metrics.len(), 2, "{metrics:#?}");

    // The bundle's samples carry the series' labels, environment and times.
    let (status, bundle) = host.get_bytes(&format!("/internal/debug/report/{task}/bundle")).await;
    assert_eq!(status, 200);
    let files = untar(&bundle);
    let ndjson = files.iter().find(|(n, _)| n == "metrics.ndjson").map(|(_, b)| String::from_utf8_lossy(b).to_string()).expect("metrics.ndjson");
    let samples: Vec<Value> = ndjson.lines().map(|l| serde_json::from_str(l).expect("a JSON sample")).collect();
    let (start_ns, end_ns) = (start.timestamp_nanos_opt().expect("ns"), end.timestamp_nanos_opt().expect("ns"));
    let mut seen_envs = std::collections::BTreeSet::new();
    for s in &samples {
        let all = labels(s);
        let l = |k: &str| all.get(k).map(String::as_str).unwrap_or("<missing>");
        assert_eq!((l("plugin"), l("tenant"), l("job")), ("checkout", "acme", "plugin-exporter"), "{s}");
        let ts = s["timestamp_ns"].as_i64().expect("timestamp");
        assert!(ts >= start_ns && ts < end_ns, "sample outside the window: {s}");
        match s["name"].as_str() {
            Some("errors") => {
                assert_eq!((l("__name__"), l("environment"), s["value"].as_f64()), ("plugin_errors_total", "prod", Some(7.0)), "{s}");
            }
            Some("latency") => {
                let want = if l("environment") == "prod" { 0.25 } else { 1.5 };
                assert_eq!(s["value"].as_f64(), Some(want), "{s}");
            }
            other => panic!("unexpected sample {other:?}: {s}"),
        }
        assert_eq!(s["environment"], l("environment"), "the sample's environment is its series': {s}");
        seen_envs.insert(format!("{}/{}", s["name"].as_str().unwrap_or(""), l("environment")));
    }
    assert_eq!(
        seen_envs.into_iter().collect::<Vec<_>>(),
        ["errors/prod", "latency/prod", "latency/staging"],
        "{ndjson}"
    );
    drop(host);
    drop(prometheus);
}

// ---- Elasticsearch: a loopback stand-in serving the documented `_search` shapes ----

/// Documents the fake searches, and the `_search` bodies it was sent.
#[derive(Clone, Default)]
struct Elastic {
    docs: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
    requests: std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>,
}

/// A document field by the name a query uses; `x.keyword` reads `x` as ES' keyword
/// sub-field would.
fn doc_field<'a>(source: &'a Value, name: &str) -> Option<&'a Value> {
    source.get(name.strip_suffix(".keyword").unwrap_or(name))
}

fn doc_millis(source: &Value, field: &str) -> Option<i64> {
    let text = doc_field(source, field)?.as_str()?;
    chrono::DateTime::parse_from_rfc3339(text).ok().map(|t| t.timestamp_millis())
}

/// Evaluates the parts of the query DSL the connector sends (`bool.filter` of `term`
/// and `range` with `epoch_millis`, two `sort` keys, `search_after`, `size`) and
/// answers like Elasticsearch 8: `hits.hits[]` with `_index`, `_id`, `_source`, `sort`.
async fn elastic_search(
    axum::extract::State(es): axum::extract::State<Elastic>,
    axum::extract::Path(index): axum::extract::Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> (axum::http::StatusCode, axum::Json<Value>) {
    es.requests.lock().expect("lock").push((index.clone(), body.clone()));
    let bad = |reason: &str| {
        (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"root_cause": [{"type": "parsing_exception", "reason": reason}], "type": "parsing_exception", "reason": reason}, "status": 400})),
        )
    };
    let Some(filters) = body["query"]["bool"]["filter"].as_array() else { return bad("expected query.bool.filter") };
    let sort_fields: Vec<String> = body["sort"]
        .as_array()
        .map(|s| s.iter().filter_map(|k| k.as_object().and_then(|o| o.keys().next().cloned())).collect())
        .unwrap_or_default();
    let [ts_field, tie_field] = sort_fields.as_slice() else { return bad("expected two sort keys") };
    let Some(size) = body["size"].as_u64() else { return bad("expected size") };
    let docs = es.docs.lock().expect("lock").clone();
    let mut hits: Vec<(i64, String, Value)> = Vec::new();
    'doc: for d in docs {
        let source = &d["_source"];
        for f in filters {
            if let Some(term) = f["term"].as_object() {
                for (field, want) in term {
                    if doc_field(source, field) != Some(want) {
                        continue 'doc;
                    }
                }
            } else if let Some(range) = f["range"].as_object() {
                for (field, r) in range {
                    if r["format"] != "epoch_millis" {
                        return bad("expected epoch_millis");
                    }
                    let Some(t) = doc_millis(source, field) else { continue 'doc };
                    if r["gte"].as_i64().is_some_and(|g| t < g) || r["lt"].as_i64().is_some_and(|l| t >= l) {
                        continue 'doc;
                    }
                }
            } else {
                return bad("unexpected filter");
            }
        }
        let (Some(t), Some(tie)) = (doc_millis(source, ts_field), doc_field(source, tie_field).and_then(Value::as_str)) else {
            continue;
        };
        hits.push((t, tie.to_string(), d.clone()));
    }
    hits.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    if let Some(after) = body.get("search_after") {
        let (Some(t), Some(tie)) = (after[0].as_i64(), after[1].as_str()) else { return bad("search_after must match the sort") };
        hits.retain(|h| (h.0, h.1.as_str()) > (t, tie));
    }
    let page: Vec<Value> = hits
        .into_iter()
        .take(size as usize)
        .map(|(t, tie, d)| json!({"_index": index, "_id": d["_id"], "_score": null, "_source": d["_source"], "sort": [t, tie]}))
        .collect();
    (
        axum::http::StatusCode::OK,
        axum::Json(json!({
            "took": 3, "timed_out": false,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {"max_score": null, "hits": page}
        })),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_pages_cover_the_window() {
    let now = chrono::Utc::now();
    let at = |secs: i64| (now - chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let es = Elastic::default();
    {
        let mut docs = es.docs.lock().expect("lock");
        // Seven of the tenant's plugin's lines in the window, two at the same time
        // (ordered by the tiebreaker), then lines the query must leave out.
        let mine = [(300, "a1", "info", "started"), (240, "a2", "info", "charging"), (240, "a3", "warn", "slow card service"),
            (180, "a4", "error", "charge failed"), (120, "a5", "info", "retrying"), (60, "a6", "info", "retry ok"), (30, "a7", "info", "done")];
        for (secs, id, level, msg) in mine {
            docs.push(json!({"_id": id, "_source": {"@timestamp": at(secs), "plugin": "checkout", "tenant": "acme", "environment": "prod",
                "log": {"level": level}, "message": msg, "host": "runtime-1", "event_id": id}}));
        }
        for (id, plugin, tenant, env, secs) in [("x1", "checkout", "globex", "prod", 100), ("x2", "search", "acme", "prod", 100), ("x3", "checkout", "acme", "staging", 100), ("x4", "checkout", "acme", "prod", 3 * 3600)] {
            docs.push(json!({"_id": id, "_source": {"@timestamp": at(secs), "plugin": plugin, "tenant": tenant, "environment": env,
                "log": {"level": "error"}, "message": format!("not mine {id}"), "host": "runtime-9", "event_id": id}}));
        }
    }
    let addr = serve(Router::new().route("/{index}/_search", axum::routing::post(elastic_search)).with_state(es.clone())).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = json!({
        "url": format!("http://{addr}"), "index": "logs-casefile", "page_size": 3,
        "fields": {"plugin": "plugin.keyword", "tenant": "tenant.keyword", "tiebreaker": "event_id", "level": "log.level"},
    });
    let template = dir.path().join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, traces, metrics, masking]\n").expect("template");
    let config = dir.path().join("casefile.yaml");
    std::fs::write(
        &config,
        format!(
            r#"report: {{ template: {template} }}
runtime: {{ cache_dir: {cache} }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  elasticsearch: {{ kind: connector, source: "builtin:connector-elasticsearch" }}
sources:
  logs: {{ component: elasticsearch, settings: {settings}, grant: {{ allow_hosts: ["{addr}"] }} }}
default: {{ masker: masker, sources: [] }}
tenants:
  acme: {{ sources: [logs] }}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
        ),
    )
    .expect("config");
    let host = Host::start(&config, &dir.path().join("data"));
    let window = json!({"start": (now - chrono::Duration::minutes(10)).to_rfc3339(), "end": now.to_rfc3339()});
    let (status, created) = host
        .post("/internal/debug/report", &json!({"error_event_id": "evt-es-1", "tenant": "acme", "plugin": {"id": "checkout"}, "environments": ["prod"], "window": window}))
        .await;
    assert_eq!(status, 202, "{created}");
    let task = created["task_id"].as_str().expect("task id").to_string();
    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    let report = &t["report"];
    assert_eq!(report["sources"][0]["status"], "used", "{:#}", report["sources"]);
    assert_eq!(report["summary"]["logs"], 7, "{:#}", report["summary"]);
    assert_eq!(report["summary"]["errors"], 1);
    assert_eq!(report["summary"]["first_error"]["message"], "charge failed");

    // Three pages of at most 3, each after the last sort values of the one before.
    let requests = es.requests.lock().expect("lock").clone();
    assert_eq!(requests.len(), 3, "{requests:#?}");
    assert!(requests.iter().all(|(index, _)| index == "logs-casefile"));
    let first = &requests[0].1;
    assert_eq!(first.get("search_after"), None);
    assert_eq!(
        first["query"]["bool"]["filter"].as_array().map(|f| f[..3].to_vec()).unwrap_or_default(),
        [json!({"term": {"plugin.keyword": "checkout"}}), json!({"term": {"tenant.keyword": "acme"}}), json!({"term": {"environment": "prod"}})]
    );
    assert_eq!(requests[1].1["search_after"][1], "a3", "page 1 ended at a3 (a2 and a3 share a time)");
    assert_eq!(requests[2].1["search_after"][1], "a6");

    let (status, bundle) = host.get_bytes(&format!("/internal/debug/report/{task}/bundle")).await;
    assert_eq!(status, 200);
    let files = untar(&bundle);
    let logs = files.iter().find(|(n, _)| n == "logs.ndjson").map(|(_, b)| String::from_utf8_lossy(b).to_string()).expect("logs.ndjson");
    let mut messages: Vec<String> = logs.lines().map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")["message"].as_str().unwrap_or("").to_string()).collect();
    // Every line of the window once (the timeline's order is the merge's business).
    messages.sort();
    assert_eq!(messages, ["charge failed", "charging", "done", "retry ok", "retrying", "slow card service", "started"], "{logs}");
}

// ---- Traces (Tempo, Jaeger v3 and v2), Loki pages, the export contract, OTLP files ----

/// What a stand-in server was asked: method, path and query, and any JSON body.
type Asked = std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>;

fn asked(log: &Asked, uri: &axum::http::Uri, body: Value) {
    log.lock().expect("lock").push((uri.to_string(), body));
}

/// An OTLP span as JSON (ids already encoded as the server writes them).
fn otlp_span(trace: &str, span: &str, parent: Option<&str>, name: &str, start_ns: i64, error: bool) -> Value {
    json!({"traceId": trace, "spanId": span, "parentSpanId": parent.unwrap_or(""), "name": name, "kind": 2,
        "startTimeUnixNano": start_ns.to_string(), "endTimeUnixNano": (start_ns + 20_000_000).to_string(),
        "attributes": [{"key": "http.route", "value": {"stringValue": "/pay"}}],
        "status": if error { json!({"code": 2, "message": "card declined"}) } else { json!({}) }})
}

fn otlp_resource(service: &str, host: &str, spans: Vec<Value>) -> Value {
    json!({"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": service}},
            {"key": "host.name", "value": {"stringValue": host}}]},
        "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}]})
}

fn b64(hex_id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(hex::decode(hex_id).expect("hex"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_loki_pages_and_the_export_contract_reach_the_report() {
    use axum::extract::{Path as UrlPath, State};
    use axum::http::{StatusCode, Uri};
    use axum::response::IntoResponse;
    use axum::routing::post;
    let now = chrono::Utc::now();
    let ns = |t: chrono::DateTime<chrono::Utc>| t.timestamp_nanos_opt().expect("ns");
    let t0 = ns(now - chrono::Duration::minutes(5));
    const TEMPO_A: &str = "0af7651916cd43dd8448eb211c80319c";
    const TEMPO_B: &str = "0af7651916cd43dd8448eb211c8031ff";
    const JAEGER_V3: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const JAEGER_V2: &str = "7d9c1e2f3a4b5c6d"; // a 64-bit id, as Jaeger writes it

    // Tempo: `/api/search` finds two traces; `/api/traces/{id}` answers `batches` with
    // base64 ids (protobuf's JSON mapping), 404 for any other id.
    let tempo_log = Asked::default();
    let tempo = Router::new()
        .route(
            "/api/search",
            get(move |State(log): State<Asked>, uri: Uri| async move {
                asked(&log, &uri, Value::Null);
                axum::Json(json!({"traces": [
                    {"traceID": TEMPO_A, "rootServiceName": "checkout", "rootTraceName": "POST /pay", "startTimeUnixNano": t0.to_string(), "durationMs": 40},
                    {"traceID": TEMPO_B, "rootServiceName": "checkout", "rootTraceName": "GET /cart", "startTimeUnixNano": t0.to_string(), "durationMs": 20}],
                    "metrics": {"inspectedTraces": 2, "inspectedBytes": "2048"}}))
            }),
        )
        .route(
            "/api/traces/{id}",
            get(move |State(log): State<Asked>, UrlPath(id): UrlPath<String>, uri: Uri| async move {
                asked(&log, &uri, Value::Null);
                let spans = match id.as_str() {
                    TEMPO_A => vec![
                        otlp_span(&b64(TEMPO_A), &b64("a000000000000001"), None, "POST /pay", t0, true),
                        otlp_span(&b64(TEMPO_A), &b64("a000000000000002"), Some(&b64("a000000000000001")), "charge card", t0 + 1_000_000, true),
                    ],
                    TEMPO_B => vec![otlp_span(&b64(TEMPO_B), &b64("b000000000000001"), None, "GET /cart", t0 + 2_000_000, false)],
                    _ => return (StatusCode::NOT_FOUND, "trace not found").into_response(),
                };
                axum::Json(json!({"batches": [otlp_resource("checkout", "runtime-1", spans)]})).into_response()
            }),
        )
        .with_state(tempo_log.clone());
    let tempo_addr = serve(tempo).await;

    // Jaeger: v3 by id (OTLP JSON wrapped in `result`, hex ids; 404 in Jaeger's error
    // shape for other ids) and the v2 query API's search (`data[].spans[]`, `processes`).
    let jaeger_log = Asked::default();
    let jaeger = Router::new()
        .route(
            "/api/v3/traces/{id}",
            get(move |State(log): State<Asked>, UrlPath(id): UrlPath<String>, uri: Uri| async move {
                asked(&log, &uri, Value::Null);
                if id != JAEGER_V3 {
                    return (StatusCode::NOT_FOUND, axum::Json(json!({"error": {"httpCode": 404, "message": "trace not found"}}))).into_response();
                }
                let spans = vec![otlp_span(JAEGER_V3, "c000000000000001", None, "consume order", t0 + 3_000_000, false)];
                axum::Json(json!({"result": {"resourceSpans": [otlp_resource("orders", "worker-2", spans)]}})).into_response()
            }),
        )
        .route(
            "/api/traces",
            get(move |State(log): State<Asked>, uri: Uri| async move {
                asked(&log, &uri, Value::Null);
                let t0_us = t0 / 1_000;
                axum::Json(json!({"data": [{"traceID": JAEGER_V2, "spans": [
                        {"traceID": JAEGER_V2, "spanID": "d000000000000001", "operationName": "refund", "references": [],
                         "startTime": t0_us + 4_000, "duration": 15_000, "flags": 1, "processID": "p1", "logs": [], "warnings": null,
                         "tags": [{"key": "error", "type": "bool", "value": true}, {"key": "http.status_code", "type": "int64", "value": 502}]},
                        {"traceID": JAEGER_V2, "spanID": "d000000000000002", "operationName": "ledger write",
                         "references": [{"refType": "CHILD_OF", "traceID": JAEGER_V2, "spanID": "d000000000000001"}],
                         "startTime": t0_us + 5_000, "duration": 2_000, "processID": "p2", "tags": []}],
                    "processes": {"p1": {"serviceName": "checkout", "tags": [{"key": "hostname", "type": "string", "value": "runtime-3"}]},
                                  "p2": {"serviceName": "ledger", "tags": [{"key": "hostname", "type": "string", "value": "ledger-1"}]}},
                    "warnings": null}], "total": 0, "limit": 0, "offset": 0, "errors": null}))
            }),
        )
        .with_state(jaeger_log.clone());
    let jaeger_addr = serve(jaeger).await;

    // Loki: eight lines, two at one nanosecond where the first page ends, read in pages
    // of four (the support's stand-in honours limit and direction as Loki does).
    let loki = Loki::default();
    let loki_ts: Vec<i64> = [0, 1, 2, 2, 3, 4, 5, 6].iter().map(|i| t0 + 10_000_000 + i * 1_000_000).collect();
    loki.streams.lock().expect("lock").push((
        json!({"plugin": "checkout", "environment": "prod", "pod": "runtime-1"}),
        loki_ts.iter().enumerate().map(|(i, ts)| (*ts, format!("level=info msg=\"loki line {i}\""))).collect(),
    ));
    let loki_addr = start_loki(loki.clone()).await;

    // The export contract: five records, two per page, cursors `c1`, `c2`, then null.
    // Requests are read as the OpenAPI description's `LogsExportRequest` (unknown
    // fields refused), answers written as its `LogsExportResponse`.
    use casefile::api::contracts::{LogsExportRequest, LogsExportResponse};
    let export_log = Asked::default();
    let at = |ms: i64| (now - chrono::Duration::minutes(5) + chrono::Duration::milliseconds(ms)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let records = vec![
        json!({"ts": at(20), "level": "info", "msg": "export: order received", "host": "runtime-1"}),
        json!({"ts": at(21), "level": "error", "msg": "export: charge failed", "host": "runtime-1", "trace_id": TEMPO_A, "span_id": "a000000000000002"}),
        json!({"ts": at(22), "level": "warn", "msg": "export: retry scheduled", "host": "runtime-1"}),
        json!({"kind": "metric", "name": "retry_queue_depth", "value": 3, "ts": at(23), "host": "runtime-1"}),
        json!({"ts": at(24), "level": "info", "msg": "export: gave up", "host": "runtime-1"}),
    ];
    let export = Router::new()
        .route(
            "/internal/debug/logs/export",
            post(move |State(log): State<Asked>, uri: Uri, body: axum::body::Bytes| {
                let records = records.clone();
                async move {
                    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    asked(&log, &uri, value.clone());
                    let req: LogsExportRequest = match serde_json::from_value(value) {
                        Ok(r) => r,
                        Err(e) => return (StatusCode::UNPROCESSABLE_ENTITY, e.to_string()).into_response(),
                    };
                    let from: usize = match req.cursor.as_deref() {
                        None => 0,
                        Some("c1") => 2,
                        Some("c2") => 4,
                        Some(other) => return (StatusCode::BAD_REQUEST, format!("unknown cursor {other}")).into_response(),
                    };
                    let page: Vec<Value> = records.iter().skip(from).take(2.min(req.limit as usize)).cloned().collect();
                    if chrono::DateTime::parse_from_rfc3339(&req.window.from).is_err() || chrono::DateTime::parse_from_rfc3339(&req.window.to).is_err() {
                        return (StatusCode::BAD_REQUEST, "window times must be RFC 3339".to_string()).into_response();
                    }
                    let next_cursor = match from {
                        0 => Some("c1".to_string()),
                        2 => Some("c2".to_string()),
                        _ => None,
                    };
                    axum::Json(LogsExportResponse { records: page, next_cursor }).into_response()
                }
            }),
        )
        .with_state(export_log.clone());
    let export_addr = serve(export).await;

    // An OTLP JSON file (one document per line, as the Collector's file exporter writes).
    let dir = tempfile::tempdir().expect("tempdir");
    let files = dir.path().join("otlp");
    std::fs::create_dir_all(&files).expect("mkdir");
    let file_spans = vec![otlp_span("e0000000000000000000000000000001", "e000000000000001", None, "sandbox replay", t0 + 6_000_000, false)];
    std::fs::write(files.join("traces.jsonl"), json!({"resourceSpans": [otlp_resource("checkout", "sandbox-1", file_spans)]}).to_string() + "\n")
        .expect("otlp file");

    let template = dir.path().join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, traces, metrics, masking]\n").expect("template");
    let config = dir.path().join("casefile.yaml");
    let src = |component: &str, settings: Value, addr: std::net::SocketAddr| {
        format!("{{ component: {component}, settings: {settings}, grant: {{ allow_hosts: [\"{addr}\"] }} }}")
    };
    std::fs::write(
        &config,
        format!(
            r#"report: {{ template: {template} }}
runtime: {{ cache_dir: {cache} }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  tempo: {{ kind: connector, source: "builtin:connector-tempo" }}
  jaeger: {{ kind: connector, source: "builtin:connector-jaeger" }}
  loki: {{ kind: connector, source: "builtin:connector-loki" }}
  export: {{ kind: connector, source: "builtin:connector-export" }}
  files: {{ kind: connector, source: "builtin:connector-ndjson" }}
sources:
  tempo: {tempo}
  jaeger-v3: {jaeger_v3}
  jaeger-v2: {jaeger_v2}
  loki: {loki}
  export: {export}
  otlp-files: {{ component: files, grant: {{ dir: "{files}" }} }}
default: {{ masker: masker, sources: [] }}
tenants:
  acme: {{ sources: [tempo, jaeger-v3, jaeger-v2, loki, export, otlp-files] }}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            tempo = src("tempo", json!({"url": format!("http://{tempo_addr}"), "tags": "service.name={plugin} deployment.environment={environment}"}), tempo_addr),
            jaeger_v3 = src("jaeger", json!({"url": format!("http://{jaeger_addr}"), "search": false}), jaeger_addr),
            jaeger_v2 = src("jaeger", json!({"url": format!("http://{jaeger_addr}"), "api": "v2", "tags": {"tenant": "{tenant}"}}), jaeger_addr),
            loki = src("loki", json!({"url": format!("http://{loki_addr}"), "page_size": 4}), loki_addr),
            export = src("export", json!({"url": format!("http://{export_addr}")}), export_addr),
            files = files.display(),
        ),
    )
    .expect("config");
    let host = Host::start(&config, &dir.path().join("data"));
    let window = json!({"start": (now - chrono::Duration::minutes(10)).to_rfc3339(), "end": now.to_rfc3339()});
    let (status, created) = host
        .post(
            "/internal/debug/report",
            &json!({"error_event_id": "evt-traces-1", "tenant": "acme", "plugin": {"id": "checkout", "version": "2.1.0"},
                "environments": ["prod"], "window": window, "trace_ids": [JAEGER_V3]}),
        )
        .await;
    assert_eq!(status, 202, "{created}");
    let task = created["task_id"].as_str().expect("task id").to_string();
    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    let report = &t["report"];
    let sources = report["sources"].as_array().expect("sources");
    for name in ["tempo", "jaeger-v3", "jaeger-v2", "loki", "export", "otlp-files"] {
        let s = sources.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no source {name}: {sources:#?}"));
        assert_eq!(s["status"], "used", "{s:#}");
    }

    // Tempo: one search over the window in whole seconds, then each trace found; the
    // trigger's trace (Jaeger's) asked first and not found there.
    let tempo_asked: Vec<String> = tempo_log.lock().expect("lock").iter().map(|(u, _)| u.clone()).collect();
    assert_eq!(tempo_asked.len(), 4, "{tempo_asked:#?}");
    assert!(tempo_asked[0].starts_with("/api/search?tags=service.name%3Dcheckout%20deployment.environment%3Dprod&start="), "{tempo_asked:#?}");
    assert_eq!(tempo_asked[1..], [format!("/api/traces/{JAEGER_V3}"), format!("/api/traces/{TEMPO_A}"), format!("/api/traces/{TEMPO_B}")]);
    // Jaeger: v3 by the trigger's id, v2 by service, window in microseconds, tags as JSON.
    let jaeger_asked: Vec<String> = jaeger_log.lock().expect("lock").iter().map(|(u, _)| u.clone()).collect();
    assert!(jaeger_asked.contains(&format!("/api/v3/traces/{JAEGER_V3}")), "{jaeger_asked:#?}");
    let search = jaeger_asked.iter().find(|u| u.starts_with("/api/traces?")).expect("a v2 search");
    assert!(search.starts_with("/api/traces?service=checkout&start=") && search.ends_with("&limit=19&tags=%7B%22tenant%22%3A%22acme%22%7D"), "{search}");
    // Loki: three pages of four; the second starts at the first's last time (where two
    // lines share a nanosecond), the third at the second's.
    let pages = loki.pages.lock().expect("lock").clone();
    assert_eq!(pages.len(), 3, "{pages:#?}");
    assert!(pages.iter().all(|p| p.2 == "4" && p.3 == "forward"), "{pages:#?}");
    assert_eq!((pages[1].0.clone(), pages[2].0.clone()), (loki_ts[2].to_string(), loki_ts[5].to_string()));
    // The export contract: three requests, following the cursor until null.
    let exports = export_log.lock().expect("lock").clone();
    assert_eq!(exports.iter().map(|(_, b)| b["cursor"].clone()).collect::<Vec<_>>(), [json!(null), json!("c1"), json!("c2")]);
    let first = &exports[0].1;
    assert_eq!((first["plugin"].as_str(), first["plugin_version"].as_str(), first["tenant"].as_str(), first["environment"].as_str()), (Some("checkout"), Some("2.1.0"), Some("acme"), Some("prod")));
    assert_eq!(first["trace_ids"], json!([JAEGER_V3]));

    // Everything reached the report once: 8 Loki lines and 4 exported lines; 3 Tempo
    // spans, 1 from Jaeger v3, 2 from v2, 1 from the file.
    assert_eq!((report["summary"]["logs"].as_u64(), report["summary"]["spans"].as_u64()), (Some(12), Some(7)), "{:#}", report["summary"]);
    let (status, bundle) = host.get_bytes(&format!("/internal/debug/report/{task}/bundle")).await;
    assert_eq!(status, 200);
    let files = untar(&bundle);
    let read = |name: &str| -> Vec<Value> {
        let text = files.iter().find(|(n, _)| n == name).map(|(_, b)| String::from_utf8_lossy(b).to_string()).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
    };
    let mut spans: Vec<(String, String, String, String, bool)> = read("spans.ndjson")
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap_or("").to_string();
            (f("trace_id"), f("span_id"), f("service"), f("host"), s["error"].as_bool().unwrap_or(false))
        })
        .collect();
    spans.sort();
    // Jaeger's 64-bit id, padded as every source writes trace ids.
    let jaeger_v2_hex = format!("{JAEGER_V2:0>32}");
    let span = |t: &str, s: &str, svc: &str, host: &str, error: bool| (t.to_string(), s.to_string(), svc.to_string(), host.to_string(), error);
    assert_eq!(
        spans,
        [
            span(TEMPO_A, "a000000000000001", "checkout", "runtime-1", true),
            span(TEMPO_A, "a000000000000002", "checkout", "runtime-1", true),
            span(TEMPO_B, "b000000000000001", "checkout", "runtime-1", false),
            span(&jaeger_v2_hex, "d000000000000001", "checkout", "runtime-3", true),
            span(&jaeger_v2_hex, "d000000000000002", "ledger", "ledger-1", false),
            span(JAEGER_V3, "c000000000000001", "orders", "worker-2", false),
            span("e0000000000000000000000000000001", "e000000000000001", "checkout", "sandbox-1", false),
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    let mut messages: Vec<String> = read("logs.ndjson").iter().map(|l| l["message"].as_str().unwrap_or("").to_string()).collect();
    messages.sort();
    let mut want: Vec<String> = (0..8).map(|i| format!("loki line {i}")).collect();
    want.extend(["export: order received", "export: charge failed", "export: retry scheduled", "export: gave up"].map(String::from));
    want.sort();
    assert_eq!(messages, want);
    assert_eq!(report["summary"]["first_error"]["message"], "export: charge failed");
    drop(host);
}
