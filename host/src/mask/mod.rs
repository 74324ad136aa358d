//! Mask: the tenant's masker component runs over every record, in chunks so that
//! one call's memory stays bounded, then the host's leak gate (`gate`) scans the
//! result. The masker must hand back as many records as it got; the summary says
//! which rule did what, never a value. `review` keeps samples for security review.

pub mod gate;
pub mod review;

use std::collections::BTreeMap;

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
            *self.rules.entry(c.rule).or_default().entry(c.action).or_default() += c.count;
            self.total += c.count;
        }
    }
}

/// Masks `batch` with `masker`, `chunk` records per call.
pub async fn mask_batch(
    runtime: &Runtime,
    masker: &Loaded,
    ctx: &wit::MaskContext,
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
        let (masked, counts) = runtime.mask(masker, ctx, part).await?;
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
pub async fn mask_text(runtime: &Runtime, masker: &Loaded, ctx: &wit::MaskContext, text: &str) -> Result<(String, Vec<wit::RuleCount>)> {
    let mut b = Batch::default();
    b.logs.push(crate::model::LogRecord::text("request", text));
    let (masked, counts) = runtime.mask(masker, ctx, b).await?;
    match masked.logs.into_iter().next() {
        Some(l) => Ok((l.message, counts)),
        None => bail!("masker {} dropped the record it was given", masker.name),
    }
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
pub async fn mask_and_gate(
    runtime: &Runtime,
    masker: &Loaded,
    ctx: &wit::MaskContext,
    gate: &gate::Gate,
    batch: Batch,
    chunk: usize,
) -> Result<(Batch, MaskingSummary, gate::GateOutcome)> {
    let (mut batch, mut summary) = mask_batch(runtime, masker, ctx, batch, chunk).await?;
    let outcome = gate.scan_batch(&mut batch);
    summary.gate.version = gate::version();
    summary.gate.violations = outcome.total();
    summary.gate.by_rule = outcome.by_rule.clone();
    Ok((batch, summary, outcome))
}

/// `casefile mask`: masks stdin to stdout through the same chain as the pipeline
/// (masker component, then the leak gate), with a component file or a tenant's
/// masker and policy. Each input line is one record. With `check`, the input is
/// review cases (`{"line", "expected_masked": [...]}`) and the command fails when a
/// value that must be masked survives.
pub async fn mask_stdin(
    component: Option<std::path::PathBuf>,
    tenant: Option<String>,
    config_path: &std::path::Path,
    jsonl: bool,
    check: bool,
) -> Result<()> {
    use std::io::{BufRead, Write};

    use anyhow::Context;

    use crate::config::{ComponentKind, RuntimeConfig};

    let (runtime_config, masker_bytes, name, policy, key) = match &component {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            (RuntimeConfig::default(), bytes, path.display().to_string(), "{}".to_string(), rand::random::<[u8; 32]>().to_vec())
        }
        None => {
            let tenant = tenant.as_deref().unwrap_or("default");
            let config = crate::config::Config::load(config_path)?;
            let t = config.tenant(tenant).with_context(|| format!("tenant `{tenant}` is not declared in {}", config_path.display()))?;
            let c = config.components.get(&t.masker).with_context(|| format!("masker `{}` is not declared", t.masker))?;
            let bytes = crate::registry::read_source(&config, &c.source).with_context(|| format!("component `{}`", t.masker))?;
            let template = crate::report::Template::load(&config.resolve_path(&config.report.template))?;
            // Without the server's stored key, pseudonyms are stable within this run only,
            // unless the tenant's pseudonym_key is set in the config.
            let key = match &t.pseudonym_key {
                Some(k) => hex::decode(k)?,
                None => rand::random::<[u8; 32]>().to_vec(),
            };
            (config.runtime.clone(), bytes, t.masker.clone(), template.policy_for(tenant), key)
        }
    };
    let cache = std::env::temp_dir().join("casefile-mask-compiled");
    let runtime = Runtime::new(runtime_config, cache)?;
    let masker = runtime.load(&name, ComponentKind::Masker, &masker_bytes)?;
    let gate = gate::Gate::for_policy(&policy, key.clone()).map_err(|e| anyhow::anyhow!("masking policy: {e}"))?;
    let ctx = wit::MaskContext { tenant: tenant.unwrap_or_else(|| "default".into()), policy, pseudonym_key: key };

    let mut texts = Vec::new();
    let mut expected: Vec<Vec<String>> = Vec::new();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.context("cannot read stdin")?;
        if jsonl || check {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line).with_context(|| format!("line {}: not JSON", n + 1))?;
            let text = v.get("line").and_then(|l| l.as_str()).with_context(|| format!("line {}: no string field `line`", n + 1))?;
            texts.push(text.to_string());
            expected.push(
                v.get("expected_masked")
                    .and_then(|e| e.as_array())
                    .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                    .unwrap_or_default(),
            );
        } else {
            texts.push(line);
        }
    }
    let mut batch = Batch::default();
    batch.logs = texts.into_iter().map(|m| crate::model::LogRecord::text("stdin", m)).collect();
    let chunk = runtime.limits().mask_chunk_records;
    let (masked, summary, _) = mask_and_gate(&runtime, &masker, &ctx, &gate, batch, chunk).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut failures = 0;
    for (i, l) in masked.logs.iter().enumerate() {
        if check {
            let left: Vec<&String> = expected[i].iter().filter(|v| !v.is_empty() && l.message.contains(v.as_str())).collect();
            if !left.is_empty() {
                failures += 1;
                // Which case and how many values, never the values themselves.
                writeln!(out, "{}", serde_json::json!({"case": i + 1, "still_visible": left.len()}))?;
            }
        } else if jsonl {
            serde_json::to_writer(&mut out, &serde_json::json!({"line": l.message}))?;
            out.write_all(b"\n")?;
        } else {
            writeln!(out, "{}", l.message)?;
        }
    }
    out.flush()?;
    eprintln!(
        "masked {} values in {} records; the leak gate masked {} more",
        summary.total, summary.records, summary.gate.violations
    );
    if check {
        if failures > 0 {
            bail!("{failures} of {} cases still show a value that must be masked", masked.logs.len());
        }
        eprintln!("all {} cases pass", masked.logs.len());
    }
    Ok(())
}
