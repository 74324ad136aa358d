//! Report: the template decides sections and limits; the output is a versioned
//! JSON report, its Markdown rendering (for tickets) and a bundle archive holding
//! the masked records, the report and a manifest of SHA-256 sums.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, SubsecRound, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::collect::skew::ClockReport;
use crate::mask::MaskingSummary;
use crate::mask::policy::{MaskingPolicy, MaskingTemplate};
use crate::model::{Batch, ComponentUse, DiagnosisRequest, Level, SourceOutcome};
use crate::store::sha256_hex;

/// Names the kind of document; unchanged since the first release.
pub const SCHEMA: &str = "casefile.report/v1";
/// The version of the report's shape ([`Report`]); its JSON Schema is [`json_schema`].
/// 2 added `components[].slot` (where each component was bound),
/// `masking.policy_version`, `clock` (the hosts whose clocks were corrected) and
/// the log lines' `span` (the name of the span a line belongs to). 3 added
/// `by_environment` (what each environment's sources found) and `template_version`
/// (the tenant's report layout version). 4 added `truncated` (what the per-report
/// cap dropped) and `sources[].truncated` (a source cut short by the per-source cap).
pub const SCHEMA_VERSION: &str = "4";

const ALL_SECTIONS: &[&str] = &["summary", "sources", "errors", "timeline", "traces", "metrics", "masking"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    #[serde(default = "default_sections")]
    pub sections: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
    /// The masking policy (it lives with masking: `mask::policy`); the template
    /// file is where deployments write it.
    #[serde(default)]
    pub masking: MaskingTemplate,
}

fn default_sections() -> Vec<String> {
    ALL_SECTIONS.iter().map(|s| s.to_string()).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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

impl Template {
    pub fn load(path: &Path) -> Result<Template> {
        let raw = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read report template {}", path.display()))?;
        Template::parse(&raw).with_context(|| format!("report template {} is not valid", path.display()))
    }

    /// Reads a template from its YAML text, checking its sections and masking policy.
    pub fn parse(raw: &str) -> Result<Template> {
        let t: Template = serde_yaml::from_str(raw)?;
        t.layout().check()?;
        t.masking.check()?;
        Ok(t)
    }

    pub fn masking_for(&self, tenant: &str) -> MaskingPolicy {
        self.masking.for_tenant(tenant)
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
    /// Each environment asked and the sources it asked ("" for all environments).
    pub planned: &'a [(String, Vec<String>)],
    pub masking: &'a MaskingSummary,
    pub components: &'a [ComponentUse],
    /// What clock correction did to the batch's times.
    pub clock: &'a ClockReport,
    /// What the per-report cap dropped.
    pub truncated: Option<&'a crate::model::Truncation>,
    pub generated_at: DateTime<Utc>,
}

/// The report of one diagnosis: what the JSON, the Markdown, the ticket summary and
/// the CLI all read. Its JSON Schema (`GET /internal/report.schema.json`) is
/// generated from this type; `schema_version` changes whenever the shape does.
/// The sections the template leaves out are absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "casefile report")]
pub struct Report {
    /// Always `casefile.report/v1`.
    pub schema: String,
    /// The version of this shape; reports stored before the field existed are version 1.
    #[serde(default = "schema_version_1")]
    pub schema_version: String,
    pub task_id: String,
    pub tenant: String,
    pub plugin: ReportPlugin,
    pub error_event_id: String,
    pub title: String,
    pub severity: Severity,
    /// The same failure of the same plugin for the same tenant gets the same fingerprint.
    pub fingerprint: String,
    pub generated_at: DateTime<Utc>,
    pub window: ReportWindow,
    /// The environments asked for; empty means all.
    pub environments: Vec<String>,
    /// The trigger's message, masked.
    #[serde(default)]
    pub message: Option<String>,
    /// Every component that touched the data.
    pub components: Vec<ReportComponent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Summary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<SourceOutcome>>,
    /// What each environment asked for gave (with the `sources` section), the
    /// environments that had nothing included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_environment: Option<Vec<EnvironmentSummary>>,
    /// Error and fatal log lines, in time order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<LogLine>>,
    /// The errors with the lines around them, then the latest lines, in time order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<LogLine>>,
    /// Traces with errors first, then the ones with most log lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces: Option<Vec<TraceSummary>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<MetricSummary>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masking: Option<MaskingSection>,
    /// Present when some span had its parent on another host: which hosts' clocks
    /// were corrected, and by how much. Every time in the report is corrected time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockSection>,
    /// The version of the tenant's report layout (sections and limits) this report
    /// was written with; absent in reports of hosts before layouts were versioned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_version: Option<i64>,
    /// Present when the sources returned more than the per-report cap
    /// (`pipeline.report_limit`): what was dropped and why. Every count and section
    /// above is of what was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<crate::model::Truncation>,
}

/// One environment of the diagnosis: which sources it asked and what they found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentSummary {
    pub environment: String,
    /// The sources asked for this environment (its own binding, or the tenant's
    /// sources that serve it).
    pub sources: Vec<String>,
    pub logs: usize,
    pub spans: usize,
    pub metrics: usize,
    /// True when nothing at all was found in this environment.
    pub nothing: bool,
}

/// Clock skew correction: offsets estimated from spans whose parent ran on
/// another host, applied to all of that host's spans and log lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockSection {
    /// The cap (`pipeline.max_clock_skew_ms`): larger estimates are not applied.
    pub max_skew_ms: i64,
    /// Hosts whose times were moved.
    pub adjusted: Vec<ClockOffset>,
    /// Hosts whose estimate exceeded the cap; their times are as the sources gave them.
    pub over_cap: Vec<ClockOffset>,
    /// Called hosts checked and found in step with their callers.
    pub in_step: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockOffset {
    pub host: String,
    /// Added to the host's times (negative: its clock was ahead).
    pub offset_ms: i64,
    /// The calling hosts it was estimated against.
    pub relative_to: Vec<String>,
    /// Child spans the estimate was taken from (the median of theirs).
    pub from_spans: usize,
}

impl From<&ClockReport> for ClockSection {
    fn from(c: &ClockReport) -> Self {
        let offsets = |v: &[crate::collect::skew::HostOffset]| {
            v.iter()
                .map(|o| ClockOffset {
                    host: o.host.clone(),
                    offset_ms: o.offset_ns / 1_000_000,
                    relative_to: o.relative_to.clone(),
                    from_spans: o.from_spans,
                })
                .collect()
        };
        ClockSection {
            max_skew_ms: c.max_skew_ns / 1_000_000,
            adjusted: offsets(&c.adjusted),
            over_cap: offsets(&c.over_cap),
            in_step: c.in_step.clone(),
        }
    }
}

/// Reports stored before the field existed were version 1.
fn schema_version_1() -> String {
    "1".to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A fatal log line.
    Critical,
    /// An error log line or an error span.
    High,
    /// Nothing in error in the window.
    Medium,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
        }
    }

    /// The same judgement in the contract's words, for the ticket mapper.
    pub fn wit(self) -> crate::model::wit::types::Severity {
        use crate::model::wit::types::Severity as W;
        match self {
            Severity::Critical => W::Critical,
            Severity::High => W::High,
            Severity::Medium => W::Medium,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportPlugin {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportComponent {
    /// The slot it filled: `masker`, `ticket-mapper` or `source:<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// `masker`, `connector` or `ticket-mapper`.
    pub kind: String,
    pub name: String,
    /// SHA-256 of the component's bytes, hex.
    pub sha256: String,
}

impl From<&ComponentUse> for ReportComponent {
    fn from(c: &ComponentUse) -> Self {
        let slot = (!c.slot.is_empty()).then(|| c.slot.clone());
        ReportComponent { slot, kind: c.kind.clone(), name: c.name.clone(), sha256: c.sha256.clone() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub logs: usize,
    pub spans: usize,
    pub metrics: usize,
    /// Log lines at level error or fatal.
    pub errors: usize,
    pub error_spans: usize,
    /// Log lines per level (`trace` … `fatal`).
    pub levels: BTreeMap<String, usize>,
    /// The hosts that logged, sorted.
    pub hosts: Vec<String>,
    #[serde(default)]
    pub first_error: Option<LogLine>,
}

/// One log line as the report shows it (the message clipped to the template's limit).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogLine {
    pub time: DateTime<Utc>,
    #[schemars(schema_with = "level_json_schema")]
    #[schema(schema_with = level_openapi_schema)]
    #[serde(with = "level_word")]
    pub level: Level,
    pub host: String,
    pub environment: String,
    pub source: String,
    pub message: String,
    #[serde(default)]
    pub trace_id: Option<String>,
    #[serde(default)]
    pub span_id: Option<String>,
    /// The name of the span the line belongs to (found by its trace and span id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub span: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceSummary {
    pub trace_id: String,
    /// The name of the span without a parent in the trace.
    #[serde(default)]
    pub root: Option<String>,
    pub spans: usize,
    pub error_spans: Vec<ErrorSpan>,
    pub duration_ms: f64,
    /// Log lines that carry the trace id.
    pub logs: usize,
    pub error_logs: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorSpan {
    pub name: String,
    pub service: String,
    pub span_id: String,
    pub duration_ms: f64,
}

/// A metric's samples in the window. Values that are not finite numbers are left out
/// of `min`, `max` and `last`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricSummary {
    pub name: String,
    pub samples: usize,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub last: Option<f64>,
}

/// What masking did: which rule did what, never a value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MaskingSection {
    /// The masker component.
    pub component: String,
    pub component_sha256: String,
    /// Records the masker saw.
    pub records: usize,
    /// `rule -> action -> count`.
    pub rules: BTreeMap<String, BTreeMap<String, u64>>,
    pub total: u64,
    pub gate: GateSection,
    /// The version of the tenant's masking policy the task ran with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<i64>,
}

/// What the host's leak gate did after the masker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GateSection {
    pub version: String,
    /// Values the masker let through and the gate masked.
    pub violations: u64,
    pub by_rule: BTreeMap<String, u64>,
    /// Whether a violation holds the report back.
    pub fail_closed: bool,
}

impl From<&MaskingSummary> for MaskingSection {
    fn from(m: &MaskingSummary) -> Self {
        MaskingSection {
            component: m.component.clone(),
            component_sha256: m.component_sha256.clone(),
            records: m.records,
            rules: m.rules.clone(),
            total: m.total,
            gate: GateSection {
                version: m.gate.version.clone(),
                violations: m.gate.violations,
                by_rule: m.gate.by_rule.clone(),
                fail_closed: m.gate.fail_closed,
            },
            policy_version: m.policy_version,
        }
    }
}

/// The names a log level has in JSON, lowest first.
pub const LEVEL_NAMES: [&str; 6] = ["trace", "debug", "info", "warn", "error", "fatal"];

fn level_name(l: Level) -> &'static str {
    match l {
        Level::Trace => LEVEL_NAMES[0],
        Level::Debug => LEVEL_NAMES[1],
        Level::Info => LEVEL_NAMES[2],
        Level::Warn => LEVEL_NAMES[3],
        Level::Error => LEVEL_NAMES[4],
        Level::Fatal => LEVEL_NAMES[5],
    }
}

/// A level as its lowercase word (`error`), not the generated variant's name.
mod level_word {
    use super::{level_name, Level, LEVEL_NAMES};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(l: &Level, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(level_name(*l))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Level, D::Error> {
        const ALL: [Level; 6] = [Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal];
        let word = String::deserialize(d)?;
        ALL.into_iter()
            .find(|l| level_name(*l) == word)
            .ok_or_else(|| serde::de::Error::unknown_variant(&word, &LEVEL_NAMES))
    }
}

fn level_json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "string", "enum": LEVEL_NAMES})
}

fn level_openapi_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(LEVEL_NAMES))
        .build()
}

/// The report's JSON Schema (draft 2020-12), generated from [`Report`].
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Report)).unwrap_or_default()
}

impl Report {
    /// Reads a report as stored with its task.
    pub fn from_stored(v: &serde_json::Value) -> Result<Report> {
        Report::deserialize(v).context("the stored report does not match the report schema")
    }
}

/// A built report with its Markdown rendering and what tickets are keyed by.
#[derive(Debug, Clone)]
pub struct Built {
    pub report: Report,
    pub markdown: String,
    pub fingerprint: String,
    pub title: String,
    pub severity: Severity,
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

/// Report times keep milliseconds.
fn time_ms(ns: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(ns).trunc_subsecs(3)
}

/// Only finite numbers: JSON has no NaN or infinity.
fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
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
        Severity::Critical
    } else if !errors.is_empty() || b.spans.iter().any(|s| s.error) {
        Severity::High
    } else {
        Severity::Medium
    };
    let headline = first_error
        .map(|l| l.message.clone())
        .or_else(|| input.masked_message.clone())
        .unwrap_or_else(|| format!("error event {}", req.error_event_id));
    let headline = clip(headline.lines().next().unwrap_or(""), 120);
    let envs = if req.environments.is_empty() { "all environments".to_string() } else { req.environments.join(", ") };
    let title = format!("[casefile] {} failed in {envs}: {headline}", req.plugin.id);
    let fingerprint = fingerprint(&req.tenant, &req.plugin.id, &headline);

    // Lines are linked to their spans by (trace id, span id): a span id alone is
    // only unique within its trace.
    let spans_by_id: HashMap<(&str, &str), &str> =
        b.spans.iter().map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s.name.as_str())).collect();
    let log_line = |i: usize| {
        let l = &b.logs[i];
        let span = match (&l.trace_id, &l.span_id) {
            (Some(t), Some(s)) => spans_by_id.get(&(t.as_str(), s.as_str())).map(|n| n.to_string()),
            _ => None,
        };
        LogLine {
            time: time_ms(l.timestamp_ns),
            level: l.level,
            host: l.host.clone(),
            environment: l.environment.clone(),
            source: l.source.clone(),
            message: clip(&l.message, lim.message_chars),
            trace_id: l.trace_id.clone(),
            span_id: l.span_id.clone(),
            span,
        }
    };

    let summary = t.has("summary").then(|| {
        let mut levels: BTreeMap<String, usize> = BTreeMap::new();
        for l in &b.logs {
            *levels.entry(level_name(l.level).to_string()).or_default() += 1;
        }
        let hosts: BTreeSet<&str> = b.logs.iter().map(|l| l.host.as_str()).filter(|h| !h.is_empty()).collect();
        Summary {
            logs: b.logs.len(),
            spans: b.spans.len(),
            metrics: b.metrics.len(),
            errors: errors.len(),
            error_spans: b.spans.iter().filter(|s| s.error).count(),
            levels,
            hosts: hosts.into_iter().map(str::to_string).collect(),
            first_error: errors.first().map(|&i| log_line(i)),
        }
    });
    let report = Report {
        schema: SCHEMA.to_string(),
        schema_version: SCHEMA_VERSION.to_string(),
        task_id: input.task_id.to_string(),
        tenant: req.tenant.clone(),
        plugin: ReportPlugin { id: req.plugin.id.clone(), version: req.plugin.version.clone() },
        error_event_id: req.error_event_id.clone(),
        title: title.clone(),
        severity,
        fingerprint: fingerprint.clone(),
        generated_at: input.generated_at.trunc_subsecs(3),
        window: ReportWindow { start: req.window.start, end: req.window.end },
        environments: req.environments.clone(),
        message: input.masked_message.clone(),
        components: input.components.iter().map(ReportComponent::from).collect(),
        summary,
        sources: t.has("sources").then(|| input.sources.to_vec()),
        by_environment: (t.has("sources") && input.planned.iter().any(|(env, _)| !env.is_empty())).then(|| by_environment(b, input.planned)),
        errors: t.has("errors").then(|| errors.iter().take(lim.errors).map(|&i| log_line(i)).collect()),
        timeline: t.has("timeline").then(|| timeline(b, &errors, lim.timeline).into_iter().map(log_line).collect()),
        traces: t.has("traces").then(|| traces(b, lim.traces)),
        metrics: t.has("metrics").then(|| metrics(b, lim.metrics)),
        masking: t.has("masking").then(|| MaskingSection::from(input.masking)),
        // Not a template section: it says what the report's times mean.
        clock: input.clock.checked_anything().then(|| ClockSection::from(input.clock)),
        template_version: None,
        // Not a template section either: a partial picture must say so.
        truncated: input.truncated.cloned(),
    };
    let markdown = markdown(&report);
    Built { report, markdown, fingerprint, title, severity }
}

/// Counts the records per environment asked for.
fn by_environment(b: &Batch, planned: &[(String, Vec<String>)]) -> Vec<EnvironmentSummary> {
    planned
        .iter()
        .filter(|(env, _)| !env.is_empty())
        .map(|(env, sources)| {
            let logs = b.logs.iter().filter(|l| &l.environment == env).count();
            let spans = b.spans.iter().filter(|s| &s.environment == env).count();
            let metrics = b.metrics.iter().filter(|m| &m.environment == env).count();
            EnvironmentSummary { environment: env.clone(), sources: sources.clone(), logs, spans, metrics, nothing: logs + spans + metrics == 0 }
        })
        .collect()
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
fn traces(b: &Batch, limit: usize) -> Vec<TraceSummary> {
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
    list.into_iter()
        .take(limit)
        .map(|(trace_id, (spans, logs, error_logs))| {
            let start = spans.iter().map(|&i| b.spans[i].start_ns).min().unwrap_or(0);
            let end = spans.iter().map(|&i| b.spans[i].start_ns.saturating_add(b.spans[i].duration_ns)).max().unwrap_or(0);
            let root = spans.iter().find(|&&i| b.spans[i].parent_span_id.as_deref().is_none_or(|p| !ids.contains_key(p)));
            TraceSummary {
                trace_id: trace_id.to_string(),
                root: root.map(|&i| b.spans[i].name.clone()),
                spans: spans.len(),
                error_spans: spans
                    .iter()
                    .filter(|&&i| b.spans[i].error)
                    .map(|&i| ErrorSpan {
                        name: b.spans[i].name.clone(),
                        service: b.spans[i].service.clone(),
                        span_id: b.spans[i].span_id.clone(),
                        duration_ms: b.spans[i].duration_ns as f64 / 1e6,
                    })
                    .collect(),
                duration_ms: end.saturating_sub(start) as f64 / 1e6,
                logs,
                error_logs,
            }
        })
        .collect()
}

fn metrics(b: &Batch, limit: usize) -> Vec<MetricSummary> {
    let mut by_name: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for m in &b.metrics {
        by_name.entry(&m.name).or_default().push(m.value);
    }
    by_name
        .into_iter()
        .take(limit)
        .map(|(name, v)| {
            let finite_values = || v.iter().copied().filter(|x| x.is_finite());
            MetricSummary {
                name: name.to_string(),
                samples: v.len(),
                min: finite_values().reduce(f64::min),
                max: finite_values().reduce(f64::max),
                last: v.last().copied().and_then(finite),
            }
        })
        .collect()
}

/// Markdown for tickets: a table-light rendering that reads well in any tracker.
/// Backticks and pipes in values are escaped so log text cannot break the layout.
pub fn markdown(r: &Report) -> String {
    fn esc(v: &str) -> String {
        v.replace('|', "\\|").replace('`', "'").replace('\n', " ")
    }
    fn opt(v: &Option<String>) -> String {
        v.as_deref().map_or_else(|| "-".to_string(), esc)
    }
    fn code(v: &str) -> String {
        v.replace("```", "'''")
    }
    let ms = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut md = String::new();
    md.push_str(&format!("# {}\n\n", esc(&r.title)));
    md.push_str(&format!(
        "- **Plugin:** {} {}\n- **Tenant:** {}\n- **Error event:** {}\n- **Severity:** {}\n- **Window:** {} – {}\n- **Fingerprint:** {}\n- **Task:** {}\n",
        esc(&r.plugin.id),
        opt(&r.plugin.version),
        esc(&r.tenant),
        esc(&r.error_event_id),
        r.severity.as_str(),
        ms(&r.window.start),
        ms(&r.window.end),
        esc(&r.fingerprint),
        esc(&r.task_id)
    ));
    if let Some(m) = &r.message {
        md.push_str(&format!("- **Message:** {}\n", esc(m)));
    }
    if let Some(sum) = &r.summary {
        md.push_str(&format!(
            "\n## Summary\n\n{} log lines ({} errors), {} spans ({} in error), {} metric samples from {} hosts.\n",
            sum.logs,
            sum.errors,
            sum.spans,
            sum.error_spans,
            sum.metrics,
            sum.hosts.len()
        ));
        if let Some(fe) = &sum.first_error {
            md.push_str(&format!("\nFirst error at {} on {}:\n\n```\n{}\n```\n", ms(&fe.time), esc(&fe.host), code(&fe.message)));
        }
    }
    if let Some(c) = &r.clock {
        md.push_str(&format!("\n## Clocks\n\nTimes are corrected for clock skew (estimated from spans whose parent ran on another host; cap {} ms).\n\n", c.max_skew_ms));
        if c.adjusted.is_empty() && c.over_cap.is_empty() {
            md.push_str("No host needed a correction.\n");
        }
        for a in &c.adjusted {
            md.push_str(&format!(
                "- {} moved by {:+} ms (relative to {}, from {} spans)\n",
                esc(&a.host),
                a.offset_ms,
                esc(&a.relative_to.join(", ")),
                a.from_spans
            ));
        }
        for a in &c.over_cap {
            md.push_str(&format!(
                "- {} not moved: its estimate of {:+} ms is over the cap (relative to {}, from {} spans)\n",
                esc(&a.host),
                a.offset_ms,
                esc(&a.relative_to.join(", ")),
                a.from_spans
            ));
        }
        if !c.in_step.is_empty() {
            md.push_str(&format!("- in step: {}\n", esc(&c.in_step.join(", "))));
        }
    }
    if let Some(t) = &r.truncated {
        md.push_str(&format!("\n**Partial:** {} (`{}`).\n", esc(&t.reason), t.setting));
    }
    if let Some(src) = &r.sources {
        md.push_str("\n## Sources\n\n| source | environment | status | records | note |\n|---|---|---|---|---|\n");
        for x in src {
            let mut note = match &x.fallback {
                Some(fb) => format!("fell back to {}", esc(fb)),
                None => opt(&x.error),
            };
            if let Some(t) = &x.truncated {
                let cut = format!("capped: {}", esc(&t.reason));
                note = if x.error.is_none() && x.fallback.is_none() { cut } else { format!("{note}; {cut}") };
            }
            md.push_str(&format!("| {} | {} | {} | {} | {} |\n", esc(&x.name), esc(&x.environment), x.status.as_str(), x.records, note));
        }
    }
    if let Some(envs) = &r.by_environment {
        md.push_str("\n## Environments\n\n| environment | sources | logs | spans | metrics |\n|---|---|---|---|---|\n");
        for e in envs {
            let sources = if e.sources.is_empty() { "none serves it".to_string() } else { esc(&e.sources.join(", ")) };
            md.push_str(&format!("| {} | {} | {} | {} | {} |\n", esc(&e.environment), sources, e.logs, e.spans, e.metrics));
        }
        let empty: Vec<&str> = envs.iter().filter(|e| e.nothing).map(|e| e.environment.as_str()).collect();
        if !empty.is_empty() {
            md.push_str(&format!("\nNothing was found in: {}.\n", esc(&empty.join(", "))));
        }
    }
    if let Some(errs) = r.errors.as_ref().filter(|e| !e.is_empty()) {
        md.push_str("\n## Errors\n\n");
        for e in errs.iter().take(20) {
            md.push_str(&format!("- `{}` {} {}: {}\n", ms(&e.time), esc(&e.host), level_name(e.level), esc(&e.message)));
        }
    }
    if let Some(tr) = r.traces.as_ref().filter(|t| !t.is_empty()) {
        md.push_str("\n## Traces\n\n| trace | root | spans | error spans | logs | duration ms |\n|---|---|---|---|---|---|\n");
        for t in tr.iter().take(10) {
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} | {:.1} |\n",
                esc(&t.trace_id),
                opt(&t.root),
                t.spans,
                t.error_spans.len(),
                t.logs,
                t.duration_ms
            ));
        }
    }
    if let Some(tl) = r.timeline.as_ref().filter(|t| !t.is_empty()) {
        // Sixty lines around the first error read better than the first sixty.
        let first_err = tl.iter().position(|e| e.level.is_error()).unwrap_or(0);
        let from = first_err.saturating_sub(30).min(tl.len().saturating_sub(60));
        md.push_str(&format!("\n## Timeline ({} of {} lines around the first error)\n\n```\n", tl.len().min(60), tl.len()));
        for e in tl.iter().skip(from).take(60) {
            md.push_str(&format!("{} {:5} {} {}\n", ms(&e.time), level_name(e.level), e.host, code(&e.message)));
        }
        md.push_str("```\n");
    }
    if let Some(m) = &r.masking {
        md.push_str(&format!("\n## Masking\n\n{} values masked by {} ({}).\n", m.total, esc(&m.component), esc(&m.component_sha256)));
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
        ("report.json", serde_json::to_vec_pretty(&report.report)?),
        ("report.md", report.markdown.clone().into_bytes()),
        ("logs.ndjson", ndjson(&batch.logs)?),
        ("spans.ndjson", ndjson(&batch.spans)?),
        ("metrics.ndjson", ndjson(&batch.metrics)?),
    ];
    let manifest = json!({
        "schema": "casefile.bundle/v1",
        "task_id": report.report.task_id,
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
mod props;
pub mod layout;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FailureKind, SourceStatus};

    #[test]
    fn fingerprint_ignores_numbers_and_ids_but_not_the_error() {
        let a = fingerprint("t", "p", "timeout after 3000 ms calling 10.0.0.1 req 9f8e7d6c5b4a");
        let b = fingerprint("t", "p", "timeout after 5000 ms calling 10.0.0.2 req 0123456789ab");
        assert_eq!(a, b);
        assert_ne!(a, fingerprint("t", "p", "null pointer in handler"));
        assert_ne!(a, fingerprint("other", "p", "timeout after 3000 ms calling 10.0.0.1 req 9f8e7d6c5b4a"));
    }

    fn log(i: i64, level: Level, msg: &str) -> crate::model::LogRecord {
        crate::model::LogRecord {
            timestamp_ns: 1_767_225_600_000_000_000 + i * 1_000_000,
            host: format!("runtime-{}", i % 2),
            environment: "prod".into(),
            source: "loki".into(),
            level,
            message: msg.into(),
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
            span_id: (level == Level::Error).then(|| "00f067aa0ba902b7".to_string()),
            attributes: vec![],
        }
    }

    /// A report with every section and every source status.
    fn sample() -> Built {
        let template: Template = serde_yaml::from_str("{}").unwrap();
        let mut batch = Batch::default();
        batch.logs = vec![log(0, Level::Info, "start"), log(1, Level::Error, "charge failed | `x`"), log(2, Level::Fatal, "crash")];
        batch.spans.push(crate::model::Span {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "00f067aa0ba902b7".into(),
            parent_span_id: None,
            name: "POST /charge".into(),
            service: "checkout".into(),
            host: "runtime-1".into(),
            environment: "prod".into(),
            start_ns: 1_767_225_600_000_000_000,
            duration_ns: 812_000_000,
            error: true,
            attributes: vec![],
        });
        for v in [1.0, f64::NAN, 3.0] {
            batch.metrics.push(crate::model::MetricSample {
                name: "latency".into(),
                labels: vec![],
                timestamp_ns: 0,
                value: v,
                host: "runtime-1".into(),
                environment: "prod".into(),
            });
        }
        let source = |name: &str, status: SourceStatus| SourceOutcome {
            name: name.into(),
            environment: "prod".into(),
            status,
            records: 3,
            fallback: (status == SourceStatus::Degraded).then(|| "files".to_string()),
            error: (status != SourceStatus::Used).then(|| "connection refused".to_string()),
            error_kind: (status != SourceStatus::Used).then_some(FailureKind::Unavailable),
            component_sha256: "ab".repeat(32),
            elapsed_ms: 4,
            truncated: None,
        };
        let sources = [source("loki", SourceStatus::Used), source("loki-down", SourceStatus::Degraded), source("loki-gone", SourceStatus::Missing)];
        let request = DiagnosisRequest {
            error_event_id: "evt-1".into(),
            tenant: "default".into(),
            plugin: crate::model::PluginRef { id: "checkout".into(), version: None },
            environments: vec!["prod".into()],
            window: crate::model::Window { start: DateTime::from_timestamp(1_767_225_000, 0).unwrap(), end: DateTime::from_timestamp(1_767_226_000, 0).unwrap() },
            trace_ids: vec![],
            message: Some("it broke".into()),
            regression: crate::model::RegressionStrategy::Webhook,
            alert: None,
        };
        let components = [ComponentUse { slot: "masker".into(), kind: "masker".into(), name: "masker".into(), sha256: "cd".repeat(32) }];
        let offset = |host: &str, ms: i64| crate::collect::skew::HostOffset {
            host: host.into(),
            offset_ns: ms * 1_000_000,
            relative_to: vec!["runtime-0".into()],
            from_spans: 3,
        };
        let clock = ClockReport {
            max_skew_ns: 60_000_000_000,
            adjusted: vec![offset("runtime-1", -5_002)],
            over_cap: vec![offset("runtime-9", 3_600_000)],
            in_step: vec!["runtime-2".into()],
        };
        build(
            &template,
            &ReportInput {
                task_id: "tsk_1",
                request: &request,
                masked_message: request.message.clone(),
                batch: &batch,
                sources: &sources,
                planned: &[("prod".to_string(), vec!["loki".to_string(), "loki-down".to_string()]), ("staging".to_string(), vec![])],
                masking: &MaskingSummary::default(),
                components: &components,
                clock: &clock,
                truncated: None,
                generated_at: Utc::now(),
            },
        )
    }

    #[test]
    fn a_report_with_every_section_fits_its_schema_and_reads_back() {
        let built = sample();
        let json = serde_json::to_value(&built.report).unwrap();
        assert_eq!(json["schema_version"], SCHEMA_VERSION);
        assert_eq!(json["severity"], "critical");
        assert_eq!(json["sources"][1]["status"], "degraded");
        assert_eq!(json["metrics"][0]["min"], 1.0);
        assert_eq!(json["metrics"][0]["last"], 3.0);
        assert_eq!(json["summary"]["levels"]["fatal"], 1);
        assert_eq!(json["errors"][0]["span"], "POST /charge", "a line is linked to its span by trace and span id");
        assert!(json["errors"][1].get("span").is_none(), "a line without a span id names none");
        assert_eq!(json["clock"]["adjusted"][0], serde_json::json!({"host": "runtime-1", "offset_ms": -5002, "relative_to": ["runtime-0"], "from_spans": 3}));
        let schema = json_schema();
        let validator = jsonschema::validator_for(&schema).expect("the generated schema is a valid JSON Schema");
        let errors: Vec<String> = validator.iter_errors(&json).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "{errors:#?}\n{json:#}");
        assert_eq!(Report::from_stored(&json).unwrap(), built.report);
        // The schema is strict: a field it does not know is an error, so it cannot drift.
        let mut extra = json.clone();
        extra["surprise"] = serde_json::json!(1);
        assert!(!validator.is_valid(&extra));
        let mut bad_clock = json.clone();
        bad_clock["clock"]["adjusted"][0]["offset_ms"] = serde_json::json!("-5 s");
        assert!(!validator.is_valid(&bad_clock));
        let mut bad_status = json.clone();
        bad_status["sources"][0]["status"] = serde_json::json!("fine");
        assert!(!validator.is_valid(&bad_status));
    }

    #[test]
    fn reports_stored_before_schema_version_read_as_version_1() {
        let mut json = serde_json::to_value(&sample().report).unwrap();
        json.as_object_mut().unwrap().remove("schema_version");
        assert_eq!(Report::from_stored(&json).unwrap().schema_version, "1");
    }

    #[test]
    fn markdown_reads_the_typed_report_and_escapes_log_text() {
        let md = sample().markdown;
        assert!(md.contains("| loki-down | prod | degraded | 3 | fell back to files |"), "{md}");
        // Grouped by environment: prod's records, and staging that had nothing.
        assert!(md.contains("| staging | none serves it | 0 | 0 | 0 |"), "{md}");
        assert!(md.contains("Nothing was found in: staging."), "{md}");
        assert!(md.contains("| loki-gone | prod | missing | 3 | connection refused |"), "{md}");
        assert!(md.contains("charge failed \\| 'x'"), "{md}");
        assert!(md.contains("- **Severity:** critical"), "{md}");
        assert!(md.contains("- **Plugin:** checkout -"), "{md}");
        assert!(md.contains("- runtime-1 moved by -5002 ms (relative to runtime-0, from 3 spans)"), "{md}");
        assert!(md.contains("- runtime-9 not moved: its estimate of +3600000 ms is over the cap"), "{md}");
        assert!(md.contains("- in step: runtime-2"), "{md}");
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
