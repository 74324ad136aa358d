//! Property tests for what the report takes from outside: whatever the connectors
//! returned (any strings, any times, NaN and infinite values) under any template, the
//! report builds, fits its published JSON Schema, reads back, renders as Markdown
//! and packs into a bundle; and any template text parses or is refused.

use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::*;
use crate::model::{Field, LogRecord, MetricSample, PluginRef, RegressionStrategy, Span, Window};

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,60}",
        prop::sample::select(vec!["", "|", "`", "\n\n# heading", "<script>", "\u{0}", "💥", "a\r\nb", "0xdeadbeef 1234"])
            .prop_map(str::to_string),
    ]
}

fn time() -> impl Strategy<Value = i64> {
    prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), any::<i64>(), 1_700_000_000_000_000_000i64..1_800_000_000_000_000_000]
}

fn level() -> impl Strategy<Value = Level> {
    prop::sample::select(vec![Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal])
}

fn fields() -> impl Strategy<Value = Vec<Field>> {
    prop::collection::vec((text(), text()).prop_map(|(key, value)| Field { key, value }), 0..3)
}

fn log() -> impl Strategy<Value = LogRecord> {
    (time(), text(), text(), level(), text(), prop::option::of(text()), fields()).prop_map(
        |(timestamp_ns, host, environment, level, message, trace_id, attributes)| LogRecord {
            timestamp_ns,
            host,
            environment,
            source: "s".into(),
            level,
            message,
            trace_id,
            span_id: None,
            attributes,
        },
    )
}

fn span() -> impl Strategy<Value = Span> {
    // Few ids and hosts, so that parents are found across hosts and the clock
    // section is exercised too.
    let id = || prop::sample::select(vec!["1", "2", "3", "4"]).prop_map(str::to_string);
    let host = prop::sample::select(vec!["h", "g", "f", ""]).prop_map(str::to_string);
    (
        (prop::sample::select(vec!["t", "u"]).prop_map(str::to_string), id(), prop::option::of(id()), host),
        (text(), time(), any::<i64>(), any::<bool>()),
    )
        .prop_map(|((trace_id, span_id, parent_span_id, host), (name, start_ns, duration_ns, error))| Span {
        trace_id,
        span_id,
        parent_span_id,
        name,
        service: "svc".into(),
        host,
        environment: "prod".into(),
        start_ns,
        duration_ns,
        error,
        attributes: vec![],
    })
}

fn metric() -> impl Strategy<Value = MetricSample> {
    let value = prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY), Just(f64::NEG_INFINITY), Just(-0.0)];
    (prop::sample::select(vec!["latency", "errors", ""]), time(), value).prop_map(|(name, timestamp_ns, value)| MetricSample {
        name: name.into(),
        labels: vec![],
        timestamp_ns,
        value,
        host: "h".into(),
        environment: "prod".into(),
    })
}

fn template() -> impl Strategy<Value = Template> {
    let sections = prop::sample::subsequence(ALL_SECTIONS.to_vec(), 0..=ALL_SECTIONS.len());
    (sections, 0usize..300, 0usize..60, 0usize..30, 0usize..60, 0usize..3000).prop_map(
        |(sections, timeline, errors, traces, metrics, message_chars)| Template {
            sections: sections.into_iter().map(str::to_string).collect(),
            limits: Limits { timeline, errors, traces, metrics, message_chars },
            masking: Default::default(),
        },
    )
}

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| jsonschema::validator_for(&json_schema()).expect("the report schema is a JSON Schema"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_connector_output_makes_a_report_that_fits_its_schema(
        t in template(),
        logs in prop::collection::vec(log(), 0..40),
        spans in prop::collection::vec(span(), 0..8),
        metrics in prop::collection::vec(metric(), 0..12),
        message in prop::option::of(text()),
    ) {
        let (batch, clock) = crate::collect::merge_corrected(Batch { logs, spans, metrics }, std::time::Duration::from_secs(60));
        let request = DiagnosisRequest {
            error_event_id: "evt".into(),
            tenant: "default".into(),
            plugin: PluginRef { id: "checkout".into(), version: None },
            environments: vec![],
            window: Window { start: DateTime::<Utc>::UNIX_EPOCH, end: Utc::now() },
            trace_ids: vec![],
            message: message.clone(),
            regression: RegressionStrategy::Webhook,
            alert: None,
        };
        let built = build(&t, &ReportInput {
            task_id: "tsk_p",
            request: &request,
            masked_message: message,
            batch: &batch,
            sources: &[],
            planned: &[],
            masking: &MaskingSummary::default(),
            components: &[],
            clock: &clock,
            truncated: None,
            generated_at: Utc::now(),
        });
        let json = serde_json::to_value(&built.report).expect("a report serializes");
        let errors: Vec<String> = validator().iter_errors(&json).map(|e| format!("{e} at {}", e.instance_path)).collect();
        prop_assert!(errors.is_empty(), "{errors:#?}\n{json:#}");
        prop_assert!(Report::from_stored(&json).is_ok());
        let _ = markdown(&built.report);
        prop_assert!(bundle(&built, &batch, &[]).is_ok());
    }

    /// Template text of any shape is a template or an error that says why.
    #[test]
    fn any_template_text_parses_or_is_refused(raw in prop_oneof![
        ".{0,80}",
        (prop::sample::select(vec!["sections", "limits", "masking", "timeline", "errors", "message_chars", "other"]),
         prop::sample::select(vec!["[]", "[summary]", "[nope]", "{}", "-1", "99999999999999999999", "~", "{ timeline: 5 }", "\"x\""]))
            .prop_map(|(k, v)| format!("{k}: {v}\n")),
    ]) {
        match Template::parse(&raw) {
            Ok(t) => prop_assert!(t.sections.iter().all(|s| ALL_SECTIONS.contains(&s.as_str()))),
            Err(e) => { let shown = format!("{e:#}"); prop_assert!(!shown.is_empty()) }
        }
    }
}
