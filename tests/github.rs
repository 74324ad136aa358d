//! The shipped `ticket-github` mapper (world `ticket-mapper-comments`) through the
//! real binary, against a loopback stand-in for GitHub's Issues REST API that checks
//! the bearer token the host attaches and every request body against the excerpt of
//! GitHub's published OpenAPI description (tests/fixtures/vendor/github): an issue,
//! a comment on recurrence, the close (`state: closed, state_reason: completed`)
//! after a passing regression followed by its own comment, and the reopen on a
//! later recurrence with its comment. The first comment after the close fails once
//! (502): the delivery is retried whole, and the comment lands exactly once. The
//! regression runner here is asynchronous: it answers `queued` with a `poll_url`,
//! which the host polls until the verdict. A route sends another plugin's tickets
//! to another repository with labels of its own.

mod support;

#[path = "fixtures/vendor/schema_check.rs"]
mod schema_check;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{patch, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use support::*;

const CREATE: &str = include_str!("fixtures/vendor/github/issues-create.request.schema.json");
const UPDATE: &str = include_str!("fixtures/vendor/github/issues-update.request.schema.json");
const COMMENT: &str = include_str!("fixtures/vendor/github/issues-create-comment.request.schema.json");

#[derive(Clone, Default)]
struct GitHub {
    /// (what, body) of every accepted request, in order.
    seen: Arc<Mutex<Vec<(String, Value)>>>,
    /// Requests without the token, or with a body outside GitHub's schema.
    wrong: Arc<Mutex<Vec<String>>>,
    /// Comments still to fail with 502.
    fail_comments: Arc<Mutex<usize>>,
    state: Arc<Mutex<String>>,
    base: Arc<Mutex<String>>,
    auth: String,
}

impl GitHub {
    fn check(&self, headers: &HeaderMap, what: &str, body: &Value, schema: &str) -> bool {
        let mut wrong = self.wrong.lock().unwrap();
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(self.auth.as_str()) {
            wrong.push(format!("{what}: no or wrong token"));
            return false;
        }
        if headers.get("x-github-api-version").is_none() || headers.get("user-agent").is_none() {
            wrong.push(format!("{what}: GitHub's API version or a User-Agent is missing"));
        }
        let v = schema_check::violations(body, &schema_check::request_schema(schema));
        if !v.is_empty() {
            wrong.push(format!("{what}: {v:?}"));
        }
        true
    }

    fn with(&self, prefix: &str) -> Vec<Value> {
        self.seen.lock().unwrap().iter().filter(|(p, _)| p.starts_with(prefix)).map(|(_, b)| b.clone()).collect()
    }

    fn issue(&self, n: u64) -> Value {
        let base = self.base.lock().unwrap().clone();
        json!({"number": n, "html_url": format!("{base}/acme/checkout/issues/{n}"), "state": self.state.lock().unwrap().clone(),
               "url": format!("{base}/repos/acme/checkout/issues/{n}"), "title": "t"})
    }
}

async fn create(State(g): State<GitHub>, headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    if !g.check(&headers, "create", &body, CREATE) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"})));
    }
    g.seen.lock().unwrap().push(("create".into(), body));
    *g.state.lock().unwrap() = "open".into();
    (StatusCode::CREATED, Json(g.issue(7)))
}

/// Another repository, where a route sends the `billing` plugin's tickets.
async fn create_billing(State(g): State<GitHub>, headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    if !g.check(&headers, "create billing", &body, CREATE) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"})));
    }
    g.seen.lock().unwrap().push(("billing create".into(), body));
    let base = g.base.lock().unwrap().clone();
    (StatusCode::CREATED, Json(json!({"number": 1, "html_url": format!("{base}/acme/billing/issues/1"), "state": "open"})))
}

async fn comment(State(g): State<GitHub>, Path(n): Path<u64>, headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    if !g.check(&headers, "comment", &body, COMMENT) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"})));
    }
    {
        let mut fail = g.fail_comments.lock().unwrap();
        if *fail > 0 {
            *fail -= 1;
            g.seen.lock().unwrap().push(("failed comment".into(), body));
            return (StatusCode::BAD_GATEWAY, Json(json!({"message": "Server Error"})));
        }
    }
    g.seen.lock().unwrap().push((format!("comment {n}"), body.clone()));
    let base = g.base.lock().unwrap().clone();
    (StatusCode::CREATED, Json(json!({"id": 1, "body": body["body"], "issue_url": format!("{base}/repos/acme/checkout/issues/{n}")})))
}

async fn update(State(g): State<GitHub>, Path(n): Path<u64>, headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    if !g.check(&headers, "update", &body, UPDATE) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"message": "Bad credentials"})));
    }
    if let Some(s) = body["state"].as_str() {
        *g.state.lock().unwrap() = s.to_string();
    }
    g.seen.lock().unwrap().push((format!("update {n}"), body));
    (StatusCode::OK, Json(g.issue(n)))
}

async fn wait_count(g: &GitHub, prefix: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while g.with(prefix).len() < n {
        assert!(Instant::now() < deadline, "{prefix}: {} of {n} in 60 s: {:#?}", g.with(prefix).len(), g.seen.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ticket_loop_against_a_github_stand_in() {
    let dir = tempfile::tempdir().unwrap();
    let token = format!("fake_{}", hex::encode(rand::random::<[u8; 16]>()));
    let gh = GitHub { auth: format!("Bearer {token}"), ..GitHub::default() };
    let router = Router::new()
        .route("/repos/acme/checkout/issues", post(create))
        .route("/repos/acme/billing/issues", post(create_billing))
        .route("/repos/acme/checkout/issues/{n}/comments", post(comment))
        .route("/repos/acme/checkout/issues/{n}", patch(update))
        .with_state(gh.clone());
    let addr = serve(router).await;
    *gh.base.lock().unwrap() = format!("http://{addr}");
    // The runner takes its time: it answers `queued` with a poll_url, then
    // `running` twice before its verdict.
    let runner = Tickets::default();
    *runner.regression_passes.lock().unwrap() = true;
    *runner.regression_async.lock().unwrap() = true;
    let runner_addr = start_tickets(runner.clone()).await;

    let token_file = dir.path().join("github.token");
    std::fs::write(&token_file, format!("{token}\n")).unwrap();
    let template = dir.path().join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, errors]\n").unwrap();
    let config = dir.path().join("casefile.yaml");
    std::fs::write(
        &config,
        format!(
            r#"report: {{ template: {template} }}
runtime: {{ cache_dir: {cache} }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  github: {{ kind: ticket-mapper, source: "builtin:ticket-github" }}
ticket:
  endpoint: "http://{addr}"
  retry_base_ms: 50
  retry_max_ms: 200
  settings: {{ owner: acme, repo: checkout, labels: [casefile] }}
  credentials: {{ scheme: bearer, from_file: "{token_file}" }}
regression: {{ url: "http://{runner_addr}/internal/debug/regression/run", poll_interval_ms: 100 }}
owners:
  routes: [ {{ plugin: billing, owners: [team-billing], ticket_settings: {{ repo: billing, labels: [billing, casefile] }} }} ]
default: {{ masker: masker, sources: [], ticket_mapper: github }}
tenants:
  default: {{}}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            token_file = token_file.display(),
        ),
    )
    .unwrap();
    let host = Host::start(&config, &dir.path().join("data"));
    let diagnose_plugin = |event: &'static str, plugin: &'static str| {
        let host = &host;
        async move {
            let (status, t) = host
                .post("/internal/debug/report", &json!({"error_event_id": event, "tenant": "default", "plugin": {"id": plugin}, "message": "inventory lock timed out"}))
                .await;
            assert_eq!(status, 202, "{t}");
            t["task_id"].as_str().unwrap().to_string()
        }
    };
    let diagnose = |event: &'static str| diagnose_plugin(event, "checkout");

    let a = diagnose("gh-1").await;
    let ta = host.wait_state(&a, &["awaiting_fix", "failed"], 60).await;
    assert_eq!((ta["ticket"]["id"].as_str(), ta["ticket"]["url"].as_str()), (Some("7"), Some(format!("http://{addr}/acme/checkout/issues/7").as_str())), "{ta:#}");
    let created = &gh.with("create")[0];
    assert_eq!(created["labels"], json!(["casefile"]));
    assert!(created["body"].as_str().unwrap().contains(&a), "{created:#}");

    // A recurrence: a comment, the issue left as it is.
    let b = diagnose("gh-2").await;
    host.wait_state(&b, &["awaiting_fix", "failed"], 60).await;
    wait_count(&gh, "comment 7", 1).await;
    assert!(gh.with("update").is_empty());

    // A passing regression: the close, then its comment in a request of its own;
    // that comment fails once, so the close is sent again and the comment once.
    *gh.fail_comments.lock().unwrap() = 1;
    let (status, _) = host.post(&format!("/internal/debug/report/{a}/regression"), &json!({"ref": "fix-1"})).await;
    assert_eq!(status, 202);
    assert_eq!(host.wait_state(&a, &["closed", "failed"], 60).await["state"], "closed");
    assert_eq!(*runner.regression_polls.lock().unwrap(), 3, "polled until the verdict, then no more");
    wait_count(&gh, "comment 7", 2).await;
    let closes = gh.with("update 7");
    assert_eq!(closes.len(), 2, "the close was repeated with the retried delivery: {:#?}", gh.seen.lock().unwrap());
    assert!(closes.iter().all(|c| *c == json!({"state": "closed", "state_reason": "completed"})), "{closes:#?}");
    assert_eq!(gh.with("failed comment").len(), 1);
    let order: Vec<String> = gh.seen.lock().unwrap().iter().map(|(w, _)| w.clone()).collect();
    assert_eq!(order[2..], ["update 7", "failed comment", "update 7", "comment 7"], "close before its comment");
    let close_comment = gh.with("comment 7")[1]["body"].as_str().unwrap().to_string();
    assert!(!close_comment.is_empty() && close_comment == gh.with("failed comment")[0]["body"].as_str().unwrap(), "{close_comment}");

    // A later recurrence reopens, and says why in a comment of its own.
    let c = diagnose("gh-3").await;
    host.wait_state(&c, &["awaiting_fix", "failed"], 60).await;
    wait_count(&gh, "comment 7", 3).await;
    let updates = gh.with("update 7");
    assert_eq!(updates.last().unwrap()["state"], "open", "{updates:#?}");
    assert!(gh.with("comment 7")[2]["body"].as_str().unwrap().starts_with("Regression:"), "{:#?}", gh.with("comment 7"));

    // The route's own repository and labels, the rest of the settings as configured.
    let d = diagnose_plugin("gh-4", "billing").await;
    let td = host.wait_state(&d, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(td["ticket"]["url"].as_str(), Some(format!("http://{addr}/acme/billing/issues/1").as_str()), "{td:#}");
    assert_eq!(gh.with("billing create")[0]["labels"], json!(["billing", "casefile"]));

    assert!(gh.wrong.lock().unwrap().is_empty(), "{:#?}", gh.wrong.lock().unwrap());
    assert_eq!(gh.with("create").len(), 1, "one issue");
    assert!(!host.log().contains(&token), "the token stays out of the host's log");
}
