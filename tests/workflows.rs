//! The workflow scripts and reconcile, against the real binary with a loopback
//! ticket system, regression runner and log sources: `debug-report-smoke.mjs`
//! passes on a healthy host and fails, with the reason, when the ticket does not
//! close, when the primary source is not down after all, or when the report is
//! late; reconcile (the CLI and `debug-report-reconcile.mjs`) repairs each kind of
//! drift once, changes nothing in a dry run, and finds nothing the second time;
//! switching the ticket bridge back on delivers the tickets handed off meanwhile.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("scripts").join("workflows").join(name)
}

/// Runs a workflow script with Node (20, no npm dependencies), off the test's
/// runtime threads.
async fn node(name: &str, args: Vec<String>) -> Output {
    let path = script(name);
    tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&path)
            .args(&args)
            .env_remove("CASEFILE_TOKEN")
            .env_remove("CASEFILE_SERVER")
            .output()
            .expect("run node (Node 20 is needed by the workflow scripts; scripts/setup installs it)")
    })
    .await
    .unwrap()
}

fn text(o: &Output) -> (i32, String, String) {
    (o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_smoke_script_passes_and_fails_with_the_reason() {
    let loki = Loki::default();
    let t0 = now_ns() - 60_000_000_000;
    let lines = (0..10i64).map(|i| (t0 + i * 1_000_000_000, format!("level={} msg=\"order {i}\"", if i == 5 { "error" } else { "info" }))).collect();
    loki.streams.lock().unwrap().push((json!({"plugin": "smoke-plugin", "environment": "prod", "host": "runtime-1"}), lines));
    let loki_addr = start_loki(loki).await;
    let tickets = Tickets::default();
    *tickets.regression_passes.lock().unwrap() = true;
    let ticket_addr = start_tickets(tickets.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    std::fs::write(files.join("app.ndjson"), format!("{}\n", json!({"ts": now_ns() - 30_000_000_000, "level": "error", "msg": "from the fallback", "plugin": "smoke-plugin", "env": "prod"}))).unwrap();
    let down = closed_port();
    let template = dir.path().join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, masking]\n").unwrap();
    let config = dir.path().join("casefile.yaml");
    std::fs::write(
        &config,
        format!(
            r#"report: {{ template: "{template}" }}
runtime: {{ cache_dir: "{cache}" }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  ndjson: {{ kind: connector, source: "builtin:connector-ndjson" }}
  loki: {{ kind: connector, source: "builtin:connector-loki" }}
  mapper: {{ kind: ticket-mapper, source: "builtin:ticket-platform" }}
sources:
  loki: {{ component: loki, settings: {{ url: "http://{loki_addr}" }}, grant: {{ allow_hosts: ["{loki_addr}"] }} }}
  loki-down: {{ component: loki, settings: {{ url: "http://127.0.0.1:{down}" }}, grant: {{ allow_hosts: ["127.0.0.1:{down}"] }}, fallback: files }}
  files: {{ component: ndjson, grant: {{ dir: "{files}" }} }}
ticket: {{ endpoint: "http://{ticket_addr}", retry_base_ms: 50, retry_max_ms: 200 }}
regression: {{ url: "http://{ticket_addr}/internal/debug/regression/run" }}
default: {{ masker: masker, sources: [loki], ticket_mapper: mapper }}
tenants:
  default: {{}}
  smoke-degraded: {{ sources: [loki-down] }}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            files = files.display(),
        ),
    )
    .unwrap();
    let host = Host::start(&config, &dir.path().join("data"));
    let args = |extra: &[&str]| {
        let mut a = vec!["--server".to_string(), host.base.clone(), "--token".to_string(), host.token.clone(), "--close-deadline-seconds".into(), "60".into()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    let (code, out, err) = text(&node("debug-report-smoke.mjs", args(&["--degraded-tenant", "smoke-degraded"])).await);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("ok normal:") && out.contains("sources: loki used"), "{out}");
    assert!(out.contains("ok primary-source-down:") && out.contains("loki-down degraded via files"), "{out}");
    assert!(out.contains("smoke passed: 2 of 2 cases"), "{out}");
    assert_eq!(tickets.creates.lock().unwrap().len(), 2);
    let closes = tickets.updates.lock().unwrap().iter().filter(|u| u["state"] == "closed").count();
    assert_eq!(closes, 2, "both tickets closed");

    // The fix fails regression: the ticket stays open, and the script says so.
    *tickets.regression_passes.lock().unwrap() = false;
    let (code, out, err) = text(&node("debug-report-smoke.mjs", args(&["--degraded-tenant", "smoke-degraded"])).await);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(err.contains("FAILED normal") && err.contains("the ticket did not close: regression failed (42 tests)"), "{err}");
    assert!(err.contains("smoke failed: 2 of 2 cases"), "{err}");
    *tickets.regression_passes.lock().unwrap() = true;

    // A "degraded" tenant whose primary source answers: the report claims
    // completeness the smoke cannot have tested.
    let (code, out, err) = text(&node("debug-report-smoke.mjs", args(&["--degraded-tenant", "default"])).await);
    assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("ok normal:"), "{out}");
    assert!(err.contains("FAILED primary-source-down") && err.contains("is meant to be down, but the report says every source answered"), "{err}");

    // A deadline no report can meet.
    let (code, _, err) = text(&node("debug-report-smoke.mjs", args(&["--degraded-tenant", "smoke-degraded", "--deadline-seconds", "0.001"])).await);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("report late:") && err.contains("the deadline is 0.001 s"), "{err}");

    // No token: a wrong argument, exit 2.
    let (code, _, err) = text(&node("debug-report-smoke.mjs", vec!["--server".into(), host.base.clone()]).await);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--token"), "{err}");
}

/// A config with no log sources: the trigger's message is the failure, so equal
/// messages are one fingerprint.
fn ticket_config(dir: &Path, tickets: std::net::SocketAddr) -> PathBuf {
    let template = dir.join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, masking]\n").unwrap();
    let p = dir.join("casefile.yaml");
    std::fs::write(
        &p,
        format!(
            r#"report: {{ template: "{template}" }}
runtime: {{ cache_dir: "{cache}" }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  mapper: {{ kind: ticket-mapper, source: "builtin:ticket-platform" }}
ticket: {{ endpoint: "http://{tickets}", retry_base_ms: 50, retry_max_ms: 200 }}
regression: {{ url: "http://{tickets}/internal/debug/regression/run" }}
default: {{ masker: masker, sources: [], ticket_mapper: mapper }}
tenants:
  default: {{}}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
        ),
    )
    .unwrap();
    p
}

async fn open(host: &Host, event: &str, message: &str) -> String {
    let (status, t) = host
        .post("/internal/debug/report", &json!({"error_event_id": event, "tenant": "default", "plugin": {"id": "checkout"}, "message": message}))
        .await;
    assert_eq!(status, 202, "{t}");
    t["task_id"].as_str().unwrap().to_string()
}

async fn until(host: &Host, task: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, t) = host.get(&format!("/internal/debug/report/{task}")).await;
        if done(&t) {
            return t;
        }
        assert!(Instant::now() < deadline, "task {task}: {what} did not happen in 60 s; last: {t:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn bridge(host: &Host, on: bool) {
    let (status, f) = host.http.put(host.url("/internal/flags/debug-ticket-bridge")).bearer_auth(&host.token).json(&json!({"enabled": on})).send().await.map(|r| (r.status().as_u16(), r)).unwrap();
    assert_eq!(status, 200, "{:?}", f.text().await);
}

fn updates_of(tickets: &Tickets, id: &str) -> Vec<Value> {
    tickets.updates.lock().unwrap().iter().filter(|u| u["id"] == id).cloned().collect()
}

fn kinds(r: &Value) -> Vec<String> {
    let mut k: Vec<String> = r["repairs"].as_array().unwrap().iter().map(|x| x["kind"].as_str().unwrap().to_string()).collect();
    k.sort();
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_repairs_each_drift_once_and_a_dry_run_changes_nothing() {
    let tickets = Tickets::default();
    *tickets.regression_passes.lock().unwrap() = true;
    let ticket_addr = start_tickets(tickets.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(&ticket_config(dir.path(), ticket_addr), &dir.path().join("data"));

    // One failure seen twice (t1 creates PLAT-1, t2 comments on it), another (t3, PLAT-2).
    let t1 = open(&host, "e1", "card processor refused the charge").await;
    host.wait_state(&t1, &["awaiting_fix"], 60).await;
    let t2 = open(&host, "e2", "card processor refused the charge").await;
    let t3 = open(&host, "e3", "inventory lookup timed out").await;
    for t in [&t2, &t3] {
        host.wait_state(t, &["awaiting_fix"], 60).await;
    }
    // A person closes PLAT-1: the webhook closes t1, but t2 still waits on it.
    let (status, r) = host.post("/internal/ticket/events", &json!({"ticket_id": "PLAT-1", "state": "closed", "actor": "ana"})).await;
    assert_eq!((status, r["task_id"].as_str()), (200, Some(t1.as_str())), "{r}");
    // With the bridge off, t3's fix passes (the task closes, PLAT-2 stays open) and
    // t4 is diagnosed without a ticket.
    bridge(&host, false).await;
    let (status, _) = host.post(&format!("/internal/debug/report/{t3}/regression"), &json!({})).await;
    assert_eq!(status, 202);
    host.wait_state(&t3, &["closed"], 60).await;
    let t4 = open(&host, "e4", "refund webhook signature mismatch").await;
    let v4 = host.wait_state(&t4, &["awaiting_fix"], 60).await;
    assert!(v4["ticket"].is_null(), "{v4:#}");
    // Switched back on, the bridge delivers what was handed off meanwhile: t4's
    // ticket, once.
    bridge(&host, true).await;
    let v4 = until(&host, &t4, "its ticket", |t| t["state"] == "awaiting_fix" && t["ticket"]["id"] == "PLAT-3").await;
    assert!(v4["history"].to_string().contains("reconcile: the task waits for a fix without a ticket"), "{v4:#}");
    let (creates, updates) = (tickets.creates.lock().unwrap().len(), tickets.updates.lock().unwrap().len());
    assert_eq!(creates, 3);

    let dev = host.make_token("developer", &["*"]).await;
    let (code, _, err) = text(&node("debug-report-reconcile.mjs", vec!["--server".into(), host.base.clone(), "--token".into(), dev]).await);
    assert_eq!(code, 1, "a developer may not reconcile: {err}");
    assert!(err.contains("forbidden (403)"), "{err}");
    let (code, _, err) = text(&node("debug-report-reconcile.mjs", vec!["--server".into(), format!("http://127.0.0.1:{}", closed_port()), "--token".into(), "x".into()]).await);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot reach the casefile host"), "{err}");

    // Dry run: the two drifts left, named; nothing changes.
    let (code, out, err) = text(&node("debug-report-reconcile.mjs", vec!["--server".into(), host.base.clone(), "--token".into(), host.token.clone(), "--dry-run".into()]).await);
    assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
    assert!(out.contains("(dry run, nothing changed)") && out.contains("ticket states: last synced state"), "{out}");
    assert!(out.contains(&format!("close_task tenant default task {t2} ticket PLAT-1")) && out.contains("would close the task: closed (manual)"), "{out}");
    assert!(out.contains(&format!("close_ticket tenant default task {t3} ticket PLAT-2")), "{out}");
    assert!(out.contains("2 repair(s) found"), "{out}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(host.get(&format!("/internal/debug/report/{t2}")).await.1["state"], "awaiting_fix");
    assert_eq!((tickets.creates.lock().unwrap().len(), tickets.updates.lock().unwrap().len()), (creates, updates), "a dry run sends nothing");

    // The CLI repairs them; run again at once, nothing is left to do.
    let cli = |extra: &[&str]| {
        let out = Command::new(BIN).args(["reconcile", "--server", &host.base, "--token", &host.token]).args(extra).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first: Value = serde_json::from_str(&cli(&["--json"])).unwrap();
    assert_eq!(kinds(&first), ["close_task", "close_ticket"], "{first:#}");
    assert!(first["repairs"].as_array().unwrap().iter().all(|r| r["applied"] == true), "{first:#}");
    let (code, out, err) = text(&node("debug-report-reconcile.mjs", vec!["--server".into(), host.base.clone(), "--token".into(), host.token.clone(), "--json".into()]).await);
    assert_eq!(code, 0, "{err}");
    let second: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(second["repairs"], json!([]), "the second run finds nothing: {second:#}");

    // What the repairs did, once the outbox has delivered.
    let v2 = host.wait_state(&t2, &["closed"], 60).await;
    assert!(v2["history"].to_string().contains("closed (manual): ticket PLAT-1 is closed in the ticket system"), "{v2:#}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !tickets.updates.lock().unwrap().iter().any(|u| u["id"] == "PLAT-2" && u["state"] == "closed") {
        assert!(Instant::now() < deadline, "PLAT-2 was not closed: {:?}", tickets.updates.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, v3) = host.get(&format!("/internal/debug/report/{t3}")).await;
    assert_eq!(v3["ticket"]["state"], "closed", "{v3:#}");
    assert_eq!(tickets.creates.lock().unwrap().len(), 3, "no create twice");
    let human = cli(&[]);
    assert!(human.contains("nothing to repair"), "{human}");
    let (_, audit) = host.get("/internal/audit").await;
    let mut actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).filter(|a| a.starts_with("reconcile.")).collect();
    actions.sort();
    assert_eq!(actions, ["reconcile.close_task", "reconcile.close_ticket", "reconcile.create_ticket"]);
    // The close queued by reconcile is not an automatic close after a regression.
    let metrics = reqwest::get(host.url("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("debug_ticket_autoclose_attempts 0"), "{metrics}");

    // A fix verified on one diagnosis of a failure closes its other diagnoses too:
    // they do not wait on the ticket it closed.
    let t5 = open(&host, "e5", "cache stampede on the price list").await;
    host.wait_state(&t5, &["awaiting_fix"], 60).await;
    let t6 = open(&host, "e6", "cache stampede on the price list").await;
    host.wait_state(&t6, &["awaiting_fix"], 60).await;
    let (status, _) = host.post(&format!("/internal/debug/report/{t5}/regression"), &json!({})).await;
    assert_eq!(status, 202);
    host.wait_state(&t5, &["closed"], 60).await;
    let v6 = host.wait_state(&t6, &["closed"], 60).await;
    assert!(v6["history"].to_string().contains(&format!("the fix verified by task {t5} closed ticket PLAT-4")), "{v6:#}");
    // The close says the outcome and links the run.
    let close = updates_of(&tickets, "PLAT-4").into_iter().find(|u| u["state"] == "closed").expect("PLAT-4 closed");
    let comment = close["comment"].as_str().unwrap_or_default();
    assert!(comment.starts_with("Regression passed (42 tests; run: http://runner.test/runs/"), "{close}");
    assert!(cli(&[]).contains("nothing to repair"));
}
