//! Masking end to end: the leak gate behind a leaky tenant masker (open and
//! fail-closed), the security review queue whose misses become policy tests, and
//! `casefile mask` on stdin.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use support::*;

fn window() -> Value {
    let now = chrono::Utc::now();
    json!({"start": (now - chrono::Duration::minutes(30)).to_rfc3339(), "end": (now + chrono::Duration::minutes(1)).to_rfc3339()})
}

fn write_lines(dir: &std::path::Path, messages: &[String]) {
    let t0 = chrono::Utc::now().timestamp_nanos_opt().unwrap() - 10_000_000_000;
    let mut text = String::new();
    for (i, m) in messages.iter().enumerate() {
        text.push_str(&json!({"ts": t0 + i as i64, "level": if i == 0 { "error" } else { "info" }, "msg": m, "plugin": "checkout", "env": "prod", "host": "runtime-1"}).to_string());
        text.push('\n');
    }
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("app.ndjson"), text).unwrap();
}

/// A config with the given masking section of the report template.
fn config(dir: &std::path::Path, files: &std::path::Path, masking_yaml: &str, extra: &str) -> std::path::PathBuf {
    let template = dir.join("report_template.yaml");
    std::fs::write(&template, format!("masking:\n{masking_yaml}\n")).unwrap();
    let p = dir.join("casefile.yaml");
    std::fs::write(
        &p,
        format!(
            r#"
report: {{ template: {template} }}
runtime: {{ cache_dir: {cache} }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  leaky: {{ kind: masker, source: "{leaky}" }}
  ndjson: {{ kind: connector, source: "builtin:connector-ndjson" }}
sources:
  files: {{ component: ndjson, grant: {{ dir: "{files}" }} }}
default: {{ masker: masker, sources: [files] }}
tenants:
  default: {{}}
  open: {{ masker: leaky }}
  strict: {{ masker: leaky }}
  other: {{}}
{extra}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            leaky = guest("leaky-masker").display(),
            files = files.display(),
        ),
    )
    .unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leak_gate_catches_a_leaky_masker_and_fail_closed_holds_the_report() {
    let s = Secrets::generate();
    let customer = format!("CUST-{}", &Secrets::generate().aws_key[4..14]);
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    write_lines(&files, &[
        format!("charge failed for {} with key {}", s.email, s.aws_key),
        format!("connecting to postgres://app:{}@db.internal:5432/orders", s.url_password),
        "handled order 42 in 12 ms".to_string(),
        format!(r#"order body {{"customer":{{"id":"{customer}","tier":"gold"}}}}"#),
    ]);
    let cfg = config(
        dir.path(),
        &files,
        "  tenants:\n    strict: { fail_closed: true }\n    other: { policy: { fields: [\"customer.id\"] } }",
        "",
    );
    let host = Host::start(&cfg, &dir.path().join("data"));

    let (_, c) = host.post("/internal/debug/report", &json!({"error_event_id": "leak-1", "tenant": "open", "plugin": {"id": "checkout"}, "window": window()})).await;
    let t = host.wait_state(c["task_id"].as_str().unwrap(), &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    s.assert_absent("the report behind a leaky masker", &t.to_string());
    s.assert_absent("the host's log behind a leaky masker", &host.log());
    let masking = &t["report"]["masking"];
    assert_eq!(masking["total"], 0, "the leaky masker claims nothing: {masking:#}");
    assert!(masking["gate"]["violations"].as_u64().unwrap() >= 3, "{masking:#}");
    assert!(masking["gate"]["version"].as_str().unwrap().starts_with("casefile-gate/"));
    let (_, bundle) = host.get_bytes(&format!("/internal/debug/report/{}/bundle", t["task_id"].as_str().unwrap())).await;
    for (name, bytes) in untar(&bundle) {
        s.assert_absent(&name, &String::from_utf8_lossy(&bytes));
    }
    let metrics = host.http.get(host.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l.starts_with("debug_masking_violation_total") && l.contains("tenant=\"open\"")), "{metrics}");
    let (_, audit) = host.get("/internal/audit").await;
    let v = audit["entries"].as_array().unwrap().iter().find(|e| e["action"] == "masking.violation").expect("violation audited");
    assert!(v["detail"]["violations"][0]["location"].as_str().unwrap().starts_with("logs["), "{v}");
    s.assert_absent("the audit log", &audit.to_string());

    // Fail-closed: the same leak holds the report back and the task says why.
    let (_, c) = host.post("/internal/debug/report", &json!({"error_event_id": "leak-2", "tenant": "strict", "plugin": {"id": "checkout"}, "window": window()})).await;
    let id = c["task_id"].as_str().unwrap().to_string();
    let t = host.wait_state(&id, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "failed", "{t:#}");
    assert_eq!(t["error"]["code"], "masking_violation");
    assert!(t["error"]["message"].as_str().unwrap().contains("held back"), "{t:#}");
    assert!(t["report"].is_null());
    let (status, _) = host.get_bytes(&format!("/internal/debug/report/{id}/bundle")).await;
    assert_eq!(status, 409);
    s.assert_absent("the failed task", &t.to_string());
    // Remediation: the same event again returns the failed task; after the policy is
    // changed (fail-open for this tenant), a retry runs the diagnosis again.
    let (status, again) = host.post("/internal/debug/report", &json!({"error_event_id": "leak-2", "tenant": "strict", "plugin": {"id": "checkout"}, "window": window()})).await;
    assert_eq!((status, again["state"].as_str()), (200, Some("failed")), "{again}");
    let (status, e) = host.post(&format!("/internal/debug/report/{id}/retry"), &json!({})).await;
    assert_eq!(status, 202, "retrying without a fix fails the same way, but is allowed: {e}");
    assert_eq!(host.wait_state(&id, &["failed"], 60).await["error"]["code"], "masking_violation");
    let platform = host.make_token("platform", &["*"]).await;
    let r = host.http.put(host.url("/internal/tenants/strict/masking-policy")).bearer_auth(&platform).json(&json!({"policy": {}, "fail_closed": false})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (status, _) = host.post(&format!("/internal/debug/report/{id}/retry"), &json!({})).await;
    assert_eq!(status, 202);
    let t = host.wait_state(&id, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    assert!(t["report"]["masking"]["gate"]["violations"].as_u64().unwrap() > 0, "the gate masked what the leaky masker let through");
    s.assert_absent("the retried task", &t.to_string());
    let (status, e) = host.post(&format!("/internal/debug/report/{id}/retry"), &json!({})).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("not_failed")), "{e}");

    // The tenant with the real masker has nothing for the gate to catch.
    let (_, c) = host.post("/internal/debug/report", &json!({"error_event_id": "ok-1", "tenant": "default", "plugin": {"id": "checkout"}, "window": window()})).await;
    let t = host.wait_state(c["task_id"].as_str().unwrap(), &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["report"]["masking"]["gate"]["violations"], 0, "{:#}", t["report"]["masking"]);
    assert!(t["report"]["masking"]["total"].as_u64().unwrap() >= 3);

    // Keyed pseudonyms: the same email is the same token across reports of one
    // tenant, and a different token for another tenant (another key).
    let token = |t: &Value| {
        let text = t["report"].to_string();
        let re = regex::Regex::new(r"email:[0-9a-f]{12}").unwrap();
        re.find(&text).map(|m| m.as_str().to_string()).unwrap_or_else(|| panic!("no email pseudonym in {text}"))
    };
    let first = token(&t);
    let (_, c) = host.post("/internal/debug/report", &json!({"error_event_id": "ok-2", "tenant": "default", "plugin": {"id": "checkout"}, "window": window()})).await;
    let again = host.wait_state(c["task_id"].as_str().unwrap(), &["awaiting_fix"], 60).await;
    assert_eq!(token(&again), first, "same tenant, same value, same token");
    let (_, c) = host.post("/internal/debug/report", &json!({"error_event_id": "ok-3", "tenant": "other", "plugin": {"id": "checkout"}, "window": window()})).await;
    let other = host.wait_state(c["task_id"].as_str().unwrap(), &["awaiting_fix"], 60).await;
    assert_ne!(token(&other), first, "another tenant's key gives another token");
    s.assert_absent("another tenant's report", &other.to_string());
    // A field selector in one tenant's policy masks that JSON field there only.
    assert!(!other.to_string().contains(&customer), "`customer.id` is selected for tenant other");
    assert!(other.to_string().contains("gold"), "only the selected field is masked");
    assert!(again.to_string().contains(&customer), "tenant default selects no fields");
}

fn run_mask(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(BIN)
        .arg("mask")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run casefile mask");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_samples_are_for_security_only_and_misses_become_policy_tests() {
    let token = format!("sec-{}", Secrets::generate().url_password);
    let customer = format!("CUST-{}", &Secrets::generate().aws_key[4..12]);
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    write_lines(&files, &[format!("refund failed customer_ref={customer} amount=12"), "handled order 42".into()]);
    let cfg = config(dir.path(), &files, "  review_sample_rate: 1.0", &format!("auth: {{ security_token: \"{token}\" }}"));
    let host = Host::start(&cfg, &dir.path().join("data"));
    let (_, c) = host.post("/internal/debug/report", &json!({"error_event_id": "rev-1", "tenant": "default", "plugin": {"id": "checkout"}, "window": window()})).await;
    host.wait_state(c["task_id"].as_str().unwrap(), &["awaiting_fix"], 60).await;

    let r = host.http.get(host.url("/internal/review")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "no token");
    let r = host.http.get(host.url("/internal/review")).bearer_auth("not-the-token").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401, "an unknown token");
    let developer = host.make_token("developer", &["default"]).await;
    let (status, e) = host.get_as(&developer, "/internal/review").await;
    assert_eq!((status, e["error"]["code"].as_str()), (403, Some("forbidden")), "a role that may not read the review queue");
    let samples: Value = host.http.get(host.url("/internal/review?tenant=default")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
    let samples = samples["samples"].as_array().unwrap().clone();
    assert_eq!(samples.len(), 2, "rate 1.0 keeps every record: {samples:?}");
    let miss = samples.iter().find(|s| s["record"]["message"].as_str().unwrap().contains(&customer)).expect("the unmasked customer ref is in a sample");
    let r = host
        .http
        .post(host.url(&format!("/internal/review/{}", miss["id"].as_str().unwrap())))
        .bearer_auth(&token)
        .json(&json!({"verdict": "miss", "note": "customer refs are personal data", "expected_masked": [customer]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let cases = host.http.get(host.url("/internal/review/cases?tenant=default")).bearer_auth(&token).send().await.unwrap().text().await.unwrap();
    assert_eq!(cases.lines().count(), 1, "{cases}");
    let metrics = host.http.get(host.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("casefile_review_sampled_total") && metrics.contains("casefile_review_marked_total"), "{metrics}");

    // The exported miss fails the current policy, and passes once the policy covers it.
    let cfg_path = cfg.to_str().unwrap();
    let (ok, out, err) = run_mask(&["--tenant", "default", "--config", cfg_path, "--check"], &cases);
    assert!(!ok, "the miss must fail the current policy: {out} {err}");
    assert!(!out.contains(&customer) && !err.contains(&customer), "a failing check must not print the value");
    config(dir.path(), &files, "  tenants:\n    default: { policy: { sensitive_keys: [\"(?i)customer_ref$\"] } }", "");
    let (ok, out, err) = run_mask(&["--tenant", "default", "--config", cfg_path, "--check"], &cases);
    assert!(ok, "with customer_ref covered the case passes: {out} {err}");
}

#[test]
fn mask_command_masks_plain_lines_and_jsonl() {
    let s = Secrets::generate();
    let masker = guest("masker-default");
    let masker = masker.to_str().unwrap();
    let input = format!("user {} logged in\nkey={} used\nplain line 7 stays\n", s.email, s.aws_key);
    let (ok, out, err) = run_mask(&["--component", masker], &input);
    assert!(ok, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "one output line per input line: {out}");
    assert_eq!(lines[2], "plain line 7 stays");
    s.assert_absent("mask output", &out);

    let input = format!("{}\n{}\n", json!({"line": format!("mail {}", s.email)}), json!({"line": format!("https://u:{}@h/x", s.url_password)}));
    let (ok, out, err) = run_mask(&["--component", masker, "--jsonl"], &input);
    assert!(ok, "{err}");
    let parsed: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect();
    assert_eq!(parsed.len(), 2);
    assert!(parsed.iter().all(|v| v["line"].is_string()));
    s.assert_absent("mask --jsonl output", &out);

    let (ok, _, err) = run_mask(&["--component", masker, "--jsonl"], "{not json\n");
    assert!(!ok);
    assert!(err.contains("line 1: not JSON"), "{err}");
    let (ok, _, err) = run_mask(&["--component", "/nonexistent.wasm"], "x\n");
    assert!(!ok && err.contains("cannot read /nonexistent.wasm"), "{err}");
}

/// `CASEFILE_PROFILE=perfmap` writes the perf map of the compiled components, so
/// `perf report` can attribute samples to a masker's functions: `casefile mask`
/// through masker-default leaves `/tmp/perf-PID.map` listing them (by index, since
/// the shipped components are stripped of their name section).
#[test]
fn perfmap_profiling_names_the_components_functions() {
    let masker = guest("masker-default");
    let mut child = Command::new(BIN)
        .args(["mask", "--component", masker.to_str().unwrap()])
        .env("CASEFILE_PROFILE", "perfmap")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run casefile mask");
    let map = std::path::PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    child.stdin.take().unwrap().write_all(b"plain line 7 stays\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&map).unwrap_or_else(|e| panic!("{}: {e}", map.display()));
    let _ = std::fs::remove_file(&map);
    assert!(text.lines().count() > 100, "{} lines", text.lines().count());
    assert!(text.contains("wasm[0]::function["), "no component function in the perf map");
}
