//! Collect: each environment's sources (the pipeline's `Plan`: the tenant's
//! binding for that environment, or its sources that serve it, with the
//! environment's settings) run concurrently under one deadline. What happens when a source fails depends on the
//! kind of failure: `invalid-input` is final (its settings or the query are wrong,
//! and neither a retry nor another source would be asked differently); `unavailable`
//! is retried once, then the fallback runs; a policy refusal (`denied`), a deadline
//! or a trap goes to the fallback without a retry. The outcome of each is kept for
//! the report. Then the records are merged into one timeline, in time corrected
//! for the hosts' clock skew (`skew`).

pub mod caps;
pub mod health;
pub mod skew;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::model::{Batch, DiagnosisRequest, FailureKind, SourceOutcome, SourceStatus, Truncation};
use crate::runtime::bindings::wit;
use crate::runtime::{CallGrant, Loaded, Runtime};

/// A source ready to call: its connector, settings and grant, and its fallback.
#[derive(Clone)]
pub struct SourceSpec {
    pub name: String,
    pub connector: Arc<Loaded>,
    pub settings: String,
    pub grant: CallGrant,
    pub fallback: Option<Box<SourceSpec>>,
    /// The source's recent failures on this host (`health`).
    pub health: Arc<health::Health>,
}

impl SourceSpec {
    /// This source, then its fallbacks in order.
    pub fn chain(&self) -> impl Iterator<Item = &SourceSpec> {
        std::iter::successors(Some(self), |s| s.fallback.as_deref())
    }
}

pub struct Collected {
    pub batch: Batch,
    pub outcomes: Vec<SourceOutcome>,
    /// The hosts whose clocks were corrected, and by how much.
    pub clock: skew::ClockReport,
    /// What the per-report cap dropped, when it applied.
    pub truncated: Option<Truncation>,
}

/// The caps one collection works under (`caps`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Records per source call (`pipeline.source_limit`).
    pub source: u32,
    /// Records per report, over all sources (`pipeline.report_limit`).
    pub report: usize,
}

/// Each environment with the sources it asks (its own settings already in them);
/// "" when the diagnosis names no environment.
pub type Plan = Vec<(String, Vec<SourceSpec>)>;

/// Runs every environment's sources and merges what came back.
pub async fn collect(
    runtime: &Runtime,
    plan: &Plan,
    req: &DiagnosisRequest,
    limits: Limits,
    deadline: Duration,
    max_clock_skew: Duration,
) -> Collected {
    let calls = plan
        .iter()
        .flat_map(|(env, sources)| sources.iter().map(move |s| (s, env.clone())))
        .map(|(source, env)| collect_one(runtime, source, req, env, limits.source, deadline));
    let results = join_all(calls).await;
    let mut batch = Batch::default();
    let mut outcomes = Vec::new();
    for (b, o) in results {
        batch.extend(b);
        outcomes.push(o);
    }
    let (mut batch, clock) = merge_corrected(batch, max_clock_skew);
    let anchor = caps::anchor(&batch, req.window.end.timestamp_nanos_opt().unwrap_or(i64::MAX));
    let truncated = caps::report(&mut batch, limits.report, anchor);
    if let Some(t) = &truncated {
        tracing::warn!(limit = t.limit, dropped = t.dropped_logs + t.dropped_spans + t.dropped_metrics, "per-report cap applied");
    }
    Collected { batch, outcomes, clock, truncated }
}

/// One timeline in corrected time: duplicates dropped first (a span two sources
/// returned must not count twice as evidence), then every host's clock offset
/// estimated from the spans and applied, then sorted again.
pub fn merge_corrected(batch: Batch, max_clock_skew: Duration) -> (Batch, skew::ClockReport) {
    let mut batch = merge(batch);
    let cap = i64::try_from(max_clock_skew.as_nanos()).unwrap_or(i64::MAX);
    let clock = skew::estimate(&batch.spans, cap);
    if !clock.adjusted.is_empty() {
        for a in &clock.adjusted {
            tracing::info!(host = %a.host, offset_ms = a.offset_ns / 1_000_000, from_spans = a.from_spans, "clock skew corrected");
        }
        skew::apply(&mut batch, &clock);
        batch = merge(batch);
    }
    for o in &clock.over_cap {
        tracing::warn!(host = %o.host, estimate_ms = o.offset_ns / 1_000_000, "clock skew estimate over the cap; not applied");
    }
    (batch, clock)
}

/// What collection reports when a flag switched it off: no connector is called,
/// and every source says so.
pub fn disabled(plan: &Plan, flag: &str) -> Collected {
    let outcomes = plan
        .iter()
        .flat_map(|(env, sources)| sources.iter().map(move |s| (s, env)))
        .map(|(s, env)| SourceOutcome {
            name: s.name.clone(),
            environment: env.clone(),
            status: SourceStatus::Missing,
            records: 0,
            fallback: None,
            error: Some(format!("not called: collection is disabled (flag {flag} is off)")),
            error_kind: None,
            component_sha256: s.connector.sha256.clone(),
            elapsed_ms: 0,
            truncated: None,
        })
        .collect();
    Collected { batch: Batch::default(), outcomes, clock: skew::ClockReport::default(), truncated: None }
}

async fn collect_one(
    runtime: &Runtime,
    source: &SourceSpec,
    req: &DiagnosisRequest,
    env: String,
    limit: u32,
    deadline: Duration,
) -> (Batch, SourceOutcome) {
    let started = Instant::now();
    // A source that keeps failing is skipped when there is a fallback to ask.
    let skip = source.fallback.as_ref().and(source.health.unhealthy());
    let mut primary = match skip {
        Some(n) => Err(Failure {
            kind: FailureKind::Unavailable,
            message: format!("skipped: it failed {n} times in a row within {} s; asked its fallback instead", health::window_secs()),
        }),
        None => fetch_one(runtime, source, req, &env, limit, deadline).await,
    };
    if skip.is_none() {
        note_health(source, &primary);
    }
    if let (Err(f), None) = (&primary, skip) {
        let left = deadline.saturating_sub(started.elapsed());
        if f.kind == FailureKind::Unavailable && left > RETRY_PAUSE * 2 {
            tracing::info!(source = %source.name, environment = %env, "source unavailable; retrying once");
            tokio::time::sleep(RETRY_PAUSE).await;
            let left = deadline.saturating_sub(started.elapsed());
            primary = fetch_one(runtime, source, req, &env, limit, left).await;
            note_health(source, &primary);
        }
    }
    let mut outcome = SourceOutcome {
        name: source.name.clone(),
        environment: env.clone(),
        status: SourceStatus::Used,
        records: 0,
        fallback: None,
        error: None,
        error_kind: None,
        component_sha256: source.connector.sha256.clone(),
        elapsed_ms: 0,
        truncated: None,
    };
    let batch = match primary {
        Ok(b) => Some(b),
        Err(f) => {
            tracing::warn!(source = %source.name, environment = %env, kind = f.kind.as_str(), error = %f.message, "source failed");
            outcome.error = Some(f.describe());
            outcome.error_kind = Some(f.kind);
            // Wrong settings or a wrong query are final: another source would be asked
            // the same wrong thing, and the report must say so plainly. Otherwise
            // each fallback down the chain gets what is left of the deadline.
            let mut found = None;
            let mut next = if f.kind == FailureKind::InvalidInput { None } else { source.fallback.as_deref() };
            while let Some(fb) = next {
                let left = deadline.saturating_sub(started.elapsed());
                match fetch_one(runtime, fb, req, &env, limit, left).await {
                    Ok(b) => {
                        metrics::counter!("casefile_source_fallbacks_total", "source" => source.name.clone(), "fallback" => fb.name.clone(), "outcome" => "used").increment(1);
                        outcome.status = SourceStatus::Degraded;
                        outcome.fallback = Some(fb.name.clone());
                        found = Some(b);
                        break;
                    }
                    Err(ff) => {
                        metrics::counter!("casefile_source_fallbacks_total", "source" => source.name.clone(), "fallback" => fb.name.clone(), "outcome" => "failed").increment(1);
                        outcome.error = Some(format!("{}; fallback `{}` failed too: {}", outcome.error.take().unwrap_or_default(), fb.name, ff.describe()));
                        outcome.error_kind = Some(ff.kind);
                        next = fb.fallback.as_deref();
                    }
                }
            }
            found
        }
    };
    if batch.is_none() {
        outcome.status = SourceStatus::Missing;
    }
    let mut batch = batch.unwrap_or_default();
    outcome.truncated = caps::source(&mut batch, limit as usize);
    if let Some(t) = &outcome.truncated {
        metrics::counter!("casefile_source_truncated_total", "source" => source.name.clone()).increment(1);
        tracing::info!(source = %source.name, environment = %env, limit = t.limit, "per-source cap reached");
    }
    let source_name = outcome.fallback.clone().unwrap_or_else(|| source.name.clone());
    for l in &mut batch.logs {
        l.source = source_name.clone();
        if l.environment.is_empty() {
            l.environment = env.clone();
        }
    }
    for s in &mut batch.spans {
        if s.environment.is_empty() {
            s.environment = env.clone();
        }
    }
    for m in &mut batch.metrics {
        if m.environment.is_empty() {
            m.environment = env.clone();
        }
    }
    outcome.records = batch.len();
    outcome.elapsed_ms = started.elapsed().as_millis() as u64;
    metrics::counter!("casefile_source_calls_total", "source" => source.name.clone(), "status" => outcome.status.as_str())
        .increment(1);
    (batch, outcome)
}

/// How long to wait before the one retry of an unavailable source.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Failures of the source itself count against its health; a refusal by policy or
/// a wrong query does not (asking again would not go differently either way).
fn note_health(source: &SourceSpec, result: &Result<Batch, Failure>) {
    match result {
        Ok(_) => source.health.succeeded(),
        Err(f) if matches!(f.kind, FailureKind::InvalidInput | FailureKind::Denied) => {}
        Err(_) => source.health.failed(),
    }
}

/// Why one fetch failed.
struct Failure {
    kind: FailureKind,
    message: String,
}

impl Failure {
    /// For the report: a policy refusal says so in words.
    fn describe(&self) -> String {
        match self.kind {
            FailureKind::Denied => format!("refused by policy: {}", self.message),
            _ => self.message.clone(),
        }
    }
}

async fn fetch_one(
    runtime: &Runtime,
    source: &SourceSpec,
    req: &DiagnosisRequest,
    env: &str,
    limit: u32,
    deadline: Duration,
) -> Result<Batch, Failure> {
    let query = wit::Query {
        tenant: req.tenant.clone(),
        plugin_id: req.plugin.id.clone(),
        plugin_version: req.plugin.version.clone(),
        environment: env.to_string(),
        start_ns: req.window.start.timestamp_nanos_opt().unwrap_or(i64::MIN),
        end_ns: req.window.end.timestamp_nanos_opt().unwrap_or(i64::MAX),
        trace_ids: req.trace_ids.clone(),
        limit,
        settings: source.settings.clone(),
    };
    match tokio::time::timeout(deadline, runtime.fetch(&source.connector, &query, &source.grant)).await {
        // A connector that ignores the limit is cut to it by `caps::source`.
        Ok(Ok(b)) => Ok(b),
        Ok(Err(e)) => Err(Failure { kind: e.kind(), message: e.to_string() }),
        Err(_) => Err(Failure {
            kind: FailureKind::Deadline,
            message: format!(
                "source `{}` did not answer within the {} ms collection deadline",
                source.name,
                deadline.as_millis()
            ),
        }),
    }
}

/// One timeline: records sorted by time; identical records that two sources (or a
/// source and its fallback) both returned are kept once.
pub fn merge(mut batch: Batch) -> Batch {
    batch.logs.sort_by(|a, b| {
        (a.timestamp_ns, &a.host, &a.message, &a.source).cmp(&(b.timestamp_ns, &b.host, &b.message, &b.source))
    });
    batch.logs.dedup_by(|a, b| a.timestamp_ns == b.timestamp_ns && a.host == b.host && a.message == b.message);
    batch.spans.sort_by(|a, b| (a.start_ns, &a.trace_id, &a.span_id).cmp(&(b.start_ns, &b.trace_id, &b.span_id)));
    batch.spans.dedup_by(|a, b| a.trace_id == b.trace_id && a.span_id == b.span_id);
    batch.metrics.sort_by(|a, b| (a.timestamp_ns, &a.name).cmp(&(b.timestamp_ns, &b.name)));
    batch
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Level, LogRecord, Span};

    fn log(ts: i64, host: &str, msg: &str) -> LogRecord {
        LogRecord {
            timestamp_ns: ts,
            host: host.into(),
            environment: "prod".into(),
            source: "s".into(),
            level: Level::Info,
            message: msg.into(),
            trace_id: None,
            span_id: None,
            attributes: vec![],
        }
    }

    #[test]
    fn merge_sorts_and_drops_duplicates_from_overlapping_sources() {
        let mut b = Batch::default();
        b.logs = vec![log(30, "a", "c"), log(10, "a", "a"), log(20, "b", "b"), log(10, "a", "a")];
        let span = |id: &str, start| Span {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_span_id: None,
            name: "n".into(),
            service: "s".into(),
            host: "h".into(),
            environment: "e".into(),
            start_ns: start,
            duration_ns: 1,
            error: false,
            attributes: vec![],
        };
        b.spans = vec![span("2", 5), span("1", 1), span("2", 5)];
        let m = merge(b);
        assert_eq!(m.logs.iter().map(|l| l.timestamp_ns).collect::<Vec<_>>(), vec![10, 20, 30]);
        assert_eq!(m.spans.iter().map(|s| s.span_id.as_str()).collect::<Vec<_>>(), vec!["1", "2"]);
    }
}
