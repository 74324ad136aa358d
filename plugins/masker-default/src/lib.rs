//! The default masker: the built-in detectors (`casefile_guest::detect`) under the
//! tenant's policy, over every text a batch carries. Records are changed in place, so
//! the output has exactly as many records as the input.

use casefile_guest::detect::{mask_field_value, Action, CleanTexts, Counts, Policy, Pseudonyms};
use std::borrow::Cow;
use casefile_guest::masker::{Guest, HostPseudonyms};
use casefile_guest::types::{Batch, Field, MaskContext, MaskedBatch, PluginError, RuleCount};

struct DefaultMasker;

impl Guest for DefaultMasker {
    fn mask(context: MaskContext, batch: Batch) -> Result<MaskedBatch, PluginError> {
        mask_with(&context, batch, &mut HostPseudonyms)
    }
}

/// The masking itself, with the pseudonyms as a parameter so that the unit tests run
/// natively with a local key (the component always asks the host).
fn mask_with(
    context: &MaskContext,
    mut batch: Batch,
    pseudonyms: &mut dyn Pseudonyms,
) -> Result<MaskedBatch, PluginError> {
    {
        let policy = Policy::from_json(&context.policy)
            .map_err(|e| PluginError::InvalidInput(e.to_string()))?;
        let mut masker = Masker {
            policy: &policy,
            key: pseudonyms,
            counts: Counts::default(),
            clean: CleanTexts::default(),
        };

        for log in &mut batch.logs {
            masker.text(&mut log.message);
            // A host name can be an address (`10.0.3.7`); a pseudonym keeps hosts apart
            // for clock alignment while hiding it.
            masker.text(&mut log.host);
            masker.fields(&mut log.attributes);
        }
        for span in &mut batch.spans {
            masker.text(&mut span.name);
            masker.text(&mut span.host);
            masker.fields(&mut span.attributes);
        }
        for sample in &mut batch.metrics {
            masker.text(&mut sample.host);
            masker.fields(&mut sample.labels);
        }

        let counts = (masker.counts.iter())
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
}

struct Masker<'a> {
    policy: &'a Policy,
    key: &'a mut dyn Pseudonyms,
    counts: Counts,
    /// Hosts, span names and attribute keys repeat: each is scanned once a call.
    clean: CleanTexts,
}

impl Masker<'_> {
    /// Masks `text` where it stands. A text with nothing in it (most of them) is left
    /// as it is, not copied: each copy is an allocation and a free in the component.
    fn text(&mut self, text: &mut String) {
        let masked = (self.clean).mask(self.policy, &mut *self.key, text, &mut self.counts);
        if let Cow::Owned(masked) = masked {
            *text = masked;
        }
    }

    /// Values first, judged by their original key (`password` masks whatever the value
    /// is); then the key itself is scanned like any text.
    fn fields(&mut self, fields: &mut [Field]) {
        for f in fields {
            let value = mask_field_value(self.policy, &mut *self.key, &f.key, &f.value, &mut self.counts);
            if let Cow::Owned(value) = value {
                f.value = value;
            }
            self.text(&mut f.key);
        }
    }
}

casefile_guest::export_masker!(DefaultMasker);

#[cfg(test)]
mod tests {
    use super::*;
    use casefile_guest::detect::HmacPseudonyms;
    use casefile_guest::types::{Level, LogRecord, MaskAction, MetricSample, Span};

    impl DefaultMasker {
        /// The component's path with a local key instead of the host's import.
        fn mask(context: MaskContext, batch: Batch) -> Result<MaskedBatch, PluginError> {
            mask_with(&context, batch, &mut HostlessKey(HmacPseudonyms::new(b"key")))
        }
    }

    struct HostlessKey(HmacPseudonyms<'static>);

    impl Pseudonyms for HostlessKey {
        fn token(&mut self, rule: &str, value: &str) -> Option<String> {
            self.0.token(rule, value)
        }
    }

    fn f(k: &str, v: &str) -> Field {
        Field {
            key: k.into(),
            value: v.into(),
        }
    }

    fn context(policy: &str) -> MaskContext {
        MaskContext {
            tenant: "acme".into(),
            policy: policy.into(),
        }
    }

    fn batch() -> Batch {
        Batch {
            logs: vec![
                LogRecord {
                    timestamp_ns: 1,
                    host: "10.0.3.7".into(),
                    environment: "prod".into(),
                    source: "s".into(),
                    level: Level::Error,
                    message: r#"login failed password=hunter2 body={"token":"abc"}"#.into(),
                    trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
                    span_id: None,
                    attributes: vec![
                        f("api_key", "plain"),
                        f("user", "bob@example.com"),
                        f("status", "500")
                    ],
                };
                2
            ],
            spans: vec![Span {
                trace_id: "t".into(),
                span_id: "s".into(),
                parent_span_id: None,
                name: "GET /users/bob@example.com".into(),
                service: "api".into(),
                host: "h".into(),
                environment: "prod".into(),
                start_ns: 1,
                duration_ns: 2,
                error: true,
                attributes: vec![f("authorization", "Bearer xyz")],
            }],
            metrics: vec![MetricSample {
                name: "m".into(),
                labels: vec![f("card", "4111111111111111")],
                timestamp_ns: 1,
                value: 1.0,
                host: "h".into(),
                environment: "prod".into(),
            }],
        }
    }

    #[test]
    fn a_repeated_text_gets_the_same_answer_and_is_counted_each_time() {
        let mut b = batch();
        b.logs = (0..3)
            .flat_map(|_| {
                let mut clean = b.logs[0].clone();
                clean.host = "web-1".into();
                [b.logs[0].clone(), clean]
            })
            .collect();
        let out = DefaultMasker::mask(context(""), b).expect("masked");
        let hosts: Vec<&str> = out.batch.logs.iter().map(|l| l.host.as_str()).collect();
        assert_eq!(hosts[1], "web-1");
        assert!(hosts[0].starts_with("ipv4:"), "{}", hosts[0]);
        assert_eq!(hosts, [hosts[0], "web-1"].repeat(3));
        // The address is found on every record that carries it, not only the first.
        let ipv4: u64 = out.counts.iter().filter(|c| c.rule == "ipv4").map(|c| c.count).sum();
        assert_eq!(ipv4, 3);
    }

    #[test]
    fn masks_every_text_and_keeps_the_record_count() {
        let out = DefaultMasker::mask(context(""), batch()).expect("masked");
        let b = &out.batch;
        assert_eq!((b.logs.len(), b.spans.len(), b.metrics.len()), (2, 1, 1));
        let log = &b.logs[0];
        assert_eq!(
            log.message,
            r#"login failed password=[MASKED:secret-assignment] body={"token":"[MASKED:secret-assignment]"}"#
        );
        assert!(log.host.starts_with("ipv4:"), "{}", log.host);
        assert_eq!(
            log.trace_id.as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(log.attributes[0], f("api_key", "[MASKED:sensitive-key]"));
        assert!(log.attributes[1].value.starts_with("email:"));
        assert_eq!(log.attributes[2], f("status", "500"));
        assert!(
            b.spans[0].name.starts_with("GET /users/email:"),
            "{}",
            b.spans[0].name
        );
        assert_eq!(
            b.spans[0].attributes[0],
            f("authorization", "[MASKED:sensitive-key]")
        );
        assert_eq!(b.metrics[0].labels[0], f("card", "****1111"));
        let count = |rule: &str, action: MaskAction| {
            out.counts
                .iter()
                .find(|c| c.rule == rule && c.action == action)
                .map_or(0, |c| c.count)
        };
        assert_eq!(count("secret-assignment", MaskAction::Mask), 4);
        assert_eq!(count("sensitive-key", MaskAction::Mask), 3);
        assert_eq!(count("email", MaskAction::Hash), 3);
        assert_eq!(count("ipv4", MaskAction::Hash), 2);
        assert_eq!(count("credit-card", MaskAction::Partial), 1);
    }

    #[test]
    fn policy_is_applied_and_checked() {
        let out = DefaultMasker::mask(context(r#"{"actions": {"contact": "remove"}}"#), batch())
            .expect("masked");
        assert_eq!(out.batch.logs[0].attributes[1], f("user", ""));
        match DefaultMasker::mask(context(r#"{"actions": {"contact": "shred"}}"#), batch()) {
            Err(PluginError::InvalidInput(m)) => {
                assert!(m.contains("unknown variant `shred`"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }
}
