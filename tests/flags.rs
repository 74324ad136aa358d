//! Feature flags at runtime, against the real binary: switched through the API and
//! the CLI by the platform role only, audited, kept across a restart; with
//! `debug-observability-v2` off no connector is called and the report says so; with
//! `debug-regression-auto` off a regression run waits, queued, and runs when the
//! flag is on again.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

fn window() -> Value {
    let now = chrono::Utc::now();
    json!({"start": (now - chrono::Duration::minutes(30)).to_rfc3339(), "end": (now + chrono::Duration::minutes(1)).to_rfc3339()})
}

async fn put_flag(host: &Host, token: &str, name: &str, enabled: Value) -> (u16, Value) {
    let r = host.http.put(host.url(&format!("/internal/flags/{name}"))).bearer_auth(token).json(&json!({"enabled": enabled})).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_switch_collection_and_regression_at_runtime_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let t0 = chrono::Utc::now().timestamp_nanos_opt().unwrap() - 5_000_000_000;
    std::fs::write(
        files.join("app.ndjson"),
        format!("{}\n", json!({"ts": t0, "level": "error", "msg": "charge failed", "plugin": "checkout", "env": "prod", "host": "h1"})),
    )
    .unwrap();
    let tickets = Tickets::default();
    *tickets.regression_passes.lock().unwrap() = true;
    let ticket_addr = start_tickets(tickets.clone()).await;
    // The owners' notification receiver (a Slack-style incoming webhook).
    let heard: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = Default::default();
    let sink = heard.clone();
    let receiver = serve(axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(v);
                "ok"
            }
        }),
    ))
    .await;
    let template = dir.path().join("report_template.yaml");
    std::fs::write(&template, "{}\n").unwrap();
    let config = dir.path().join("casefile.yaml");
    std::fs::write(
        &config,
        format!(
            r#"
report: {{ template: "{template}" }}
runtime: {{ cache_dir: "{cache}" }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  ndjson: {{ kind: connector, source: "builtin:connector-ndjson" }}
  mapper: {{ kind: ticket-mapper, source: "builtin:ticket-platform" }}
sources:
  files: {{ component: ndjson, grant: {{ dir: "{files}" }} }}
ticket: {{ endpoint: "http://{ticket_addr}" }}
notify: {{ url: "http://{receiver}/hook", format: slack }}
owners: {{ default_queue: [triage], routes: [{{ plugin: checkout, environment: prod, owners: [team-checkout] }}] }}
regression: {{ url: "http://{ticket_addr}/internal/debug/regression/run" }}
default: {{ masker: masker, sources: [files], ticket_mapper: mapper }}
tenants:
  default: {{}}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            files = files.display(),
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let admin = fake_admin_token();
    let mut host = Host::start_with_token(&config, &data, &admin);
    let platform = host.make_token("platform", &["*"]).await;
    let developer = host.make_token("developer", &["*"]).await;

    let (status, flags) = host.get_as(&developer, "/internal/flags").await;
    assert_eq!(status, 200);
    assert_eq!(flags["flags"], json!({"debug-observability-v2": true, "debug-regression-auto": true, "debug-ticket-bridge": true}));
    assert_eq!(put_flag(&host, &developer, "debug-observability-v2", json!(false)).await.0, 403);
    let (status, e) = put_flag(&host, &platform, "debug-nothing", json!(false)).await;
    assert_eq!((status, e["error"]["code"].as_str()), (404, Some("unknown_flag")), "{e}");
    let (status, e) = put_flag(&host, &platform, "debug-observability-v2", json!("off")).await;
    assert_eq!(status, 400, "{e}");

    // Collection off: accepted, no connector called, the report says why.
    let (status, f) = put_flag(&host, &platform, "debug-observability-v2", json!(false)).await;
    assert_eq!((status, f["flags"]["debug-observability-v2"].as_bool()), (200, Some(false)), "{f}");
    let diagnose = |event: &'static str| {
        let host = &host;
        async move {
            let (status, t) = host.post("/internal/debug/report", &json!({"error_event_id": event, "tenant": "default", "plugin": {"id": "checkout"}, "window": window(), "message": "checkout broke"})).await;
            assert_eq!(status, 202, "{t}");
            let id = t["task_id"].as_str().unwrap().to_string();
            (id.clone(), host.wait_state(&id, &["awaiting_fix", "failed"], 60).await)
        }
    };
    let (_, off) = diagnose("off").await;
    assert_eq!(off["state"], "awaiting_fix", "{off:#}");
    assert_eq!(off["report"]["summary"]["logs"], 0);
    let source = &off["report"]["sources"][0];
    assert_eq!(source["status"], "missing");
    assert!(source["error"].as_str().unwrap().contains("collection is disabled (flag debug-observability-v2 is off)"), "{source}");
    assert!(off["report"]["title"].as_str().unwrap().contains("checkout broke"), "the trigger's own data: {}", off["report"]["title"]);
    // On again: collected.
    put_flag(&host, &platform, "debug-observability-v2", json!(true)).await;
    let (task, on) = diagnose("on").await;
    assert_eq!(on["report"]["summary"]["logs"], 1, "{:#}", on["report"]["summary"]);

    // Regression paused: the run waits (not failed, not lost), then runs when on.
    let (ok, out, err) = {
        let o = Command::new(BIN).args(["--server", &host.base, "--token", &platform, "flag", "set", "debug-regression-auto", "off"]).output().unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    assert!(ok && out.contains("debug-regression-auto: off"), "{out}{err}");
    let (status, r) = host.post_as(&developer, &format!("/internal/debug/report/{task}/regression"), &json!({})).await;
    assert_eq!(status, 202, "{r}");
    // Longer than max_attempts (5) claims at one per 2 s pause: a counted retry would
    // have failed the task by now.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let (_, waiting) = host.get(&format!("/internal/debug/report/{task}")).await;
    assert_eq!(waiting["state"], "verifying", "{waiting:#}");
    assert!(tickets.regressions.lock().unwrap().is_empty(), "the runner was called while paused");
    put_flag(&host, &platform, "debug-regression-auto", json!(true)).await;
    let closed = host.wait_state(&task, &["closed", "failed"], 30).await;
    assert_eq!(closed["state"], "closed", "{closed:#}");

    // Kept across a restart: the stored value beats the config's. With the bridge
    // off, the owners hear of the manual hand-off.
    put_flag(&host, &platform, "debug-ticket-bridge", json!(false)).await;
    let (_, manual) = diagnose("manual").await;
    assert!(manual["ticket"].is_null(), "{manual:#}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !heard.lock().unwrap().iter().any(|m| m["text"].as_str().unwrap_or("").contains("hand this report off")) {
        assert!(std::time::Instant::now() < deadline, "no hand-off message: {:?}", heard.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    {
        let heard = heard.lock().unwrap();
        let created = heard.iter().find(|m| m["text"].as_str().unwrap_or("").starts_with("*New ticket*")).expect("a ticket.created message");
        let text = created["text"].as_str().unwrap();
        // The route names environment prod; these diagnoses name none, and the tenant
        // has no owners: the default queue.
        assert!(text.contains("owners: triage"), "routed owners: {text}");
        assert!(text.contains("Ticket: <http://tickets.test/PLAT-") && text.contains("/internal/debug/report/tsk_"), "links: {text}");
        assert!(heard.iter().all(|m| m.as_object().is_some_and(|o| o.len() == 1)), "Slack form is {{\"text\"}} only");
    }
    host.kill();
    let host = Host::start_with_token(&config, &data, &admin);
    let (_, flags) = host.get("/internal/flags").await;
    assert_eq!(flags["flags"]["debug-ticket-bridge"], false, "{flags}");
    // The auto-close rate is read from the database: the new process reports the
    // close the old one made.
    let metrics = host.http.get(host.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for line in ["debug_ticket_autoclose_rate 1", "debug_ticket_autoclosed 1", "debug_ticket_autoclose_attempts 1"] {
        assert!(metrics.lines().any(|l| l == line), "{line} after a restart:\n{metrics}");
    }
    let (_, audit) = host.get("/internal/audit").await;
    let changes = audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "flag.changed" && e["actor"]["role"] == "platform").count();
    assert_eq!(changes, 5, "every change is audited with its actor");
}
