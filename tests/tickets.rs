//! The ticket bridge against the real binary and a loopback ticket system: delivery
//! survives an outage (connection refused, then 503) and creates once; a refusal
//! (400) is recorded and not retried; racing diagnoses of one fingerprint on two
//! hosts make one ticket and an occurrence comment; a recurrence after a close
//! reopens, or after the reopen window opens a new ticket linking the old one.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::*;

/// A config with no log sources (the request's message is the failure, so equal
/// messages are one fingerprint) and backoff small enough for a test.
fn config(dir: &Path, ticket_port: u16, regression: &str, ticket_extra: &str) -> PathBuf {
    config_on(dir, ticket_port, regression, ticket_extra, None)
}

/// The same, on the given database (else SQLite in the data dir).
fn config_on(dir: &Path, ticket_port: u16, regression: &str, ticket_extra: &str, database_url: Option<&str>) -> PathBuf {
    let template = dir.join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, traces, metrics, masking]\n").unwrap();
    let p = dir.join("casefile.yaml");
    std::fs::write(
        &p,
        format!(
            r#"report: {{ template: {template} }}
{database}
runtime: {{ cache_dir: {cache}, call_timeout_ms: 5000, memory_limit_mb: 64, output_limit_mb: 8 }}
pipeline: {{ lease_seconds: 5 }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  mapper: {{ kind: ticket-mapper, source: "builtin:ticket-platform" }}
ticket: {{ endpoint: "http://127.0.0.1:{ticket_port}", retry_base_ms: 50, retry_max_ms: 200{ticket_extra} }}
regression: {{ url: "http://{regression}/internal/debug/regression/run" }}
default: {{ masker: masker, sources: [], ticket_mapper: mapper, owners: [team-checkout] }}
tenants:
  default: {{}}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            database = database_url.map(|u| format!("database_url: \"{u}\"")).unwrap_or_default(),
        ),
    )
    .unwrap();
    p
}

fn diagnosis(event: &str, message: &str) -> Value {
    json!({"error_event_id": event, "tenant": "default", "plugin": {"id": "checkout"}, "environments": ["prod"], "message": message})
}

async fn open(host: &Host, event: &str, message: &str) -> String {
    let (status, created) = host.post("/internal/debug/report", &diagnosis(event, message)).await;
    assert_eq!(status, 202, "{created}");
    created["task_id"].as_str().expect("task id").to_string()
}

/// Polls the task until `done` holds of it; panics with the last view.
async fn wait_for(host: &Host, task: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
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

/// Polls until the fake ticket system has seen `n` of something.
async fn wait_count(what: &str, n: usize, count: impl Fn() -> usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while count() < n {
        assert!(Instant::now() < deadline, "{what}: {} of {n} in 60 s", count());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn updates_with(tickets: &Tickets, f: impl Fn(&Value) -> bool) -> Vec<Value> {
    tickets.updates.lock().unwrap().iter().filter(|u| f(u)).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_of_the_ticket_system_holds_the_task_and_creates_once_afterwards() {
    let port = closed_port();
    let tickets = Tickets::default();
    let passing = Tickets::default();
    *passing.regression_passes.lock().unwrap() = true;
    let runner = start_tickets(passing).await;
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(&config(dir.path(), port, &runner.to_string(), ""), &dir.path().join("data"));
    let task = open(&host, "evt-outage", "payment provider timed out").await;

    // Nothing listens: the task waits in ticketing, saying so, instead of failing.
    // The task notes the wait in its history the next time it looks at its entry.
    let t = wait_for(&host, &task, "two refused connections, noted", |t| {
        t["ticket"]["delivery"]["attempts"].as_i64() >= Some(2) && t["history"].to_string().contains("ticketing: waiting for the ticket system since")
    })
    .await;
    assert_eq!(t["state"], "ticketing", "{t:#}");
    let delivery = &t["ticket"]["delivery"];
    assert_eq!((delivery["action"].as_str(), delivery["state"].as_str()), (Some("create"), Some("pending")), "{t:#}");
    assert!(delivery["detail"].as_str().unwrap().starts_with("ticketing: waiting for the ticket system since "), "{t:#}");
    assert!(delivery["answer"].as_str().unwrap().contains("did not answer"), "{t:#}");
    assert_eq!((t["ticket"]["id"].as_str(), t["ticket"]["state"].as_str()), (Some(""), Some("pending")));

    // It comes up answering 503 for a while: still waiting, nothing created.
    *tickets.fail_with.lock().unwrap() = Some(503);
    start_tickets_on(tickets.clone(), port).await;
    wait_count("503 answers", 3, || tickets.refused.lock().unwrap().len()).await;
    let (_, t) = host.get(&format!("/internal/debug/report/{task}")).await;
    assert_eq!(t["state"], "ticketing", "{t:#}");
    assert!(t["ticket"]["delivery"]["answer"].as_str().unwrap().contains("503"), "{t:#}");

    // Back: the ticket is created exactly once and the task moves on.
    *tickets.fail_with.lock().unwrap() = None;
    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    assert_eq!((t["ticket"]["id"].as_str(), t["ticket"]["state"].as_str()), (Some("PLAT-1"), Some("open")), "{t:#}");
    assert!(t["ticket"]["delivery"].is_null(), "{t:#}");
    assert_eq!(tickets.creates.lock().unwrap().len(), 1, "exactly one create");
    assert!(tickets.updates.lock().unwrap().is_empty());

    let metrics = reqwest::get(host.url("/metrics")).await.unwrap().text().await.unwrap();
    for line in [r#"casefile_ticket_deliveries_total{action="create",outcome="retry"}"#, r#"casefile_ticket_deliveries_total{action="create",outcome="delivered"} 1"#] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    assert!(metrics.contains("casefile_ticket_outbox_depth") && metrics.contains("casefile_ticket_outbox_oldest_age_seconds"), "{metrics}");

    // The fix passes while the ticket system is down again: the task closes only
    // once the ticket system has taken the close.
    *tickets.fail_with.lock().unwrap() = Some(503);
    let (status, _) = host.post(&format!("/internal/debug/report/{task}/regression"), &json!({"ref": "fix-1"})).await;
    assert_eq!(status, 202);
    let t = wait_for(&host, &task, "a refused close", |t| t["ticket"]["delivery"]["attempts"].as_i64() >= Some(2)).await;
    assert_eq!((t["state"].as_str(), t["ticket"]["delivery"]["action"].as_str()), (Some("verifying"), Some("close")), "{t:#}");
    *tickets.fail_with.lock().unwrap() = None;
    let t = host.wait_state(&task, &["closed", "failed"], 60).await;
    assert_eq!((t["state"].as_str(), t["ticket"]["state"].as_str()), (Some("closed"), Some("closed")), "{t:#}");
    let updates = tickets.updates.lock().unwrap().clone();
    assert_eq!(updates.len(), 1, "{updates:?}");
    assert_eq!((updates[0]["id"].as_str(), updates[0]["state"].as_str()), (Some("PLAT-1"), Some("closed")));
    assert_eq!(tickets.creates.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_by_the_ticket_system_is_recorded_and_not_retried() {
    let tickets = Tickets::default();
    *tickets.fail_with.lock().unwrap() = Some(400);
    let addr = start_tickets(tickets.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(&config(dir.path(), addr.port(), &addr.to_string(), ""), &dir.path().join("data"));
    let task = open(&host, "evt-refused", "card declined by issuer").await;
    let t = host.wait_state(&task, &["failed", "awaiting_fix"], 60).await;
    assert_eq!((t["state"].as_str(), t["error"]["code"].as_str()), (Some("failed"), Some("ticket_rejected")), "{t:#}");
    assert!(t["error"]["message"].as_str().unwrap().contains("answered 400"), "{t:#}");
    assert_eq!(t["ticket"]["delivery"]["state"], "rejected", "{t:#}");
    assert!(t["ticket"]["delivery"]["answer"].as_str().unwrap().contains("answered 400 by the test"), "{t:#}");

    // A later failure, delivered after the refusal, shows the outbox kept going
    // without sending the refused create again.
    *tickets.fail_with.lock().unwrap() = None;
    let other = open(&host, "evt-fine", "a different failure").await;
    assert_eq!(host.wait_state(&other, &["awaiting_fix", "failed"], 60).await["state"], "awaiting_fix");
    assert_eq!(tickets.refused.lock().unwrap().len(), 1, "the refused create was sent once");
    let (_, audit) = host.get("/internal/audit?limit=1000").await;
    assert!(audit.to_string().contains("ticket.rejected"), "{audit}");

    // A refused occurrence comment leaves the ticket as it is: the task records the
    // answer and waits for its fix instead of failing.
    *tickets.fail_with.lock().unwrap() = Some(422);
    let again = open(&host, "evt-fine-2", "a different failure").await;
    let t = host.wait_state(&again, &["awaiting_fix", "failed"], 60).await;
    assert_eq!((t["state"].as_str(), t["ticket"]["id"].as_str()), (Some("awaiting_fix"), Some("PLAT-1")), "{t:#}");
    assert_eq!((t["ticket"]["delivery"]["action"].as_str(), t["ticket"]["delivery"]["state"].as_str()), (Some("comment"), Some("rejected")), "{t:#}");
    assert!(t["history"].to_string().contains("the ticket comment was refused: the ticket system answered 422"), "{t:#}");
    assert_eq!(tickets.refused.lock().unwrap().len(), 2);
}

/// Two hosts share one SQLite file; each takes one diagnosis of the same failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_diagnoses_make_one_ticket_and_a_recurrence_after_close_reopens_it() {
    race_and_recur(None).await;
}

/// The same with two hosts on PostgreSQL, the backend for several hosts (the
/// machine's PostgreSQL, trust auth; CASEFILE_TEST_POSTGRES overrides), in a
/// database of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_diagnoses_on_postgres_make_one_ticket_and_a_recurrence_reopens_it() {
    sqlx::any::install_default_drivers();
    let admin_url = std::env::var("CASEFILE_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let admin = sqlx::AnyPool::connect(&admin_url).await.expect("PostgreSQL on 127.0.0.1:5432");
    let db = format!("casefile_tickets_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE DATABASE {db}")).execute(&admin).await.unwrap();
    let url = format!("{}/{db}", admin_url.rsplit_once('/').expect("a database in the URL").0);
    // A password in the connection string (trust auth ignores it): the hosts use
    // the URL and never print the password.
    let password = format!("pw{}", uuid::Uuid::new_v4().simple());
    let url = match url.split_once("://").and_then(|(scheme, rest)| rest.split_once('@').map(|(user, at)| (scheme, user, at))) {
        Some((scheme, user, at)) if !user.contains(':') => format!("{scheme}://{user}:{password}@{at}"),
        _ => url,
    };
    let logs = race_and_recur(Some(&url)).await;
    if url.contains(&password) {
        assert!(!logs.contains(&password), "the database password is in a host's log");
    }
    sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await.unwrap();
}

/// Returns what the two hosts logged.
async fn race_and_recur(database_url: Option<&str>) -> String {
    let tickets = Tickets::default();
    *tickets.regression_passes.lock().unwrap() = true;
    let addr = start_tickets(tickets.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_on(dir.path(), addr.port(), &addr.to_string(), "", database_url);
    let data = dir.path().join("data");
    // One admin token for both: each host stores the one it is given as admin.
    let token = fake_admin_token();
    let first = Host::start_with_token(&config, &data, &token);
    let second = Host::start_with_token(&config, &data, &token);
    let message = "inventory service returned 502 for order 81723";
    let (a, b) = tokio::join!(open(&first, "evt-race-1", message), open(&second, "evt-race-2", "inventory service returned 502 for order 99"));
    let ta = first.wait_state(&a, &["awaiting_fix", "failed"], 60).await;
    let tb = second.wait_state(&b, &["awaiting_fix", "failed"], 60).await;
    assert_eq!((ta["state"].as_str(), tb["state"].as_str()), (Some("awaiting_fix"), Some("awaiting_fix")), "{ta:#}\n{tb:#}");
    assert_eq!(ta["report"]["fingerprint"], tb["report"]["fingerprint"], "one failure");
    assert_eq!(tickets.creates.lock().unwrap().len(), 1, "one ticket for one fingerprint");
    assert_eq!((ta["ticket"]["id"].as_str(), tb["ticket"]["id"].as_str()), (Some("PLAT-1"), Some("PLAT-1")));
    let seen = updates_with(&tickets, |u| u["comment"].as_str().is_some_and(|c| c.contains("Seen again: occurrence 2")));
    assert_eq!(seen.len(), 1, "{:?}", tickets.updates.lock().unwrap());
    assert_eq!((seen[0]["id"].as_str(), seen[0]["state"].as_str()), (Some("PLAT-1"), Some("open")));
    let (_, tb) = second.get(&format!("/internal/debug/report/{b}")).await;
    assert_eq!(tb["ticket"]["occurrences"], 2, "{tb:#}");

    // The fix passes: the ticket closes.
    let (status, _) = first.post(&format!("/internal/debug/report/{a}/regression"), &json!({"ref": "fix-1"})).await;
    assert_eq!(status, 202);
    assert_eq!(first.wait_state(&a, &["closed", "failed"], 60).await["state"], "closed");
    assert_eq!(updates_with(&tickets, |u| u["state"] == "closed").len(), 1, "the task closes once the ticket is closed");
    // Its audit trail is archived (on either backend), the ticket's entries with it.
    let (status, archive) = second.get(&format!("/internal/audit/archives/{a}")).await;
    assert_eq!((status, archive["intact"].as_bool()), (200, Some(true)), "{archive:#}");
    // (Which of the two racing tasks created the ticket varies; each has an entry on it.)
    assert!(archive["entries"].as_array().unwrap().iter().any(|e| e["action"].as_str().is_some_and(|a| a.starts_with("ticket.")) && e["subject"] == "PLAT-1"), "{archive:#}");

    // It comes back: the same ticket is reopened, with a comment calling it a regression.
    let c = open(&second, "evt-race-3", message).await;
    let tc = second.wait_state(&c, &["awaiting_fix", "failed"], 60).await;
    assert_eq!((tc["state"].as_str(), tc["ticket"]["id"].as_str(), tc["ticket"]["state"].as_str()), (Some("awaiting_fix"), Some("PLAT-1"), Some("open")), "{tc:#}");
    let reopened = updates_with(&tickets, |u| u["state"] == "open" && u["comment"].as_str().is_some_and(|c| c.starts_with("Regression")));
    assert_eq!(reopened.len(), 1, "{:?}", tickets.updates.lock().unwrap());
    assert_eq!(reopened[0]["id"], "PLAT-1");
    assert_eq!(tickets.creates.lock().unwrap().len(), 1, "reopened, not created again");
    first.log() + &second.log()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recurrence_after_the_reopen_window_opens_a_new_ticket_linking_the_old() {
    let tickets = Tickets::default();
    *tickets.regression_passes.lock().unwrap() = true;
    let addr = start_tickets(tickets.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    // A window of 0 days: any recurrence after a close is past it.
    let host = Host::start(&config(dir.path(), addr.port(), &addr.to_string(), ", reopen_window_days: 0"), &dir.path().join("data"));
    let message = "webhook signature mismatch";
    let a = open(&host, "evt-old", message).await;
    assert_eq!(host.wait_state(&a, &["awaiting_fix", "failed"], 60).await["ticket"]["id"], "PLAT-1");
    let (status, _) = host.post(&format!("/internal/debug/report/{a}/regression"), &json!({})).await;
    assert_eq!(status, 202);
    assert_eq!(host.wait_state(&a, &["closed", "failed"], 60).await["state"], "closed");

    let b = open(&host, "evt-new", message).await;
    let tb = host.wait_state(&b, &["awaiting_fix", "failed"], 60).await;
    assert_eq!((tb["ticket"]["id"].as_str(), tb["ticket"]["previous_id"].as_str()), (Some("PLAT-2"), Some("PLAT-1")), "{tb:#}");
    assert_eq!(tickets.creates.lock().unwrap().len(), 2);
    wait_count("the link comment", 1, || updates_with(&tickets, |u| u["id"] == "PLAT-2").len()).await;
    let link = updates_with(&tickets, |u| u["id"] == "PLAT-2");
    let comment = link[0]["comment"].as_str().unwrap();
    assert!(comment.contains("Regression of closed ticket PLAT-1") && comment.contains("http://tickets.test/PLAT-1"), "{comment}");
    assert!(updates_with(&tickets, |u| u["id"] == "PLAT-1" && u["state"] == "open").is_empty(), "the old ticket is not reopened");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_cancels_a_delivery_that_waits_and_nothing_is_sent_later() {
    let port = closed_port();
    let tickets = Tickets::default();
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(&config(dir.path(), port, "127.0.0.1:9", ""), &dir.path().join("data"));
    let task = open(&host, "evt-cancel", "disk quota exceeded").await;
    wait_for(&host, &task, "a refused connection", |t| t["ticket"]["delivery"]["attempts"].as_i64() >= Some(1)).await;
    let (status, body) = host.post(&format!("/internal/debug/report/{task}/ticket/cancel"), &json!({"reason": "tickets by hand this week"})).await;
    assert_eq!((status, body["cancelled"].as_u64()), (200, Some(1)), "{body}");
    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    assert_eq!((t["ticket"]["delivery"]["state"].as_str(), t["ticket"]["state"].as_str()), (Some("cancelled"), Some("rejected")), "{t:#}");
    let (status, body) = host.post(&format!("/internal/debug/report/{task}/ticket/cancel"), &json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("nothing_pending")));

    // The ticket system comes up: the cancelled create is not sent; the next
    // diagnosis of the same failure creates the ticket.
    start_tickets_on(tickets.clone(), port).await;
    let next = open(&host, "evt-cancel-2", "disk quota exceeded").await;
    let t = host.wait_state(&next, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["ticket"]["id"], "PLAT-1", "{t:#}");
    let creates = tickets.creates.lock().unwrap().clone();
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0]["error_event_id"], "evt-cancel-2");
}

/// Regression and closure for a task an Alertmanager alert opened: the passing
/// regression closes the ticket, posts the alert back to Alertmanager ended
/// (`POST /api/v2/alerts`, same labels, `endsAt` now), says so on the task, and
/// archives the task's audit trail, which reads back intact and matches the hash
/// the audit log recorded. A task no alert opened posts nothing to Alertmanager.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passing_regression_resolves_the_alert_and_archives_the_audit_trail() {
    let tickets = Tickets::default();
    *tickets.regression_passes.lock().unwrap() = true;
    let addr = start_tickets(tickets.clone()).await;
    let posted: std::sync::Arc<std::sync::Mutex<Vec<Value>>> = Default::default();
    let seen = posted.clone();
    let alertmanager = serve(axum::Router::new().route(
        "/api/v2/alerts",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                axum::http::StatusCode::OK
            }
        }),
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), addr.port(), &addr.to_string(), "");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("alerts: {{ alertmanager_url: \"http://{alertmanager}/\" }}\n"));
    std::fs::write(&config, text).unwrap();
    let host = Host::start(&config, &dir.path().join("data"));

    let starts = chrono::Utc::now().to_rfc3339();
    let labels = json!({"alertname": "CheckoutErrors", "plugin": "checkout", "tenant": "default", "severity": "page"});
    let webhook = json!({"version": "4", "status": "firing", "alerts": [
        {"status": "firing", "labels": labels, "annotations": {"summary": "checkout error rate above 5%"},
         "startsAt": starts, "fingerprint": "c0ffee", "generatorURL": "http://prometheus:9090/graph?g0.expr=up"}]});
    let (status, r) = host.post("/internal/debug/alerts", &webhook).await;
    assert_eq!(status, 202, "{r}");
    let task = r["tasks"][0]["task_id"].as_str().expect("a task").to_string();
    // The ticket's id is known while its delivery is still pending (`ticketing`):
    // wait for the delivery, not the id, before the regression.
    let t = wait_for(&host, &task, "awaiting_fix", |t| t["state"] == "awaiting_fix").await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    let other = open(&host, "evt-no-alert", "payment provider timed out").await;
    wait_for(&host, &other, "awaiting_fix", |t| t["state"] == "awaiting_fix").await;

    for id in [&task, &other] {
        let (status, _) = host.post(&format!("/internal/debug/report/{id}/regression"), &json!({"ref": "fix-9"})).await;
        assert_eq!(status, 202);
        assert_eq!(host.wait_state(id, &["closed", "failed"], 60).await["state"], "closed");
    }
    let t = wait_for(&host, &task, "the alert noted", |t| t["history"].to_string().contains("alert: CheckoutErrors")).await;
    let history = t["history"].to_string();
    assert!(history.contains("alert: CheckoutErrors marked resolved in Alertmanager"), "{history}");
    let posts = posted.lock().unwrap().clone();
    assert_eq!(posts.len(), 1, "one post, for the alert's task only: {posts:?}");
    let ended = &posts[0][0];
    assert_eq!(ended["labels"], labels, "Alertmanager matches the alert by its labels");
    assert_eq!(ended["startsAt"], starts.as_str());
    assert_eq!(ended["generatorURL"], "http://prometheus:9090/graph?g0.expr=up");
    let ends = chrono::DateTime::parse_from_rfc3339(ended["endsAt"].as_str().expect("endsAt")).expect("RFC 3339");
    assert!(ends <= chrono::Utc::now() && ends >= chrono::DateTime::parse_from_rfc3339(&starts).unwrap(), "{ended}");

    // Both closed tasks have their trail archived, matching the audit log's record.
    let (_, log) = host.get("/internal/audit").await;
    for id in [&task, &other] {
        let (status, archive) = host.get(&format!("/internal/audit/archives/{id}")).await;
        assert_eq!(status, 200, "{archive}");
        assert_eq!(archive["intact"], true, "{archive:#}");
        let actions: Vec<&str> = archive["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions.first(), Some(&"task.created"), "{actions:?}");
        assert!(actions.contains(&"ticket.create") && actions.contains(&"ticket.close") && actions.contains(&"task.closed"), "{actions:?}");
        let recorded = log["entries"].as_array().unwrap().iter().find(|e| e["action"] == "audit.archived" && e["subject"] == id.as_str()).expect("audit.archived");
        assert_eq!(recorded["detail"]["sha256"], archive["sha256"]);
    }
    let alert_archive = host.get(&format!("/internal/audit/archives/{task}")).await.1;
    assert!(alert_archive.to_string().contains("alert.marked_resolved"), "the alert's resolution is in the trail: {alert_archive:#}");
    let (status, err) = host.get("/internal/audit/archives/tsk_nope").await;
    assert_eq!((status, err["error"]["code"].as_str()), (404, Some("no_archive")));
    let out = std::process::Command::new(BIN)
        .args(["audit", "archive", &task, "--server", &host.base])
        .env("CASEFILE_TOKEN", &host.token)
        .output()
        .expect("run casefile");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("intact") && said.contains("task.closed"), "{said}{}", String::from_utf8_lossy(&out.stderr));
}
