//! Report: the template decides sections and limits; the output is a versioned
//! JSON report, its Markdown rendering (for tickets) and a bundle archive holding
//! the masked records, the report and a manifest of SHA-256 sums.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::mask::MaskingSummary;
use crate::model::{Batch, ComponentUse, DiagnosisRequest, Level, SourceOutcome};
use crate::store::sha256_hex;

pub const SCHEMA: &str = "casefile.report/v1";

const ALL_SECTIONS: &[&str] = &["summary", "sources", "errors", "timeline", "traces", "metrics", "masking"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[serde(default = "default_sections")]
    pub sections: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub masking: MaskingTemplate,
}

fn default_sections() -> Vec<String> {
    ALL_SECTIONS.iter().map(|s| s.to_string()).collect()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub timeline: usize,
    pub errors: usize,
    pub traces: usize,
    pub metrics: usize,
    /// Longest message kept in the report (the bundle keeps them whole).
    pub message_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { timeline: 200, errors: 50, traces: 20, metrics: 50, message_chars: 2000 }
    }
}

/// The masking policy: defaults for every tenant, and per-tenant overrides.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaskingTemplate {
    /// The policy handed to every tenant's masker and gate, as JSON (see
    /// guest-sdk/src/detect/policy.rs); empty means the built-in defaults.
    pub policy: Value,
    /// Hold the report back when the leak gate finds anything the masker missed.
    pub fail_closed: bool,
    /// Fraction (0..=1) of masked log records kept for security review.
    pub review_sample_rate: f64,
    pub tenants: BTreeMap<String, TenantMasking>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantMasking {
    /// Replaces the default policy for this tenant.
    pub policy: Option<Value>,
    pub fail_closed: Option<bool>,
    pub review_sample_rate: Option<f64>,
}

/// One tenant's masking settings with the defaults filled in.
#[derive(Debug, Clone)]
pub struct MaskingPolicy {
    pub policy_json: String,
    pub fail_closed: bool,
    pub review_sample_rate: f64,
}

impl Template {
    pub fn load(path: &Path) -> Result<Template> {
        let raw = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read report template {}", path.display()))?;
        let t: Template = serde_yaml::from_str(&raw)
            .with_context(|| format!("report template {} is not valid", path.display()))?;
        for s in &t.sections {
            if !ALL_SECTIONS.contains(&s.as_str()) {
                anyhow::bail!(
                    "report template {} names unknown section `{s}`; known: {}",
                    path.display(),
                    ALL_SECTIONS.join(", ")
                );
            }
        }
        // A policy that the masker would reject is reported now, not at the first incident.
        let policies = std::iter::once(("default".to_string(), Some(&t.masking.policy)))
            .chain(t.masking.tenants.iter().map(|(k, v)| (k.clone(), v.policy.as_ref())));
        for (tenant, p) in policies {
            if let Some(p) = p.filter(|p| !p.is_null()) {
                casefile_guest::detect::Policy::from_json(&p.to_string())
                    .map_err(|e| anyhow::anyhow!("report template {}: masking policy of `{tenant}`: {e}", path.display()))?;
            }
        }
        let rates = std::iter::once(t.masking.review_sample_rate).chain(t.masking.tenants.values().filter_map(|v| v.review_sample_rate));
        for r in rates {
            if !(0.0..=1.0).contains(&r) {
                anyhow::bail!("report template {}: review_sample_rate {r} must be between 0 and 1", path.display());
            }
        }
        Ok(t)
    }

    pub fn masking_for(&self, tenant: &str) -> MaskingPolicy {
        let t = self.masking.tenants.get(tenant);
        let p = t.and_then(|t| t.policy.as_ref()).unwrap_or(&self.masking.policy);
        MaskingPolicy {
            policy_json: if p.is_null() { "{}".into() } else { p.to_string() },
            fail_closed: t.and_then(|t| t.fail_closed).unwrap_or(self.masking.fail_closed),
            review_sample_rate: t.and_then(|t| t.review_sample_rate).unwrap_or(self.masking.review_sample_rate),
        }
    }

    pub fn policy_for(&self, tenant: &str) -> String {
        self.masking_for(tenant).policy_json
    }

    fn has(&self, section: &str) -> bool {
        self.sections.iter().any(|s| s == section)
    }
}

/// Everything the report is built from; all text in it is already masked.
pub struct ReportInput<'a> {
    pub task_id: &'a str,
    pub request: &'a DiagnosisRequest,
    pub masked_message: Option<String>,
    pub batch: &'a Batch,
    pub sources: &'a [SourceOutcome],
    pub masking: &'a MaskingSummary,
    pub components: &'a [ComponentUse],
    pub generated_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Built {
    pub json: Value,
    pub markdown: String,
    pub fingerprint: String,
    pub title: String,
    pub severity: String,
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut c: String = s.chars().take(n).collect();
        c.push('…');
        c
    }
}

fn rfc3339_ns(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The same failure gets the same fingerprint: the tenant, the plugin and the
/// first error with numbers and ids blurred out.
pub fn fingerprint(tenant: &str, plugin: &str, headline: &str) -> String {
    static NUMBERS: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let blurred: String = match NUMBERS.get_or_init(|| regex::Regex::new(r"[0-9a-fA-F]{8,}|\d+").ok()) {
        Some(re) => re.replace_all(headline, "#").into_owned(),
        None => headline.to_string(),
    };
    sha256_hex(format!("{tenant}\0{plugin}\0{}", blurred.trim()).as_bytes())[..16].to_string()
}

pub fn build(t: &Template, input: &ReportInput) -> Built {
    let req = input.request;
    let b = input.batch;
    let lim = &t.limits;
    let errors: Vec<usize> = (0..b.logs.len()).filter(|&i| b.logs[i].level.is_error()).collect();
    let first_error = errors.first().map(|&i| &b.logs[i]);
    let severity = if b.logs.iter().any(|l| l.level == Level::Fatal) {
        "critical"
    } else if !errors.is_empty() || b.spans.iter().any(|s| s.error) {
        "high"
    } else {
        "medium"
    };
    let headline = first_error
        .map(|l| l.message.clone())
        .or_else(|| input.masked_message.clone())
        .unwrap_or_else(|| format!("error event {}", req.error_event_id));
    let headline = clip(headline.lines().next().unwrap_or(""), 120);
    let envs = if req.environments.is_empty() { "all environments".to_string() } else { req.environments.join(", ") };
    let title = format!("[casefile] {} failed in {envs}: {headline}", req.plugin.id);
    let fingerprint = fingerprint(&req.tenant, &req.plugin.id, &headline);

    let log_json = |i: usize| {
        let l = &b.logs[i];
        json!({
            "time": rfc3339_ns(l.timestamp_ns), "level": l.level, "host": l.host,
            "environment": l.environment, "source": l.source,
            "message": clip(&l.message, lim.message_chars),
            "trace_id": l.trace_id, "span_id": l.span_id,
        })
    };

    let mut levels: BTreeMap<Level, usize> = BTreeMap::new();
    for l in &b.logs {
        *levels.entry(l.level).or_default() += 1;
    }
    let hosts: BTreeSet<&str> = b.logs.iter().map(|l| l.host.as_str()).filter(|h| !h.is_empty()).collect();
    let mut report = json!({
        "schema": SCHEMA,
        "task_id": input.task_id,
        "tenant": req.tenant,
        "plugin": req.plugin,
        "error_event_id": req.error_event_id,
        "title": title,
        "severity": severity,
        "fingerprint": fingerprint,
        "generated_at": input.generated_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "window": req.window,
        "environments": req.environments,
        "message": input.masked_message,
        "components": input.components,
    });
    let obj = report.as_object_mut().expect("report is an object");
    if t.has("summary") {
        obj.insert("summary".into(), json!({
            "logs": b.logs.len(), "spans": b.spans.len(), "metrics": b.metrics.len(),
            "errors": errors.len(), "error_spans": b.spans.iter().filter(|s| s.error).count(),
            "levels": levels, "hosts": hosts,
            "first_error": errors.first().map(|&i| log_json(i)),
        }));
    }
    if t.has("sources") {
        obj.insert("sources".into(), json!(input.sources));
    }
    if t.has("errors") {
        obj.insert("errors".into(), Value::Array(errors.iter().take(lim.errors).map(|&i| log_json(i)).collect()));
    }
    if t.has("timeline") {
        obj.insert("timeline".into(), Value::Array(timeline(b, &errors, lim.timeline).into_iter().map(log_json).collect()));
    }
    if t.has("traces") {
        obj.insert("traces".into(), traces(b, lim.traces));
    }
    if t.has("metrics") {
        obj.insert("metrics".into(), metrics(b, lim.metrics));
    }
    if t.has("masking") {
        obj.insert("masking".into(), json!(input.masking));
    }
    let markdown = markdown(&report);
    Built { json: report, markdown, fingerprint, title, severity: severity.into() }
}

/// Which log lines the report shows: every error with three lines either side
/// first, then the latest lines until the limit; in time order.
fn timeline(b: &Batch, errors: &[usize], limit: usize) -> Vec<usize> {
    let mut pick = BTreeSet::new();
    'errors: for &e in errors {
        for i in e.saturating_sub(3)..=(e + 3).min(b.logs.len().saturating_sub(1)) {
            if pick.len() >= limit {
                break 'errors;
            }
            pick.insert(i);
        }
    }
    let mut i = b.logs.len();
    while pick.len() < limit && i > 0 {
        i -= 1;
        pick.insert(i);
    }
    pick.into_iter().collect()
}

/// Traces with their spans joined to the log lines that carry their ids.
fn traces(b: &Batch, limit: usize) -> Value {
    let mut by_trace: BTreeMap<&str, (Vec<usize>, usize, usize)> = BTreeMap::new();
    for (i, s) in b.spans.iter().enumerate() {
        by_trace.entry(&s.trace_id).or_default().0.push(i);
    }
    for l in &b.logs {
        if let Some(t) = &l.trace_id {
            if let Some(e) = by_trace.get_mut(t.as_str()) {
                e.1 += 1;
                if l.level.is_error() {
                    e.2 += 1;
                }
            }
        }
    }
    let mut list: Vec<_> = by_trace.into_iter().collect();
    // Traces with errors first, then the ones with most logs.
    list.sort_by_key(|(_, (spans, logs, errs))| {
        let err_spans = spans.iter().filter(|&&i| b.spans[i].error).count();
        (std::cmp::Reverse(err_spans + errs), std::cmp::Reverse(*logs))
    });
    let ids: HashMap<&str, usize> = b.spans.iter().enumerate().map(|(i, s)| (s.span_id.as_str(), i)).collect();
    Value::Array(
        list.into_iter()
            .take(limit)
            .map(|(trace_id, (spans, logs, error_logs))| {
                let start = spans.iter().map(|&i| b.spans[i].start_ns).min().unwrap_or(0);
                let end = spans.iter().map(|&i| b.spans[i].start_ns + b.spans[i].duration_ns).max().unwrap_or(0);
                let root = spans.iter().find(|&&i| {
                    b.spans[i].parent_span_id.as_deref().is_none_or(|p| !ids.contains_key(p))
                });
                json!({
                    "trace_id": trace_id,
                    "root": root.map(|&i| &b.spans[i].name),
                    "spans": spans.len(),
                    "error_spans": spans.iter().filter(|&&i| b.spans[i].error).map(|&i| json!({
                        "name": b.spans[i].name, "service": b.spans[i].service, "span_id": b.spans[i].span_id,
                        "duration_ms": b.spans[i].duration_ns as f64 / 1e6,
                    })).collect::<Vec<_>>(),
                    "duration_ms": (end - start) as f64 / 1e6,
                    "logs": logs,
                    "error_logs": error_logs,
                })
            })
            .collect(),
    )
}

fn metrics(b: &Batch, limit: usize) -> Value {
    let mut by_name: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for m in &b.metrics {
        by_name.entry(&m.name).or_default().push(m.value);
    }
    Value::Array(
        by_name
            .into_iter()
            .take(limit)
            .map(|(name, v)| {
                let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
                let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                json!({"name": name, "samples": v.len(), "min": min, "max": max, "last": v.last()})
            })
            .collect(),
    )
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Markdown for tickets: a table-light rendering that reads well in any tracker.
/// Backticks and pipes in values are escaped so log text cannot break the layout.
pub fn markdown(r: &Value) -> String {
    let esc = |v: &Value| s(v).replace('|', "\\|").replace('`', "'").replace('\n', " ");
    let mut md = String::new();
    md.push_str(&format!("# {}\n\n", esc(&r["title"])));
    md.push_str(&format!(
        "- **Plugin:** {} {}\n- **Tenant:** {}\n- **Error event:** {}\n- **Severity:** {}\n- **Window:** {} – {}\n- **Fingerprint:** {}\n- **Task:** {}\n",
        esc(&r["plugin"]["id"]), esc(&r["plugin"]["version"]), esc(&r["tenant"]), esc(&r["error_event_id"]),
        esc(&r["severity"]), esc(&r["window"]["start"]), esc(&r["window"]["end"]), esc(&r["fingerprint"]), esc(&r["task_id"])
    ));
    if !r["message"].is_null() {
        md.push_str(&format!("- **Message:** {}\n", esc(&r["message"])));
    }
    if let Some(sum) = r.get("summary") {
        md.push_str(&format!(
            "\n## Summary\n\n{} log lines ({} errors), {} spans ({} in error), {} metric samples from {} hosts.\n",
            s(&sum["logs"]), s(&sum["errors"]), s(&sum["spans"]), s(&sum["error_spans"]), s(&sum["metrics"]),
            sum["hosts"].as_array().map_or(0, Vec::len)
        ));
        if let Some(fe) = sum.get("first_error").filter(|v| !v.is_null()) {
            md.push_str(&format!("\nFirst error at {} on {}:\n\n```\n{}\n```\n", esc(&fe["time"]), esc(&fe["host"]), s(&fe["message"]).replace("```", "'''")));
        }
    }
    if let Some(Value::Array(src)) = r.get("sources") {
        md.push_str("\n## Sources\n\n| source | environment | status | records | note |\n|---|---|---|---|---|\n");
        for x in src {
            let note = if !x["fallback"].is_null() { format!("fell back to {}", esc(&x["fallback"])) } else { esc(&x["error"]) };
            md.push_str(&format!("| {} | {} | {} | {} | {} |\n", esc(&x["name"]), esc(&x["environment"]), esc(&x["status"]), s(&x["records"]), note));
        }
    }
    if let Some(Value::Array(errs)) = r.get("errors") {
        if !errs.is_empty() {
            md.push_str("\n## Errors\n\n");
            for e in errs.iter().take(20) {
                md.push_str(&format!("- `{}` {} {}: {}\n", esc(&e["time"]), esc(&e["host"]), esc(&e["level"]), esc(&e["message"])));
            }
        }
    }
    if let Some(Value::Array(tr)) = r.get("traces") {
        if !tr.is_empty() {
            md.push_str("\n## Traces\n\n| trace | root | spans | error spans | logs | duration ms |\n|---|---|---|---|---|---|\n");
            for t in tr.iter().take(10) {
                md.push_str(&format!("| {} | {} | {} | {} | {} | {:.1} |\n", esc(&t["trace_id"]), esc(&t["root"]), s(&t["spans"]),
                    t["error_spans"].as_array().map_or(0, Vec::len), s(&t["logs"]), t["duration_ms"].as_f64().unwrap_or(0.0)));
            }
        }
    }
    if let Some(Value::Array(tl)) = r.get("timeline") {
        if !tl.is_empty() {
            // Sixty lines around the first error read better than the first sixty.
            let first_err = tl.iter().position(|e| matches!(e["level"].as_str(), Some("error" | "fatal"))).unwrap_or(0);
            let from = first_err.saturating_sub(30).min(tl.len().saturating_sub(60));
            md.push_str(&format!("\n## Timeline ({} of {} lines around the first error)\n\n```\n", tl.len().min(60), tl.len()));
            for e in tl.iter().skip(from).take(60) {
                md.push_str(&format!("{} {:5} {} {}\n", s(&e["time"]), s(&e["level"]), s(&e["host"]), s(&e["message"]).replace("```", "'''")));
            }
            md.push_str("```\n");
        }
    }
    if let Some(m) = r.get("masking") {
        md.push_str(&format!("\n## Masking\n\n{} values masked by {} ({}).\n", s(&m["total"]), esc(&m["component"]), esc(&m["component_sha256"])));
    }
    md
}

/// The bundle: a gzipped tar of the masked records, the report and a manifest with
/// the SHA-256 of every file and of every component that touched the data.
/// File times are fixed so the same input gives the same bytes.
pub fn bundle(report: &Built, batch: &Batch, components: &[ComponentUse]) -> Result<Vec<u8>> {
    fn ndjson<T: Serialize>(items: &[T]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for i in items {
            serde_json::to_writer(&mut out, i)?;
            out.push(b'\n');
        }
        Ok(out)
    }
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("report.json", serde_json::to_vec_pretty(&report.json)?),
        ("report.md", report.markdown.clone().into_bytes()),
        ("logs.ndjson", ndjson(&batch.logs)?),
        ("spans.ndjson", ndjson(&batch.spans)?),
        ("metrics.ndjson", ndjson(&batch.metrics)?),
    ];
    let manifest = json!({
        "schema": "casefile.bundle/v1",
        "task_id": report.json["task_id"],
        "files": files.iter().map(|(n, b)| json!({"path": n, "sha256": sha256_hex(b), "bytes": b.len()})).collect::<Vec<_>>(),
        "components": components,
    });
    let manifest = serde_json::to_vec_pretty(&manifest)?;
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in files.iter().map(|(n, b)| (*n, b.as_slice())).chain([("manifest.json", manifest.as_slice())]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes)?;
    }
    Ok(tar.into_inner()?.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_ignores_numbers_and_ids_but_not_the_error() {
        let a = fingerprint("t", "p", "timeout after 3000 ms calling 10.0.0.1 req 9f8e7d6c5b4a");
        let b = fingerprint("t", "p", "timeout after 5000 ms calling 10.0.0.2 req 0123456789ab");
        assert_eq!(a, b);
        assert_ne!(a, fingerprint("t", "p", "null pointer in handler"));
        assert_ne!(a, fingerprint("other", "p", "timeout after 3000 ms calling 10.0.0.1 req 9f8e7d6c5b4a"));
    }

    #[test]
    fn timeline_keeps_errors_with_context_then_latest() {
        let mut b = Batch::default();
        for i in 0..100 {
            b.logs.push(crate::model::LogRecord {
                timestamp_ns: i,
                host: "h".into(),
                environment: "e".into(),
                source: "s".into(),
                level: if i == 10 { Level::Error } else { Level::Info },
                message: String::new(),
                trace_id: None,
                span_id: None,
                attributes: vec![],
            });
        }
        let t = timeline(&b, &[10], 10);
        assert_eq!(t, vec![7, 8, 9, 10, 11, 12, 13, 97, 98, 99]);
    }
}
