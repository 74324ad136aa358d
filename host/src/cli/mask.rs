//! `casefile mask`: masks stdin to stdout through the same chain as the pipeline
//! (the masker component, then the leak gate).

use std::sync::Arc;

use anyhow::{bail, Result};

use crate::mask::gate::Gate;
use crate::mask::{mask_and_gate, Chunking};
use crate::model::Batch;
use crate::runtime::bindings::wit;
use crate::runtime::Runtime;

/// `casefile mask`: masks stdin to stdout through the same chain as the pipeline
/// (masker component, then the leak gate), with a component file or a tenant's
/// masker and policy. Each input line is one record. With `check`, the input is
/// review cases (`{"line", "expected_masked": [...]}`) and the command fails when a
/// value that must be masked survives.
pub async fn run(
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
    let gate = Gate::for_policy(&policy, key.clone()).map_err(|e| anyhow::anyhow!("masking policy: {e}"))?;
    let gate = Arc::new(gate.trusting_default_masker(runtime.limits().gate_trusts_default_masker));
    let ctx = wit::MaskContext { tenant: tenant.unwrap_or_else(|| "default".into()), policy };
    let key: Arc<[u8]> = key.into();

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
    let (masked, summary, _) = mask_and_gate(&runtime, std::slice::from_ref(&masker), &ctx, &key, &gate, batch, Chunking::of(&runtime)).await?;
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
