//! Mask: the tenant's masker component runs over every record, in chunks so that
//! one call's memory stays bounded. The masker must hand back as many records as it
//! got; the summary says which rule did what, never a value.

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
        let (masked, counts) = runtime.mask(masker, ctx, &part).await?;
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
    b.logs.push(crate::model::LogRecord {
        timestamp_ns: 0,
        host: String::new(),
        environment: String::new(),
        source: "request".into(),
        level: crate::model::Level::Info,
        message: text.to_string(),
        trace_id: None,
        span_id: None,
        attributes: vec![],
    });
    let (masked, counts) = runtime.mask(masker, ctx, &b).await?;
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

/// `casefile mask`: masks stdin to stdout through the same masker call as the
/// pipeline, with a component file or a tenant's masker and policy.
pub async fn mask_stdin(component: Option<std::path::PathBuf>, tenant: Option<String>, config_path: &std::path::Path, jsonl: bool) -> Result<()> {
    use std::io::{BufRead, Write};

    use anyhow::Context;

    use crate::config::{ComponentKind, RuntimeConfig};

    let data_dir = std::env::temp_dir().join(format!("casefile-mask-{}", std::process::id()));
    let (runtime_config, masker_bytes, name, policy, key) = match (&component, &tenant) {
        (Some(path), _) => {
            let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            (RuntimeConfig::default(), bytes, path.display().to_string(), "{}".to_string(), vec![0u8; 32])
        }
        (None, tenant) => {
            let tenant = tenant.as_deref().unwrap_or("default");
            let config = crate::config::Config::load(config_path)?;
            let t = config.tenant(tenant).with_context(|| format!("tenant `{tenant}` is not declared in {}", config_path.display()))?;
            let c = config.components.get(&t.masker).with_context(|| format!("masker `{}` is not declared", t.masker))?;
            let bytes = match c.source.strip_prefix("builtin:") {
                Some(b) => crate::registry::builtin::get(b).with_context(|| format!("no built-in component `{b}`"))?.to_vec(),
                None => std::fs::read(config.resolve_path(&c.source)).with_context(|| format!("cannot read {}", c.source))?,
            };
            let template = crate::report::Template::load(&config.resolve_path(&config.report.template))?;
            // Without the server's stored key, pseudonyms here are stable only within this run
            // unless the tenant's pseudonym_key is set in the config.
            let key = match &t.pseudonym_key {
                Some(k) => hex::decode(k)?,
                None => rand::random::<[u8; 32]>().to_vec(),
            };
            (config.runtime.clone(), bytes, t.masker.clone(), template.policy_for(tenant), key)
        }
    };
    let runtime = crate::runtime::Runtime::new(runtime_config, data_dir.join("compiled"))?;
    let masker = runtime.load(&name, ComponentKind::Masker, &masker_bytes)?;
    let ctx = wit::MaskContext { tenant: tenant.unwrap_or_else(|| "default".into()), policy, pseudonym_key: key };

    let stdin = std::io::stdin();
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let mut lines = Vec::new();
    for (n, line) in stdin.lock().lines().enumerate() {
        let line = line.context("cannot read stdin")?;
        let text = if jsonl {
            let v: serde_json::Value = serde_json::from_str(&line).with_context(|| format!("line {}: not JSON", n + 1))?;
            v.get("line").and_then(|l| l.as_str()).with_context(|| format!("line {}: no string field `line`", n + 1))?.to_string()
        } else {
            line
        };
        lines.push(text);
    }
    let mut batch = Batch::default();
    batch.logs = lines
        .into_iter()
        .map(|message| crate::model::LogRecord {
            timestamp_ns: 0,
            host: String::new(),
            environment: String::new(),
            source: "stdin".into(),
            level: crate::model::Level::Info,
            message,
            trace_id: None,
            span_id: None,
            attributes: vec![],
        })
        .collect();
    let chunk = runtime.limits().mask_chunk_records;
    let (masked, summary) = mask_batch(&runtime, &masker, &ctx, batch, chunk).await?;
    for l in masked.logs {
        if jsonl {
            serde_json::to_writer(&mut out, &serde_json::json!({"line": l.message}))?;
            out.write_all(b"\n")?;
        } else {
            writeln!(out, "{}", l.message)?;
        }
    }
    out.flush()?;
    let _ = std::fs::remove_dir_all(&data_dir);
    eprintln!("masked {} values in {} records", summary.total, summary.records);
    Ok(())
}
