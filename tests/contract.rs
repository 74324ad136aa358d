//! The contract's promises to a component and about it, checked against real guests
//! in the real runtime: a pure world's WASI context is empty, what a component
//! prints reaches the host's log (capped), keyed pseudonyms come from the host
//! without the key entering the component, settings are checked by the
//! component's own `validate-settings`, and a ticket mapper cannot send report data
//! anywhere but the ticket endpoint.

#[path = "support/mod.rs"]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use casefile::config::{ComponentKind, RuntimeConfig};
use casefile::outbound::HttpGrant;
use casefile::runtime::CallGrant;
use casefile::model::{Batch, FailureKind, LogRecord};
use casefile::registry::builtin;
use casefile::runtime::bindings::wit;
use casefile::runtime::Runtime;
use casefile_guest::detect::{HmacPseudonyms, Pseudonyms};
use support::guest;

/// Everything the host logs during the test, as text.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn runtime() -> Arc<Runtime> {
    Runtime::new(RuntimeConfig::default(), support::shared_cache_dir()).expect("runtime")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_masker_sees_an_empty_wasi_context_and_gets_pseudonyms_without_the_key() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let rt = runtime();
    let bytes = std::fs::read(guest("probe-masker")).unwrap();
    let probe = rt.load("probe", ComponentKind::Masker, &bytes).unwrap();
    let key: Arc<[u8]> = b"0123456789abcdef-tenant-key".to_vec().into();
    let mut batch = Batch::default();
    batch.logs.push(LogRecord::text("t", "bob@example.com"));
    let ctx = wit::MaskContext { tenant: "acme".into(), policy: "{}".into() };
    let (out, _) = rt.mask(&probe, &ctx, key.clone(), batch).await.expect("probe ran");
    let message = &out.logs[0].message;

    let expected_token = HmacPseudonyms::new(&key).token("probe", "bob@example.com").unwrap();
    assert_eq!(
        message,
        &format!(
            "env=0 args=0 dir/=refused dir.=refused dir/data=refused dir/etc=refused tcp=refused dns=refused token={expected_token} residue=none"
        ),
        "a pure world gets nothing but its arguments and the host's pseudonyms"
    );
    // What one call printed (read before the calls below print more).
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).to_string();
    assert!(logged.contains("probe-stdout-marker"), "stdout reaches the host's log");
    assert!(logged.contains("probe-stderr-marker"), "stderr reaches the host's log");
    let kept = logged.matches('x').count();
    assert!(kept < 20_000, "the guest printed 40,000 bytes; the host keeps at most 16 KiB ({kept} kept)");
    assert!(logged.contains("dropped_bytes"), "{}", &logged[..logged.len().min(400)]);

    // Memory residue: the call above left a marker in its linear memory; fresh
    // instances for another tenant (and the same one), from the same pooled
    // allocator, never see it.
    for tenant in ["globex", "acme", "globex"] {
        let mut batch = Batch::default();
        batch.logs.push(LogRecord::text("t", "x"));
        let ctx = wit::MaskContext { tenant: tenant.into(), policy: "{}".into() };
        let (out, _) = rt.mask(&probe, &ctx, key.clone(), batch).await.expect("probe ran");
        assert!(out.logs[0].message.ends_with("residue=none"), "{tenant}: {}", out.logs[0].message);
    }
    // The key itself is nowhere in what the component could see or return.
    assert!(!message.contains("tenant-key") && !message.contains(&hex::encode(&*key)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_checked_by_the_components_own_validate_settings() {
    let rt = runtime();
    let loki = rt.load("loki", ComponentKind::Connector, builtin::get("connector-loki").unwrap()).unwrap();
    assert!(rt.validate_settings(&loki, r#"{"url": "http://127.0.0.1:3100"}"#).await.is_ok());
    for (settings, says) in [
        ("{}", "settings.url is required"),
        (r#"{"url": "loki:3100"}"#, "must start with http"),
        (r#"{"url": "http://l", "orgid": "x"}"#, "unknown field `orgid`"),
    ] {
        let e = rt.validate_settings(&loki, settings).await.expect_err(settings);
        assert_eq!(e.kind(), FailureKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(says), "{settings}: {e}");
    }
    let prometheus = rt.load("prometheus", ComponentKind::Connector, builtin::get("connector-prometheus").unwrap()).unwrap();
    let good = r#"{"url": "http://127.0.0.1:9090", "queries": {"errors": "errors_total{plugin=\"{plugin}\"}"}, "step": "15s"}"#;
    assert!(rt.validate_settings(&prometheus, good).await.is_ok());
    for (settings, says) in [
        (r#"{"queries": {"a": "up"}}"#, "settings.url is required"),
        (r#"{"url": "http://p"}"#, "settings.queries is required"),
        (r#"{"url": "http://p", "queries": {"a": "up"}, "setp": "15s"}"#, "unknown field `setp`"),
        (r#"{"url": "http://p", "queries": {"a": "up{plugin}"}}"#, "outside a quoted label value"),
        (r#"{"url": "http://p", "queries": {"a": "up{p=\"{plugins}\"}"}}"#, "unknown placeholder {plugins}"),
        (r#"{"url": "http://p", "queries": {"a": "up"}, "step": "fast"}"#, "settings.step"),
    ] {
        let e = rt.validate_settings(&prometheus, settings).await.expect_err(settings);
        assert_eq!(e.kind(), FailureKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(says), "{settings}: {e}");
    }
    let elastic = rt.load("elasticsearch", ComponentKind::Connector, builtin::get("connector-elasticsearch").unwrap()).unwrap();
    assert!(rt.validate_settings(&elastic, r#"{"url": "http://127.0.0.1:9200", "index": "logs-*", "fields": {"tiebreaker": "event.id"}}"#).await.is_ok());
    for (settings, says) in [
        (r#"{"url": "http://es"}"#, "settings.index is required"),
        (r#"{"url": "http://es", "index": "logs/_doc"}"#, "not an index name"),
        (r#"{"url": "http://es", "index": "l", "fields": {"tiebraker": "id"}}"#, "unknown field `tiebraker`"),
    ] {
        let e = rt.validate_settings(&elastic, settings).await.expect_err(settings);
        assert_eq!(e.kind(), FailureKind::InvalidInput, "{e}");
        assert!(e.to_string().contains(says), "{settings}: {e}");
    }
    // The trace and export connectors: good settings pass, each wrong one says what.
    for (name, good, bad) in [
        ("connector-tempo", r#"{"url": "http://127.0.0.1:3200", "tags": "plugin={plugin}"}"#, [
            (r#"{"url": "http://t", "tags": "a=b", "traceql": "{}"}"#, "set one"),
            (r#"{"url": "http://t", "tags": "plugin={plugn}"}"#, "unknown placeholder {plugn}"),
        ]),
        ("connector-jaeger", r#"{"url": "http://127.0.0.1:16686", "api": "v2", "tags": {"tenant": "{tenant}"}}"#, [
            (r#"{"url": "http://j", "api": "v1"}"#, "unknown variant `v1`"),
            (r#"{"url": "http://j", "max_traces": 0}"#, "max_traces"),
        ]),
        ("connector-export", r#"{"url": "http://127.0.0.1:8081", "page_size": 500}"#, [
            (r#"{"url": "http://p/internal/debug/logs/export"}"#, "without /internal/debug/logs/export"),
            (r#"{"page_size": 5}"#, "settings.url is required"),
        ]),
        ("connector-loki", r#"{"url": "http://127.0.0.1:3100", "direction": "backward", "page_size": 500}"#, [
            (r#"{"url": "http://l", "page_size": 10000}"#, "max_entries_limit_per_query"),
            (r#"{"url": "http://l", "direction": "up"}"#, "unknown variant `up`"),
        ]),
    ] {
        let c = rt.load(name, ComponentKind::Connector, builtin::get(name).unwrap()).unwrap();
        assert!(rt.validate_settings(&c, good).await.is_ok(), "{name}: {good}");
        for (settings, says) in bad {
            let e = rt.validate_settings(&c, settings).await.expect_err(settings);
            assert_eq!(e.kind(), FailureKind::InvalidInput, "{e}");
            assert!(e.to_string().contains(says), "{name} {settings}: {e}");
        }
    }
    let ndjson = rt.load("ndjson", ComponentKind::Connector, builtin::get("connector-ndjson").unwrap()).unwrap();
    let e = rt.validate_settings(&ndjson, r#"{"extension": ["log"]}"#).await.expect_err("typo");
    assert!(e.to_string().contains("unknown field `extension`"), "{e}");
    let mapper = rt.load("platform", ComponentKind::TicketMapper, builtin::get("ticket-platform").unwrap()).unwrap();
    assert!(rt.validate_settings(&mapper, r#"{"labels": ["casefile"]}"#).await.is_ok());
    let e = rt.validate_settings(&mapper, r#"{"labels": "casefile"}"#).await.expect_err("not a list");
    assert_eq!(e.kind(), FailureKind::InvalidInput);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapper_cannot_send_report_data_outside_the_ticket_endpoint() {
    let rt = runtime();
    let bytes = std::fs::read(guest("hostile-mapper")).unwrap();
    let mapper = rt.load("exfil", ComponentKind::TicketMapper, &bytes).unwrap();
    let target = wit::TicketTarget { endpoint: "http://127.0.0.1:9000".into(), settings: "{}".into() };
    let summary = wit::ReportSummary {
        task_id: "t".into(),
        tenant: "acme".into(),
        plugin_id: "p".into(),
        plugin_version: None,
        error_event_id: "e".into(),
        fingerprint: "f".into(),
        title: "x".into(),
        severity: wit::Severity::High,
        environments: vec![],
        owners: vec![],
        markdown: "# report".into(),
        report_url: None,
    };
    for action in [wit::TicketAction::Create, wit::TicketAction::Close] {
        let req = rt.build_ticket_request(&mapper, &target, action, &summary, None, "").await.expect("built");
        let e = casefile::ticket::request_url(&target, &req).expect_err("refused");
        assert!(format!("{e:#}").contains("outside the ticket endpoint"), "{e:#}");
    }
    // The shipped mapper's requests pass the same check.
    let platform = rt.load("platform", ComponentKind::TicketMapper, builtin::get("ticket-platform").unwrap()).unwrap();
    let req = rt.build_ticket_request(&platform, &target, wit::TicketAction::Create, &summary, None, "").await.unwrap();
    assert!(casefile::ticket::request_url(&target, &req).is_ok());
}

/// Sandbox escapes from a connector: out of its granted directory by `..`, by an
/// absolute path and by a symlink planted inside it; the environment; HTTP to a host
/// the allow-list does not name. Each is refused; the granted file itself reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_cannot_leave_its_grant() {
    let rt = runtime();
    let bytes = std::fs::read(guest("probe-connector")).unwrap();
    let probe = rt.load("probe-connector", ComponentKind::Connector, &bytes).unwrap();
    let root = tempfile::tempdir().unwrap();
    let granted = root.path().join("granted");
    std::fs::create_dir_all(&granted).unwrap();
    std::fs::write(granted.join("own.txt"), "mine").unwrap();
    std::fs::write(root.path().join("outside.txt"), "not yours").unwrap();
    std::os::unix::fs::symlink(root.path().join("outside.txt"), granted.join("link")).unwrap();
    // An allowed host that redirects to one that is not: the host must hand the 302
    // back, never follow it.
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = hits.clone();
    let elsewhere = support::serve(axum::Router::new().fallback(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { "stolen" }
    }))
    .await;
    let location = format!("http://{elsewhere}/steal");
    let redirecting = support::serve(axum::Router::new().fallback(move || {
        let location = location.clone();
        async move { (axum::http::StatusCode::FOUND, [(axum::http::header::LOCATION, location)], "") }
    }))
    .await;
    // A name on the allow-list that resolves to an address the allow-list does not
    // name (here loopback, as a rebinding DNS answer would give) is refused too.
    let named_hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = named_hits.clone();
    let named = support::serve(axum::Router::new().fallback(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async { "internal" }
    }))
    .await;
    let by_name = format!("localhost:{}", named.port());
    let grant = CallGrant {
        dir: Some(granted),
        http: HttpGrant::new(&[redirecting.to_string(), by_name.clone()]),
        ..CallGrant::default()
    };
    let query = wit::Query {
        tenant: "acme".into(),
        plugin_id: "p".into(),
        plugin_version: None,
        environment: "prod".into(),
        start_ns: 1,
        end_ns: 2,
        trace_ids: vec![],
        limit: 10,
        settings: format!("http://127.0.0.2:8080/steal?key=planted http://{redirecting}/go http://{by_name}/metadata"),
    };
    let batch = rt.fetch(&probe, &query, &grant).await.expect("probe ran");
    assert_eq!(
        batch.logs[0].message,
        "own=open dotdot=refused absolute=refused symlink=refused env=0 http=denied,302,denied"
    );
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the redirect was followed");
    assert_eq!(named_hits.load(std::sync::atomic::Ordering::SeqCst), 0, "a name resolving to loopback was reached");

    // Every refusal the host made is recorded for the audit log: host and port, or
    // the path asked for; never a query. (An absolute path outside every preopen
    // never reaches the host: the guest's libc finds no capability for it.)
    let refused: Vec<(&str, String)> = grant.refusals.drain().into_iter().map(|r| (r.kind, r.target)).collect();
    assert_eq!(
        refused,
        vec![
            ("filesystem", "../outside.txt".to_string()),
            ("filesystem", "link".to_string()),
            ("http", "127.0.0.2:8080".to_string()),
            ("http", by_name.clone()),
        ]
    );
}
