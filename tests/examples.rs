//! The example maskers for component authors, run through the real host
//! (`casefile mask`: the masker component, then the leak gate): the Rust one in
//! plugins/masker-customer-ids (built by host/build.rs) and the Python one in
//! plugins/masker-python (built by scripts/build-python-masker with componentize-py;
//! scripts/test passes it as CASEFILE_PYTHON_MASKER, and without it the test builds
//! it, failing if componentize-py is missing).

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use support::*;

fn run_mask(args: &[&str], stdin: &str) -> (String, String) {
    let mut child = Command::new(BIN)
        .arg("mask")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run casefile mask");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
    let out = child.wait_with_output().expect("casefile mask");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(out.status.success(), "casefile mask {args:?} failed: {stderr}");
    (stdout, stderr)
}

/// How many values the leak gate masked after the component (from the summary line).
fn gate_masked(stderr: &str) -> u64 {
    let re = regex::Regex::new(r"the leak gate masked (\d+) more").expect("regex");
    let caps = re.captures(stderr).unwrap_or_else(|| panic!("no summary line in {stderr}"));
    caps[1].parse().expect("a count")
}

/// The pseudonym a customer id became: `customer-id:` and 12 hex digits.
fn pseudonym(line: &str) -> String {
    let re = regex::Regex::new(r"customer-id:[0-9a-f]{12}").expect("regex");
    re.find(line).map(|m| m.as_str().to_owned()).unwrap_or_else(|| panic!("no customer-id pseudonym in {line:?}"))
}

/// Lines with customer ids, near misses and ordinary text; the same for both maskers.
const LINES: &[&str] = &[
    "refund failed for CUST-12345678 amount=12",
    "retry 2 for CUST-12345678 and CUST-87654321",
    "handled order 42 in 12 ms",
    "not ids: CUST-1234567 CUST-123456789 XCUST-11112222 CUST-1111222x",
];

/// Checks what both maskers promise for `LINES` and returns the masked lines.
fn check_customer_ids(component: &Path, extra: &str) -> (Vec<String>, String) {
    let input = format!("{}\n{extra}", LINES.join("\n"));
    let (out, err) = run_mask(&["--component", component.to_str().expect("UTF-8 path")], &input);
    let lines: Vec<String> = out.lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), input.lines().count(), "one output line per input line: {out}");
    let first = pseudonym(&lines[0]);
    assert_eq!(lines[0], format!("refund failed for {first} amount=12"));
    assert!(lines[1].starts_with(&format!("retry 2 for {first} and customer-id:")), "the same id is the same pseudonym: {}", lines[1]);
    assert_ne!(pseudonym(&lines[1][first.len() + 12..]), first, "another id, another pseudonym: {}", lines[1]);
    assert_eq!(lines[2], LINES[2], "ordinary text is untouched");
    assert_eq!(lines[3], LINES[3], "near misses are no customer ids");
    assert!(!lines[0].contains("CUST-") && !lines[1].contains("CUST-"), "{out}");
    (lines, err)
}

/// A config whose tenant `acme` uses `component` as its masker under `policy`.
fn tenant_config(dir: &Path, component: &Path, policy: &str) -> PathBuf {
    let template = dir.join("report_template.yaml");
    std::fs::write(&template, format!("masking:\n  tenants:\n    acme: {{ policy: {policy} }}\n")).expect("write template");
    let cfg = dir.join("casefile.yaml");
    let yaml = format!(
        "report: {{ template: {} }}\nruntime: {{ cache_dir: {} }}\ncomponents:\n  example: {{ kind: masker, source: \"{}\" }}\ndefault: {{ masker: example, sources: [] }}\ntenants:\n  acme: {{}}\n",
        template.display(),
        shared_cache_dir().display(),
        component.display(),
    );
    std::fs::write(&cfg, yaml).expect("write config");
    cfg
}

#[test]
fn the_rust_example_pseudonymises_customer_ids_and_runs_the_built_in_detectors() {
    let s = Secrets::generate();
    let masker = guest("masker-customer-ids");
    let extra = format!("login for CUST-12345678 by {} with key {}\n", s.email, s.aws_key);
    let (lines, err) = check_customer_ids(&masker, &extra);
    s.assert_absent("the example masker's output", &lines.join("\n"));
    assert!(lines[4].starts_with(&format!("login for {} by email:", pseudonym(&lines[0]))), "{}", lines[4]);
    // The built-in detectors ran in the component, so the gate found nothing left.
    assert_eq!(gate_masked(&err), 0, "{err}");

    // The tenant's policy reaches the component: `person` masks instead.
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = tenant_config(dir.path(), &masker, "{ actions: { person: mask } }");
    let (out, err) = run_mask(&["--tenant", "acme", "--config", cfg.to_str().expect("UTF-8")], "refund failed for CUST-12345678\nhandled order 42\n");
    assert_eq!(out, "refund failed for [MASKED:customer-id]\nhandled order 42\n", "{err}");
}

/// The Python masker: CASEFILE_PYTHON_MASKER, or built here once.
fn python_masker() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("CASEFILE_PYTHON_MASKER") {
                let p = PathBuf::from(p);
                assert!(p.exists(), "CASEFILE_PYTHON_MASKER={} does not exist", p.display());
                return p;
            }
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace");
            // Where the script puts it by default: beside this test's target dir
            // (…/debug/deps/examples-…).
            let exe = std::env::current_exe().expect("test binary path");
            let out = exe.ancestors().nth(3).expect("target dir").join("python-guests").join("masker_python.wasm");
            let status = Command::new(root.join("scripts").join("build-python-masker")).arg(&out).status().expect("run scripts/build-python-masker");
            assert!(status.success(), "scripts/build-python-masker failed (componentize-py comes from scripts/setup)");
            out
        })
        .clone()
}

#[test]
fn the_python_example_pseudonymises_customer_ids_and_leaves_the_rest_to_the_gate() {
    let s = Secrets::generate();
    let masker = python_masker();
    // It claims customer ids only; the e-mail address is the gate's to catch.
    let extra = format!("mail for CUST-12345678 went to {}\n", s.email);
    let (lines, err) = check_customer_ids(&masker, &extra);
    s.assert_absent("the Python masker's output behind the gate", &lines.join("\n"));
    assert!(lines[4].starts_with(&format!("mail for {} went to email:", pseudonym(&lines[0]))), "{}", lines[4]);
    assert_eq!(gate_masked(&err), 1, "the gate masked the e-mail address: {err}");
    assert!(err.contains("masked 4 values in 5 records"), "the component counts what it masked: {err}");

    // The policy steers it: `person: remove` drops ids, and leaving `person` out of
    // the categories switches the rule off.
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = tenant_config(dir.path(), &masker, "{ actions: { person: remove } }");
    let (out, _) = run_mask(&["--tenant", "acme", "--config", cfg.to_str().expect("UTF-8")], "refund failed for CUST-12345678.\n");
    assert_eq!(out, "refund failed for .\n");
    let cfg = tenant_config(dir.path(), &masker, "{ categories: [credential] }");
    let (out, _) = run_mask(&["--tenant", "acme", "--config", cfg.to_str().expect("UTF-8")], "refund failed for CUST-12345678.\n");
    assert_eq!(out, "refund failed for CUST-12345678.\n");
}

/// Both examples bound to tenants of a running host: a diagnosis's masked bundle
/// carries pseudonyms for the ids in messages and attributes, the secret-named
/// attribute masked, and the ordinary line as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_examples_mask_a_diagnosis_for_the_tenant_they_are_bound_to() {
    let s = Secrets::generate();
    let dir = tempfile::tempdir().expect("temp dir");
    let files = dir.path().join("files");
    std::fs::create_dir_all(&files).expect("files dir");
    let t0 = chrono::Utc::now().timestamp_nanos_opt().expect("a 64-bit now") - 10_000_000_000;
    let lines = [
        serde_json::json!({"ts": t0, "level": "error", "msg": "refund failed for CUST-12345678", "plugin": "checkout", "env": "prod", "host": "runtime-1", "customer": "CUST-87654321", "db_password": s.url_password}),
        serde_json::json!({"ts": t0 + 1, "level": "info", "msg": "handled order 42 in 12 ms", "plugin": "checkout", "env": "prod", "host": "runtime-1"}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(files.join("app.ndjson"), text).expect("write logs");
    let template = dir.path().join("report_template.yaml");
    std::fs::write(&template, "masking: {}\n").expect("write template");
    let cfg = dir.path().join("casefile.yaml");
    std::fs::write(
        &cfg,
        format!(
            "report: {{ template: {} }}\nruntime: {{ cache_dir: {} }}\ncomponents:\n  masker: {{ kind: masker, source: \"builtin:masker-default\" }}\n  rust-example: {{ kind: masker, source: \"{}\" }}\n  python-example: {{ kind: masker, source: \"{}\" }}\n  ndjson: {{ kind: connector, source: \"builtin:connector-ndjson\" }}\nsources:\n  files: {{ component: ndjson, grant: {{ dir: \"{}\" }} }}\ndefault: {{ masker: masker, sources: [files] }}\ntenants:\n  rs: {{ masker: rust-example }}\n  py: {{ masker: python-example }}\n  shipped: {{}}\n",
            template.display(),
            shared_cache_dir().display(),
            guest("masker-customer-ids").display(),
            python_masker().display(),
            files.display(),
        ),
    )
    .expect("write config");
    let host = Host::start(&cfg, &dir.path().join("data"));
    let now = chrono::Utc::now();
    let window = serde_json::json!({"start": (now - chrono::Duration::minutes(30)).to_rfc3339(), "end": (now + chrono::Duration::minutes(1)).to_rfc3339()});
    for tenant in ["rs", "py"] {
        let (status, c) = host.post("/internal/debug/report", &serde_json::json!({"error_event_id": format!("ex-{tenant}"), "tenant": tenant, "plugin": {"id": "checkout"}, "window": window})).await;
        assert_eq!(status, 202, "{c}");
        let id = c["task_id"].as_str().expect("task id").to_owned();
        let t = host.wait_state(&id, &["awaiting_fix", "failed"], 120).await;
        assert_eq!(t["state"], "awaiting_fix", "{tenant}: {t:#}");
        let (_, bundle) = host.get_bytes(&format!("/internal/debug/report/{id}/bundle")).await;
        let logs = untar(&bundle).into_iter().find(|(n, _)| n.ends_with("logs.ndjson")).expect("logs.ndjson in the bundle").1;
        let logs = String::from_utf8(logs).expect("UTF-8 logs");
        let everything = format!("{t}\n{logs}");
        assert!(!everything.contains("CUST-12345678") && !everything.contains("CUST-87654321"), "{tenant}: an id survived: {logs}");
        s.assert_absent(&format!("tenant {tenant}'s report and bundle"), &everything);
        assert_eq!(logs.matches("customer-id:").count(), 2, "{tenant}: the message's and the attribute's id: {logs}");
        assert!(logs.contains("handled order 42 in 12 ms"), "{tenant}: the ordinary line is untouched: {logs}");
        let masking = &t["report"]["masking"];
        // The Rust example masks the password itself; the Python one masks it by
        // its key (`db_password`), so neither leaves the gate anything.
        assert_eq!(masking["gate"]["violations"], 0, "{tenant}: {masking:#}");
        assert!(masking["total"].as_u64().expect("a total") >= 3, "{tenant}: {masking:#}");
    }

    // Shipping without a restart: push the Rust example to the registry, approve it,
    // bind it to a tenant that had the default masker; its next report is masked by
    // the example (the customer ids become pseudonyms).
    let platform = host.make_token("platform", &["*"]).await;
    let security = host.make_token("security", &["*"]).await;
    let bytes = std::fs::read(guest("masker-customer-ids")).expect("the built example");
    let r = host.http.post(host.url("/internal/components?kind=masker&name=customer-ids&version=1")).bearer_auth(&platform).body(bytes).send().await.expect("upload");
    let (status, c): (u16, serde_json::Value) = (r.status().as_u16(), r.json().await.expect("JSON"));
    assert!(status == 201 || status == 200, "{c}");
    let sha = c["sha256"].as_str().expect("sha").to_string();
    let (status, a) = host.post_as(&security, &format!("/internal/components/{sha}/approve"), &serde_json::json!({})).await;
    assert!(status == 200 || a["error"]["code"] == "not_pending", "{a}");
    let r = host.http.put(host.url("/internal/tenants/shipped/bindings/masker")).bearer_auth(&platform).json(&serde_json::json!({"components": [sha]})).send().await.expect("bind");
    assert_eq!(r.status().as_u16(), 200);
    let (_, c) = host.post("/internal/debug/report", &serde_json::json!({"error_event_id": "ex-shipped", "tenant": "shipped", "plugin": {"id": "checkout"}, "window": window})).await;
    let t = host.wait_state(c["task_id"].as_str().expect("task id"), &["awaiting_fix", "failed"], 120).await;
    assert_eq!(t["components"].as_array().expect("components").iter().find(|c| c["slot"] == "masker").expect("masker")["sha256"], sha.as_str());
    assert!(t.to_string().contains("customer-id:") && !t.to_string().contains("CUST-12345678"), "{t:#}");

    // componentize-py's runtime imports wasi:sockets (CPython's socket module), which
    // no component may import: the registry refuses the Python example as it is
    // built today. (It runs when the operator names it in the config, as above, and
    // review sees its imports.) The same program with a custom section appended is
    // new bytes, so the upload is judged rather than matched to the config's copy.
    let mut bytes = std::fs::read(python_masker()).expect("python masker");
    let (name, payload) = (b"casefile-test", b"rebuilt");
    bytes.extend_from_slice(&[0, (1 + name.len() + payload.len()) as u8, name.len() as u8]);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    let r = host.http.post(host.url("/internal/components?kind=masker&name=python")).bearer_auth(&platform).body(bytes).send().await.expect("upload");
    let (status, e): (u16, serde_json::Value) = (r.status().as_u16(), r.json().await.expect("JSON"));
    assert_eq!((status, e["error"]["code"].as_str()), (400, Some("forbidden_import")), "{e}");
    assert!(e["error"]["message"].as_str().unwrap_or_default().contains("wasi:sockets/tcp"), "{e}");
}
