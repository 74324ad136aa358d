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
use gate::GateOutcome;
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

/// How a batch is cut and run: `chunk` records per masker call, at most `parallel`
/// chunks at once. Each chunk gets fresh instances, so running several side by side
/// shares nothing between them; it only lets a large incident use every core
/// (the masker and the gate are CPU-bound), with memory bounded by
/// `chunk * parallel` records.
#[derive(Debug, Clone, Copy)]
pub struct Chunking {
    pub chunk: usize,
    pub parallel: usize,
}

impl Chunking {
    /// One chunk at a time: the figure a single core gives.
    pub fn sequential(chunk: usize) -> Chunking {
        Chunking { chunk, parallel: 1 }
    }

    /// As the runtime is configured: `mask_parallel_chunks`, 0 for one per core.
    pub fn of(runtime: &Runtime) -> Chunking {
        let limits = runtime.limits();
        let parallel = match limits.mask_parallel_chunks {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Chunking { chunk: limits.mask_chunk_records, parallel }
    }
}

/// Masks `batch` with `masker` alone (no gate), chunk by chunk.
pub async fn mask_batch(
    runtime: &Arc<Runtime>,
    masker: &Arc<Loaded>,
    ctx: &wit::MaskContext,
    key: &Arc<[u8]>,
    batch: Batch,
    chunking: Chunking,
) -> Result<(Batch, MaskingSummary)> {
    let (batch, mut summaries, _) = run_chain(runtime, std::slice::from_ref(masker), ctx, key, None, batch, chunking).await?;
    Ok((batch, summaries.pop().unwrap_or_default()))
}

/// Where a chunk starts in the whole batch, so the gate names records by their
/// place in the batch rather than in the chunk.
#[derive(Debug, Clone, Copy, Default)]
pub struct Offsets {
    pub logs: usize,
    pub spans: usize,
    pub metrics: usize,
}

/// What one chunk came back as: the records, each masker's counts, the gate's finds.
type ChunkOut = (Batch, Vec<Vec<wit::RuleCount>>, GateOutcome);

/// Runs the maskers in order over each chunk and then, if given, the gate over what
/// they left: a chunk is finished (masked and gated) while the next is masked. The
/// output keeps the input's order; the first failure stops the rest.
async fn run_chain(
    runtime: &Arc<Runtime>,
    maskers: &[Arc<Loaded>],
    ctx: &wit::MaskContext,
    key: &Arc<[u8]>,
    gate: Option<&Arc<gate::Gate>>,
    batch: Batch,
    chunking: Chunking,
) -> Result<(Batch, Vec<MaskingSummary>, GateOutcome)> {
    let records = batch.len();
    let mut summaries: Vec<MaskingSummary> = (maskers.iter())
        .map(|m| MaskingSummary { component: m.name.clone(), component_sha256: m.sha256.clone(), records, ..Default::default() })
        .collect();
    let parts = split(batch, balanced_chunk(records, chunking));
    let count = parts.len();
    let mut results: Vec<Option<ChunkOut>> = (0..count).map(|_| None).collect();
    let mut pending = parts.into_iter().scan(Offsets::default(), |at, part| {
        let here = *at;
        at.logs += part.logs.len();
        at.spans += part.spans.len();
        at.metrics += part.metrics.len();
        Some((here, part))
    }).enumerate();
    // Each job runs on a thread of its own from tokio's blocking pool: the masker
    // and the gate hold a CPU for the whole chunk, which would stall the async
    // workers (and the API they serve), and the scheduler would not reliably spread
    // long polls over the cores. Chunks not yet started are dropped on an error.
    let handle = tokio::runtime::Handle::current();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < chunking.parallel.max(1) {
            let Some((i, (offsets, part))) = pending.next() else { break };
            let job = chunk_job(runtime.clone(), maskers.to_vec(), ctx.clone(), key.clone(), gate.cloned(), offsets, part);
            let handle = handle.clone();
            running.spawn_blocking(move || (i, handle.block_on(job)));
        }
        let Some(joined) = running.join_next().await else { break };
        let (i, out) = joined.map_err(|e| anyhow::anyhow!("a masking task stopped: {e}"))?;
        results[i] = Some(out?);
    }
    let mut out = Batch::default();
    let mut gated = GateOutcome::default();
    for (part, counts, found) in results.into_iter().flatten() {
        out.extend(part);
        for (summary, counts) in summaries.iter_mut().zip(counts) {
            summary.add(counts);
        }
        gated.merge(found);
    }
    Ok((out, summaries, gated))
}

/// The chunk size that cuts `records` into a multiple of `parallel` chunks of
/// about the same size, none larger than the configured one: five chunks of 20,000
/// on two cores would leave one core idle for the last; six of 16,667 do not.
fn balanced_chunk(records: usize, chunking: Chunking) -> usize {
    let (chunk, parallel) = (chunking.chunk.max(1), chunking.parallel.max(1));
    let chunks = records.div_ceil(chunk).next_multiple_of(parallel).max(1);
    records.div_ceil(chunks).clamp(1, chunk)
}

/// One chunk through every masker, then the gate (on a blocking-pool thread).
async fn chunk_job(
    runtime: Arc<Runtime>,
    maskers: Vec<Arc<Loaded>>,
    ctx: wit::MaskContext,
    key: Arc<[u8]>,
    gate: Option<Arc<gate::Gate>>,
    offsets: Offsets,
    mut part: Batch,
) -> Result<ChunkOut> {
    let mut all = Vec::with_capacity(maskers.len());
    // What the last masker got, when the gate trusts it (the shipped masker-default
    // under the gate's own policy): the gate then skips what it left as it was.
    let mut before_last = None;
    for (n, masker) in maskers.iter().enumerate() {
        let want = (part.logs.len(), part.spans.len(), part.metrics.len());
        if n + 1 == maskers.len() && gate.as_ref().is_some_and(|g| g.trusts(&masker.sha256, &ctx.policy)) {
            before_last = Some(part.clone());
        }
        let (masked, counts) = runtime.mask(masker, &ctx, key.clone(), part).await?;
        let got = (masked.logs.len(), masked.spans.len(), masked.metrics.len());
        if got != want {
            bail!(
                "masker {} returned {}/{}/{} logs/spans/metrics for {}/{}/{}; its output was discarded",
                masker.name, got.0, got.1, got.2, want.0, want.1, want.2
            );
        }
        all.push(counts);
        part = masked;
    }
    let found = match gate {
        Some(gate) => gate.scan_batch_after(&mut part, before_last.as_ref(), offsets),
        None => GateOutcome::default(),
    };
    Ok((part, all, found))
}

/// Masks one text (a trigger's message) through the chain of maskers.
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
    fn chunks_are_balanced_over_the_cores_and_never_larger_than_configured() {
        let c = |chunk, parallel| Chunking { chunk, parallel };
        assert_eq!(balanced_chunk(100_000, c(20_000, 2)), 16_667, "six chunks, not five");
        assert_eq!(balanced_chunk(100_000, c(20_000, 1)), 20_000);
        assert_eq!(balanced_chunk(100_000, c(25_000, 2)), 25_000, "four already divide");
        assert_eq!(balanced_chunk(57, c(7, 3)), 7);
        assert_eq!(balanced_chunk(10, c(20_000, 2)), 5, "a small batch still uses both cores");
        assert_eq!(balanced_chunk(1, c(20_000, 4)), 1);
        assert_eq!(balanced_chunk(0, c(20_000, 2)), 1);
        // Large batches: a whole number of rounds.
        for (n, chunk, parallel) in [(105_000, 20_000, 2), (99_999, 333, 3), (1_000_000, 20_000, 4)] {
            let size = balanced_chunk(n, c(chunk, parallel));
            assert!((1..=chunk).contains(&size));
            assert_eq!(n.div_ceil(size) % parallel, 0, "{n} {chunk} {parallel}: {size}");
        }
        // Tiny chunks cannot always be cut evenly; they are never cut coarser.
        assert!(balanced_chunk(7, c(2, 5)) <= 2);
    }

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


/// The whole chain as the pipeline runs it: the maskers in order (each masks what
/// the one before it left), then the leak gate over the result, chunk by chunk.
pub async fn mask_and_gate(
    runtime: &Arc<Runtime>,
    maskers: &[Arc<Loaded>],
    ctx: &wit::MaskContext,
    key: &Arc<[u8]>,
    gate: &Arc<gate::Gate>,
    batch: Batch,
    chunking: Chunking,
) -> Result<(Batch, MaskingSummary, GateOutcome)> {
    if maskers.is_empty() {
        bail!("no masker is bound");
    }
    let (batch, summaries, outcome) = run_chain(runtime, maskers, ctx, key, Some(gate), batch, chunking).await?;
    let mut summary = summaries.into_iter().reduce(|mut acc, s| {
        acc.component = format!("{} + {}", acc.component, s.component);
        for (rule, actions) in s.rules {
            for (action, n) in actions {
                *acc.rules.entry(rule.clone()).or_default().entry(action).or_default() += n;
            }
        }
        acc.total += s.total;
        acc
    }).unwrap_or_default();
    summary.gate.version = gate::version();
    summary.gate.violations = outcome.total();
    summary.gate.by_rule = outcome.by_rule.clone();
    Ok((batch, summary, outcome))
}
