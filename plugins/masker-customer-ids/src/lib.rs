//! An example masker for one tenant: its customer ids (`CUST-` and 8 digits) become
//! keyed pseudonyms (`customer-id:<12 hex>`), so a developer still sees that two
//! failures hit the same customer without learning which one.
//!
//! It also runs the SDK's built-in detectors under the tenant's policy, like
//! `masker-default`. Why: a tenant's masker slot replaces the default masker, so a
//! masker that only knew customer ids would pass every password, card number and
//! e-mail address on to the host's leak gate, which then counts each one as a
//! violation (and under `fail_closed` holds the report back). The detectors skip text
//! that is already masked, so the masker is also safe to chain after the default one.
//!
//! The rule is added to the tenant's policy as one of the policy's own rules, in the
//! `person` category, so the policy steers it like the name and address rules:
//! `actions: {"person": "mask"}` masks ids instead of pseudonymising them, leaving
//! `person` out of `categories` switches it off, and a rule the policy itself names
//! `customer-id` takes its place. (`rule_actions` or `disabled_rules` naming
//! `customer-id` are refused by the host, which checks a policy against the rules it
//! knows, unless the policy declares that rule itself.)

use casefile_guest::detect::{
    mask_field, mask_text, Action, Category, Counts, CustomRule, Policy, Pseudonyms,
};
use casefile_guest::masker::{Guest, HostPseudonyms};
use casefile_guest::types::{Batch, Field, MaskContext, MaskedBatch, PluginError, RuleCount};

/// The name shown in counts, pseudonyms and `[MASKED:customer-id]`.
pub const RULE: &str = "customer-id";

/// `CUST-` and exactly 8 digits, as a whole word: `CUST-123456789` is not one.
const PATTERN: &str = r"\bCUST-[0-9]{8}\b";

fn customer_rule() -> CustomRule {
    CustomRule {
        name: RULE.into(),
        pattern: PATTERN.into(),
        // The prefix is distinctive enough that no keyword must be near it.
        keywords: Vec::new(),
        near: 64,
        validator: None,
        min_entropy: None,
        // A customer id points at a person; the category's action applies (by
        // default a pseudonym, so failures stay attributable to one customer across
        // records and reports).
        category: Category::Person,
        action: None,
    }
}

/// The tenant's policy with the customer-id rule added (unless the policy already has
/// a rule of that name), checked as a whole.
pub fn policy_with_customer_ids(json: &str) -> Result<Policy, PluginError> {
    let mut policy = if json.trim().is_empty() {
        Policy::default()
    } else {
        // The same message `Policy::from_json` gives, so the host reports it alike.
        serde_json::from_str::<Policy>(json)
            .map_err(|e| PluginError::InvalidInput(format!("policy: {e}")))?
    };
    if !policy.rules.iter().any(|r| r.name == RULE) {
        policy.rules.push(customer_rule());
    }
    policy
        .validate()
        .map_err(|e| PluginError::InvalidInput(e.to_string()))?;
    Ok(policy)
}

struct CustomerIdMasker;

impl Guest for CustomerIdMasker {
    fn mask(context: MaskContext, batch: Batch) -> Result<MaskedBatch, PluginError> {
        mask_with(&context, batch, &mut HostPseudonyms)
    }
}

/// The masking, with the pseudonyms as a parameter so the unit tests run natively
/// with a local key (the component always asks the host).
fn mask_with(
    context: &MaskContext,
    mut batch: Batch,
    pseudonyms: &mut dyn Pseudonyms,
) -> Result<MaskedBatch, PluginError> {
    let policy = policy_with_customer_ids(&context.policy)?;
    let mut m = Masker {
        policy: &policy,
        key: pseudonyms,
        counts: Counts::default(),
    };
    // Every text a record carries, as masker-default does: an id can sit in a host
    // name, a span name or a metric label as well as in a message.
    for log in &mut batch.logs {
        log.message = m.text(&log.message);
        log.host = m.text(&log.host);
        m.fields(&mut log.attributes);
    }
    for span in &mut batch.spans {
        span.name = m.text(&span.name);
        span.host = m.text(&span.host);
        m.fields(&mut span.attributes);
    }
    for sample in &mut batch.metrics {
        sample.host = m.text(&sample.host);
        m.fields(&mut sample.labels);
    }
    let counts = (m.counts.iter())
        .filter_map(|(rule, action, count)| {
            let action = Action::ALL.into_iter().find(|a| a.as_str() == action)?;
            Some(RuleCount {
                rule: rule.to_owned(),
                action: action.into(),
                count,
            })
        })
        .collect();
    Ok(MaskedBatch { batch, counts })
}

struct Masker<'a> {
    policy: &'a Policy,
    key: &'a mut dyn Pseudonyms,
    counts: Counts,
}

impl Masker<'_> {
    fn text(&mut self, text: &str) -> String {
        mask_text(self.policy, &mut *self.key, text, &mut self.counts)
    }

    /// Values first, judged by their original key; then the key is scanned as text.
    fn fields(&mut self, fields: &mut [Field]) {
        for f in fields {
            f.value = mask_field(
                self.policy,
                &mut *self.key,
                &f.key,
                &f.value,
                &mut self.counts,
            );
            f.key = self.text(&f.key);
        }
    }
}

casefile_guest::export_masker!(CustomerIdMasker);

#[cfg(test)]
mod tests {
    use super::*;
    use casefile_guest::detect::HmacPseudonyms;
    use casefile_guest::types::{Level, LogRecord, MaskAction};

    fn mask(policy: &str, messages: &[&str]) -> Result<MaskedBatch, PluginError> {
        let batch = Batch {
            logs: (messages.iter())
                .map(|m| LogRecord {
                    timestamp_ns: 1,
                    host: "runtime-1".into(),
                    environment: "prod".into(),
                    source: "s".into(),
                    level: Level::Error,
                    message: (*m).into(),
                    trace_id: None,
                    span_id: None,
                    attributes: vec![Field {
                        key: "customer".into(),
                        value: "CUST-00000042".into(),
                    }],
                })
                .collect(),
            spans: Vec::new(),
            metrics: Vec::new(),
        };
        let context = MaskContext {
            tenant: "acme".into(),
            policy: policy.into(),
        };
        mask_with(&context, batch, &mut HmacPseudonyms::new(b"key"))
    }

    fn count(out: &MaskedBatch, rule: &str, action: MaskAction) -> u64 {
        (out.counts.iter())
            .find(|c| c.rule == rule && c.action == action)
            .map_or(0, |c| c.count)
    }

    #[test]
    fn customer_ids_become_stable_pseudonyms_and_other_text_stays() {
        let out = mask(
            "",
            &[
                "refund failed for CUST-12345678 (order 42)",
                "retry for CUST-12345678 and CUST-87654321",
                "handled order 42 in 12 ms",
                "not ids: CUST-1234567 CUST-123456789 XCUST-12345678 cust-12345678",
            ],
        )
        .expect("masked");
        let logs = &out.batch.logs;
        let first = logs[0]
            .message
            .split_whitespace()
            .nth(3)
            .unwrap()
            .to_owned();
        assert!(
            first.starts_with("customer-id:") && first.len() == "customer-id:".len() + 12,
            "{first}"
        );
        assert_eq!(
            logs[0].message,
            format!("refund failed for {first} (order 42)")
        );
        assert!(
            logs[1]
                .message
                .starts_with(&format!("retry for {first} and customer-id:")),
            "same id, same token: {}",
            logs[1].message
        );
        assert!(
            !logs[1].message.ends_with(&first[12..]),
            "another id, another token"
        );
        assert_eq!(logs[2].message, "handled order 42 in 12 ms");
        assert_eq!(
            logs[3].message,
            "not ids: CUST-1234567 CUST-123456789 XCUST-12345678 cust-12345678"
        );
        assert!(
            logs[0].attributes[0].value.starts_with("customer-id:"),
            "{:?}",
            logs[0].attributes
        );
        assert_eq!(count(&out, RULE, MaskAction::Hash), 3 + 4);
    }

    #[test]
    fn the_built_in_detectors_run_too() {
        let out = mask(
            "",
            &["login failed password=hunter2 for CUST-12345678 mail bob@example.com"],
        )
        .expect("masked");
        let m = &out.batch.logs[0].message;
        assert!(
            m.starts_with("login failed password=[MASKED:secret-assignment] for customer-id:"),
            "{m}"
        );
        assert!(m.contains(" mail email:") && !m.contains("bob@"), "{m}");
    }

    #[test]
    fn the_tenant_policy_governs_the_rule() {
        let out =
            mask(r#"{"actions": {"person": "mask"}}"#, &["for CUST-12345678"]).expect("masked");
        assert_eq!(out.batch.logs[0].message, "for [MASKED:customer-id]");
        assert_eq!(count(&out, RULE, MaskAction::Mask), 2);
        let out = mask(
            r#"{"categories": ["credential"]}"#,
            &["for CUST-12345678 password=hunter2"],
        )
        .expect("masked");
        assert_eq!(
            out.batch.logs[0].message,
            "for CUST-12345678 password=[MASKED:secret-assignment]"
        );
        // The tenant's own rule of that name replaces the example's.
        let own = r#"{"rules": [{"name": "customer-id", "pattern": "\\bCUST-[0-9]{6}\\b", "action": "remove"}]}"#;
        let out = mask(own, &["a CUST-123456 b CUST-12345678"]).expect("masked");
        assert_eq!(out.batch.logs[0].message, "a  b CUST-12345678");
    }

    #[test]
    fn a_bad_policy_is_invalid_input() {
        for policy in [
            r#"{"actions": {"person": "shred"}}"#,
            "{not json",
            r#"{"disabled_rules": ["no-such-rule"]}"#,
        ] {
            match mask(policy, &["x"]) {
                Err(PluginError::InvalidInput(m)) => assert!(m.starts_with("policy:"), "{m}"),
                other => panic!("{policy}: {other:?}"),
            }
        }
    }
}
