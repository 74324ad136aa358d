//! Environments, end to end through the real binary: a diagnosis of two
//! environments, each with its own sources and settings for the tenant, and a
//! report that groups what it found by environment and names the one that had nothing.

mod support;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_environment_asks_its_own_sources_and_the_report_names_the_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("logs");
    let t0 = chrono::Utc::now().timestamp_nanos_opt().unwrap() - 60_000_000_000;
    // Lines without an environment of their own: only the per-environment `dir`
    // setting keeps prod's lines out of staging.
    let lines = |n: i64, what: &str| -> String {
        (0..n).map(|i| json!({"ts": t0 + i * 1_000_000_000, "level": "error", "msg": format!("{what} {i}"), "plugin": "checkout", "host": "runtime-1"}).to_string() + "\n").collect()
    };
    for (sub, body) in [("prod", lines(5, "charge failed")), ("staging", String::new()), ("prod-audit", lines(3, "audit entry"))] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
        std::fs::write(root.join(sub).join("checkout.ndjson"), body).unwrap();
    }
    let template = dir.path().join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, traces, metrics, masking]\n").unwrap();
    let config = dir.path().join("casefile.yaml");
    std::fs::write(
        &config,
        format!(
            r#"report: {{ template: {template} }}
runtime: {{ cache_dir: {cache} }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  ndjson: {{ kind: connector, source: "builtin:connector-ndjson" }}
sources:
  files: {{ component: ndjson, grant: {{ dir: "{root}" }} }}
  audit-prod: {{ component: ndjson, settings: {{ dir: prod-audit }}, grant: {{ dir: "{root}" }}, environments: [prod] }}
default: {{ masker: masker, sources: [files, audit-prod] }}
tenants:
  default:
    environments:
      prod: {{ settings: {{ files: {{ dir: prod }} }} }}
      staging: {{ settings: {{ files: {{ dir: staging }} }} }}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            root = root.display(),
        ),
    )
    .unwrap();
    let host = Host::start(&config, &dir.path().join("data"));
    let now = chrono::Utc::now();
    let (status, created) = host
        .post(
            "/internal/debug/report",
            &json!({"error_event_id": "evt-envs", "tenant": "default", "plugin": {"id": "checkout"}, "environments": ["prod", "staging"],
                    "window": {"start": (now - chrono::Duration::minutes(5)).to_rfc3339(), "end": (now + chrono::Duration::minutes(1)).to_rfc3339()}}),
        )
        .await;
    assert_eq!(status, 202, "{created}");
    let task = created["task_id"].as_str().unwrap().to_string();
    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    let report = &t["report"];
    assert_eq!(
        report["by_environment"],
        json!([
            {"environment": "prod", "sources": ["files", "audit-prod"], "logs": 8, "spans": 0, "metrics": 0, "nothing": false},
            {"environment": "staging", "sources": ["files"], "logs": 0, "spans": 0, "metrics": 0, "nothing": true},
        ]),
        "{:#}",
        report
    );
    // audit-prod serves prod only: it was never asked about staging.
    let asked: Vec<(String, String)> = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap().to_string(), s["environment"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(asked.len(), 3, "{asked:?}");
    assert!(!asked.contains(&("audit-prod".into(), "staging".into())), "{asked:?}");
    let (_, md) = host.get_bytes(&format!("/internal/debug/report/{task}/markdown")).await;
    let md = String::from_utf8(md).unwrap();
    assert!(md.contains("## Environments") && md.contains("Nothing was found in: staging."), "{md}");
    assert_eq!(report["schema_version"], "4");
}
