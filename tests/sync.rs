//! Two-way ticket sync, against the real binary: the ticket system's webhook, signed
//! with the shared secret (or sent with a service token), closes the task when a
//! person closes its ticket and puts it back when they reopen it; a wrong
//! signature, no credentials and an unknown ticket are refused.

mod support;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use support::*;

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_closing_or_reopening_the_ticket_moves_the_task() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let t0 = chrono::Utc::now().timestamp_nanos_opt().unwrap() - 5_000_000_000;
    std::fs::write(files.join("app.ndjson"), format!("{}\n", json!({"ts": t0, "level": "error", "msg": "charge failed", "plugin": "checkout", "env": "prod", "host": "h1"}))).unwrap();
    let tickets = Tickets::default();
    let ticket_addr = start_tickets(tickets.clone()).await;
    let template = dir.path().join("report_template.yaml");
    std::fs::write(&template, "{}\n").unwrap();
    let secret = hex::encode(rand::random::<[u8; 16]>());
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
ticket: {{ endpoint: "http://{ticket_addr}", webhook_secret: "{secret}" }}
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
    let host = Host::start(&config, &dir.path().join("data"));
    let (_, t) = host.post("/internal/debug/report", &json!({"error_event_id": "e1", "tenant": "default", "plugin": {"id": "checkout"}})).await;
    let task = t["task_id"].as_str().unwrap().to_string();
    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["ticket"]["id"], "PLAT-1", "{t:#}");

    let post = |body: Value, signature: Option<String>, token: Option<String>| {
        let host = &host;
        async move {
            let bytes = serde_json::to_vec(&body).unwrap();
            let mut req = host.http.post(host.url("/internal/ticket/events")).body(bytes);
            if let Some(s) = signature {
                req = req.header("X-Hub-Signature-256", s);
            }
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            let r = req.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let closed = json!({"ticket_id": "PLAT-1", "state": "closed", "actor": "ana"});
    let bytes = serde_json::to_vec(&closed).unwrap();
    let (status, e) = post(closed.clone(), Some(sign("not-the-secret", &bytes)), None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (401, Some("unauthorized")), "{e}");
    let (status, _) = post(closed.clone(), None, None).await;
    assert_eq!(status, 401);
    let developer = host.make_token("developer", &["*"]).await;
    let (status, _) = post(closed.clone(), None, Some(developer)).await;
    assert_eq!(status, 401, "only a service token or the signature");

    let (status, r) = post(closed.clone(), Some(sign(&secret, &bytes)), None).await;
    assert_eq!((status, r["effect"].as_str(), r["task_state"].as_str()), (200, Some("closed"), Some("closed")), "{r}");
    let (_, view) = host.get(&format!("/internal/debug/report/{task}")).await;
    assert_eq!(view["state"], "closed");
    assert!(view.to_string().contains("closed (manual)"), "the task says a person closed it: {view:#}");

    let service = host.make_token("service", &["default"]).await;
    let (status, r) = post(json!({"ticket_id": "PLAT-1", "state": "open", "actor": "ben"}), None, Some(service.clone())).await;
    assert_eq!((status, r["task_state"].as_str()), (200, Some("awaiting_fix")), "{r}");
    let (status, e) = post(json!({"ticket_id": "PLAT-999", "state": "closed"}), None, Some(service.clone())).await;
    assert_eq!((status, e["error"]["code"].as_str()), (404, Some("unknown_ticket")), "{e}");
    let (status, e) = post(json!({"ticket_id": "PLAT-1", "state": "triaged"}), None, Some(service)).await;
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("invalid_event")), "{e}");

    // GitLab's issue event, authenticated by its X-Gitlab-Token (the secret itself).
    let gitlab = |token: &str| {
        let req = host.http.post(host.url("/internal/ticket/events")).header("X-Gitlab-Token", token.to_string());
        req.json(&json!({"object_kind": "issue", "user": {"username": "cy"}, "object_attributes": {"iid": "PLAT-1", "action": "close", "state": "closed"}}))
    };
    assert_eq!(gitlab("not-the-secret").send().await.unwrap().status().as_u16(), 401);
    let r: Value = gitlab(&secret).send().await.unwrap().json().await.unwrap();
    assert_eq!((r["effect"].as_str(), r["task_state"].as_str()), (Some("closed"), Some("closed")), "{r}");

    let (_, audit) = host.get("/internal/audit").await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter(|e| e["actor"] == "ticket-system").filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions, ["ticket.closed", "ticket.reopened", "ticket.closed"]);
}
