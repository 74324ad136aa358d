//! Access control against the real binary: the role matrix over every route of
//! /openapi.json, tenant isolation (another tenant's objects are 404 exactly like
//! ids that never existed), audited reads with named actors, the audit chain check,
//! and tokens made offline before the server runs.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::{json, Value};
use support::*;

/// Who may call each route: written out here, apart from the code's table, so the
/// test checks the code rather than repeating it. "open" needs no token; admin may
/// call everything. A route served but missing here fails the test.
const EXPECTED: &[(&str, &str, &[&str])] = &[
    ("post", "/internal/debug/report", &["service"]),
    ("post", "/internal/debug/events", &["service"]),
    ("post", "/internal/debug/alerts", &["service"]),
    ("get", "/internal/debug/report/{task_id}", &["developer"]),
    ("get", "/internal/debug/report/{task_id}/bundle", &["developer"]),
    ("get", "/internal/debug/report/{task_id}/markdown", &["developer"]),
    ("post", "/internal/debug/report/{task_id}/regression", &["developer"]),
    ("post", "/internal/debug/report/{task_id}/retry", &["developer"]),
    // The handler checks a webhook signature or a service token (not the layer).
    ("post", "/internal/ticket/events", &["service", "signed"]),
    ("post", "/internal/debug/report/{task_id}/ticket/cancel", &["developer"]),
    ("post", "/internal/debug/reconcile", &["platform"]),
    ("get", "/internal/components", &["platform", "security"]),
    ("post", "/internal/components", &["platform"]),
    ("get", "/internal/components/{sha256}", &["platform", "security"]),
    ("post", "/internal/components/{sha256}/approve", &["security"]),
    ("post", "/internal/components/{sha256}/reject", &["security"]),
    ("post", "/internal/components/{sha256}/revoke", &["security"]),
    ("get", "/internal/tenants/{tenant}/bindings", &["platform", "security"]),
    ("put", "/internal/tenants/{tenant}/bindings/{slot}", &["platform"]),
    ("post", "/internal/tenants/{tenant}/bindings/{slot}/rollback", &["platform"]),
    ("get", "/internal/flags", &["service", "developer", "platform", "security"]),
    ("put", "/internal/flags/{name}", &["platform"]),
    ("get", "/internal/tenants", &["platform", "security"]),
    ("put", "/internal/tenants/{tenant}", &["platform"]),
    ("get", "/internal/tenants/{tenant}/shadow", &["platform", "security"]),
    ("get", "/internal/tenants/{tenant}/masking-policy", &["platform", "security"]),
    ("put", "/internal/tenants/{tenant}/masking-policy", &["platform"]),
    ("get", "/internal/tenants/{tenant}/masking-policy/versions", &["platform", "security"]),
    ("post", "/internal/tenants/{tenant}/masking-policy/rollback", &["platform"]),
    ("get", "/internal/tenants/{tenant}/report-template", &["platform", "security"]),
    ("put", "/internal/tenants/{tenant}/report-template", &["platform"]),
    ("get", "/internal/tenants/{tenant}/report-template/versions", &["platform", "security"]),
    ("post", "/internal/tenants/{tenant}/report-template/rollback", &["platform"]),
    ("get", "/internal/audit", &["security"]),
    ("get", "/internal/audit/verify", &["security"]),
    ("get", "/internal/audit/archives/{task_id}", &["security"]),
    ("get", "/internal/review", &["security"]),
    ("get", "/internal/review/cases", &["security"]),
    ("post", "/internal/review/{id}", &["security"]),
    ("get", "/internal/tokens", &[]),
    ("post", "/internal/tokens", &[]),
    ("delete", "/internal/tokens/{id}", &[]),
    ("get", "/internal/report.schema.json", &["service", "developer", "platform", "security"]),
    ("get", "/healthz", &["open"]),
    ("get", "/metrics", &["open"]),
    ("get", "/openapi.json", &["open"]),
];

const ROLES: [&str; 5] = ["service", "developer", "platform", "security", "admin"];

fn window() -> Value {
    let now = chrono::Utc::now();
    json!({"start": (now - chrono::Duration::minutes(30)).to_rfc3339(), "end": (now + chrono::Duration::minutes(1)).to_rfc3339()})
}

/// Two tenants (acme, globex) reading one ndjson file, every record sampled for review.
fn write_config(dir: &std::path::Path) -> std::path::PathBuf {
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let t0 = chrono::Utc::now().timestamp_nanos_opt().unwrap() - 30_000_000_000;
    let mut lines = String::new();
    for i in 0..3i64 {
        lines.push_str(&json!({"ts": t0 + i, "level": if i == 1 { "error" } else { "info" }, "msg": format!("line {i}"), "plugin": "checkout", "env": "prod"}).to_string());
        lines.push('\n');
    }
    std::fs::write(files.join("checkout.ndjson"), lines).unwrap();
    let template = dir.join("report_template.yaml");
    std::fs::write(&template, "masking:\n  review_sample_rate: 1.0\n").unwrap();
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
  acme: {{}}
  globex: {{}}
"#,
            template = template.display(),
            cache = shared_cache_dir().display(),
            files = files.display(),
        ),
    )
    .unwrap();
    config
}

fn concrete(path: &str) -> String {
    path.replace("{task_id}", "tsk_nope")
        .replace("{id}", "nope")
        .replace("{sha256}", &"0".repeat(64))
        .replace("{tenant}", "default")
        .replace("{slot}", "masker")
        .replace("{name}", "debug-nothing")
}

async fn call(host: &Host, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let url = host.url(&concrete(path));
    let req = match method {
        "get" => host.http.get(&url),
        "post" => host.http.post(&url).body("{}"),
        "put" => host.http.put(&url).body("{}"),
        "delete" => host.http.delete(&url),
        other => panic!("unexpected method {other} for {path}"),
    };
    let req = match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_admits_exactly_the_roles_of_the_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let host = Host::start(&write_config(dir.path()), &dir.path().join("data"));
    let (status, doc) = call(&host, "get", "/openapi.json", None).await;
    assert_eq!(status, 200);
    let mut served = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            served.insert((method.clone(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = EXPECTED.iter().map(|(m, p, _)| (m.to_string(), p.to_string())).collect();
    assert_eq!(served, expected, "every served route needs a row in EXPECTED (and in api::access::RULES)");

    let mut tokens = vec![("admin", host.token.clone())];
    for role in &ROLES[..4] {
        tokens.push((role, host.make_token(role, &["*"]).await));
    }
    for (method, path, allowed) in EXPECTED {
        if allowed.contains(&"signed") {
            let (status, body) = call(&host, method, path, None).await;
            assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{method} {path} unsigned: {body}");
            for (role, token) in &tokens {
                let (status, body) = call(&host, method, path, Some(token)).await;
                if *role == "admin" || allowed.contains(role) {
                    assert!(status != 401 && status != 403, "{role} may {method} {path}, got {status} {body}");
                } else {
                    assert_eq!(status, 401, "{role} may not {method} {path}: {body}");
                }
            }
            continue;
        }
        let open = allowed.contains(&"open");
        let (status, body) = call(&host, method, path, None).await;
        if open {
            assert_ne!(status, 401, "{method} {path} is open: {body}");
        } else {
            assert_eq!((status, body["error"]["code"].as_str()), (401, Some("unauthorized")), "{method} {path} without a token: {body}");
        }
        let (status, body) = call(&host, method, path, Some("cf_0000000000000000000000000000000000000000000000000000000000000000")).await;
        if !open {
            assert_eq!(status, 401, "{method} {path} with an unknown token: {body}");
        }
        for (role, token) in &tokens {
            let (status, body) = call(&host, method, path, Some(token)).await;
            let admitted = open || *role == "admin" || allowed.contains(role);
            if admitted {
                assert!(status != 401 && status != 403, "{role} may {method} {path}, got {status} {body}");
            } else {
                assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "{role} may not {method} {path}: {body}");
                assert!(body["error"]["message"].as_str().unwrap().contains(role), "{body}");
            }
        }
    }

    // A revoked token stops working at once.
    let (_, list) = host.get("/internal/tokens").await;
    let dev = list["tokens"].as_array().unwrap().iter().find(|t| t["role"] == "developer").unwrap()["id"].as_str().unwrap().to_string();
    assert!(list.to_string().find("cf_").is_none(), "listing shows no secret: {list}");
    let r = host.http.delete(host.url(&format!("/internal/tokens/{dev}"))).bearer_auth(&host.token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let dev_token = &tokens.iter().find(|(r, _)| *r == "developer").unwrap().1;
    let (status, _) = host.get_as(dev_token, "/internal/report.schema.json").await;
    assert_eq!(status, 401);
    // Token requests are checked.
    let (status, e) = host.post("/internal/tokens", &json!({"name": "x", "role": "root", "tenants": ["*"]})).await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = host.post("/internal/tokens", &json!({"name": "x", "role": "service", "tenants": []})).await;
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("invalid_request")), "{e}");
    let scoped_admin = host.make_token("admin", &["acme"]).await;
    let (status, e) = host.post_as(&scoped_admin, "/internal/tokens", &json!({"name": "x", "role": "service", "tenants": ["globex"]})).await;
    assert_eq!(status, 403, "a token cannot give tenants beyond its maker's: {e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_sees_nothing_of_another_and_every_read_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let data = dir.path().join("data");
    let cli = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(BIN).args(args).envs(env.iter().copied()).output().expect("run casefile");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    // The first admin token, made offline before the server ever ran.
    let (ok, out, err) = cli(&["token", "create", "--role", "admin", "--name", "first", "--data-dir", data.to_str().unwrap(), "--json"], &[]);
    assert!(ok, "{err}");
    let first: Value = serde_json::from_str(&out).unwrap();
    let first = first["token"].as_str().unwrap().to_string();
    assert!(first.starts_with("cf_") && first.len() == 67, "{first}");

    let host = Host::start(&config, &data);
    let (status, _) = host.get_as(&first, "/internal/tokens").await;
    assert_eq!(status, 200, "the offline token works against the server");
    let svc_a = host.make_token("service", &["acme"]).await;
    let svc_b = host.make_token("service", &["globex"]).await;
    let dev_a = host.make_token("developer", &["acme"]).await;
    let dev_b = host.make_token("developer", &["globex"]).await;
    let sec_a = host.make_token("security", &["acme"]).await;

    let (status, b) = host.post_as(&svc_b, "/internal/debug/report", &json!({"error_event_id": "b-1", "tenant": "globex", "plugin": {"id": "checkout"}, "window": window()})).await;
    assert_eq!(status, 202, "{b}");
    let task_b = b["task_id"].as_str().unwrap().to_string();
    host.wait_state(&task_b, &["awaiting_fix"], 60).await;

    // Triggering for another tenant looks exactly like an undeclared tenant.
    let (s1, e1) = host.post_as(&svc_a, "/internal/debug/report", &json!({"error_event_id": "x", "tenant": "globex", "plugin": {"id": "p"}})).await;
    let (s2, e2) = host.post_as(&svc_a, "/internal/debug/report", &json!({"error_event_id": "x", "tenant": "nobody", "plugin": {"id": "p"}})).await;
    assert_eq!((s1, e1["error"]["code"].as_str()), (404, Some("unknown_tenant")), "{e1}");
    assert_eq!((s2, e2["error"]["code"].as_str()), (404, Some("unknown_tenant")));
    assert_eq!(e1["error"]["message"].as_str().unwrap().replace("globex", "T"), e2["error"]["message"].as_str().unwrap().replace("nobody", "T"));

    // B's task, report, Markdown, bundle, regression, retry and ticket cancel are 404 to A, like a task that never existed.
    for (suffix, post) in [("", false), ("/bundle", false), ("/markdown", false), ("/regression", true), ("/retry", true), ("/ticket/cancel", true)] {
        let (theirs, never) = (format!("/internal/debug/report/{task_b}{suffix}"), format!("/internal/debug/report/tsk_never{suffix}"));
        let ((s1, e1), (s2, e2)) = if post {
            (host.post_as(&dev_a, &theirs, &json!({})).await, host.post_as(&dev_a, &never, &json!({})).await)
        } else {
            (host.get_as(&dev_a, &theirs).await, host.get_as(&dev_a, &never).await)
        };
        assert_eq!((s1, s2), (404, 404), "{theirs}: {e1}");
        assert_eq!(e1["error"]["code"], e2["error"]["code"]);
        assert_eq!(e1["error"]["message"].as_str().unwrap().replace(&task_b, "X"), e2["error"]["message"].as_str().unwrap().replace("tsk_never", "X"));
    }
    // B reads its own.
    let (status, t) = host.get_as(&dev_b, &format!("/internal/debug/report/{task_b}")).await;
    assert_eq!((status, t["tenant"].as_str()), (200, Some("globex")));
    let (status, bundle) = host.get_bytes_as(&dev_b, &format!("/internal/debug/report/{task_b}/bundle")).await;
    assert_eq!(status, 200);
    assert!(!untar(&bundle).is_empty());

    // An alert for a tenant outside the service token's scope is rejected by itself.
    let alerts = json!({"version": "4", "alerts": [
        {"status": "firing", "labels": {"alertname": "Mine", "plugin": "checkout", "tenant": "acme"}, "fingerprint": "f1", "startsAt": chrono::Utc::now().to_rfc3339()},
        {"status": "firing", "labels": {"alertname": "Theirs", "plugin": "checkout", "tenant": "globex"}, "fingerprint": "f2", "startsAt": chrono::Utc::now().to_rfc3339()},
    ]});
    let (status, r) = host.post_as(&svc_a, "/internal/debug/alerts", &alerts).await;
    assert_eq!(status, 202, "{r}");
    assert_eq!(r["tasks"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["rejected"][0]["alertname"], "Theirs");
    assert_eq!(r["rejected"][0]["error"]["code"], "unknown_tenant");
    let task_a = r["tasks"][0]["task_id"].as_str().unwrap().to_string();
    host.wait_state(&task_a, &["awaiting_fix"], 60).await;

    // Lists are filtered: A's security token sees only A's review samples.
    let (_, all) = host.get("/internal/review").await;
    let tenants: BTreeSet<&str> = all["samples"].as_array().unwrap().iter().map(|s| s["tenant"].as_str().unwrap()).collect();
    assert_eq!(tenants, BTreeSet::from(["acme", "globex"]), "{all}");
    let (_, mine) = host.get_as(&sec_a, "/internal/review").await;
    let mine = mine["samples"].as_array().unwrap();
    assert!(!mine.is_empty() && mine.iter().all(|s| s["tenant"] == "acme"), "{mine:?}");
    let (_, theirs) = host.get_as(&sec_a, "/internal/review?tenant=globex").await;
    assert_eq!(theirs["samples"], json!([]));
    let b_sample = all["samples"].as_array().unwrap().iter().find(|s| s["tenant"] == "globex").unwrap()["id"].as_str().unwrap().to_string();
    let (status, _) = host.post_as(&sec_a, &format!("/internal/review/{b_sample}"), &json!({"verdict": "ok"})).await;
    assert_eq!(status, 404, "another tenant's sample is unknown");
    let (status, _) = host.get_as(&sec_a, "/internal/audit").await;
    assert_eq!(status, 403, "the audit log spans every tenant");

    // The audit names every actor, records the reads, and holds no token.
    let (status, audit) = host.get("/internal/audit").await;
    assert_eq!(status, 200);
    let entries = audit["entries"].as_array().unwrap();
    let find = |action: &str, subject: &str| entries.iter().find(|e| e["action"] == action && e["subject"] == subject).cloned();
    let created = find("task.created", &task_b).expect("task.created");
    assert_eq!((created["actor"]["role"].as_str(), created["actor"]["name"].as_str()), (Some("service"), Some("test-service")), "{created}");
    assert!(created["actor"]["token_id"].as_str().unwrap().starts_with("tok_"));
    for action in ["report.read", "bundle.read"] {
        let by_developer = entries.iter().any(|e| e["action"] == action && e["subject"] == task_b.as_str() && e["actor"]["role"] == "developer" && e["actor"]["name"] == "test-developer");
        assert!(by_developer, "{action} by the developer is audited");
    }
    assert!(entries.iter().any(|e| e["action"] == "token.created" && e["actor"]["token_id"] == "tok_env_admin"));
    assert!(entries.iter().any(|e| e["action"] == "token.created" && e["actor"].as_str().is_some_and(|a| a.starts_with("cli:"))), "the offline token is audited");
    let text = audit.to_string();
    for secret in [&first, &svc_a, &svc_b, &dev_a, &dev_b, &sec_a, &host.token] {
        assert!(!text.contains(secret.as_str()), "a token is in the audit log");
    }
    let (status, v) = host.get("/internal/audit/verify").await;
    assert_eq!((status, v["intact"].as_bool()), (200, Some(true)), "{v}");

    // The CLI sends the token and checks the chain; tampering is found and named.
    let env = [("CASEFILE_TOKEN", host.token.as_str()), ("CASEFILE_SERVER", host.base.as_str())];
    let (ok, out, err) = cli(&["audit", "verify"], &env);
    assert!(ok && out.contains("intact"), "{out} {err}");
    let (ok, out, err) = cli(&["token", "list"], &env);
    assert!(ok && out.contains("first") && out.contains("test-developer"), "{out} {err}");
    let (ok, _, err) = cli(&["token", "list"], &[("CASEFILE_SERVER", host.base.as_str())]);
    assert!(!ok && err.contains("unauthorized"), "{err}");
    drop(host);
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}", data.join("casefile.db").display());
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit SET subject = 'forged' WHERE seq = 3").execute(&pool).await.unwrap();
    pool.close().await;
    let (ok, out, err) = cli(&["audit", "verify", "--data-dir", data.to_str().unwrap()], &[]);
    assert!(!ok && out.contains("BROKEN at entry 3"), "{out} {err}");
}
