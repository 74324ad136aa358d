//! The shipped `ticket-jira` mapper through the real binary, against a loopback
//! stand-in for Jira Cloud's REST v3 that checks the credentials the host attaches
//! (basic: the account's e-mail and an API token, from a file) and keeps what it
//! was sent: an issue with an ADF description, a comment on recurrence, the close
//! transition (with its comment) after a passing regression, the reopen transition
//! on a later recurrence. Every body is checked against Jira's published schemas
//! (tests/fixtures/vendor/jira: the REST v3 request bodies and the ADF schema).

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{json, Value};
use support::*;

#[derive(Clone, Default)]
struct Jira {
    /// (method path, body) of every accepted request.
    seen: Arc<Mutex<Vec<(String, Value)>>>,
    refused: Arc<Mutex<usize>>,
    /// Bodies that did not fit Jira's schemas (answered 400, as Jira would).
    invalid: Arc<Mutex<Vec<String>>>,
    base: Arc<Mutex<String>>,
    auth: String,
}

impl Jira {
    fn allowed(&self, headers: &HeaderMap) -> bool {
        let ok = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(self.auth.as_str());
        if !ok {
            *self.refused.lock().unwrap() += 1;
        }
        ok
    }

    fn with(&self, prefix: &str) -> Vec<Value> {
        self.seen.lock().unwrap().iter().filter(|(p, _)| p.starts_with(prefix)).map(|(_, b)| b.clone()).collect()
    }
}

async fn create(State(j): State<Jira>, headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    if !j.allowed(&headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"errorMessages": ["not logged in"], "errors": {}})));
    }
    if let Err(e) = check(&body, "IssueUpdateDetails", &[&body["fields"]["description"]]) {
        j.invalid.lock().unwrap().push(e.clone());
        return (StatusCode::BAD_REQUEST, Json(json!({"errorMessages": [e], "errors": {}})));
    }
    let mut seen = j.seen.lock().unwrap();
    seen.push(("create".into(), body));
    let n = seen.iter().filter(|(p, _)| p == "create").count();
    let base = j.base.lock().unwrap().clone();
    (StatusCode::CREATED, Json(json!({"id": format!("{}", 10000 + n), "key": format!("OPS-{n}"), "self": format!("{base}/rest/api/3/issue/{}", 10000 + n)})))
}

async fn comment(State(j): State<Jira>, Path(key): Path<String>, headers: HeaderMap, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    if !j.allowed(&headers) {
        return (StatusCode::UNAUTHORIZED, Json(json!({})));
    }
    if let Err(e) = check(&body, "Comment", &[&body["body"]]) {
        j.invalid.lock().unwrap().push(e.clone());
        return (StatusCode::BAD_REQUEST, Json(json!({"errorMessages": [e], "errors": {}})));
    }
    j.seen.lock().unwrap().push((format!("comment {key}"), body.clone()));
    (StatusCode::CREATED, Json(json!({"id": "1", "body": body["body"]})))
}

async fn transition(State(j): State<Jira>, Path(key): Path<String>, headers: HeaderMap, Json(body): Json<Value>) -> StatusCode {
    if !j.allowed(&headers) {
        return StatusCode::UNAUTHORIZED;
    }
    let comments: Vec<&Value> = body["update"]["comment"].as_array().into_iter().flatten().map(|c| &c["add"]["body"]).collect();
    if let Err(e) = check(&body, "IssueUpdateDetails", &comments) {
        j.invalid.lock().unwrap().push(e);
        return StatusCode::BAD_REQUEST;
    }
    j.seen.lock().unwrap().push((format!("transition {key}"), body));
    StatusCode::NO_CONTENT
}

/// Whether `body` fits the REST v3 schema `name` and each of `docs` is a valid ADF
/// document; the violations when not.
fn check(body: &Value, name: &str, docs: &[&Value]) -> Result<(), String> {
    let rest: Value = serde_json::from_str(include_str!("fixtures/vendor/jira/rest-v3.schemas.json")).expect("fixture");
    let root = json!({"$ref": format!("#/components/schemas/{name}"), "components": rest["components"]});
    let rest = jsonschema::validator_for(&root).expect("the REST v3 excerpt is a schema");
    let mut errors: Vec<String> = rest.iter_errors(body).map(|e| format!("{name}: {e} at {}", e.instance_path)).collect();
    let adf: Value = serde_json::from_str(include_str!("fixtures/vendor/jira/adf.schema.json")).expect("fixture");
    let adf = jsonschema::validator_for(&adf).expect("the ADF schema is a schema");
    if docs.is_empty() {
        errors.push("no ADF document where one was expected".into());
    }
    for doc in docs {
        errors.extend(adf.iter_errors(doc).map(|e| format!("ADF: {e} at {}", e.instance_path)));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{errors:?} in {body}"))
    }
}

/// The checker refuses what Jira refuses: a plain-text description (API v2 style),
/// an ADF node of an unknown type, a transition id that is not a string.
#[test]
fn the_schema_check_can_fail() {
    let doc = json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "hi"}]}]});
    let good = json!({"fields": {"summary": "s", "description": doc}});
    assert_eq!(check(&good, "IssueUpdateDetails", &[&good["fields"]["description"]]), Ok(()));
    let plain = json!({"fields": {"summary": "s", "description": "hi"}});
    assert!(check(&plain, "IssueUpdateDetails", &[&plain["fields"]["description"]]).is_err());
    let odd = json!({"type": "doc", "version": 1, "content": [{"type": "blink", "content": []}]});
    assert!(check(&json!({"body": odd}), "Comment", &[&odd]).is_err());
    let numeric = json!({"transition": {"id": 31}});
    assert!(check(&numeric, "IssueUpdateDetails", &[&doc]).is_err());
}

/// The plain text of an ADF document, paragraphs joined by newlines.
fn adf_text(doc: &Value) -> String {
    let mut out = Vec::new();
    for block in doc["content"].as_array().into_iter().flatten() {
        let text: String = block["content"].as_array().into_iter().flatten().filter_map(|n| n["text"].as_str()).collect();
        out.push(text);
    }
    out.join("\n")
}

async fn wait_count(j: &Jira, prefix: &str, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while j.with(prefix).len() < n {
        assert!(Instant::now() < deadline, "{prefix}: {} of {n} in 60 s: {:#?}", j.with(prefix).len(), j.seen.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ticket_loop_against_a_jira_stand_in() {
    let dir = tempfile::tempdir().unwrap();
    let token = hex::encode(rand::random::<[u8; 12]>());
    let jira = Jira { auth: format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("bot@example.com:{token}"))), ..Jira::default() };
    let router = Router::new()
        .route("/rest/api/3/issue", post(create))
        .route("/rest/api/3/issue/{key}/comment", post(comment))
        .route("/rest/api/3/issue/{key}/transitions", post(transition))
        .with_state(jira.clone());
    let addr = serve(router).await;
    *jira.base.lock().unwrap() = format!("http://{addr}");
    let runner = Tickets::default();
    *runner.regression_passes.lock().unwrap() = true;
    let runner_addr = start_tickets(runner).await;

    let token_file = dir.path().join("jira.token");
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
  jira: {{ kind: ticket-mapper, source: "builtin:ticket-jira" }}
ticket:
  endpoint: "http://{addr}"
  retry_base_ms: 50
  retry_max_ms: 200
  settings: {{ project_key: OPS, close_transition_id: "31", reopen_transition_id: "11", labels: [casefile] }}
  credentials: {{ scheme: basic, username: bot@example.com, from_file: "{token_file}" }}
regression: {{ url: "http://{runner_addr}/internal/debug/regression/run" }}
default: {{ masker: masker, sources: [], ticket_mapper: jira }}
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
    let diagnose = |event: &'static str| {
        let host = &host;
        async move {
            let (status, t) = host
                .post("/internal/debug/report", &json!({"error_event_id": event, "tenant": "default", "plugin": {"id": "checkout"}, "message": "inventory lock timed out"}))
                .await;
            assert_eq!(status, 202, "{t}");
            t["task_id"].as_str().unwrap().to_string()
        }
    };

    let a = diagnose("j-1").await;
    let ta = host.wait_state(&a, &["awaiting_fix", "failed"], 60).await;
    assert_eq!((ta["ticket"]["id"].as_str(), ta["ticket"]["url"].as_str()), (Some("OPS-1"), Some(format!("http://{addr}/browse/OPS-1").as_str())), "{ta:#}");
    let created = &jira.with("create")[0];
    assert_eq!((created["fields"]["project"]["key"].as_str(), created["fields"]["issuetype"]["name"].as_str()), (Some("OPS"), Some("Bug")));
    let description = &created["fields"]["description"];
    assert_eq!((description["type"].as_str(), description["version"].as_u64()), (Some("doc"), Some(1)), "{description:#}");
    assert!(adf_text(description).contains(&format!("casefile task {a}")), "{description:#}");

    let b = diagnose("j-2").await;
    host.wait_state(&b, &["awaiting_fix", "failed"], 60).await;
    wait_count(&jira, "comment OPS-1", 1).await;
    assert!(adf_text(&jira.with("comment OPS-1")[0]["body"]).starts_with("Seen again: occurrence 2"));

    let (status, _) = host.post(&format!("/internal/debug/report/{a}/regression"), &json!({"ref": "fix-1"})).await;
    assert_eq!(status, 202);
    assert_eq!(host.wait_state(&a, &["closed", "failed"], 60).await["state"], "closed");
    let close = &jira.with("transition OPS-1")[0];
    assert_eq!(close["transition"], json!({"id": "31"}));
    assert!(!adf_text(&close["update"]["comment"][0]["add"]["body"]).is_empty(), "the regression's outcome rides along: {close:#}");

    let c = diagnose("j-3").await;
    host.wait_state(&c, &["awaiting_fix", "failed"], 60).await;
    wait_count(&jira, "transition OPS-1", 2).await;
    let reopen = &jira.with("transition OPS-1")[1];
    assert_eq!(reopen["transition"], json!({"id": "11"}));
    assert!(adf_text(&reopen["update"]["comment"][0]["add"]["body"]).starts_with("Regression:"), "{reopen:#}");

    assert_eq!(*jira.refused.lock().unwrap(), 0, "every request carried the host's credentials");
    assert!(jira.invalid.lock().unwrap().is_empty(), "bodies Jira's schemas refuse: {:#?}", jira.invalid.lock().unwrap());
    assert_eq!(jira.with("create").len(), 1, "one issue");
    assert!(!host.log().contains(&token), "the token stays out of the host's log");
}
