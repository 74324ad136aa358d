//! The HTTP surface against the real binary: every route in /openapi.json is served
//! (and the description is generated from the same route table, so the router serves
//! nothing it does not list), bad bodies answer in the error shape, a storage failure
//! is a 5xx, and real reports fit the JSON Schema served at /internal/report.schema.json.

mod support;

use serde_json::{json, Value};
use support::*;

const SECURITY_TOKEN: &str = "review-token-for-tests";

fn window() -> Value {
    let now = chrono::Utc::now();
    json!({"start": (now - chrono::Duration::minutes(30)).to_rfc3339(), "end": (now + chrono::Duration::minutes(1)).to_rfc3339()})
}

fn start_host(dir: &std::path::Path) -> Host {
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let t0 = chrono::Utc::now().timestamp_nanos_opt().unwrap() - 30_000_000_000;
    let mut lines = String::new();
    for i in 0..5i64 {
        let level = if i == 3 { "error" } else { "info" };
        lines.push_str(&json!({"ts": t0 + i, "level": level, "msg": format!("line {i}"), "plugin": "checkout", "env": "prod", "host": "runtime-2", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}).to_string());
        lines.push('\n');
    }
    lines.push_str(&json!({"kind": "span", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7", "name": "POST /charge", "service": "checkout", "host": "runtime-1", "env": "prod", "ts": t0, "duration_ms": 812, "error": true}).to_string());
    lines.push('\n');
    std::fs::write(files.join("checkout.ndjson"), lines).unwrap();
    let template = dir.join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, traces, metrics, masking]\n").unwrap();
    let config = dir.join("casefile.yaml");
    let down = closed_port();
    std::fs::write(
        &config,
        format!(
            r#"report: {{ template: {template} }}
runtime: {{ cache_dir: {cache}, call_timeout_ms: 2000 }}
server: {{ max_body_bytes: 65536 }}
auth: {{ security_token: {SECURITY_TOKEN} }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  ndjson: {{ kind: connector, source: "builtin:connector-ndjson" }}
  loki: {{ kind: connector, source: "builtin:connector-loki" }}
sources:
  files: {{ component: ndjson, grant: {{ dir: "{files}" }} }}
  gone: {{ component: loki, settings: {{ url: "http://127.0.0.1:{down}" }}, grant: {{ allow_hosts: ["127.0.0.1:{down}"] }} }}
default: {{ masker: masker, sources: [files, gone] }}
tenants:
  default: {{}}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            files = files.display(),
        ),
    )
    .unwrap();
    Host::start(&config, &dir.join("data"))
}

fn concrete(path: &str) -> String {
    path.replace("{task_id}", "tsk_nope")
        .replace("{id}", "nope")
        .replace("{sha256}", &"0".repeat(64))
        .replace("{tenant}", "default")
        .replace("{slot}", "masker")
        .replace("{name}", "debug-nothing")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_described_route_is_served_and_errors_have_one_shape() {
    let dir = tempfile::tempdir().unwrap();
    let host = start_host(dir.path());

    let (status, doc) = host.get("/openapi.json").await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 16, "{:?}", paths.keys().collect::<Vec<_>>());
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let url = host.url(&concrete(path));
            let req = match method.as_str() {
                "get" => host.http.get(&url),
                "post" => host.http.post(&url).body("{not json"),
                "put" => host.http.put(&url).body("{not json"),
                "delete" => host.http.delete(&url),
                other => panic!("unexpected method {other} for {path}"),
            };
            let resp = req.bearer_auth(&host.token).send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert_ne!(status, 405, "{method} {path} is described but not served");
            assert!(
                !(status == 404 && body["error"]["code"] == "not_found"),
                "{method} {path} is described but falls through to the fallback: {body}"
            );
            if status >= 400 {
                assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{method} {path} answered {status} {body}");
            }
        }
    }
    // An undescribed route is the fallback, in the error shape.
    let (status, err) = host.get("/internal/nothing").await;
    assert_eq!((status, err["error"]["code"].as_str()), (404, Some("not_found")));

    // Bodies go through typed extractors: not JSON, wrong shape, too large.
    for path in ["/internal/debug/report", "/internal/debug/events", "/internal/debug/alerts", "/internal/debug/report/tsk_nope/regression"] {
        let resp = host.http.post(host.url(path)).bearer_auth(&host.token).body("{not json").send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{path}");
        assert!(resp.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"), "{path}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "invalid_json", "{path}: {err}");
        assert!(err["error"]["message"].as_str().unwrap().contains("not valid JSON"), "{path}: {err}");
    }
    let (status, err) = host.post("/internal/debug/report", &json!({"error_event_id": "e", "tenant": 5, "plugin": {"id": "p"}})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("invalid_request")), "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("expected a string"), "{err}");
    let (status, err) = host.post("/internal/debug/events", &json!({"type": "plugin.debug.alert", "error_event_id": "e", "tenant": "default", "plugin": {"id": "p"}, "surprise": 1})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("invalid_request")), "an event refuses unknown fields like a report request: {err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("surprise"), "{err}");
    let (status, err) = host.post("/internal/debug/alerts", &json!({"version": "4", "alerts": [{"labels": "not a map"}]})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("invalid_request")), "{err}");
    let resp = host.http.post(host.url("/internal/review/nope")).bearer_auth(SECURITY_TOKEN).body(r#"{"verdict": 1}"#).send().await.unwrap();
    // The configured review token is still accepted, as the security role.
    assert_eq!(resp.status().as_u16(), 400);
    let (status, err) = host.post_raw("/internal/debug/report", vec![b' '; 100_000]).await;
    assert_eq!((status, err["error"]["code"].as_str()), (413, Some("body_too_large")), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_reports_fit_the_served_schema_and_storage_failures_are_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let host = start_host(dir.path());

    let (status, created) = host.post("/internal/debug/report", &json!({"error_event_id": "s-1", "tenant": "default", "plugin": {"id": "checkout", "version": "1.0"}, "environments": ["prod"], "window": window(), "message": "it broke"})).await;
    assert_eq!(status, 202, "{created}");
    let task = created["task_id"].as_str().unwrap().to_string();
    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    let report = &t["report"];
    assert_eq!(report["schema_version"], "4");
    assert_eq!(report["schema"], "casefile.report/v1");

    let resp = host.http.get(host.url("/internal/report.schema.json")).bearer_auth(&host.token).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().contains("json"));
    let schema: Value = resp.json().await.unwrap();
    let validator = jsonschema::validator_for(&schema).expect("the served schema is a JSON Schema");
    let errors: Vec<String> = validator.iter_errors(report).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "{errors:#?}\n{report:#}");
    // The statuses are the enum's values; this report has one of each kind it can have here.
    let statuses: Vec<&str> = report["sources"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert!(statuses.contains(&"used") && statuses.contains(&"missing"), "{statuses:?}");
    // The bundle's report.json is the same report.
    let (_, bundle) = host.get_bytes(&format!("/internal/debug/report/{task}/bundle")).await;
    let files = untar(&bundle);
    let in_bundle: Value = serde_json::from_slice(&files.iter().find(|(n, _)| n == "report.json").unwrap().1).unwrap();
    assert_eq!(&in_bundle, report);
    assert!(validator.is_valid(&in_bundle));

    // A failure to store an upload is the host's (500 internal), not a bad component.
    let blobs = dir.path().join("data").join("blobs");
    std::fs::rename(&blobs, dir.path().join("data").join("blobs-moved")).unwrap();
    std::fs::write(&blobs, b"not a directory").unwrap();
    // A component whose bytes are not stored yet (the config loads the built-ins).
    let trap = std::fs::read(guest("hostile-trap")).unwrap();
    let (status, err) = host.post_raw("/internal/components?kind=connector&name=trap-copy", trap).await;
    assert_eq!((status, err["error"]["code"].as_str()), (500, Some("internal")), "{err}");
    // Bad bytes are still the uploader's problem.
    let (status, err) = host.post_raw("/internal/components?kind=connector&name=junk", b"not wasm".to_vec()).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("not_a_component")), "{err}");
}
