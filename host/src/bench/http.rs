//! `casefile bench http`: diagnoses timed from the outside. Starts this binary as a
//! host (`serve`, SQLite in a temporary directory) with three sources: NDJSON files
//! (half the lines and every span), a platform export endpoint that answers its first
//! page only after a delay (the other half of the lines, in pages), and one that
//! always answers 500. Then opens diagnoses one after another through the HTTP API
//! and times each from the trigger's request to the moment its report is readable
//! (`GET /internal/debug/report/{id}` holds it).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::child::{self, Host};
use super::{percentile, write_incident};
use crate::api::contracts::{LogsExportRequest, LOGS_EXPORT_PATH};

/// What to drive.
#[derive(Debug, Clone)]
pub struct Plan {
    pub count: usize,
    pub logs: usize,
    pub spans: usize,
    /// How long the slow source takes to answer its first page.
    pub slow: Duration,
}

/// A stand-in for the platform's export endpoint: pages of `records`, the cursor
/// being the offset. `delay` holds back each first page; `fail` answers 500 always.
#[derive(Clone)]
struct Export {
    records: Arc<Vec<Value>>,
    delay: Duration,
    fail: bool,
    requests: Arc<AtomicUsize>,
}

async fn export(State(e): State<Export>, Json(req): Json<LogsExportRequest>) -> Response {
    e.requests.fetch_add(1, Ordering::Relaxed);
    if e.fail {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({"error": "bench: this source is down"}))).into_response();
    }
    let from = match req.cursor.as_deref().map(str::parse::<usize>) {
        None => {
            tokio::time::sleep(e.delay).await;
            0
        }
        Some(Ok(n)) => n,
        Some(Err(_)) => return (StatusCode::BAD_REQUEST, Json(json!({"error": "cursor is not an offset"}))).into_response(),
    };
    let to = (from + req.limit as usize).min(e.records.len());
    let next = (to < e.records.len()).then(|| to.to_string());
    Json(json!({"records": e.records.get(from..to).unwrap_or_default(), "next_cursor": next})).into_response()
}

async fn serve(state: Export) -> Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = Router::new().route(LOGS_EXPORT_PATH, post(export)).with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok(addr)
}

/// The slow source's lines: every other line of the incident, on a host of its own.
fn export_records(lines: usize, start_ns: i64) -> Vec<Value> {
    (0..lines)
        .map(|i| {
            let ts = start_ns + i as i64 * 2_000_000 + 500_000;
            let (level, msg) = match i % 400 {
                0 => ("error", format!("upstream call failed for order {i}: connection reset")),
                _ => ("info", format!("export line {i}: handled in {} ms", i % 89)),
            };
            json!({"ts": ts, "level": level, "msg": msg, "host": "host-export", "plugin": "bench-plugin", "env": "prod"})
        })
        .collect()
}

pub async fn run(plan: Plan) -> Result<()> {
    if plan.count == 0 {
        bail!("--count must be at least 1");
    }
    let dir = std::env::temp_dir().join(format!("casefile-bench-http-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let start = chrono::Utc::now() - chrono::Duration::minutes(50);
    let start_ns = start.timestamp_nanos_opt().unwrap_or(0);
    let (file_lines, export_lines) = (plan.logs - plan.logs / 2, plan.logs / 2);
    write_incident(&dir.join("files"), file_lines, plan.spans, start_ns, 1)?;
    let slow = Export { records: Arc::new(export_records(export_lines, start_ns)), delay: plan.slow, fail: false, requests: Default::default() };
    let down = Export { records: Arc::new(Vec::new()), delay: Duration::ZERO, fail: true, requests: Default::default() };
    let (slow_addr, down_addr) = (serve(slow.clone()).await?, serve(down.clone()).await?);

    let template = dir.join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, traces, metrics, masking]\n")?;
    let src = |addr: std::net::SocketAddr| {
        format!(r#"{{ component: export, settings: {{ url: "http://{addr}", page_size: 10000 }}, grant: {{ allow_hosts: ["{addr}"] }} }}"#)
    };
    let config = format!(
        r#"report: {{ template: "{template}" }}
runtime: {{ cache_dir: "{cache}" }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  files: {{ kind: connector, source: "builtin:connector-ndjson" }}
  export: {{ kind: connector, source: "builtin:connector-export" }}
sources:
  files: {{ component: files, grant: {{ dir: "{files}" }} }}
  slow-export: {slow}
  failing-export: {down}
default: {{ masker: masker, sources: [files, slow-export, failing-export] }}
tenants:
  default: {{}}
"#,
        template = template.display(),
        cache = child::compiled_cache().display(),
        files = dir.join("files").join("source-0").display(),
        slow = src(slow_addr),
        down = src(down_addr),
    );
    let host = child::spawn(&dir, &config)?;
    println!(
        "{} diagnoses through {}: {} log lines and {} spans from three sources (files; an export answering after {:.1} s; one answering 500)",
        plan.count,
        host.base,
        plan.logs,
        plan.spans,
        plan.slow.as_secs_f64()
    );
    let window = json!({"start": start.to_rfc3339(), "end": chrono::Utc::now().to_rfc3339()});
    // One diagnosis first, not timed: the host compiles the components on first use.
    let (_, warm) = diagnose(&host, "bench-http-warmup", &window).await?;
    describe(&warm);
    let mut times = Vec::with_capacity(plan.count);
    for i in 0..plan.count {
        let (elapsed, report) = diagnose(&host, &format!("bench-http-{}-{i}", std::process::id()), &window).await?;
        if report["sources"].as_array().map_or(0, Vec::len) != 3 {
            bail!("diagnosis {i}: the report does not account for all three sources: {}", report["sources"]);
        }
        times.push(elapsed.as_secs_f64() * 1000.0);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "trigger to readable report, ms: p50 {:.0}  p99 {:.0}  min {:.0}  max {:.0}  over {} diagnoses",
        percentile(&times, 50.0),
        percentile(&times, 99.0),
        times[0],
        times[times.len() - 1],
        times.len()
    );
    println!("export requests: slow source {}, failing source {}", slow.requests.load(Ordering::Relaxed), down.requests.load(Ordering::Relaxed));
    drop(host);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Opens one diagnosis and waits for its report; the time from the request to the
/// first answer that holds it.
async fn diagnose(host: &Host, event: &str, window: &Value) -> Result<(Duration, Value)> {
    let body = json!({"error_event_id": event, "tenant": "default", "plugin": {"id": "bench-plugin"}, "environments": ["prod"],
        "window": window, "message": "payment call failed: timeout after 3000 ms"});
    let started = Instant::now();
    let created = host.call(host.http.post(format!("{}/internal/debug/report", host.base)).json(&body)).await?;
    let task = created["task_id"].as_str().context("no task_id in the answer")?.to_string();
    let until = started + Duration::from_secs(120);
    loop {
        let t = host.call(host.http.get(format!("{}/internal/debug/report/{task}", host.base))).await?;
        if t["report"].is_object() {
            return Ok((started.elapsed(), t["report"].clone()));
        }
        if t["state"] == "failed" {
            bail!("diagnosis {task} failed: {}", t["error"]);
        }
        if Instant::now() > until {
            bail!("diagnosis {task} has no report after 120 s (state {})", t["state"]);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// What one report held: records and how each source fared.
fn describe(report: &Value) {
    let s = &report["summary"];
    println!("each report: {} log lines, {} spans; sources:", s["logs"], s["spans"]);
    for src in report["sources"].as_array().into_iter().flatten() {
        println!(
            "  {:<15} {:<8} {:>7} records {:>6} ms{}",
            src["name"].as_str().unwrap_or("?"),
            src["status"].as_str().unwrap_or("?"),
            src["records"],
            src["elapsed_ms"],
            src["error"].as_str().map(|e| format!("  ({e})")).unwrap_or_default()
        );
    }
    if let Some(t) = report["truncated"]["reason"].as_str() {
        println!("  partial: {t}");
    }
}
