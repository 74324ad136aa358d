//! The NATS JetStream trigger (`events.nats`) against the machine's real nats-server
//! (127.0.0.1:4222 with JetStream; scripts/services starts it; CASEFILE_TEST_NATS
//! overrides), through the real binary. Every test has a stream, a durable consumer
//! and a subject of its own, and deletes its stream at the end.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use futures::StreamExt;
use serde_json::{json, Value};
use support::*;

fn nats_url() -> String {
    std::env::var("CASEFILE_TEST_NATS").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// One test's corner of the NATS server.
struct Bus {
    client: async_nats::Client,
    js: jetstream::Context,
    subject: String,
    stream: String,
    consumer: String,
}

impl Bus {
    async fn new() -> Bus {
        let url = nats_url();
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(url.as_str())
            .await
            .unwrap_or_else(|e| panic!("NATS is not reachable at {url} ({e}); start it with scripts/services (nats-server -js)"));
        let id = hex::encode(rand::random::<[u8; 6]>());
        Bus {
            js: jetstream::new(client.clone()),
            client,
            subject: format!("casefile.test.{id}.plugin.debug.alert"),
            stream: format!("CASEFILE_TEST_{id}"),
            consumer: format!("casefile-test-{id}"),
        }
    }

    /// The `events.nats` section naming this bus.
    fn config(&self) -> String {
        format!(
            "events:\n  nats: {{ url: \"{}\", subject: \"{}\", stream: {}, consumer: {}, ack_wait_seconds: 2, stream_max_age_hours: 1 }}\n",
            nats_url(),
            self.subject,
            self.stream,
            self.consumer
        )
    }

    /// Waits until the host has bound its durable consumer.
    async fn wait_consumer(&self, host: &Host) -> jetstream::consumer::Info {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(stream) = self.js.get_stream(&self.stream).await {
                if let Ok(info) = stream.consumer_info(&self.consumer).await {
                    return info.clone();
                }
            }
            assert!(Instant::now() < deadline, "the host did not bind consumer {} on stream {} in 60 s; its log:\n{}", self.consumer, self.stream, host.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn consumer_info(&self) -> jetstream::consumer::Info {
        self.js.get_stream(&self.stream).await.expect("stream").consumer_info(&self.consumer).await.expect("consumer").clone()
    }

    /// Waits until the consumer has nothing pending or unacknowledged.
    async fn wait_drained(&self) -> jetstream::consumer::Info {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let info = self.consumer_info().await;
            if info.num_pending == 0 && info.num_ack_pending == 0 {
                return info;
            }
            assert!(Instant::now() < deadline, "messages still pending after 60 s: {info:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Publishes `payload` into the stream (waiting for JetStream to store it), asking
    /// for casefile's answer on a fresh inbox; returns the inbox's subscription.
    async fn publish(&self, payload: Vec<u8>) -> async_nats::Subscriber {
        let inbox = self.client.new_inbox();
        let replies = self.client.subscribe(inbox.clone()).await.expect("subscribe to the inbox");
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Casefile-Reply-To", inbox.as_str());
        self.js
            .publish_with_headers(self.subject.clone(), headers, payload.into())
            .await
            .expect("publish")
            .await
            .expect("JetStream stored the message");
        replies
    }

    async fn cleanup(&self) {
        let _ = self.js.delete_stream(&self.stream).await;
    }
}

/// casefile's answer on `replies`: (status, body).
async fn answer(replies: &mut async_nats::Subscriber, host: &Host) -> (u16, Value) {
    let msg = tokio::time::timeout(Duration::from_secs(60), replies.next())
        .await
        .unwrap_or_else(|_| panic!("no answer from casefile in 60 s; its log:\n{}", host.log()))
        .expect("an answer");
    let status = msg.headers.as_ref().and_then(|h| h.get("Casefile-Status")).and_then(|v| v.as_str().parse().ok()).expect("Casefile-Status");
    (status, serde_json::from_slice(&msg.payload).expect("a JSON answer"))
}

fn event(id: &str, tenant: &str) -> Vec<u8> {
    let now = chrono::Utc::now();
    json!({
        "type": "plugin.debug.alert", "error_event_id": id, "tenant": tenant,
        "plugin": {"id": "checkout", "version": "2.4.1"}, "environments": ["prod"],
        "window": {"start": (now - chrono::Duration::minutes(10)).to_rfc3339(), "end": (now + chrono::Duration::minutes(1)).to_rfc3339()},
        "message": "checkout answered 500 to /charge",
        "regression": {"strategy": "none"},
    })
    .to_string()
    .into_bytes()
}

/// A host with one files source (a few lines of `checkout` in prod) and the bus's
/// `events.nats`.
fn write_config(dir: &Path, bus: &Bus, extra: &str) -> PathBuf {
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let t0 = chrono::Utc::now().timestamp_nanos_opt().unwrap() - 60_000_000_000;
    let lines: String = (0..5)
        .map(|i| json!({"ts": t0 + i * 1_000_000_000, "level": if i == 3 { "error" } else { "info" }, "msg": format!("charge step {i}"), "plugin": "checkout", "env": "prod", "host": "runtime-1"}).to_string() + "\n")
        .collect();
    std::fs::write(files.join("checkout.ndjson"), lines).unwrap();
    let template = dir.join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, traces, metrics, masking]\n").unwrap();
    let config = dir.join("casefile.yaml");
    std::fs::write(
        &config,
        format!(
            r#"report: {{ template: {template} }}
runtime: {{ cache_dir: {cache} }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  ndjson: {{ kind: connector, source: "builtin:connector-ndjson" }}
sources:
  files: {{ component: ndjson, grant: {{ dir: "{files}" }} }}
default: {{ masker: masker, sources: [files] }}
tenants:
  default: {{}}
{events}{extra}"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            files = files.display(),
            events = bus.config(),
        ),
    )
    .unwrap();
    config
}

async fn metric(host: &Host, name_and_labels: &str) -> f64 {
    let text = host.http.get(host.url("/metrics")).bearer_auth(&host.token).send().await.expect("metrics").text().await.expect("text");
    text.lines().find_map(|l| l.strip_prefix(name_and_labels).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_published_event_becomes_one_task_with_a_report() {
    let bus = Bus::new().await;
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(&write_config(dir.path(), &bus, ""), &dir.path().join("data"));
    bus.wait_consumer(&host).await;

    let (status, first) = answer(&mut bus.publish(event("evt-nats-1", "default")).await, &host).await;
    assert_eq!(status, 202, "{first}");
    let task = first["task_id"].as_str().expect("task_id").to_string();
    // The same event again is the same task, answered as the HTTP route answers a repeat.
    let (status, again) = answer(&mut bus.publish(event("evt-nats-1", "default")).await, &host).await;
    assert_eq!((status, again["task_id"].as_str()), (200, Some(task.as_str())), "{again}");
    // And over HTTP too: one idempotency for every channel.
    let (status, http) = host.post("/internal/debug/events", &serde_json::from_slice(&event("evt-nats-1", "default")).unwrap()).await;
    assert_eq!((status, http["task_id"].as_str()), (200, Some(task.as_str())), "{http}");

    let t = host.wait_state(&task, &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    assert_eq!(t["report"]["message"], "checkout answered 500 to /charge");
    let files = t["report"]["sources"].as_array().expect("sources").iter().find(|s| s["name"] == "files").cloned().expect("the files source");
    assert_eq!(files["status"], "used", "{files}");
    let audit = host.get("/internal/audit").await.1;
    let created = audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "task.created" && e["subject"] == task.as_str()).count();
    assert_eq!(created, 1, "one task.created for two messages and a request");

    let info = bus.wait_drained().await;
    assert_eq!((info.ack_floor.stream_sequence, info.num_redelivered), (2, 0), "both acknowledged once: {info:?}");
    assert_eq!(metric(&host, "casefile_nats_messages_total{outcome=\"created\"}").await, 1.0);
    assert_eq!(metric(&host, "casefile_nats_messages_total{outcome=\"repeat\"}").await, 1.0);
    assert_eq!(metric(&host, "casefile_nats_consuming").await, 1.0);
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_message_is_terminated_and_does_not_block_the_next() {
    let bus = Bus::new().await;
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(&write_config(dir.path(), &bus, ""), &dir.path().join("data"));
    bus.wait_consumer(&host).await;

    let (status, e) = answer(&mut bus.publish(b"{not json".to_vec()).await, &host).await;
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("invalid_json")), "{e}");
    let (status, e) = answer(&mut bus.publish(event("evt-nobody", "nobody")).await, &host).await;
    assert_eq!((status, e["error"]["code"].as_str()), (404, Some("unknown_tenant")), "{e}");
    let (status, e) = answer(&mut bus.publish(br#"{"type": "something.else"}"#.to_vec()).await, &host).await;
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("invalid_event")), "{e}");
    let (status, ok) = answer(&mut bus.publish(event("evt-after", "default")).await, &host).await;
    assert_eq!(status, 202, "the message after the invalid ones is taken: {ok}");
    let t = host.wait_state(ok["task_id"].as_str().unwrap(), &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");

    // Terminated, not left to be delivered again: all four are past the ack floor
    // and none was redelivered.
    let info = bus.wait_drained().await;
    assert_eq!((info.ack_floor.stream_sequence, info.num_redelivered), (4, 0), "{info:?}");
    let audit = host.get("/internal/audit").await.1;
    let refused: Vec<&Value> = audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "trigger.rejected").collect();
    assert_eq!(refused.len(), 3, "{refused:#?}");
    assert_eq!(refused[1]["detail"]["code"], "unknown_tenant", "{refused:#?}");
    assert_eq!(refused[1]["actor"], "nats");
    assert!(host.log().contains("NATS trigger refused"), "the reason is logged");
    assert_eq!(metric(&host, "casefile_nats_messages_total{outcome=\"rejected\"}").await, 3.0);
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_on_nats_follow_the_tenant_rule_and_resolved_alerts_land_on_their_task() {
    let bus = Bus::new().await;
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(&write_config(dir.path(), &bus, ""), &dir.path().join("data"));
    bus.wait_consumer(&host).await;
    let starts = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
    let alert = |status: &str, labels: Value| {
        json!({"version": "4", "status": status, "alerts": [
            {"status": status, "labels": labels, "annotations": {"summary": "checkout error rate above 5%"},
             "startsAt": starts, "endsAt": if status == "resolved" { json!(chrono::Utc::now().to_rfc3339()) } else { Value::Null }, "fingerprint": "fp-nats-1"},
        ]})
        .to_string()
        .into_bytes()
    };

    // No tenant label and no alerts.default_tenant: refused, terminated.
    let (status, r) = answer(&mut bus.publish(alert("firing", json!({"alertname": "PluginErrors", "plugin": "checkout"}))).await, &host).await;
    assert_eq!((status, r["rejected"][0]["error"]["code"].as_str()), (202, Some("no_tenant")), "{r}");
    let labels = json!({"alertname": "PluginErrors", "plugin": "checkout", "tenant": "default", "environment": "prod"});
    let (_, r) = answer(&mut bus.publish(alert("firing", labels.clone())).await, &host).await;
    let task = r["tasks"][0]["task_id"].as_str().unwrap_or_else(|| panic!("a task: {r}")).to_string();
    host.wait_state(&task, &["awaiting_fix"], 60).await;
    // Resolved (twice, as Alertmanager repeats itself): noted once on the task.
    for _ in 0..2 {
        let (status, r) = answer(&mut bus.publish(alert("resolved", labels.clone())).await, &host).await;
        assert_eq!((status, r["resolved"][0]["task_id"].as_str(), r["tasks"].as_array().map(Vec::len)), (202, Some(task.as_str()), Some(0)), "{r}");
    }
    // The HTTP route takes the same resolved alert the same way.
    let (status, r) = host.post("/internal/debug/alerts", &serde_json::from_slice(&alert("resolved", labels.clone())).unwrap()).await;
    assert_eq!((status, r["resolved"][0]["task_id"].as_str()), (202, Some(task.as_str())), "{r}");
    let t = host.get(&format!("/internal/debug/report/{task}")).await.1;
    let notes: Vec<&Value> = t["history"].as_array().unwrap().iter().filter(|e| e["detail"].as_str().is_some_and(|d| d.starts_with("alert resolved at "))).collect();
    assert_eq!(notes.len(), 1, "{:#}", t["history"]);
    assert_eq!(t["state"], "awaiting_fix", "resolving the alert does not move the task");
    let info = bus.wait_drained().await;
    assert_eq!(info.num_redelivered, 0, "{info:?}");
    let audit = host.get("/internal/audit").await.1;
    let resolved = audit["entries"].as_array().unwrap().iter().filter(|e| e["action"] == "alert.resolved" && e["subject"] == task.as_str()).count();
    assert_eq!(resolved, 1);
    bus.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_published_while_the_host_is_down_is_taken_when_it_starts() {
    let bus = Bus::new().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &bus, "");
    let data = dir.path().join("data");
    let mut host = Host::start(&config, &data);
    bus.wait_consumer(&host).await;
    host.kill();

    let mut replies = bus.publish(event("evt-while-down", "default")).await;
    // Stored and not acknowledged: waiting for a consumer, or handed to the dead
    // host's last pull request and so due again after ack_wait.
    let info = bus.consumer_info().await;
    // While the server re-queues a message whose ack_wait ran out it can count it
    // both as pending and as awaiting its ack (seen under load: 1 + 1, redelivered 1).
    let waiting = info.num_pending + info.num_ack_pending as u64;
    assert!(waiting == 1 || waiting == 2 && info.num_redelivered > 0, "{info:?}");
    assert_eq!(info.ack_floor.stream_sequence, 0, "not acknowledged: {info:?}");
    let host = Host::start(&config, &data);
    let (status, r) = answer(&mut replies, &host).await;
    assert_eq!(status, 202, "{r}");
    let t = host.wait_state(r["task_id"].as_str().unwrap(), &["awaiting_fix", "failed"], 60).await;
    assert_eq!(t["state"], "awaiting_fix", "{t:#}");
    bus.wait_drained().await;
    bus.cleanup().await;
}
