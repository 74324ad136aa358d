//! Mask: the tenant's masker component runs over every record, in chunks so that
//! one call's memory stays bounded, then the host's leak gate (`gate`) scans the
//! result. The masker must hand back as many records as it got; the summary says
//! which rule did what, never a value. `review` keeps samples for security review.

pub mod gate;
pub mod policy;
pub mod review;
pub mod shadow;
pub mod versions;

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::model::Batch;
use crate::runtime::bindings::wit;
use crate::runtime::{Loaded, Runtime};

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct MaskingSummary {
    pub component: String,
    pub component_sha256: String,
    pub records: usize,
    /// `rule -> action -> count`.
    pub rules: BTreeMap<String, BTreeMap<String, u64>>,
    pub total: u64,
    pub gate: GateSummary,
    /// The tenant's masking policy version (`versions`).
    pub policy_version: Option<i64>,
}

/// What the leak gate did after the masker.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct GateSummary {
    pub version: String,
    /// Values the masker let through and the gate masked.
    pub violations: u64,
    pub by_rule: BTreeMap<String, u64>,
    pub fail_closed: bool,
}

impl MaskingSummary {
    pub fn add(&mut self, counts: Vec<wit::RuleCount>) {
        for c in counts {
            let action = crate::runtime::convert::mask_action(c.action).to_string();
            *self.rules.entry(c.rule).or_default().entry(action).or_default() += c.count;
            self.total += c.count;
        }
    }
}

/// Masks `batch` with `masker`, `chunk` records per call.
pub async fn mask_batch(
    runtime: &Runtime,
    masker: &Loaded,
    ctx: &wit::MaskContext,
    key: &Arc<[u8]>,
    batch: Batch,
    chunk: usize,
) -> Result<(Batch, MaskingSummary)> {
    let chunk = chunk.max(1);
    let mut summary = MaskingSummary {
        component: masker.name.clone(),
        component_sha256: masker.sha256.clone(),
        records: batch.len(),
        ..Default::default()
    };
    let mut out = Batch::default();
    for part in split(batch, chunk) {
        let (want_logs, want_spans, want_metrics) = (part.logs.len(), part.spans.len(), part.metrics.len());
        let (masked, counts) = runtime.mask(masker, ctx, key.clone(), part).await?;
        if (masked.logs.len(), masked.spans.len(), masked.metrics.len()) != (want_logs, want_spans, want_metrics) {
            bail!(
                "masker {} returned {}/{}/{} logs/spans/metrics for {want_logs}/{want_spans}/{want_metrics}; its output was discarded",
                masker.name,
                masked.logs.len(),
                masked.spans.len(),
                masked.metrics.len()
            );
        }
        summary.add(counts);
        out.extend(masked);
    }
    Ok((out, summary))
}

/// Masks one free-text value (a request message) through the same masker.
/// Masks one text (a trigger's message) through the chain.
pub async fn mask_text(
    runtime: &Runtime,
    maskers: &[Arc<Loaded>],
    ctx: &wit::MaskContext,
    key: &Arc<[u8]>,
    text: &str,
) -> Result<(String, Vec<wit::RuleCount>)> {
    let mut text = text.to_string();
    let mut all = Vec::new();
    for masker in maskers {
        let mut b = Batch::default();
        b.logs.push(crate::model::LogRecord::text("request", &text));
        let (masked, counts) = runtime.mask(masker, ctx, key.clone(), b).await?;
        all.extend(counts);
        text = match masked.logs.into_iter().next() {
            Some(l) => l.message,
            None => bail!("masker {} dropped the record it was given", masker.name),
        };
    }
    Ok((text, all))
}

fn split(batch: Batch, chunk: usize) -> Vec<Batch> {
    let mut parts = Vec::new();
    let mut logs = batch.logs.into_iter().peekable();
    let mut spans = batch.spans.into_iter().peekable();
    let mut metrics = batch.metrics.into_iter().peekable();
    while logs.peek().is_some() || spans.peek().is_some() || metrics.peek().is_some() {
        let mut part = Batch::default();
        part.logs.extend(logs.by_ref().take(chunk));
        let room = chunk.saturating_sub(part.logs.len());
        part.spans.extend(spans.by_ref().take(room));
        let room = room.saturating_sub(part.spans.len());
        part.metrics.extend(metrics.by_ref().take(room));
        parts.push(part);
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, LogRecord};

    #[test]
    fn split_keeps_every_record_once_in_order() {
        let mut b = Batch::default();
        for i in 0..10 {
            b.logs.push(LogRecord {
                timestamp_ns: i,
                host: String::new(),
                environment: String::new(),
                source: String::new(),
                level: Level::Info,
                message: i.to_string(),
                trace_id: None,
                span_id: None,
                attributes: vec![],
            });
        }
        let parts = split(b, 4);
        assert_eq!(parts.iter().map(|p| p.logs.len()).collect::<Vec<_>>(), vec![4, 4, 2]);
        let joined: Vec<i64> = parts.iter().flat_map(|p| p.logs.iter().map(|l| l.timestamp_ns)).collect();
        assert_eq!(joined, (0..10).collect::<Vec<_>>());
        assert!(split(Batch::default(), 4).is_empty());
    }
}


/// The whole chain as the pipeline runs it: the masker over the batch, then the gate.
/// Runs the masker chain in order (each masks what the one before it left), then
/// the leak gate over the result.
pub async fn mask_and_gate(
    runtime: &Runtime,
    maskers: &[Arc<Loaded>],
    ctx: &wit::MaskContext,
    key: &Arc<[u8]>,
    gate: &gate::Gate,
    mut batch: Batch,
    chunk: usize,
) -> Result<(Batch, MaskingSummary, gate::GateOutcome)> {
    let mut summary: Option<MaskingSummary> = None;
    for masker in maskers {
        let (masked, s) = mask_batch(runtime, masker, ctx, key, batch, chunk).await?;
        batch = masked;
        summary = Some(match summary {
            None => s,
            Some(mut acc) => {
                acc.component = format!("{} + {}", acc.component, s.component);
                for (rule, actions) in s.rules {
                    for (action, n) in actions {
                        *acc.rules.entry(rule.clone()).or_default().entry(action).or_default() += n;
                    }
                }
                acc.total += s.total;
                acc
            }
        });
    }
    let Some(mut summary) = summary else { bail!("no masker is bound") };
    let outcome = gate.scan_batch(&mut batch);
    summary.gate.version = gate::version();
    summary.gate.violations = outcome.total();
    summary.gate.by_rule = outcome.by_rule.clone();
    Ok((batch, summary, outcome))
}
