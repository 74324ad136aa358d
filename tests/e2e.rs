//! End-to-end: the real `casefile` binary, real components built from plugins/ and
//! tests/guests/, SQLite on disk, and loopback stand-ins for Loki, the ticket
//! system and the regression runner.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().expect("ns")
}

fn window() -> Value {
    let now = chrono::Utc::now();
    json!({"start": (now - chrono::Duration::minutes(30)).to_rfc3339(), "end": (now + chrono::Duration::minutes(1)).to_rfc3339()})
}

/// A Loki with one stream for plugin `checkout` whose lines carry the secrets.
fn loki_with_incident(s: &Secrets) -> Loki {
    let loki = Loki::default();
    let t0 = now_ns() - 60_000_000_000;
    let mut values = Vec::new();
    for i in 0..40i64 {
        let line = match i {
            10 => json!({"level": "warn", "msg": format!("connecting to https://svc:{}@db.internal:5432/orders", s.url_password), "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}).to_string(),
            20 => json!({"level": "error", "msg": format!("charge failed for {}: AccessDenied for {}", s.email, s.aws_key), "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7"}).to_string(),
            _ => format!("level=info msg=\"handled order {i}\" trace_id=4bf92f3577b34da6a3ce929d0e0e4736"),
        };
        values.push((t0 + i * 1_000_000_000, line));
    }
    loki.streams.lock().unwrap().push((json!({"plugin": "checkout", "environment": "prod", "host": "runtime-1"}), values));
    loki
}

fn files_source(dir: &std::path::Path) {
    let t0 = now_ns() - 30_000_000_000;
    let mut lines = String::new();
    for i in 0..5i64 {
        lines.push_str(&json!({"ts": t0 + i, "level": "info", "msg": format!("fallback line {i}"), "plugin": "checkout", "env": "prod", "host": "runtime-2"}).to_string());
        lines.push('\n');
    }
    lines.push_str(&json!({"kind": "span", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7", "name": "POST /charge", "service": "checkout", "host": "runtime-1", "env": "prod", "ts": t0, "duration_ms": 812, "error": true}).to_string());
    lines.push('\n');
    std::fs::write(dir.join("checkout.ndjson"), lines).unwrap();
}

fn write_config(dir: &std::path::Path, body: &str) -> std::path::PathBuf {
    let template = dir.join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, traces, metrics, masking]\n").unwrap();
    let p = dir.join("casefile.yaml");
    let cache = shared_cache_dir();
    std::fs::write(&p, format!("report: {{ template: {} }}\nruntime: {{ cache_dir: {} , call_timeout_ms: 2000, memory_limit_mb: 64, output_limit_mb: 8 }}\n{body}", template.display(), cache.display())).unwrap();
    p
}

fn guest_components() -> String {
    format!(
        r#"
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  ndjson: {{ kind: connector, source: "builtin:connector-ndjson" }}
  loki: {{ kind: connector, source: "builtin:connector-loki" }}
  mapper: {{ kind: ticket-mapper, source: "builtin:ticket-platform" }}
  loop: {{ kind: connector, source: "{}" }}
  membomb: {{ kind: connector, source: "{}" }}
  flood: {{ kind: connector, source: "{}" }}
  trap: {{ kind: connector, source: "{}" }}
"#,
        guest("hostile-loop").display(),
        guest("hostile-membomb").display(),
        guest("hostile-flood").display(),
        guest("hostile-trap").display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnosis_loop_from_trigger_to_closed_ticket() {
    let secrets = Secrets::generate();
    let loki = loki_with_incident(&secrets);
    let loki_auths = loki.authorizations.clone();
    let loki_addr = start_loki(loki).await;
    let tickets = Tickets::default();
    *tickets.regression_passes.lock().unwrap() = true;
    let ticket_addr = start_tickets(tickets.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    files_source(&files);
    let down = closed_port();
    // Loki's bearer token, in a file the host reads; the connector never sees it.
    let loki_token = format!("loki-{}", hex_sha(secrets.email.as_bytes()));
    let token_file = dir.path().join("loki.token");
    std::fs::write(&token_file, format!("{loki_token}\n")).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
server: {{ max_body_bytes: 65536 }}
{components}
sources:
  loki: {{ component: loki, settings: {{ url: "http://{loki_addr}" }}, grant: {{ allow_hosts: ["{loki_addr}"], credentials: {{ scheme: bearer, from_file: "{token_file}" }} }} }}
  files: {{ component: ndjson, grant: {{ dir: "{files}" }} }}
  loki-down: {{ component: loki, settings: {{ url: "http://127.0.0.1:{down}" }}, grant: {{ allow_hosts: ["127.0.0.1:{down}"] }}, fallback: loki-down-2 }}
  loki-down-2: {{ component: loki, settings: {{ url: "http://127.0.0.1:{down}" }}, grant: {{ allow_hosts: ["127.0.0.1:{down}"] }}, fallback: files }}
  loki-gone: {{ component: loki, settings: {{ url: "http://casefile:{config_password}@127.0.0.1:{down}" }}, grant: {{ allow_hosts: ["127.0.0.1:{down}"] }} }}
  loki-offlist: {{ component: loki, settings: {{ url: "http://127.0.0.2:{down}" }}, grant: {{ allow_hosts: ["127.0.0.1:{down}"] }} }}
ticket: {{ endpoint: "http://{ticket_addr}" }}
regression: {{ url: "http://{ticket_addr}/internal/debug/regression/run" }}
default: {{ masker: masker, sources: [loki, loki-down, loki-gone, loki-offlist], ticket_mapper: mapper, owners: [team-checkout] }}
tenants:
  default: {{}}
"#,
            components = guest_components(),
            files = files.display(),
            token_file = token_file.display(),
            // A password in the config: the source that uses it fails, and its
            // error (which quotes the URL) must not carry it anywhere.
            config_password = secrets.url_password
        ),
    );
    let data = dir.path().join("data");
    let host = Host::start(&config, &data);

    let request = json!({
        "error_event_id": "evt-1", "tenant": "default",
        "plugin": {"id": "checkout", "version": "2.4.1"},
        "environments": ["prod"], "window": window(),
        "message": format!("customer {} saw a 500", secrets.email),
        "regression": {"strategy": "webhook"},
    });
    let (status, created) = host.post("/internal/debug/report", &request).await;
    assert_eq!(status, 202, "{created}");
    let task = created["task_id"].as_str().unwrap().to_string();
    let (status, again) = host.post("/internal/debug/report", &request).await;
    assert_eq!((status, again["task_id"].as_str()), (200, Some(task.as_str())), "a repeat must return the same task");

    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    let report = &t["report"];
    assert_eq!(report["schema"], "casefile.report/v1");
    assert_eq!(report["schema_version"], "4");
    assert_fits_report_schema(&host, report).await;
    assert_eq!(report["plugin"]["id"], "checkout");
    // 40 Loki lines + 5 lines and 1 span from the fallback files.
    assert_eq!(report["summary"]["logs"], 45, "{:#}", report["summary"]);
    assert_eq!(report["summary"]["spans"], 1);
    assert_eq!(report["summary"]["errors"], 1);
    assert!(report["title"].as_str().unwrap().contains("checkout"));
    assert!(report["summary"]["first_error"]["message"].as_str().unwrap().contains("charge failed"));
    let sources: Vec<(String, String)> = report["sources"].as_array().unwrap().iter().map(|s| (s["name"].as_str().unwrap().to_string(), s["status"].as_str().unwrap().to_string())).collect();
    assert!(sources.contains(&("loki".into(), "used".into())), "{sources:?}");
    let auths = loki_auths.lock().unwrap().clone();
    assert!(!auths.is_empty() && auths.iter().all(|a| a.as_deref() == Some(format!("Bearer {loki_token}").as_str())), "the host attached Loki's token: {auths:?}");
    assert!(!t.to_string().contains(&loki_token), "the source's token is not in the report");
    assert!(sources.contains(&("loki-down".into(), "degraded".into())), "{sources:?}");
    // Down the chain: loki-down, then loki-down-2 (down too), then the files.
    let degraded = report["sources"].as_array().unwrap().iter().find(|s| s["name"] == "loki-down").unwrap();
    assert_eq!(degraded["fallback"], "files", "{degraded}");
    assert!(degraded["error"].as_str().unwrap().contains("fallback `loki-down-2` failed too"), "{degraded}");
    assert!(sources.contains(&("loki-gone".into(), "missing".into())), "{sources:?}");
    // A source whose URL is off its allow-list is refused by policy, and the refusal
    // is audited below.
    assert!(sources.contains(&("loki-offlist".into(), "missing".into())), "{sources:?}");
    // The span is joined to the log lines that carry its trace id.
    let trace = &report["traces"][0];
    assert_eq!(trace["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(trace["error_logs"], 1);
    assert!(trace["logs"].as_u64().unwrap() >= 40);
    assert!(report["masking"]["total"].as_u64().unwrap() >= 4, "{:#}", report["masking"]);
    let kinds: Vec<&str> = t["components"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"masker") && kinds.contains(&"connector"), "{kinds:?}");
    assert!(t["components"].as_array().unwrap().iter().all(|c| c["sha256"].as_str().unwrap().len() == 64));
    assert_eq!(t["ticket"]["state"], "open");

    // Nothing sensitive leaves: report, Markdown, bundle, ticket.
    secrets.assert_absent("the report", &t.to_string());
    let (_, md) = host.get_bytes(&format!("/internal/debug/report/{task}/markdown")).await;
    secrets.assert_absent("the markdown", &String::from_utf8_lossy(&md));
    // The host's own log (debug level in these tests) never holds them either.
    let log = host.log();
    assert!(log.contains("component ready"), "the host's log is captured");
    secrets.assert_absent("the host's log", &log);
    // Nor the tokens the requests carried, nor the master key.
    assert!(!log.contains(&host.token), "the admin token leaked into the host's log");
    assert!(!log.contains(&loki_token), "Loki's token leaked into the host's log");
    let master = std::fs::read_to_string(data.join("master.key")).expect("a generated master key");
    assert!(!log.contains(master.trim()), "the master key leaked into the host's log");
    let (status, bundle) = host.get_bytes(&format!("/internal/debug/report/{task}/bundle")).await;
    assert_eq!(status, 200);
    let files = untar(&bundle);
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for want in ["report.json", "report.md", "logs.ndjson", "spans.ndjson", "metrics.ndjson", "manifest.json"] {
        assert!(names.contains(&want), "bundle lacks {want}: {names:?}");
    }
    let manifest: Value = serde_json::from_slice(&files.iter().find(|(n, _)| n == "manifest.json").unwrap().1).unwrap();
    for (name, bytes) in &files {
        secrets.assert_absent(name, &String::from_utf8_lossy(bytes));
        if name != "manifest.json" {
            let listed = manifest["files"].as_array().unwrap().iter().find(|f| f["path"] == name.as_str()).expect("listed in manifest");
            assert_eq!(listed["sha256"].as_str().unwrap(), hex_sha(bytes), "manifest hash of {name}");
        }
    }
    assert!(!manifest["components"].as_array().unwrap().is_empty());
    let logs = String::from_utf8_lossy(&files.iter().find(|(n, _)| n == "logs.ndjson").unwrap().1).to_string();
    assert_eq!(logs.lines().count(), 45);
    {
        let creates = tickets.creates.lock().unwrap();
        assert_eq!(creates.len(), 1);
        secrets.assert_absent("the ticket", &creates[0].to_string());
        assert_eq!(creates[0]["owners"], json!(["team-checkout"]));
        assert!(creates[0]["body"].as_str().unwrap().contains("charge failed"));
    }

    // Regression passes: the ticket is closed, the task too.
    let (status, r) = host.post(&format!("/internal/debug/report/{task}/regression"), &json!({"ref": "fix-123"})).await;
    assert_eq!(status, 202, "{r}");
    let t = host.wait_state(&task, &["closed", "failed"], 60).await;
    assert_eq!(t["state"], "closed", "{t:#}");
    assert_eq!(t["ticket"]["state"], "closed");
    assert_eq!(tickets.creates.lock().unwrap().len(), 1, "exactly one create");
    let updates = tickets.updates.lock().unwrap().clone();
    assert_eq!(updates.len(), 1, "exactly one update: {updates:?}");
    assert_eq!(updates[0]["state"], "closed");
    assert_eq!(updates[0]["id"], "PLAT-1");
    assert_eq!(tickets.regressions.lock().unwrap()[0]["ref"], "fix-123");

    // The CLI is a client of the same API.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(BIN).args(args).args(["--server", &host.base]).env("CASEFILE_TOKEN", &host.token).output().expect("run casefile");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (ok, out, err) = cli(&["show", &task, "--json"]);
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).expect("show --json prints JSON");
    assert_eq!((shown["state"].as_str(), shown["ticket"]["state"].as_str()), (Some("closed"), Some("closed")));
    let (ok, out, _) = cli(&["show", &task]);
    assert!(ok && out.contains("closed") && out.contains("ticket PLAT-1"), "{out}");
    let file = dir.path().join("bundle.tar.gz");
    let (ok, _, err) = cli(&["bundle", &task, "-o", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(untar(&std::fs::read(&file).unwrap()).len(), 6);
    let (ok, _, err) = cli(&["show", "tsk_nope"]);
    assert!(!ok && err.contains("unknown_task"), "{err}");
    let (ok, out, err) = cli(&["diagnose", "--tenant", "default", "--plugin", "checkout", "--event", "evt-cli", "--env", "prod", "--regression", "none", "--wait", "60", "--json"]);
    assert!(ok, "{err}");
    let via_cli: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(via_cli["state"], "awaiting_fix", "{via_cli:#}");
    let (ok, _, err) = cli(&["regress", via_cli["task_id"].as_str().unwrap()]);
    assert!(!ok && err.contains("no_regression"), "{err}");
    let unreachable = std::process::Command::new(BIN).args(["show", "x", "--server", &format!("http://127.0.0.1:{}", closed_port())]).output().unwrap();
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach the casefile server"));

    // Bad input: clear 4xx errors, nothing stored is lost.
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (b"{not json".to_vec(), 400, "invalid_json"),
        (json!({"error_event_id": "e", "tenant": "nobody", "plugin": {"id": "p"}}).to_string().into_bytes(), 404, "unknown_tenant"),
        (json!({"error_event_id": "e", "tenant": "default", "plugin": {"id": "p"}, "window": {"start": "2026-01-02T00:00:00Z", "end": "2026-01-01T00:00:00Z"}}).to_string().into_bytes(), 400, "invalid_window"),
        (json!({"error_event_id": "e", "tenant": "default", "plugin": {"id": "p"}, "window": {"start": "yesterday", "end": "2026-01-01T00:00:00Z"}}).to_string().into_bytes(), 400, "invalid_window"),
        (json!({"error_event_id": "", "tenant": "default", "plugin": {"id": "p"}}).to_string().into_bytes(), 400, "invalid_request"),
        (json!({"tenant": "default", "plugin": {"id": "p"}}).to_string().into_bytes(), 400, "invalid_request"),
        (vec![b' '; 100_000], 413, "body_too_large"),
    ];
    for (body, want_status, want_code) in cases {
        let (status, err) = host.post_raw("/internal/debug/report", body).await;
        assert_eq!((status, err["error"]["code"].as_str()), (want_status, Some(want_code)), "{err}");
        assert!(err["error"]["message"].as_str().unwrap().len() > 10, "{err}");
    }
    let (status, err) = host.post_raw("/internal/components?kind=masker&name=junk", b"not wasm at all".to_vec()).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("not_a_component")));
    assert!(err["error"]["message"].as_str().unwrap().contains("not WebAssembly"), "{err}");
    let (status, err) = host.post_raw("/internal/components?kind=masker&name=core", b"\0asm\x01\0\0\0".to_vec()).await;
    assert_eq!(status, 400);
    assert!(err["error"]["message"].as_str().unwrap().contains("core WebAssembly module"), "{err}");
    let mapper = std::fs::read(guest("ticket-platform")).unwrap();
    let (status, err) = host.post_raw("/internal/components?kind=masker&name=wrong-world", mapper).await;
    assert_eq!(status, 400, "{err}");
    assert!(err["error"]["message"].as_str().unwrap().contains("masker"), "{err}");
    // The same bytes as a configured component are that component.
    let (status, ok) = host.post_raw("/internal/components?kind=ticket-mapper&name=mapper-copy", std::fs::read(guest("ticket-platform")).unwrap()).await;
    assert_eq!((status, ok["status"].as_str(), ok["uploader"].as_str()), (200, Some("approved"), Some("config")), "{ok}");
    let (status, err) = host.get("/internal/debug/report/tsk_nope").await;
    assert_eq!((status, err["error"]["code"].as_str()), (404, Some("unknown_task")));
    let (status, err) = host.post(&format!("/internal/debug/report/{task}/regression"), &json!({})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("not_awaiting_fix")));
    let (_, still) = host.get(&format!("/internal/debug/report/{task}")).await;
    assert_eq!(still["state"], "closed");
    assert_eq!(still["report"], t["report"]);

    let metrics = host.http.get(host.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("debug_report_generate_ms"), "{metrics}");
    assert!(metrics.contains("casefile_component_calls_total"), "{metrics}");
    assert!(metrics.lines().any(|l| l == "debug_ticket_autoclose_rate 1"), "{metrics}");
    let (_, audit) = host.get("/internal/audit").await;
    let entries = audit["entries"].as_array().unwrap();
    assert!(entries.iter().all(|e| e["chain_intact"] == true));
    assert!(entries.iter().any(|e| e["action"] == "ticket.close"));
    let refused = entries.iter().find(|e| e["action"] == "sandbox.refused").expect("the refused request is audited");
    assert_eq!(refused["subject"], task.as_str());
    assert_eq!(refused["detail"]["source"], "loki-offlist", "{refused:#}");
    assert_eq!(refused["detail"]["kind"], "http");
    assert_eq!(refused["detail"]["target"], format!("127.0.0.2:{down}"));
    assert_eq!(refused["detail"]["sha256"].as_str().map(str::len), Some(64));

    // loki-down failed twice in a row (the call and its retry): the next diagnosis
    // does not ask it again and goes straight down its fallback chain.
    let (status, c) = host.post("/internal/debug/report", &json!({"error_event_id": "evt-after", "tenant": "default", "plugin": {"id": "checkout"}, "window": window()})).await;
    assert_eq!(status, 202, "{c}");
    let t2 = host.wait_state(c["task_id"].as_str().unwrap(), &["awaiting_fix", "failed"], 60).await;
    let skipped = t2["report"]["sources"].as_array().unwrap().iter().find(|s| s["name"] == "loki-down").unwrap().clone();
    assert_eq!(skipped["status"], "degraded", "{skipped}");
    assert!(skipped["error"].as_str().unwrap().starts_with("skipped: it failed"), "{skipped}");

    // A request carrying a token the host does not know: refused, and the token is
    // not echoed in the answer or logged.
    let stranger = format!("cf_{}", hex_sha(secrets.url_password.as_bytes()));
    let (status, answer) = host.get_as(&stranger, &format!("/internal/debug/report/{task}")).await;
    assert_eq!(status, 401, "{answer}");
    assert!(!answer.to_string().contains(&stranger), "the refused token is echoed: {answer}");

    // Everything the host wrote, its log and every file of its data dir (the
    // database with its journal, the stored reports and bundles), holds no token, key
    // or password in plain text: tokens are kept as hashes, tenant keys sealed under
    // the master key, and the master key only in its own owner-only file.
    let log = host.log();
    let mut written: Vec<(String, Vec<u8>)> = vec![("the host's log".into(), log.into_bytes())];
    for path in files_under(&data) {
        if path.file_name().is_some_and(|n| n == "master.key") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap_or_default();
        written.push((path.display().to_string(), bytes));
    }
    assert!(written.len() > 2, "the data dir holds the database: {:?}", written.iter().map(|w| &w.0).collect::<Vec<_>>());
    let planted = [
        ("the admin token", host.token.clone()),
        ("the refused token", stranger.clone()),
        ("Loki's token", loki_token.clone()),
        ("the master key", master.trim().to_string()),
        ("the password in the config", secrets.url_password.clone()),
        // From the source data: stored only masked (report, bundle, review samples).
        // (The e-mail is left out: it is in the trigger's own message, which the
        // task keeps as it was sent so that the diagnosis can run again.)
        ("the AWS key in the source data", secrets.aws_key.clone()),
    ];
    for (place, bytes) in &written {
        for (what, value) in &planted {
            let found = bytes.windows(value.len()).any(|w| w == value.as_bytes());
            assert!(!found, "{what} is in {place}");
        }
    }
}

/// Every regular file under `dir`, at any depth.
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => todo.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out
}

/// Validates a real report against the JSON Schema the host serves.
async fn assert_fits_report_schema(host: &Host, report: &Value) {
    let (status, schema) = host.get("/internal/report.schema.json").await;
    assert_eq!(status, 200, "{schema}");
    let validator = jsonschema::validator_for(&schema).expect("the served schema is a JSON Schema");
    let errors: Vec<String> = validator.iter_errors(report).map(|e| format!("{e} at {}", e.instance_path)).collect();
    assert!(errors.is_empty(), "the report does not fit its schema: {errors:#?}\n{report:#}");
}

fn hex_sha(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_components_are_stopped_and_the_host_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    files_source(&files);
    let config = write_config(
        dir.path(),
        &format!(
            r#"
{components}
sources:
  files: {{ component: ndjson, grant: {{ dir: "{files}" }} }}
  loop: {{ component: loop }}
  membomb: {{ component: membomb }}
  flood: {{ component: flood, settings: {{ records: 60000, message_bytes: 100 }} }}
  trap: {{ component: trap }}
default: {{ masker: masker, sources: [files] }}
tenants:
  default: {{}}
  hostile: {{ sources: [loop, membomb, flood, trap] }}
"#,
            components = guest_components(),
            files = files.display()
        ),
    );
    let host = Host::start(&config, &dir.path().join("data"));

    let (status, created) = host.post("/internal/debug/report", &json!({"error_event_id": "h-1", "tenant": "hostile", "plugin": {"id": "checkout"}, "window": window()})).await;
    assert_eq!(status, 202, "{created}");
    let task = created["task_id"].as_str().unwrap().to_string();
    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 90).await;
    assert_eq!(t["state"], "awaiting_fix", "a report is still written when every source fails: {t:#}");
    assert_fits_report_schema(&host, &t["report"]).await;
    let sources = t["report"]["sources"].as_array().unwrap();
    // One cause per hostile guest: the kind the report names, and the message that
    // belongs to it (the component's own deadline, not the collection's).
    let error_of = |name: &str, kind: &str| {
        let s = sources.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no source {name}"));
        assert_eq!(s["status"], "missing", "{s}");
        assert_eq!(s["error_kind"], kind, "{name}: {s}");
        s["error"].as_str().unwrap().to_string()
    };
    let e = error_of("loop", "deadline");
    assert!(e.contains("ran past its") && !e.contains("collection deadline"), "loop: {e}");
    let e = error_of("membomb", "memory");
    assert!(e.contains("memory cap"), "membomb: {e}");
    let e = error_of("flood", "output-too-large");
    assert!(e.contains("output cap"), "flood: {e}");
    let e = error_of("trap", "trap");
    assert!(e.contains("trapped"), "trap: {e}");

    // The host goes on serving: a normal task right after completes.
    let (status, created) = host.post("/internal/debug/report", &json!({"error_event_id": "ok-1", "tenant": "default", "plugin": {"id": "checkout"}, "window": window()})).await;
    assert_eq!(status, 202);
    let ok = host.wait_state(created["task_id"].as_str().unwrap(), &["awaiting_fix", "failed"], 60).await;
    assert_eq!(ok["state"], "awaiting_fix", "{ok:#}");
    assert_eq!(ok["report"]["summary"]["logs"], 5);
    assert!(ok["ticket"].is_null(), "no ticket endpoint is configured: manual hand-off");
    let (status, h) = host.get("/healthz").await;
    assert_eq!((status, h["status"].as_str()), (200, Some("ok")));

    // The other triggers: a plugin.debug.alert event and an Alertmanager v4 webhook.
    let (status, ev) = host.post("/internal/debug/events", &json!({"type": "plugin.debug.alert", "error_event_id": "ev-1", "tenant": "default", "plugin": {"id": "checkout"}, "window": window()})).await;
    assert_eq!(status, 202, "{ev}");
    let (status, err) = host.post("/internal/debug/events", &json!({"type": "something.else", "error_event_id": "ev-2", "tenant": "default", "plugin": {"id": "checkout"}})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("invalid_event")));
    let now = chrono::Utc::now().to_rfc3339();
    let webhook = json!({
        "version": "4", "status": "firing", "receiver": "casefile", "groupKey": "{}:{}",
        "alerts": [
            {"status": "firing", "labels": {"alertname": "PluginErrors", "plugin": "checkout", "tenant": "default", "environment": "prod"},
             "annotations": {"summary": "checkout error rate above 5%"}, "startsAt": now, "fingerprint": "a1b2c3"},
            {"status": "firing", "labels": {"alertname": "DiskFull"}, "startsAt": now, "fingerprint": "d4"},
            {"status": "resolved", "labels": {"alertname": "PluginErrors", "plugin": "other"}, "startsAt": now, "fingerprint": "e5"},
            {"status": "firing", "labels": {"alertname": "Elsewhere", "plugin": "checkout", "tenant": "nobody"}, "startsAt": now, "fingerprint": "f6"},
            {"status": "firing", "labels": {"alertname": "Untenanted", "plugin": "checkout"}, "startsAt": now, "fingerprint": "g7"},
        ],
    });
    let (status, r) = host.post("/internal/debug/alerts", &webhook).await;
    assert_eq!(status, 202, "{r}");
    assert_eq!(r["tasks"].as_array().unwrap().len(), 1, "only the firing alert that names a plugin: {r}");
    assert_eq!(r["skipped_without_plugin_label"], json!(["DiskFull"]));
    assert_eq!(r["rejected"][0]["error"]["code"], "unknown_tenant", "{r}");
    // No tenant label and no `alerts.default_tenant` in this config: rejected, alone.
    assert_eq!((r["rejected"][1]["alertname"].as_str(), r["rejected"][1]["error"]["code"].as_str()), (Some("Untenanted"), Some("no_tenant")), "{r}");
    let (_, again) = host.post("/internal/debug/alerts", &webhook).await;
    assert_eq!(again["tasks"][0]["task_id"], r["tasks"][0]["task_id"], "a repeated notification is the same task");
    let t = host.wait_state(r["tasks"][0]["task_id"].as_str().unwrap(), &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    assert_eq!(t["report"]["message"], "checkout error rate above 5%");
    let (status, err) = host.post("/internal/debug/alerts", &json!({"version": "3", "alerts": []})).await;
    assert_eq!((status, err["error"]["code"].as_str()), (400, Some("invalid_alert")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_killed_mid_task_is_replaced_and_the_task_completes_once() {
    let secrets = Secrets::generate();
    let loki = loki_with_incident(&secrets);
    // The first query hangs long enough for the test to kill the host mid-collection.
    *loki.slow.lock().unwrap() = (1, Duration::from_secs(30));
    let loki_addr = start_loki(loki.clone()).await;
    let tickets = Tickets::default();
    *tickets.regression_passes.lock().unwrap() = true;
    let ticket_addr = start_tickets(tickets.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
pipeline: {{ lease_seconds: 2, collect_deadline_ms: 60000 }}
{components}
sources:
  loki: {{ component: loki, settings: {{ url: "http://{loki_addr}" }}, grant: {{ allow_hosts: ["{loki_addr}"] }} }}
ticket: {{ endpoint: "http://{ticket_addr}" }}
regression: {{ url: "http://{ticket_addr}/internal/debug/regression/run" }}
default: {{ masker: masker, sources: [loki], ticket_mapper: mapper }}
tenants:
  default: {{}}
"#,
            components = guest_components()
        ),
    );
    let data = dir.path().join("data");
    let mut first = Host::start(&config, &data);
    let request = json!({"error_event_id": "evt-restart", "tenant": "default", "plugin": {"id": "checkout"}, "environments": ["prod"], "window": window()});
    let (status, created) = first.post("/internal/debug/report", &request).await;
    assert_eq!(status, 202);
    let task = created["task_id"].as_str().unwrap().to_string();
    first.wait_state(&task, &["collecting"], 30).await;
    // Wait until the host is really inside the slow source call, then kill it hard.
    for _ in 0..100 {
        if loki.slow.lock().unwrap().0 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill();

    let second = Host::start(&config, &data);
    let (status, again) = second.post("/internal/debug/report", &request).await;
    assert_eq!((status, again["task_id"].as_str()), (200, Some(task.as_str())), "the restarted host knows the task");
    let t = second.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    assert_eq!(t["report"]["summary"]["logs"], 40);
    secrets.assert_absent("the report", &t.to_string());
    let history: Vec<&str> = t["history"].as_array().unwrap().iter().map(|h| h["state"].as_str().unwrap()).collect();
    assert_eq!(history.iter().filter(|s| **s == "collecting").count(), 2, "collected once per host: {history:?}");
    assert_eq!(tickets.creates.lock().unwrap().len(), 1, "one ticket, not two");

    let (status, _) = second.post(&format!("/internal/debug/report/{task}/regression"), &json!({})).await;
    assert_eq!(status, 202);
    let t = second.wait_state(&task, &["closed", "failed"], 60).await;
    assert_eq!(t["state"], "closed", "{t:#}");
    assert_eq!(tickets.creates.lock().unwrap().len(), 1);
    assert_eq!(tickets.updates.lock().unwrap().len(), 1);
}

/// Two hosts in one trace; the worker's clock is 5 s ahead of the gateway's. The
/// report corrects the worker's spans and lines, says so, and its timeline and
/// first error follow corrected time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_with_a_clock_five_seconds_ahead_is_corrected_in_the_report() {
    const MS: i64 = 1_000_000;
    let ahead = 5_000 * MS;
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let t0 = now_ns() - 60_000 * MS;
    let trace = "5ce0e4736a3ce9294bf92f3577b34da6";
    let line = |host: &str, ts: i64, level: &str, msg: &str, span: &str| {
        json!({"ts": ts, "level": level, "msg": msg, "plugin": "checkout", "env": "prod", "host": host, "trace_id": trace, "span_id": span})
    };
    let records = [
        // The gateway calls the worker for 400 ms; the worker works for 300 ms in the
        // middle of it (50 ms out, 50 ms back), but stamps everything 5 s late.
        json!({"kind": "span", "trace_id": trace, "span_id": "aaaaaaaaaaaaaaa1", "name": "POST /checkout", "service": "gateway", "host": "gateway-0", "env": "prod", "ts": t0, "duration_ms": 400}),
        json!({"kind": "span", "trace_id": trace, "span_id": "bbbbbbbbbbbbbbb2", "parent_span_id": "aaaaaaaaaaaaaaa1", "name": "charge", "service": "worker", "host": "worker-0", "env": "prod", "ts": t0 + 50 * MS + ahead, "duration_ms": 300, "error": true}),
        line("gateway-0", t0 + 20 * MS, "info", "gateway: calling worker", "aaaaaaaaaaaaaaa1"),
        line("worker-0", t0 + 200 * MS + ahead, "error", "worker: payment declined", "bbbbbbbbbbbbbbb2"),
        line("gateway-0", t0 + 380 * MS, "error", "gateway: worker answered 502", "aaaaaaaaaaaaaaa1"),
        line("gateway-0", t0 + 2_000 * MS, "info", "gateway: request done", "aaaaaaaaaaaaaaa1"),
    ];
    let body: String = records.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(files.join("checkout.ndjson"), body).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
{components}
pipeline: {{ max_clock_skew_ms: 60000 }}
sources:
  files: {{ component: ndjson, grant: {{ dir: "{files}" }} }}
default: {{ masker: masker, sources: [files] }}
tenants:
  default: {{}}
"#,
            components = guest_components(),
            files = files.display()
        ),
    );
    let host = Host::start(&config, &dir.path().join("data"));
    let (status, created) = host
        .post("/internal/debug/report", &json!({"error_event_id": "skew-1", "tenant": "default", "plugin": {"id": "checkout"}, "environments": ["prod"], "window": window()}))
        .await;
    assert_eq!(status, 202, "{created}");
    let task = created["task_id"].as_str().unwrap().to_string();
    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    let report = &t["report"];
    assert_fits_report_schema(&host, report).await;

    // Centred in its parent, the worker's span gives exactly the injected offset;
    // the tolerance stated for the estimate is 5 ms.
    let adjusted = report["clock"]["adjusted"].as_array().expect("a clock section");
    assert_eq!(adjusted.len(), 1, "{:#}", report["clock"]);
    assert_eq!(adjusted[0]["host"], "worker-0");
    let offset = adjusted[0]["offset_ms"].as_i64().unwrap();
    assert!((offset + 5_000).abs() <= 5, "recovered {offset} ms, want -5000 ± 5");
    assert_eq!(adjusted[0]["relative_to"], json!(["gateway-0"]));
    assert_eq!(adjusted[0]["from_spans"], 1);
    assert_eq!(report["clock"]["max_skew_ms"], 60_000);

    // In corrected time the worker's failure comes between the gateway's call and
    // its 502; in raw time it would have been last, and the 502 the first error.
    let timeline: Vec<&str> = report["timeline"].as_array().unwrap().iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(timeline, ["gateway: calling worker", "worker: payment declined", "gateway: worker answered 502", "gateway: request done"]);
    assert_eq!(report["summary"]["first_error"]["message"], "worker: payment declined");
    let worker_time = chrono::DateTime::parse_from_rfc3339(report["timeline"][1]["time"].as_str().unwrap()).unwrap();
    let true_time = chrono::DateTime::from_timestamp_nanos(t0 + 200 * MS);
    assert!((worker_time.timestamp_millis() - true_time.timestamp_millis()).abs() <= 5, "{worker_time} vs {true_time}");
    // The worker's lines stay linked to their spans by trace and span id.
    assert_eq!(report["timeline"][1]["span"], "charge");
    assert_eq!(report["timeline"][0]["span"], "POST /checkout");
    assert_eq!(report["traces"][0]["trace_id"], trace);
    assert_eq!(report["traces"][0]["logs"], 4);

    let (status, md) = host.get_bytes(&format!("/internal/debug/report/{task}/markdown")).await;
    assert_eq!(status, 200);
    let md = String::from_utf8(md).unwrap();
    assert!(md.contains(&format!("- worker-0 moved by {offset:+} ms (relative to gateway-0, from 1 spans)")), "{md}");
}

/// One source hanging does not hold the report: the collection budget (5 s by
/// default) cuts it, the report is out with what the other source found, and the
/// hanging source is `missing` with a `deadline` failure. (How long it took is
/// printed, not asserted.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_source_does_not_hold_the_report() {
    let secrets = Secrets::generate();
    let loki = loki_with_incident(&secrets);
    *loki.slow.lock().unwrap() = (1, Duration::from_secs(60));
    let loki_addr = start_loki(loki).await;
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    files_source(&files);
    let config = write_config(
        dir.path(),
        &format!(
            r#"
{components}
sources:
  loki: {{ component: loki, settings: {{ url: "http://{loki_addr}" }}, grant: {{ allow_hosts: ["{loki_addr}"] }} }}
  files: {{ component: ndjson, grant: {{ dir: "{files}" }} }}
default: {{ masker: masker, sources: [loki, files] }}
tenants:
  default: {{}}
"#,
            components = guest_components(),
            files = files.display(),
        ),
    );
    let host = Host::start(&config, &dir.path().join("data"));
    let started = std::time::Instant::now();
    let (status, c) = host.post("/internal/debug/report", &json!({"error_event_id": "hang", "tenant": "default", "plugin": {"id": "checkout"}, "window": window()})).await;
    assert_eq!(status, 202, "{c}");
    let t = host.wait_state(c["task_id"].as_str().unwrap(), &["awaiting_fix", "failed"], 30).await;
    println!("report with one source hanging: {} ms from the trigger", started.elapsed().as_millis());
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    let loki = t["report"]["sources"].as_array().unwrap().iter().find(|s| s["name"] == "loki").unwrap().clone();
    assert_eq!((loki["status"].as_str(), loki["error_kind"].as_str()), (Some("missing"), Some("deadline")), "{loki}");
    assert!(loki["error"].as_str().unwrap().contains("5000 ms collection deadline"), "{loki}");
    assert_eq!(t["report"]["summary"]["logs"], 5, "the files source's lines are in");
}

/// The caps that bound a diagnosis's memory: a source that holds more than
/// `pipeline.source_limit` stops there and says the window may hold more; over
/// `pipeline.report_limit` the records farthest in time from the first error are
/// dropped; both are stated in the report and its Markdown, and the counts are of
/// what was kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caps_bound_what_a_report_holds_and_the_report_says_what_they_dropped() {
    const MS: i64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let t0 = now_ns() - 120_000 * MS;
    let line = |host: &str, i: i64, level: &str| {
        json!({"ts": t0 + i * MS, "level": level, "msg": format!("{host} line {i}"), "plugin": "checkout", "env": "prod", "host": host}).to_string() + "\n"
    };
    // `big` holds 300 lines a millisecond apart; the connector may read 100 of them.
    // `small` holds 50, one of them the error, at 75 ms.
    let (big, small) = (dir.path().join("big"), dir.path().join("small"));
    std::fs::create_dir_all(&big).unwrap();
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(big.join("a.ndjson"), (0..300).map(|i| line("big-0", i, "info")).collect::<String>()).unwrap();
    std::fs::write(small.join("a.ndjson"), (50..100).map(|i| line("small-0", i, if i == 75 { "error" } else { "info" })).collect::<String>()).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"
{components}
pipeline: {{ source_limit: 100, report_limit: 120 }}
sources:
  big: {{ component: ndjson, grant: {{ dir: "{big}" }} }}
  small: {{ component: ndjson, grant: {{ dir: "{small}" }} }}
default: {{ masker: masker, sources: [big, small] }}
tenants:
  default: {{}}
"#,
            components = guest_components(),
            big = big.display(),
            small = small.display(),
        ),
    );
    let host = Host::start(&config, &dir.path().join("data"));
    let (status, created) = host
        .post("/internal/debug/report", &json!({"error_event_id": "caps-1", "tenant": "default", "plugin": {"id": "checkout"}, "environments": ["prod"], "window": window()}))
        .await;
    assert_eq!(status, 202, "{created}");
    let task = created["task_id"].as_str().unwrap().to_string();
    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    let report = &t["report"];
    assert_fits_report_schema(&host, report).await;

    let sources = report["sources"].as_array().unwrap();
    let of = |name: &str| sources.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("{name} in {sources:?}"));
    assert_eq!(of("big")["records"], 100);
    let capped = &of("big")["truncated"];
    assert_eq!((capped["limit"].as_u64(), capped["setting"].as_str(), capped["more_may_exist"].as_bool()), (Some(100), Some("pipeline.source_limit"), Some(true)), "{capped:#}");
    assert!(of("small").get("truncated").is_none(), "{:#}", of("small"));

    // 150 records in, 120 kept: the 30 farthest from the error at 75 ms are lines
    // 0..30 of `big` (the farthest small line, 99, is 24 ms away).
    let cut = &report["truncated"];
    assert_eq!((cut["limit"].as_u64(), cut["dropped_logs"].as_u64(), cut["setting"].as_str()), (Some(120), Some(30), Some("pipeline.report_limit")), "{cut:#}");
    assert_eq!(report["summary"]["logs"], 120);
    assert_eq!(report["summary"]["first_error"]["message"], "small-0 line 75");
    let timeline: Vec<&str> = report["timeline"].as_array().unwrap().iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(!timeline.iter().any(|m| ["big-0 line 0", "big-0 line 29"].contains(m)), "{timeline:?}");

    let (status, md) = host.get_bytes(&format!("/internal/debug/report/{task}/markdown")).await;
    assert_eq!(status, 200);
    let md = String::from_utf8(md).unwrap();
    assert!(md.contains("**Partial:** the sources returned 150 records, over the per-report cap of 120"), "{md}");
    assert!(md.contains("capped: the source stopped at the per-source cap of 100 records"), "{md}");
}

/// `casefile bench http` runs end to end on a small incident: it starts a host,
/// its three sources are accounted for in the report (files used, the slow export
/// used, the failing one missing), and it prints p50 and p99. What the times are is
/// the bench's business, not this test's.
#[test]
fn the_http_bench_drives_a_real_host_through_its_api() {
    let out = std::process::Command::new(BIN)
        .args(["bench", "http", "--count", "2", "--logs", "2000", "--spans", "200", "--slow-ms", "300"])
        .env("CASEFILE_BENCH_CACHE", shared_cache_dir())
        .env_remove("CASEFILE_DATABASE_URL")
        .output()
        .expect("run the bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let row = |name: &str| stdout.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| panic!("no {name} row in\n{stdout}")).to_string();
    assert!(row("files").contains("used") && row("files").contains("1200 records"), "{stdout}");
    assert!(row("slow-export").contains("used") && row("slow-export").contains("1000 records"), "{stdout}");
    assert!(row("failing-export").contains("missing"), "{stdout}");
    assert!(stdout.contains("trigger to readable report, ms: p50 "), "{stdout}");
    assert!(stdout.contains("over 2 diagnoses"), "{stdout}");
}

/// `casefile bench` runs to the end on a small incident: the report loop through
/// the real connectors, masker and gate, the call overheads and the throughput
/// figures, with the gate finding nothing the masker left. The times themselves are
/// the bench's business, not this test's.
#[test]
fn the_masking_bench_runs_to_the_end() {
    let out = std::process::Command::new(BIN)
        .args(["bench", "--logs", "1200", "--spans", "60", "--iterations", "2", "--calls", "20", "--chunk", "250"])
        .env("CASEFILE_BENCH_CACHE", shared_cache_dir())
        .output()
        .expect("run the bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // Errors every 500 lines (an address at 0 and 1000, a key at 250, 750 and 500's address).
    assert!(stdout.contains("records per report: 1260, values masked: 5"), "{stdout}");
    for row in ["report generation ms: p50 ", "fresh instance + empty masker call", "native detectors", "wasm masker (masker-default, chunks of 250"] {
        assert!(stdout.contains(row), "no {row:?} in\n{stdout}");
    }
    assert!(stdout.contains("gate over the masked output:") && stdout.contains("(0 leaks)"), "{stdout}");
    assert!(stdout.contains("chunks side by side (as the pipeline runs it)"), "{stdout}");
}

/// A database that cannot be opened is named in the error, its password is not: a
/// closed port and, on the machine's PostgreSQL, a database that does not exist.
#[test]
fn database_errors_name_the_database_but_not_its_password() {
    let password = format!("pw{}", hex_sha(b"database password").get(..24).unwrap_or_default());
    let real = std::env::var("CASEFILE_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let host_port = real.split_once('@').and_then(|(_, at)| at.split_once('/')).map(|(h, _)| h.to_string()).unwrap_or_else(|| "127.0.0.1:5432".into());
    let urls = [
        format!("postgres://casefile:{password}@127.0.0.1:{}/casefile", closed_port()),
        format!("postgres://postgres:{password}@{host_port}/casefile_no_such_db_{}", closed_port()),
    ];
    for url in urls {
        let out = std::process::Command::new(BIN).args(["token", "list", "--database-url", &url]).output().expect("run casefile");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}: {err}");
        assert!(err.contains("cannot open database") && err.contains("***"), "{err}");
        assert!(!err.contains(&password) && !String::from_utf8_lossy(&out.stdout).contains(&password), "the password is printed: {err}");
    }
}
