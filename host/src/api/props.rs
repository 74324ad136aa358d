//! Property tests for what the API reads from outside: Alertmanager webhooks,
//! `plugin.debug.alert` events and report requests. Whatever arrives, the answer is
//! a request or a 4xx with a message, never a panic; and what validation accepts
//! keeps the invariants the pipeline relies on.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::Value;

use super::*;

const CONFIG: &str = r#"
components:
  m: { kind: masker, source: "builtin:masker-default" }
  c: { kind: connector, source: "builtin:connector-ndjson" }
sources:
  files: { component: c, grant: { dir: samples } }
default: { masker: m, sources: [files] }
tenants:
  default: {}
  acme: {}
"#;

fn config() -> Config {
    Config::parse(CONFIG, Path::new(".")).expect("test config")
}

fn tenants() -> Vec<String> {
    config().tenants.keys().cloned().collect()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).single().expect("a valid time")
}

/// Any JSON value, a few levels deep, with the strings that trip parsers.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        tricky_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The field names the parsers look for, and others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "version", "alerts", "status", "labels", "annotations", "startsAt", "fingerprint", "plugin", "plugin_id",
            "tenant", "environment", "env", "summary", "type", "error_event_id", "window", "start", "end",
            "environments", "trace_ids", "message", "regression", "strategy",
        ])
        .prop_map(str::to_string),
        "[a-z_]{1,12}",
    ]
}

fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "", " ", "4", "firing", "resolved", "default", "acme", "other", "plugin.debug.alert",
            "2026-11-30T11:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-13-45T99:99:99Z",
            "-262144-01-01T00:00:00Z", "\u{0}", "\u{202e}rtl", "../../etc/passwd", "%s%n",
        ])
        .prop_map(str::to_string),
        ".{0,40}",
        "[0-9T:Z+.-]{0,30}",
    ]
}

fn alert() -> impl Strategy<Value = Alert> {
    let labels = prop::collection::btree_map(field_name(), tricky_string(), 0..6);
    let annotations = prop::collection::btree_map(field_name(), tricky_string(), 0..3);
    (prop::option::of(tricky_string()), labels, annotations, prop::option::of(tricky_string()), prop::option::of(tricky_string()))
        .prop_map(|(status, labels, annotations, starts_at, fingerprint)| Alert { status, labels, annotations, starts_at, ends_at: None, fingerprint, generator_url: None })
}

fn check_accepted(r: &DiagnosisRequest) {
    assert!(r.window.start < r.window.end, "an accepted window is ordered: {:?}", r.window);
    assert!(!r.plugin.id.trim().is_empty() && r.plugin.id.len() <= 256);
    assert!(["default", "acme"].contains(&r.tenant.as_str()));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any alert gives a route, and a request from it either validates with the
    /// invariants kept or is refused with a 4xx.
    #[test]
    fn any_alert_is_routed_or_refused(a in alert(), window in -10_000i64..10_000_000) {
        match alert_request(&a, now(), window, Some("default")) {
            AlertRoute::Resolved(_) => prop_assert_eq!(a.status.as_deref(), Some("resolved")),
            AlertRoute::NoPlugin(_) => prop_assert!(!a.labels.contains_key("plugin") && !a.labels.contains_key("plugin_id")),
            AlertRoute::NoTenant => unreachable!("a default tenant was given"),
            AlertRoute::Request(r) => {
                let plugin = a.labels.get("plugin").or_else(|| a.labels.get("plugin_id")).cloned();
                prop_assert_eq!(Some(r.plugin.id.clone()), plugin);
                match validate(&config(), &tenants(), &Scope::All, r, now()) {
                    Ok(req) => check_accepted(&req),
                    Err(e) => prop_assert!(e.status.is_client_error(), "{e:?}"),
                }
            }
        }
    }

    /// A whole webhook body of any shape: it parses as a webhook or is refused by
    /// the JSON extractor; every alert in one that parses is routed as above.
    #[test]
    fn any_webhook_body_parses_or_is_refused(v in json_value()) {
        if let Ok(hook) = serde_json::from_value::<AlertmanagerWebhook>(v) {
            for a in hook.alerts.unwrap_or_default() {
                if let AlertRoute::Request(r) = alert_request(&a, now(), 30, None) {
                    if let Ok(req) = validate(&config(), &tenants(), &Scope::All, r, now()) {
                        check_accepted(&req);
                    }
                }
            }
        }
    }

    /// Events and report requests of any shape: a request the pipeline can run, or
    /// a 4xx; and a scoped caller never gets a tenant outside its scope.
    #[test]
    fn any_event_is_a_request_or_a_4xx(rest in prop::collection::btree_map(field_name(), json_value(), 0..8), kind in prop::option::of(tricky_string())) {
        let event = EventBody { event_type: kind, rest: rest.into_iter().collect() };
        match event_request(event) {
            Err(e) => prop_assert!(e.status.is_client_error(), "{e:?}"),
            Ok(r) => {
                let tenant = r.tenant.clone();
                let scoped = Scope::Tenants(vec!["acme".into()]);
                match validate(&config(), &tenants(), &scoped, r, now()) {
                    Ok(req) => { check_accepted(&req); prop_assert_eq!(req.tenant, "acme"); }
                    Err(e) => prop_assert!(e.status.is_client_error() && (tenant != "acme" || e.status != StatusCode::NOT_FOUND)),
                }
            }
        }
    }

    /// Windows written any way: accepted only when both ends are RFC 3339, ordered
    /// and at most 7 days apart.
    #[test]
    fn windows_are_checked(start in tricky_string(), end in tricky_string()) {
        let r = ReportRequest {
            error_event_id: "e".into(),
            tenant: "default".into(),
            plugin: PluginRef { id: "p".into(), version: None },
            environments: None,
            window: Some(WindowIn { start: start.clone(), end: end.clone() }),
            trace_ids: None,
            message: None,
            regression: None,
        };
        match validate(&config(), &tenants(), &Scope::All, r, now()) {
            Ok(req) => {
                check_accepted(&req);
                prop_assert!(req.window.end - req.window.start <= chrono::Duration::days(7));
            }
            Err(e) => prop_assert_eq!(e.status, StatusCode::BAD_REQUEST),
        }
    }
}

#[test]
fn labels_become_the_request() {
    let a = Alert {
        status: Some("firing".into()),
        labels: BTreeMap::from([("plugin".into(), "checkout".into()), ("tenant".into(), "acme".into()), ("env".into(), "prod".into())]),
        annotations: BTreeMap::from([("summary".into(), "5xx rate".into())]),
        starts_at: Some("2026-11-30T11:00:00Z".into()),
        ends_at: None,
        fingerprint: Some("abc".into()),
        generator_url: None,
    };
    let AlertRoute::Request(r) = alert_request(&a, now(), 30, None) else { panic!("a firing alert with a plugin") };
    let req = validate(&config(), &tenants(), &Scope::All, r, now()).expect("valid");
    assert_eq!((req.tenant.as_str(), req.plugin.id.as_str(), req.environments.as_slice()), ("acme", "checkout", &["prod".to_string()][..]));
    assert_eq!(req.window.start.to_rfc3339(), "2026-11-30T10:55:00+00:00");
    assert_eq!(req.error_event_id, "alert:abc:2026-11-30T11:00:00Z");
    // Resolved, the same alert points at the task its firing opened.
    let done = Alert { status: Some("resolved".into()), ends_at: Some("2026-11-30T11:20:00Z".into()), ..a };
    let AlertRoute::Resolved(Some(r)) = alert_request(&done, now(), 30, None) else { panic!("a resolved alert names its task") };
    assert_eq!((r.tenant.as_str(), r.error_event_id.as_str()), ("acme", "alert:abc:2026-11-30T11:00:00Z"));
    // Without a tenant (and no default) no task can be its own.
    let mut untenanted = done;
    untenanted.labels.remove("tenant");
    assert!(matches!(alert_request(&untenanted, now(), 30, None), AlertRoute::Resolved(None)));
    assert!(matches!(alert_request(&untenanted, now(), 30, Some("acme")), AlertRoute::Resolved(Some(_))));
}
