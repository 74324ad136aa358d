//! The component lifecycle against the real binary: upload (checked: not a
//! component, a core module, the wrong world, a forbidden import, a missing or forged
//! signature), review (security only, not by the uploader), bindings per tenant that
//! switch for the next task without a restart while diagnoses keep running, rollback,
//! revocation that unbinds everywhere at once, the CLI for each step, and the audit
//! trail with its actors.

mod support;

use std::process::Command;

use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use support::*;

fn window() -> Value {
    let now = chrono::Utc::now();
    json!({"start": (now - chrono::Duration::minutes(30)).to_rfc3339(), "end": (now + chrono::Duration::minutes(1)).to_rfc3339()})
}

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn sign(key: &SigningKey, bytes: &[u8]) -> String {
    hex::encode(key.sign(&hex::decode(sha(bytes)).unwrap()).to_bytes())
}

struct Lab {
    host: Host,
    platform: String,
    security: String,
    publisher: SigningKey,
    _dir: tempfile::TempDir,
}

async fn start() -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let t0 = chrono::Utc::now().timestamp_nanos_opt().unwrap() - 5_000_000_000;
    let line = |i: i64, msg: &str| json!({"ts": t0 + i, "level": if i == 0 { "error" } else { "info" }, "msg": msg, "plugin": "checkout", "env": "prod", "host": "h1"}).to_string();
    let fake = Secrets::generate();
    std::fs::write(files.join("app.ndjson"), format!("{}\n{}\n", line(0, &format!("charge failed for {}", fake.email)), line(1, "retrying"))).unwrap();
    let publisher = SigningKey::from_bytes(&rand::random());
    let config = dir.path().join("casefile.yaml");
    let template = dir.path().join("report_template.yaml");
    std::fs::write(&template, "{}\n").unwrap();
    std::fs::write(
        &config,
        format!(
            r#"
report: {{ template: "{template}" }}
runtime: {{ cache_dir: "{cache}" }}
registry:
  require_signature: true
  trusted_keys: ["{key}"]
  require_distinct_approver: true
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  ndjson: {{ kind: connector, source: "builtin:connector-ndjson" }}
sources:
  files: {{ component: ndjson, grant: {{ dir: "{files}" }} }}
default: {{ masker: masker, sources: [files] }}
tenants:
  default: {{}}
  acme: {{}}
  globex: {{}}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            key = hex::encode(publisher.verifying_key().to_bytes()),
            files = files.display(),
        ),
    )
    .unwrap();
    let host = Host::start(&config, &dir.path().join("data"));
    let platform = host.make_token("platform", &["*"]).await;
    let security = host.make_token("security", &["*"]).await;
    Lab { host, platform, security, publisher, _dir: dir }
}

impl Lab {
    async fn upload(&self, token: &str, query: &str, bytes: &[u8], signature: Option<String>) -> (u16, Value) {
        let mut req = self.host.http.post(self.host.url(&format!("/internal/components?{query}"))).bearer_auth(token).body(bytes.to_vec());
        if let Some(s) = signature {
            req = req.header("X-Casefile-Signature", s);
        }
        let r = req.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn put(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let r = self.host.http.put(self.host.url(path)).bearer_auth(token).json(body).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    async fn diagnose(&self, tenant: &str, event: &str) -> String {
        let (status, t) = self
            .host
            .post("/internal/debug/report", &json!({"error_event_id": event, "tenant": tenant, "plugin": {"id": "checkout"}, "window": window(), "regression": {"strategy": "none"}}))
            .await;
        assert_eq!(status, 202, "{t}");
        t["task_id"].as_str().unwrap().to_string()
    }

    /// The masker hash a finished task names, and how many values its masker masked.
    async fn masker_of(&self, task: &str) -> (String, u64) {
        let t = self.host.wait_state(task, &["awaiting_fix", "failed"], 60).await;
        assert_eq!(t["state"], "awaiting_fix", "{t:#}");
        let masker = t["components"].as_array().unwrap().iter().find(|c| c["slot"] == "masker").expect("a masker slot")["sha256"].as_str().unwrap().to_string();
        let in_report = t["report"]["components"].as_array().unwrap().iter().any(|c| c["sha256"] == masker.as_str() && c["slot"] == "masker");
        assert!(in_report, "the report names the masker that ran: {t:#}");
        let masked = t["report"]["masking"]["rules"].as_object().map_or(0, |r| r.values().flat_map(|a| a.as_object().unwrap().values()).map(|n| n.as_u64().unwrap()).sum());
        (masker, masked)
    }

    fn cli(&self, token: &str, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(BIN).args(["--server", &self.host.base, "--token", token]).args(args).output().expect("run casefile");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_goes_from_upload_to_binding_to_revocation_without_a_restart() {
    let lab = start().await;
    let host = &lab.host;
    let leaky = std::fs::read(guest("leaky-masker")).unwrap();
    let leaky_sha = sha(&leaky);

    // Upload checks, each with its own code; nothing is stored for any of them.
    let socket = std::fs::read(guest("socket-masker")).unwrap();
    let core = [0u8, 0x61, 0x73, 0x6d, 1, 0, 0, 0];
    let connector = std::fs::read(guest("probe-connector")).unwrap();
    for (query, bytes, code) in [
        ("kind=masker", &b"#!/bin/sh\nrm -rf /"[..], "not_a_component"),
        ("kind=masker", &core[..], "core_module"),
        ("kind=masker", &connector[..], "wrong_world"),
        ("kind=masker", &socket[..], "forbidden_import"),
        ("kind=firmware", &leaky[..], "invalid_request"),
    ] {
        let (status, e) = lab.upload(&lab.platform, query, bytes, Some(sign(&lab.publisher, bytes))).await;
        assert_eq!((status, e["error"]["code"].as_str()), (400, Some(code)), "{query}: {e}");
    }
    let (_, e) = lab.upload(&lab.platform, "kind=masker", &socket, Some(sign(&lab.publisher, &socket))).await;
    assert!(e["error"]["message"].as_str().unwrap().contains("wasi:sockets"), "the refusal names the import: {e}");
    // Signatures: required here, and only a trusted key's counts.
    let (status, e) = lab.upload(&lab.platform, "kind=masker&name=leaky", &leaky, None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("signature_required")), "{e}");
    let forger = SigningKey::from_bytes(&rand::random());
    let (status, e) = lab.upload(&lab.platform, "kind=masker&name=leaky", &leaky, Some(sign(&forger, &leaky))).await;
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("invalid_signature")), "{e}");
    let (status, listed) = host.get_as(&lab.security, "/internal/components").await;
    assert_eq!(status, 200);
    assert!(!listed.to_string().contains(&leaky_sha), "a refused upload stored nothing");
    // Only platform may upload; then it is pending, with what review needs to see.
    let (status, _) = lab.upload(&lab.security, "kind=masker&name=leaky", &leaky, Some(sign(&lab.publisher, &leaky))).await;
    assert_eq!(status, 403);
    let (status, c) = lab.upload(&lab.platform, "kind=masker&name=leaky&version=1.0.0", &leaky, Some(sign(&lab.publisher, &leaky))).await;
    assert_eq!(status, 201, "{c}");
    assert_eq!((c["sha256"].as_str(), c["status"].as_str(), c["signature"].as_str()), (Some(leaky_sha.as_str()), Some("pending"), Some("valid")));
    assert_eq!(c["world"], "casefile:plugin/masker@0.2.0");
    assert_eq!(c["uploader"]["role"], "platform");
    assert!(c["imports"].as_array().unwrap().iter().any(|i| i.as_str().unwrap().starts_with("casefile:plugin/types@")), "{c}");
    let (status, again) = lab.upload(&lab.platform, "kind=masker&name=leaky", &leaky, Some(sign(&lab.publisher, &leaky))).await;
    assert_eq!((status, again["sha256"].as_str()), (200, Some(leaky_sha.as_str())), "the same bytes are the same component");

    // Not bindable until approved; approval is security's, and not the uploader's.
    let bind = json!({"components": [leaky_sha]});
    let (status, e) = lab.put(&lab.platform, "/internal/tenants/acme/bindings/masker", &bind).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("not_approved")), "{e}");
    let (status, _) = host.post_as(&lab.platform, &format!("/internal/components/{leaky_sha}/approve"), &json!({})).await;
    assert_eq!(status, 403, "platform cannot approve");
    // The CLI: push under another token is the uploader; security approves.
    let (ok, out, err) = lab.cli(&lab.security, &["component", "approve", &leaky_sha, "--reason", "reviewed the source"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("[approved]"), "{out}");
    let (status, e) = host.post_as(&lab.security, &format!("/internal/components/{leaky_sha}/approve"), &json!({})).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("not_pending")), "{e}");

    // A shadow run first: the candidate masks a copy beside the active masker; its
    // output is dropped and the differences are recorded, never a value.
    let (status, b) = lab.put(&lab.platform, "/internal/tenants/acme/bindings/masker", &json!({"components": [leaky_sha], "mode": "shadow"})).await;
    assert_eq!((status, b["mode"].as_str()), (200, Some("shadow")), "{b}");
    let shadowed = lab.diagnose("acme", "shadowed").await;
    let default_masker = lab.masker_of(&shadowed).await.0;
    assert_ne!(default_masker, leaky_sha, "a shadow never serves the task");
    let (status, runs) = host.get_as(&lab.security, "/internal/tenants/acme/shadow").await;
    assert_eq!(status, 200, "{runs}");
    let run = &runs["runs"][0];
    assert_eq!((run["task_id"].as_str(), run["shadow"][0].as_str()), (Some(shadowed.as_str()), Some(leaky_sha.as_str())), "{run:#}");
    assert!(run["diff"]["only_active"].as_u64().unwrap() >= 1 && run["diff"]["only_shadow"] == 0, "the leaky candidate would let the e-mail out: {run:#}");
    assert!(run["diff"]["differing"].as_array().unwrap().contains(&json!("logs[0]")), "{run:#}");
    assert!(run["diff"]["rules"].as_object().unwrap().values().all(|c| c["shadow"] == 0), "{run:#}");
    let (status, _) = lab.put(&lab.platform, "/internal/tenants/acme/bindings/masker", &json!({"components": [], "mode": "shadow"})).await;
    assert_eq!(status, 200);

    // A binding for acme only: acme's next task runs the new masker, globex's does not.
    assert_ne!(default_masker, leaky_sha);
    let (status, e) = lab.put(&lab.platform, "/internal/tenants/acme/bindings/ticket-mapper", &bind).await;
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("wrong_kind")), "{e}");
    let (status, e) = lab.put(&lab.platform, "/internal/tenants/initech/bindings/masker", &bind).await;
    assert_eq!(status, 404, "{e}");
    let (ok, out, err) = lab.cli(&lab.platform, &["bind", "--tenant", "acme", "--slot", "masker", &leaky_sha]);
    assert!(ok && out.contains("version 1"), "{out}{err}");
    let (_, b) = host.get_as(&lab.platform, "/internal/tenants/acme/bindings").await;
    assert_eq!(b["effective"]["masker"]["components"][0], leaky_sha.as_str(), "{b:#}");
    assert_eq!(b["effective"]["masker"]["origin"], "acme v1");
    let (swapped, masked) = lab.masker_of(&lab.diagnose("acme", "after-bind").await).await;
    assert_eq!((swapped.as_str(), masked), (leaky_sha.as_str(), 0), "the leaky masker ran and masked nothing");
    assert_eq!(lab.masker_of(&lab.diagnose("globex", "other-tenant").await).await.0, default_masker);
    let (_, shown) = host.get_as(&lab.security, &format!("/internal/components/{leaky_sha}")).await;
    assert_eq!(shown["bound"][0]["tenant"], "acme", "{shown:#}");

    // Hot swap under load: diagnoses keep coming while the binding changes twice and
    // the policy once; none fails, and each names the masker that really ran (the
    // leaky one masks nothing) and the policy version it ran with (version 2 adds a
    // rule of the tenant's own).
    let mut tasks = Vec::new();
    for round in 0..3 {
        for i in 0..4 {
            tasks.push(lab.diagnose("acme", &format!("load-{round}-{i}")).await);
        }
        // The round's first task has run; the others may still be running while the
        // binding and the policy change under them.
        lab.masker_of(&tasks[round * 4]).await;
        if round == 1 {
            let (status, p) = lab.put(&lab.platform, "/internal/tenants/acme/masking-policy", &retry_rule()).await;
            assert_eq!((status, p["version"].as_i64()), (200, Some(2)), "{p}");
        }
        let (ok, out, err) = lab.cli(&lab.platform, &["rollback", "--tenant", "acme", "--slot", "masker"]);
        assert!(ok, "{out}{err}");
        if round < 2 {
            let (status, _) = lab.put(&lab.platform, "/internal/tenants/acme/bindings/masker", &bind).await;
            assert_eq!(status, 200);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for t in &tasks {
        let (masker, masked) = lab.masker_of(t).await;
        assert_eq!(masked == 0, masker == leaky_sha, "task {t} names {masker} but masked {masked}");
        let (_, view) = host.get(&format!("/internal/debug/report/{t}")).await;
        let version = view["report"]["masking"]["policy_version"].as_i64().expect("the report names its policy version");
        let own_rule = view["report"]["masking"]["rules"].get("acme-retry").is_some();
        assert_eq!(own_rule, version == 2 && masker != leaky_sha, "task {t}: policy v{version}, masker {masker}");
        seen.insert((masker, version));
    }
    // Which task saw which change depends on timing, except for these: the first
    // task ran before any change, and the last round started after the policy one.
    assert!(seen.contains(&(leaky_sha.clone(), 1)), "{seen:?}");
    assert!(seen.iter().any(|(_, v)| *v == 2), "{seen:?}");
    assert_eq!(lab.masker_of(&lab.diagnose("acme", "after-rollback").await).await.0, default_masker);

    // Revocation unbinds everywhere at once; the next task falls back, none fails.
    let (status, _) = lab.put(&lab.platform, "/internal/tenants/acme/bindings/masker", &bind).await;
    assert_eq!(status, 200);
    let (status, _) = lab.put(&lab.platform, "/internal/tenants/globex/bindings/masker", &bind).await;
    assert_eq!(status, 200);
    let (status, r) = host.post_as(&lab.security, &format!("/internal/components/{leaky_sha}/revoke"), &json!({"reason": "leaks"})).await;
    assert_eq!((status, r["status"].as_str()), (200, Some("revoked")), "{r}");
    assert_eq!(r["bound"], json!([]), "unbound everywhere: {r}");
    for tenant in ["acme", "globex"] {
        assert_eq!(lab.masker_of(&lab.diagnose(tenant, "after-revoke").await).await.0, default_masker, "{tenant}");
    }
    let (status, e) = lab.put(&lab.platform, "/internal/tenants/acme/bindings/masker", &bind).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("not_approved")), "a revoked component is never bound again: {e}");

    // `component verify` names what the registry knows of a file.
    let (ok, out, err) = lab.cli(&lab.security, &["--json", "component", "verify", guest("leaky-masker").to_str().unwrap()]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["sha256"].as_str(), v["known"].as_bool(), v["component"]["status"].as_str()), (Some(leaky_sha.as_str()), Some(true), Some("revoked")));
    let (ok, out, _) = lab.cli(&lab.security, &["component", "verify", guest("hostile-trap").to_str().unwrap()]);
    assert!(ok && out.contains("unknown to the registry"), "{out}");

    // Every step is in the audit log with its actor.
    let (_, audit) = host.get_as(&lab.security, "/internal/audit").await;
    let entries = audit["entries"].as_array().unwrap();
    for (action, role) in [
        ("component.uploaded", "platform"),
        ("component.approved", "security"),
        ("binding.changed", "platform"),
        ("binding.rolled_back", "platform"),
        ("component.revoked", "security"),
    ] {
        assert!(entries.iter().any(|e| e["action"] == action && e["actor"]["role"] == role), "{action} by {role} is audited");
    }
    assert!(entries.iter().all(|e| e["chain_intact"] == true));
}

/// A policy with a rule of the tenant's own: the word "retrying" in its logs.
fn retry_rule() -> Value {
    json!({"policy": {"rules": [{"name": "acme-retry", "pattern": "\\bretrying\\b", "category": "credential"}]}, "fail_closed": false, "review_sample_rate": 0.0})
}

/// Masking policies and report layouts are versioned data: read, replaced (checked
/// first), diffed and rolled back through the API and the CLI, audited, in force for
/// the next task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masking_policies_and_report_layouts_are_versioned_data() {
    let lab = start().await;
    let host = &lab.host;
    let (status, p) = host.get_as(&lab.security, "/internal/tenants/acme/masking-policy").await;
    assert_eq!((status, p["version"].as_i64(), p["actor"].as_str()), (200, Some(1), Some("config")), "the config seeds version 1: {p}");
    // Refused with the field and the reason; nothing stored.
    for (bad, says) in [
        (json!({"policy": {"fields": ["customer..id"]}}), "fields[0]"),
        (json!({"policy": {"rules": [{"name": "empty", "pattern": "x*", "category": "credential"}]}}), "empty"),
        (json!({"policy": {}, "review_sample_rate": 3}), "review_sample_rate"),
        (json!({"policy": {}, "fail_closed": "yes"}), "fail_closed"),
    ] {
        let (status, e) = lab.put(&lab.platform, "/internal/tenants/acme/masking-policy", &bad).await;
        assert_eq!(status, 400, "{bad}: {e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(says), "{bad}: {e}");
    }
    let (status, _) = lab.put(&lab.security, "/internal/tenants/acme/masking-policy", &retry_rule()).await;
    assert_eq!(status, 403, "security reads policies; platform changes them");
    let (status, _) = lab.put(&lab.platform, "/internal/tenants/initech/masking-policy", &retry_rule()).await;
    assert_eq!(status, 404);

    let file = lab._dir.path().join("policy.yaml");
    std::fs::write(&file, serde_yaml::to_string(&retry_rule()).unwrap()).unwrap();
    let (ok, out, err) = lab.cli(&lab.platform, &["policy", "set", "--tenant", "acme", file.to_str().unwrap()]);
    assert!(ok && out.contains("version 2"), "{out}{err}");
    let task = lab.diagnose("acme", "with-rule-2").await;
    lab.masker_of(&task).await;
    let (_, view) = host.get(&format!("/internal/debug/report/{task}")).await;
    assert_eq!(view["report"]["masking"]["policy_version"], 2);
    assert_eq!(view["report"]["masking"]["rules"]["acme-retry"]["mask"], 1, "{:#}", view["report"]["masking"]);
    assert!(!view.to_string().contains("retrying"), "the tenant's own rule masked its word");
    // Another tenant is untouched.
    let other = lab.diagnose("globex", "other").await;
    lab.masker_of(&other).await;
    let (_, view) = host.get(&format!("/internal/debug/report/{other}")).await;
    assert_eq!(view["report"]["masking"]["policy_version"], 1);

    let (ok, out, err) = lab.cli(&lab.security, &["policy", "diff", "--tenant", "acme", "1", "2"]);
    assert!(ok && out.contains("+ policy.rules[0].name = \"acme-retry\""), "{out}{err}");
    let (ok, out, err) = lab.cli(&lab.platform, &["policy", "rollback", "--tenant", "acme"]);
    assert!(ok && out.contains("version 3"), "{out}{err}");
    let (_, p) = host.get_as(&lab.security, "/internal/tenants/acme/masking-policy").await;
    assert_eq!(p["policy"], json!({}), "version 3 repeats version 1: {p}");
    let (_, versions) = host.get_as(&lab.security, "/internal/tenants/acme/masking-policy/versions").await;
    assert_eq!(versions["versions"].as_array().unwrap().len(), 3);
    let (_, audit) = host.get_as(&lab.security, "/internal/audit").await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter(|e| e["subject"] == "acme").filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"policy.changed") && actions.contains(&"policy.rolled_back"), "{actions:?}");

    // The report layout (the template's sections and limits) the same way.
    let (status, t) = host.get_as(&lab.security, "/internal/tenants/acme/report-template").await;
    assert_eq!((status, t["version"].as_i64(), t["actor"].as_str()), (200, Some(1), Some("config")), "the template file seeds version 1: {t}");
    assert!(t["sections"].as_array().unwrap().contains(&json!("timeline")), "{t}");
    for (bad, says) in [
        (json!({"sections": ["summary", "secrets"]}), "sections[1]: unknown section `secrets`"),
        (json!({"sections": ["errors", "errors"]}), "named twice"),
        (json!({"limits": {"timeline": 5000000}}), "limits.timeline"),
        (json!({"limits": {"timelines": 5}}), "timelines"),
    ] {
        let (status, e) = lab.put(&lab.platform, "/internal/tenants/acme/report-template", &bad).await;
        assert_eq!(status, 400, "{bad}: {e}");
        assert!(e["error"]["message"].as_str().unwrap().contains(says), "{bad}: {e}");
    }
    let (status, _) = lab.put(&lab.security, "/internal/tenants/acme/report-template", &json!({})).await;
    assert_eq!(status, 403, "security reads layouts; platform changes them");
    let file = lab._dir.path().join("layout.yaml");
    std::fs::write(&file, "sections: [summary, timeline, masking]\nlimits: {timeline: 1, message_chars: 12}\n").unwrap();
    let (ok, out, err) = lab.cli(&lab.platform, &["template", "set", "--tenant", "acme", file.to_str().unwrap()]);
    assert!(ok && out.contains("report layout version 2"), "{out}{err}");
    let task = lab.diagnose("acme", "with-layout-2").await;
    lab.masker_of(&task).await;
    let (_, view) = host.get(&format!("/internal/debug/report/{task}")).await;
    let report = &view["report"];
    assert_eq!(report["template_version"], 2, "{report:#}");
    assert!(report.get("errors").is_none() && report.get("sources").is_none(), "sections left out are dropped: {report:#}");
    // Two lines were logged; the layout keeps one, clipped.
    let timeline = report["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 1, "{timeline:?}");
    assert!(timeline[0]["message"].as_str().unwrap().chars().count() <= 13, "{timeline:?}");
    let other = lab.diagnose("globex", "other-layout").await;
    lab.masker_of(&other).await;
    let (_, view) = host.get(&format!("/internal/debug/report/{other}")).await;
    let other = &view["report"];
    assert!(other["template_version"] == 1 && other["timeline"].as_array().unwrap().len() == 2 && other.get("errors").is_some(), "another tenant keeps the file's layout: {other:#}");
    let (ok, out, err) = lab.cli(&lab.security, &["template", "diff", "--tenant", "acme", "1", "2"]);
    assert!(ok && out.contains("+ limits.timeline = 1"), "{out}{err}");
    let (status, t) = host.post_as(&lab.platform, "/internal/tenants/acme/report-template/rollback", &json!({"reason": "too short"})).await;
    assert_eq!((status, t["version"].as_i64()), (200, Some(3)), "{t}");
    assert!(t["sections"].as_array().unwrap().contains(&json!("timeline")), "version 3 repeats version 1: {t}");
    let (_, audit) = host.get_as(&lab.security, "/internal/audit").await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter(|e| e["subject"] == "acme").filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"template.changed") && actions.contains(&"template.rolled_back"), "{actions:?}");
}

/// The approver may not be the uploader when the config says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uploader_cannot_approve_its_own_component() {
    let lab = start().await;
    let bytes = std::fs::read(guest("leaky-masker")).unwrap();
    // The admin token may upload and approve, but not both for one component.
    let (status, c) = lab.upload(&lab.host.token, "kind=masker&name=leaky", &bytes, Some(sign(&lab.publisher, &bytes))).await;
    assert_eq!(status, 201, "{c}");
    let sha = c["sha256"].as_str().unwrap();
    let (status, e) = lab.host.post(&format!("/internal/components/{sha}/approve"), &json!({})).await;
    assert_eq!((status, e["error"]["code"].as_str()), (403, Some("forbidden")), "{e}");
    let (status, e) = lab.host.post_as(&lab.security, &format!("/internal/components/{sha}/reject"), &json!({"reason": "not needed"})).await;
    assert_eq!((status, e["status"].as_str()), (200, Some("rejected")), "{e}");
    let (status, e) = lab.put(&lab.platform, "/internal/tenants/acme/bindings/masker", &json!({"components": [sha]})).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("not_approved")), "{e}");
}

/// A tenant declared through the API is known at once: it takes diagnoses with the
/// default bindings, gets its own binding and policy, and only a token over all
/// tenants can declare one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_declared_through_the_api_works_without_a_restart() {
    let lab = start().await;
    let host = &lab.host;
    let (status, _) = host.post("/internal/debug/report", &json!({"error_event_id": "e0", "tenant": "initech", "plugin": {"id": "checkout"}})).await;
    assert_eq!(status, 404, "not declared yet");
    let scoped = host.make_token("platform", &["acme"]).await;
    let (status, _) = lab.put(&scoped, "/internal/tenants/initech", &json!({})).await;
    assert_eq!(status, 403);
    for (name, body, code) in [
        ("Initech", json!({}), "invalid_tenant"),
        ("initech", json!({"sources": ["nope"]}), "invalid_tenant"),
        ("initech", json!({"owner": ["x"]}), "invalid_request"),
    ] {
        let (status, e) = lab.put(&lab.platform, &format!("/internal/tenants/{name}"), &body).await;
        assert_eq!((status, e["error"]["code"].as_str()), (400, Some(code)), "{name} {body}: {e}");
    }
    let (status, e) = lab.put(&lab.platform, "/internal/tenants/acme", &json!({})).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("declared_in_config")), "{e}");
    let (status, t) = lab.put(&lab.platform, "/internal/tenants/initech", &json!({"owners": ["team-initech"], "sources": ["files"]})).await;
    assert_eq!((status, t["origin"].as_str()), (201, Some("api")), "{t}");
    let (status, t) = lab.put(&lab.platform, "/internal/tenants/initech", &json!({"owners": ["team-initech", "oncall"]})).await;
    assert_eq!((status, t["owners"][1].as_str()), (200, Some("oncall")), "{t}");
    let (_, list) = host.get_as(&lab.security, "/internal/tenants").await;
    assert!(list["tenants"].as_array().unwrap().iter().any(|t| t["name"] == "initech" && t["origin"] == "api"), "{list}");
    let (_, list) = host.get_as(&scoped, "/internal/tenants").await;
    assert_eq!(list["tenants"].as_array().unwrap().len(), 1, "a scoped token lists its own tenants: {list}");

    let task = lab.diagnose("initech", "first").await;
    let (masker, masked) = lab.masker_of(&task).await;
    assert!(masked > 0, "the default masker ran for the new tenant");
    let (status, p) = host.get_as(&lab.security, "/internal/tenants/initech/masking-policy").await;
    assert_eq!((status, p["version"].as_i64()), (200, Some(1)));
    let (_, b) = host.get_as(&lab.platform, "/internal/tenants/initech/bindings").await;
    assert_eq!(b["effective"]["masker"]["components"][0], masker.as_str(), "{b:#}");
    let (_, audit) = host.get_as(&lab.security, "/internal/audit").await;
    assert!(audit["entries"].as_array().unwrap().iter().any(|e| e["action"] == "tenant.declared" && e["subject"] == "initech" && e["actor"]["role"] == "platform"));
}
