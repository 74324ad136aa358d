//! The leak gate: after the tenant's masker, the host scans everything it is about to
//! publish with its own, native copy of the detectors (`casefile_guest::detect`, the
//! code masker-default runs in wasm). Whatever it still finds is masked here, counted
//! and recorded by rule and position, never by value. A broken or malicious masker
//! therefore cannot leak what the gate knows.

use std::collections::BTreeMap;

use casefile_guest::detect::{self, CleanTexts, Counts, HmacPseudonyms, Policy};
use serde::Serialize;
use serde_json::Value;

use super::Offsets;
use crate::model::{Batch, Field};

/// Names the detector set the gate ran, for the report's masking summary.
pub fn version() -> String {
    format!("casefile-gate/{} ({} rules)", env!("CARGO_PKG_VERSION"), detect::RULES.len())
}

/// One value the gate had to mask: where, and by which rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub rule: String,
    /// e.g. `logs[12].message`, `spans[3].attributes.db_url`, `report.title`.
    pub location: String,
    /// Byte offset and length of the value in the field, as the masker left it.
    pub start: usize,
    pub len: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GateOutcome {
    pub violations: Vec<Violation>,
    pub by_rule: BTreeMap<String, u64>,
}

impl GateOutcome {
    pub fn total(&self) -> u64 {
        self.by_rule.values().sum()
    }

    pub fn merge(&mut self, other: GateOutcome) {
        for (r, n) in other.by_rule {
            *self.by_rule.entry(r).or_default() += n;
        }
        self.violations.extend(other.violations);
    }
}

pub struct Gate {
    policy: Policy,
    key: Vec<u8>,
    /// The policy JSON the gate was built from, when it was (`for_policy`): a masker
    /// given the same JSON runs the same detectors under the same policy.
    policy_json: Option<String>,
    /// Whether a text the shipped masker-default left as it was may go unscanned
    /// (`runtime.gate_trusts_default_masker`).
    trusts_default: bool,
}

impl Gate {
    pub fn new(policy: Policy, key: Vec<u8>) -> Gate {
        Gate { policy, key, policy_json: None, trusts_default: false }
    }

    /// A gate for the tenant's policy JSON; the same JSON its masker received.
    pub fn for_policy(policy_json: &str, key: Vec<u8>) -> Result<Gate, String> {
        let policy = Policy::from_json(policy_json).map_err(|e| e.to_string())?;
        Ok(Gate { policy, key, policy_json: Some(policy_json.to_string()), trusts_default: true })
    }

    /// With `false`, scans everything whatever masker ran before (the `runtime`
    /// setting `gate_trusts_default_masker`).
    pub fn trusting_default_masker(mut self, trust: bool) -> Gate {
        self.trusts_default = trust;
        self
    }

    /// Whether the texts a masker left unchanged need no scan: the masker is the
    /// masker-default this binary ships (by SHA-256, so the same code as the gate's,
    /// compiled to wasm) and it ran under the very policy JSON the gate was built from.
    /// The detectors are deterministic, so a text they changed nothing in is a text
    /// in which they find nothing; the gate scanning it again would find nothing
    /// either. Any other masker, or another policy, gets every text scanned.
    pub fn trusts(&self, masker_sha256: &str, policy_json: &str) -> bool {
        self.trusts_default
            && self.policy_json.as_deref() == Some(policy_json)
            && crate::registry::builtin::default_masker_sha256().is_some_and(|sha| sha.eq_ignore_ascii_case(masker_sha256))
    }

    /// Checks one text (or field value when `field_key` is set) and masks what it finds.
    pub fn check(&self, location: impl FnOnce() -> String, field_key: Option<&str>, text: &mut String, out: &mut GateOutcome) {
        self.check_seen(&mut CleanTexts::default(), location, field_key, text, out);
    }

    /// `check`, skipping a short free text this scan already found clean (a field
    /// value's verdict depends on its key too, so values are always scanned).
    fn check_seen(&self, clean: &mut CleanTexts, location: impl FnOnce() -> String, field_key: Option<&str>, text: &mut String, out: &mut GateOutcome) {
        if text.is_empty() {
            return;
        }
        let mut counts = Counts::default();
        let masked = match field_key {
            Some(k) => detect::mask_field_value(&self.policy, &mut HmacPseudonyms::new(&self.key), k, text, &mut counts),
            None => clean.mask(&self.policy, &mut HmacPseudonyms::new(&self.key), text, &mut counts),
        };
        if counts.is_empty() {
            return;
        }
        let location = location();
        let found = detect::find(&self.policy, text);
        if found.is_empty() {
            // The key-name rule: the whole value.
            out.violations.push(Violation { rule: "sensitive-key".into(), location: location.clone(), start: 0, len: text.len() });
        }
        for f in found {
            out.violations.push(Violation { rule: f.rule.into(), location: location.clone(), start: f.start, len: f.end - f.start });
        }
        for (rule, _, n) in counts.iter() {
            *out.by_rule.entry(rule.to_string()).or_default() += n;
        }
        *text = masked.into_owned();
    }

    /// `fields`' values and keys; `before` is the list as the trusted masker got it
    /// (a field it left as it was, key and value, is not scanned again).
    fn fields(&self, clean: &mut CleanTexts, prefix: &str, i: usize, fields: &mut [Field], before: Option<&[Field]>, out: &mut GateOutcome) {
        let before = before.filter(|b| b.len() == fields.len());
        for (j, Field { key: k, value: v }) in fields.iter_mut().enumerate() {
            if before.is_some_and(|b| b[j].key == *k && b[j].value == *v) {
                continue;
            }
            // A key can itself carry a value (`user=alice@example.com` as a key).
            self.check_seen(clean, || format!("{prefix}[{i}].attributes.{k}"), Some(k), v, out);
            self.check_seen(clean, || format!("{prefix}[{i}].attribute-key"), None, k, out);
        }
    }

    /// Every text a batch carries: messages, names, hosts, ids, attributes, labels.
    pub fn scan_batch(&self, b: &mut Batch) -> GateOutcome {
        self.scan_batch_at(b, Offsets::default())
    }

    /// The same for one chunk of a larger batch: records are named by their place
    /// in the whole batch (`logs[20012]`), the chunk starting at `at`.
    pub fn scan_batch_at(&self, b: &mut Batch, at: Offsets) -> GateOutcome {
        self.scan_batch_after(b, None, at)
    }

    /// `scan_batch_at` after a masker the gate `trusts`, `before` being the chunk as
    /// that masker got it: the texts it masks (messages, hosts, span names,
    /// attributes and labels) are skipped where it left them as they were; those it
    /// never reads (environments, sources, ids, services, metric names) and those it
    /// changed are scanned as always. With `before` absent, or not record for record
    /// the same shape, every text is scanned.
    pub fn scan_batch_after(&self, b: &mut Batch, before: Option<&Batch>, at: Offsets) -> GateOutcome {
        let before = before.filter(|x| (x.logs.len(), x.spans.len(), x.metrics.len()) == (b.logs.len(), b.spans.len(), b.metrics.len()));
        let mut out = GateOutcome::default();
        let mut clean = CleanTexts::default();
        // `same(a, b)`: the trusted masker left the text as it was.
        let same = |was: Option<&String>, now: &String| was.is_some_and(|w| w == now);
        for (n, l) in b.logs.iter_mut().enumerate() {
            let i = n + at.logs;
            let was = before.map(|x| &x.logs[n]);
            for (name, t, masked) in [
                ("message", &mut l.message, was.map(|w| &w.message)),
                ("host", &mut l.host, was.map(|w| &w.host)),
                ("environment", &mut l.environment, None),
                ("source", &mut l.source, None),
            ] {
                if !same(masked, t) {
                    self.check_seen(&mut clean, || format!("logs[{i}].{name}"), None, t, &mut out);
                }
            }
            for (name, t) in [("trace_id", &mut l.trace_id), ("span_id", &mut l.span_id)] {
                if let Some(t) = t {
                    self.check_seen(&mut clean, || format!("logs[{i}].{name}"), None, t, &mut out);
                }
            }
            self.fields(&mut clean, "logs", i, &mut l.attributes, was.map(|w| &w.attributes[..]), &mut out);
        }
        for (n, s) in b.spans.iter_mut().enumerate() {
            let i = n + at.spans;
            let was = before.map(|x| &x.spans[n]);
            for (name, t, masked) in [
                ("name", &mut s.name, was.map(|w| &w.name)),
                ("service", &mut s.service, None),
                ("host", &mut s.host, was.map(|w| &w.host)),
                ("environment", &mut s.environment, None),
                ("trace_id", &mut s.trace_id, None),
                ("span_id", &mut s.span_id, None),
            ] {
                if !same(masked, t) {
                    self.check_seen(&mut clean, || format!("spans[{i}].{name}"), None, t, &mut out);
                }
            }
            if let Some(p) = &mut s.parent_span_id {
                self.check_seen(&mut clean, || format!("spans[{i}].parent_span_id"), None, p, &mut out);
            }
            self.fields(&mut clean, "spans", i, &mut s.attributes, was.map(|w| &w.attributes[..]), &mut out);
        }
        for (n, m) in b.metrics.iter_mut().enumerate() {
            let i = n + at.metrics;
            let was = before.map(|x| &x.metrics[n]);
            for (name, t, masked) in [("name", &mut m.name, None), ("host", &mut m.host, was.map(|w| &w.host)), ("environment", &mut m.environment, None)] {
                if !same(masked, t) {
                    self.check_seen(&mut clean, || format!("metrics[{i}].{name}"), None, t, &mut out);
                }
            }
            self.fields(&mut clean, "metrics", i, &mut m.labels, was.map(|w| &w.labels[..]), &mut out);
        }
        out
    }

    /// Every string in a JSON document (the report), keys of sensitive-looking
    /// fields included.
    pub fn scan_json(&self, path: &str, v: &mut Value, out: &mut GateOutcome) {
        match v {
            Value::String(s) => self.check(|| path.to_string(), None, s, out),
            Value::Array(a) => {
                for (i, x) in a.iter_mut().enumerate() {
                    self.scan_json(&format!("{path}[{i}]"), x, out);
                }
            }
            Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    let p = format!("{path}.{k}");
                    match x {
                        Value::String(s) => self.check(|| p.clone(), Some(k), s, out),
                        other => self.scan_json(&p, other, out),
                    }
                }
            }
            _ => {}
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, LogRecord};

    fn gate() -> Gate {
        Gate::for_policy("{}", b"k".to_vec()).unwrap()
    }

    fn log(msg: &str, attrs: &[(&str, &str)]) -> LogRecord {
        LogRecord {
            timestamp_ns: 0,
            host: "runtime-1".into(),
            environment: "prod".into(),
            source: "s".into(),
            level: Level::Error,
            message: msg.into(),
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
            span_id: Some("00f067aa0ba902b7".into()),
            attributes: attrs.iter().map(|(k, v)| Field::new(*k, *v)).collect(),
        }
    }

    #[test]
    fn catches_what_a_masker_let_through_and_says_where() {
        let mut b = Batch::default();
        b.logs.push(log("clean line about order 42", &[]));
        b.logs.push(log("key AKIAIOSFODNN7EXAMPLE leaked", &[("password", "hunter22"), ("user", "bob@example.com")]));
        let out = gate().scan_batch(&mut b);
        assert_eq!(out.total(), 3, "{out:?}");
        assert_eq!(b.logs[0].message, "clean line about order 42");
        assert!(!b.logs[1].message.contains("AKIAIOSFODNN7EXAMPLE"));
        assert!(!format!("{:?}", b.logs[1].attributes).contains("hunter22"));
        assert!(!format!("{:?}", b.logs[1].attributes).contains("bob@example.com"));
        let v = out.violations.iter().find(|v| v.rule == "aws-access-key-id").unwrap();
        assert_eq!((v.location.as_str(), v.start, v.len), ("logs[1].message", 4, 20));
        // The record says where, never what.
        assert!(!serde_json::to_string(&out).unwrap().contains("AKIA"));
    }

    #[test]
    fn output_of_the_default_masker_passes_clean() {
        // What masker-default writes must not count as a violation, or every report
        // would be one.
        let mut b = Batch::default();
        b.logs.push(log("key [MASKED:aws-access-key-id] for email:3f2a9c1b0d4e", &[("password", "[MASKED:sensitive-key]")]));
        let before = b.clone();
        let out = gate().scan_batch(&mut b);
        assert_eq!(out.total(), 0, "{out:?}");
        assert_eq!(b, before);
    }

    #[test]
    fn only_the_shipped_masker_under_the_same_policy_is_trusted() {
        let sha = crate::registry::builtin::default_masker_sha256().expect("masker-default is built in");
        assert!(gate().trusts(sha, "{}"));
        assert!(gate().trusts(&sha.to_uppercase(), "{}"));
        assert!(!gate().trusts(&"0".repeat(64), "{}"), "another masker");
        assert!(!gate().trusts(sha, r#"{"actions": {"contact": "remove"}}"#), "another policy");
        assert!(!gate().trusting_default_masker(false).trusts(sha, "{}"), "switched off");
        let policy = Policy::from_json("{}").unwrap();
        assert!(!Gate::new(policy, b"k".to_vec()).trusts(sha, "{}"), "a gate built from no JSON");
    }

    #[test]
    fn after_a_trusted_masker_only_unchanged_texts_it_masks_are_skipped() {
        // As masker-default got the chunk: `before`. It changed the attribute value
        // and left the message (in truth it would have masked the key; the test
        // plants one to see which texts the gate reads).
        let mut before = Batch::default();
        before.logs.push(LogRecord { environment: "ops ann@example.org".into(), ..log("key AKIAIOSFODNN7EXAMPLE", &[("note", "call 415-555-2671 now"), ("user", "bob@example.com")]) });
        let mut after = before.clone();
        after.logs[0].attributes[1].value = "[MASKED:email] and carol@example.com".into();
        let out = gate().scan_batch_after(&mut after, Some(&before), Offsets::default());
        let places: Vec<&str> = out.violations.iter().map(|v| v.location.as_str()).collect();
        // Left as it was: not read. Changed, or never masker-default's: read.
        assert!(!places.contains(&"logs[0].message") && !places.iter().any(|p| p.contains(".note")), "{places:?}");
        assert!(places.contains(&"logs[0].attributes.user") && places.contains(&"logs[0].environment"), "{places:?}");
        assert!(after.logs[0].message.contains("AKIA"));
        // Without `before` (any other masker) every text is read.
        let mut again = before.clone();
        let all = gate().scan_batch_after(&mut again, None, Offsets::default());
        assert!(all.violations.iter().any(|v| v.location == "logs[0].message"));
        // A `before` of another shape is not trusted either.
        let mut shorter = before.clone();
        shorter.logs.push(log("x", &[]));
        let mut again = before.clone();
        let all = gate().scan_batch_after(&mut again, Some(&shorter), Offsets::default());
        assert!(all.violations.iter().any(|v| v.location == "logs[0].message"));
    }

    #[test]
    fn scans_every_string_of_a_report() {
        let mut report = serde_json::json!({"title": "failed for ann@example.org", "sources": [{"error": "GET https://svc:Sup3rS3cret@db.internal/x failed"}], "n": 3});
        let mut out = GateOutcome::default();
        gate().scan_json("report", &mut report, &mut out);
        let text = report.to_string();
        assert!(!text.contains("ann@example.org") && !text.contains("Sup3rS3cret"), "{text}");
        assert!(out.violations.iter().any(|v| v.location == "report.sources[0].error"));
    }
}
