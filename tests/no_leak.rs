//! Randomised property: a sensitive value planted anywhere in the collected data
//! never reappears in any output format (report JSON, Markdown, every bundle file,
//! the ticket request), through the real chain: masker-default in wasm, the leak
//! gate, the report and bundle writers and the ticket-platform mapper.

use casefile::config::{ComponentKind, RuntimeConfig};
use casefile::mask::gate::Gate;
use casefile::mask::mask_and_gate;
use casefile::model::*;
use casefile::registry::builtin;
use casefile::report::{self, ReportInput, Template};
use casefile::runtime::bindings::wit;
use casefile::runtime::Runtime;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn pick(rng: &mut StdRng, alphabet: &[u8], n: usize) -> String {
    (0..n).map(|_| alphabet[rng.random_range(0..alphabet.len())] as char).collect()
}

const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const DIGITS: &[u8] = b"0123456789";

fn luhn_complete(prefix: &str, len: usize, rng: &mut StdRng) -> String {
    let mut digits: Vec<u32> = prefix.chars().filter_map(|c| c.to_digit(10)).collect();
    while digits.len() < len - 1 {
        digits.push(rng.random_range(0..10));
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 0 { let x = d * 2; if x > 9 { x - 9 } else { x } } else { d })
        .sum();
    digits.push((10 - sum % 10) % 10);
    digits.iter().map(|d| char::from_digit(*d, 10).unwrap()).collect()
}

/// One generated value and a line that carries it, for each kind the detectors know.
fn planted(rng: &mut StdRng) -> (String, String) {
    match rng.random_range(0..9) {
        0 => {
            let v = format!("AKIA{}", pick(rng, UPPER, 16));
            (v.clone(), format!("AccessDenied for key {v}"))
        }
        1 => {
            let v = format!("{}.{}@example.org", pick(rng, LOWER, 6), pick(rng, LOWER, 5));
            (v.clone(), format!("notify {v} about the failure"))
        }
        2 => {
            let v = format!("Pw{}9", pick(rng, ALNUM, 14));
            (v.clone(), format!("connecting to https://svc:{v}@db.internal:5432/orders"))
        }
        3 => {
            let v = luhn_complete("4", 16, rng);
            let spaced = v.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(" ");
            // Partial masking keeps the last four digits; the whole number must go.
            (spaced.clone(), format!("charge declined card={spaced}"))
        }
        4 => {
            let v = format!("ghp_{}", pick(rng, ALNUM, 36));
            (v.clone(), format!("git clone with token {v} failed"))
        }
        5 => {
            // Loopback (127/8) stays visible by default policy; every other address goes.
            let first = [rng.random_range(11..127), rng.random_range(128..224)][rng.random_range(0..2)];
            let v = format!("{first}.{}.{}.{}", rng.random_range(0..255), rng.random_range(0..255), rng.random_range(1..254));
            (v.clone(), format!("upstream {v} refused the connection"))
        }
        6 => {
            let v = pick(rng, ALNUM, 18);
            (v.clone(), format!(r#"request body {{"user":"x","password":"{v}"}} rejected"#))
        }
        7 => {
            let v = format!("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOi{}.{}", pick(rng, ALNUM, 20), pick(rng, ALNUM, 32));
            (v.clone(), format!("Authorization: Bearer {v}"))
        }
        _ => {
            let v = format!("+44 7{}", pick(rng, DIGITS, 9));
            (v.clone(), format!("SMS to {v} bounced"))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_value_never_reappears_in_any_output_format() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeConfig::default(), cache.path().to_path_buf()).unwrap();
    let masker = runtime.load("masker-default", ComponentKind::Masker, builtin::get("masker-default").unwrap()).unwrap();
    let mapper = runtime.load("ticket-platform", ComponentKind::TicketMapper, builtin::get("ticket-platform").unwrap()).unwrap();
    let template: Template = serde_yaml::from_str("{}").unwrap();
    let mut checked = 0;
    // Twenty fixed seeds, and five new ones each run (printed, so a failure replays
    // with NO_LEAK_SEED=<seed>).
    let seeds: Vec<u64> = match std::env::var("NO_LEAK_SEED").ok().and_then(|s| s.parse().ok()) {
        Some(seed) => vec![seed],
        None => (0..20u64).chain((0..5).map(|_| rand::random::<u64>())).collect(),
    };
    println!("no_leak seeds: {seeds:?} (replay one with NO_LEAK_SEED=<seed>)");
    let runs = seeds.len();
    for seed in seeds {
        let mut rng = StdRng::seed_from_u64(seed);
        let key: Vec<u8> = (0..32).map(|_| rng.random()).collect();
        let mut values = Vec::new();
        let mut batch = Batch::default();
        let now = chrono::Utc::now();
        for i in 0..40 {
            let (value, line) = planted(&mut rng);
            let (attr_value, attr_line) = planted(&mut rng);
            let password = pick(&mut rng, ALNUM, 16);
            values.push(value);
            // Found by its shape and context inside an attribute with a neutral key...
            values.push(attr_value);
            // ...and by the key's name alone, whatever the value looks like.
            values.push(password.clone());
            // Values land in every field the collectors fill: messages, attributes,
            // span names and attributes, metric labels.
            batch.logs.push(LogRecord {
                timestamp_ns: now.timestamp_nanos_opt().unwrap() + i,
                host: format!("runtime-{}", i % 3),
                environment: "prod".into(),
                source: "files".into(),
                level: if i % 7 == 0 { Level::Error } else { Level::Info },
                message: line.clone(),
                trace_id: Some(format!("{:032x}", i / 4)),
                span_id: None,
                attributes: vec![Field::new("detail", attr_line.clone()), Field::new("password", password)],
            });
            let (v2, l2) = planted(&mut rng);
            values.push(v2);
            batch.spans.push(Span {
                trace_id: format!("{:032x}", i / 4),
                span_id: format!("{i:016x}"),
                parent_span_id: None,
                name: l2.clone(),
                service: "checkout".into(),
                host: "runtime-1".into(),
                environment: "prod".into(),
                start_ns: 0,
                duration_ns: 5,
                error: i % 5 == 0,
                attributes: vec![Field::new("db.statement", l2)],
            });
            let (v3, l3) = planted(&mut rng);
            values.push(v3);
            batch.metrics.push(MetricSample { name: "errors".into(), labels: vec![Field::new("reason", l3)], timestamp_ns: 0, value: 1.0, host: "runtime-2".into(), environment: "prod".into() });
        }
        let (msg_value, msg_line) = planted(&mut rng);
        values.push(msg_value);
        let request = DiagnosisRequest {
            error_event_id: format!("evt-{seed}"),
            tenant: "t".into(),
            plugin: PluginRef { id: "checkout".into(), version: None },
            environments: vec!["prod".into()],
            window: Window { start: now - chrono::Duration::minutes(5), end: now },
            trace_ids: vec![],
            message: Some(msg_line.clone()),
            regression: RegressionStrategy::Webhook,
            alert: None,
        };
        let ctx = wit::MaskContext { tenant: "t".into(), policy: "{}".into() };
        let gate = std::sync::Arc::new(Gate::for_policy("{}", key.clone()).unwrap());
        let shared_key: std::sync::Arc<[u8]> = key.clone().into();
        // Small chunks two at a time, so records cross chunk boundaries as in a large incident.
        let chunking = casefile::mask::Chunking { chunk: 16, parallel: 2 };
        let all_texts = batch.clone();
        let (masked, summary, found) = mask_and_gate(&runtime, std::slice::from_ref(&masker), &ctx, &shared_key, &gate, batch, chunking).await.unwrap();
        // The gate skipped what masker-default left as it was; scanning every text
        // changes nothing and finds nothing more.
        let full = std::sync::Arc::new(Gate::for_policy("{}", key.clone()).unwrap().trusting_default_masker(false));
        let (fully, _, full_found) = mask_and_gate(&runtime, std::slice::from_ref(&masker), &ctx, &shared_key, &full, all_texts, chunking).await.unwrap();
        assert!(fully == masked, "seed {seed}: the full gate changed what the trusting one let through");
        assert_eq!(full_found.total(), found.total(), "seed {seed}");
        let (mut message, _) = casefile::mask::mask_text(&runtime, std::slice::from_ref(&masker), &ctx, &shared_key, &msg_line).await.unwrap();
        let mut out = casefile::mask::gate::GateOutcome::default();
        gate.check(|| "request.message".into(), None, &mut message, &mut out);
        let mut built = report::build(&template, &ReportInput {
            task_id: "tsk_prop",
            request: &request,
            masked_message: Some(message),
            batch: &masked,
            sources: &[],
            planned: &[],
            masking: &summary,
            components: &[],
            clock: &Default::default(),
            truncated: None,
            generated_at: now,
        });
        // As the pipeline does: the gate scans the report's JSON, which is read back
        // into the typed report that the Markdown and the bundle are made from.
        let mut report_json = serde_json::to_value(&built.report).unwrap();
        gate.scan_json("report", &mut report_json, &mut out);
        built.report = report::Report::from_stored(&report_json).unwrap();
        built.markdown = report::markdown(&built.report);
        let bundle = report::bundle(&built, &masked, &[]).unwrap();
        let mut outputs = vec![("report.json".to_string(), report_json.to_string()), ("markdown".to_string(), built.markdown.clone())];
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bundle.as_slice()));
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            outputs.push((format!("bundle/{name}"), text));
        }
        let summary_for_ticket = wit::ReportSummary {
            task_id: "tsk_prop".into(),
            tenant: "t".into(),
            plugin_id: "checkout".into(),
            plugin_version: None,
            error_event_id: request.error_event_id.clone(),
            fingerprint: built.fingerprint.clone(),
            title: built.title.clone(),
            severity: built.severity.wit(),
            environments: vec!["prod".into()],
            owners: vec![],
            markdown: built.markdown.clone(),
            report_url: None,
        };
        let ticket = runtime
            .build_ticket_request(
                &mapper,
                &wit::TicketTarget { endpoint: "http://tickets.test".into(), settings: "{}".into() },
                wit::TicketAction::Create,
                &summary_for_ticket,
                None,
                "",
            )
            .await
            .unwrap();
        outputs.push(("ticket request".into(), String::from_utf8_lossy(&ticket.body).to_string()));
        for value in &values {
            for (name, text) in &outputs {
                assert!(!text.contains(value.as_str()), "seed {seed}: `{value}` reappears in {name}");
                checked += 1;
            }
        }
    }
    assert!(checked > runs * 200 * 8, "{checked}");
}

/// Chunks masked side by side give what one chunk after another gives, in the
/// input's order, and the gate names each record by its place in the whole batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_chunks_keep_order_and_the_gate_names_records_by_their_place() {
    use casefile::mask::Chunking;
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::new(RuntimeConfig::default(), cache.path().to_path_buf()).unwrap();
    let leaky_path = std::path::Path::new(env!("CASEFILE_GUEST_DIR")).join("leaky_masker.wasm");
    let leaky = runtime.load("leaky", ComponentKind::Masker, &std::fs::read(&leaky_path).unwrap()).unwrap();
    let default = runtime.load("masker-default", ComponentKind::Masker, builtin::get("masker-default").unwrap()).unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let mut batch = Batch::default();
    for i in 0..50 {
        let key = format!("AKIA{}", pick(&mut rng, UPPER, 16));
        batch.logs.push(LogRecord::text("files", format!("line {i} denied for {key}")));
    }
    for i in 0..7 {
        batch.metrics.push(MetricSample { name: "errors".into(), labels: vec![Field::new("reason", format!("mail ops{i}@example.org"))], timestamp_ns: 0, value: 1.0, host: "h".into(), environment: "prod".into() });
    }
    let ctx = wit::MaskContext { tenant: "t".into(), policy: "{}".into() };
    let key: std::sync::Arc<[u8]> = vec![3u8; 32].into();
    let gate = std::sync::Arc::new(Gate::for_policy("{}", key.to_vec()).unwrap());

    let (one, one_summary, one_gate) = mask_and_gate(&runtime, std::slice::from_ref(&leaky), &ctx, &key, &gate, batch.clone(), Chunking::sequential(100)).await.unwrap();
    let (many, many_summary, many_gate) = mask_and_gate(&runtime, std::slice::from_ref(&leaky), &ctx, &key, &gate, batch.clone(), Chunking { chunk: 7, parallel: 3 }).await.unwrap();
    assert_eq!(one, many, "the same records in the same order");
    assert_eq!(one_summary, many_summary);
    assert_eq!(one_gate, many_gate);
    // The leaky masker lets every key and address through; the gate finds each one
    // where it is in the whole batch, not in its chunk of seven.
    let places: Vec<&str> = many_gate.violations.iter().map(|v| v.location.as_str()).collect();
    let mut want: Vec<String> = (0..50).map(|i| format!("logs[{i}].message")).collect();
    want.extend((0..7).map(|i| format!("metrics[{i}].attributes.reason")));
    assert_eq!(places, want);
    assert!(many.logs.iter().all(|l| !l.message.contains("AKIA")));

    // A chain: what the first masker leaves, the second masks, chunk by chunk; the
    // gate then has nothing left to find.
    let chain = [leaky.clone(), default.clone()];
    let (chained, summary, found) = mask_and_gate(&runtime, &chain, &ctx, &key, &gate, batch, Chunking { chunk: 7, parallel: 2 }).await.unwrap();
    assert_eq!(found.total(), 0, "{found:?}");
    assert_eq!(summary.rules.get("aws-access-key-id").map(|a| a.values().sum::<u64>()), Some(50), "{summary:?}");
    assert_eq!(chained.logs.len(), 50);
    assert!(summary.component.contains(" + "), "{}", summary.component);
}
