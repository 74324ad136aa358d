//! `casefile bench`: report-generation latency on a synthetic incident (three file
//! sources, N log lines, M spans, planted secrets) through the real connectors,
//! masker and report code, and the overhead of one component call.

pub mod child;
pub mod http;
pub mod incidents;

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::collect::{collect, SourceSpec};
use crate::config::{ComponentKind, RuntimeConfig};
use crate::mask::gate::Gate;
use crate::mask::{mask_and_gate, mask_batch, Chunking};
use crate::model::{Batch, DiagnosisRequest, PluginRef, RegressionStrategy, Window};
use crate::registry::builtin;
use crate::report::{self, ReportInput, Template};
use crate::runtime::bindings::wit;
use crate::runtime::{CallGrant, Runtime};

pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The one trace the incident's spans belong to.
const BENCH_TRACE: &str = "0000000000000000000000000be4c400";

/// Peak resident memory of this process so far (`VmHWM`), in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024.0)
}

/// Starts the peak over (Linux: writing 5 to `clear_refs` resets `VmHWM`), so the
/// figure is of the diagnosis, not of writing the incident files.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Writes the incident: logs spread over three sources, a few with secrets, errors
/// every 500 lines, each tied to a trace.
pub(crate) fn write_incident(dir: &std::path::Path, logs: usize, spans: usize, start_ns: i64, sources: usize) -> Result<()> {
    for s in 0..sources {
        let d = dir.join(format!("source-{s}"));
        std::fs::create_dir_all(&d)?;
        let mut f = std::io::BufWriter::new(std::fs::File::create(d.join("app.ndjson"))?);
        for i in (s..logs).step_by(sources) {
            let ts = start_ns + i as i64 * 1_000_000;
            let trace = format!("{:032x}", i / 20);
            let (level, msg) = match i % 500 {
                0 => ("error", format!("payment call failed for user{i}@example.com: timeout after 3000 ms")),
                250 => ("warn", format!("retrying with key AKIAIOSFODNN7EXAMPL{}", i % 10)),
                _ => ("info", format!("handled request {i} in {} ms", i % 97)),
            };
            writeln!(f, r#"{{"ts":{ts},"level":"{level}","msg":"{msg}","host":"host-{s}","env":"prod","plugin":"bench-plugin","trace_id":"{trace}","span_id":"{:016x}"}}"#, i)?;
        }
        // One trace of `spans` spans, a binary tree over the three hosts: span i's
        // parent is (i-1)/2. Each starts 20 µs after the one before and ends before
        // its parent does, so the clocks are in step and every span is checked.
        let whole_ns = 3 * 20_000 * spans.max(1) as i64;
        for i in (s..spans).step_by(sources) {
            let offset = i as i64 * 20_000;
            let parent = if i == 0 { String::new() } else { format!(r#","parent_span_id":"{:016x}""#, (i - 1) / 2 + 1_000_000) };
            writeln!(f, r#"{{"kind":"span","trace_id":"{BENCH_TRACE}","span_id":"{:016x}"{parent},"name":"op-{}","service":"svc-{s}","host":"host-{s}","env":"prod","ts":{},"duration_ns":{},"error":{}}}"#,
                i + 1_000_000, i % 17, start_ns + offset, whole_ns - 2 * offset, i % 100 == 0)?;
        }
    }
    Ok(())
}

pub async fn run(logs: usize, spans: usize, iterations: usize, calls: usize, chunk: Option<usize>, masker: Option<std::path::PathBuf>) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("casefile-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let start = chrono::Utc::now() - chrono::Duration::hours(1);
    let start_ns = start.timestamp_nanos_opt().unwrap_or(0);
    write_incident(&tmp, logs, spans, start_ns, 3)?;
    // Compiled components are kept across runs (keyed by hash and engine), so the
    // bench measures masking, not Cranelift.
    let runtime = Runtime::new(RuntimeConfig::default(), child::compiled_cache())?;
    let get = |n: &str| builtin::get(n).ok_or_else(|| anyhow::anyhow!("built-in {n} missing"));
    let ndjson = runtime.load("connector-ndjson", ComponentKind::Connector, get("connector-ndjson")?)?;
    let masker = match &masker {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            runtime.load(&path.display().to_string(), ComponentKind::Masker, &bytes)?
        }
        None => runtime.load("masker-default", ComponentKind::Masker, get("masker-default")?)?,
    };
    let sources: Vec<SourceSpec> = (0..3)
        .map(|s| SourceSpec {
            name: format!("source-{s}"),
            connector: ndjson.clone(),
            settings: "{}".into(),
            grant: CallGrant { dir: Some(tmp.join(format!("source-{s}"))), ..Default::default() },
            fallback: None,
            health: Default::default(),
        })
        .collect();
    let req = DiagnosisRequest {
        error_event_id: "bench".into(),
        tenant: "default".into(),
        plugin: PluginRef { id: "bench-plugin".into(), version: None },
        environments: vec!["prod".into()],
        window: Window { start, end: chrono::Utc::now() },
        trace_ids: vec![],
        message: None,
        regression: RegressionStrategy::None,
        alert: None,
    };
    let template: Template = serde_yaml::from_str("{}")?;
    let ctx = wit::MaskContext { tenant: "default".into(), policy: "{}".into() };
    let key: std::sync::Arc<[u8]> = vec![7u8; 32].into();
    let chunking = Chunking { chunk: chunk.unwrap_or(RuntimeConfig::default().mask_chunk_records), ..Chunking::of(&runtime) };
    let gate = std::sync::Arc::new(Gate::for_policy(&ctx.policy, key.to_vec()).map_err(|e| anyhow::anyhow!("{e}"))?);

    let pipeline = crate::config::PipelineConfig::default();
    let limits = crate::collect::Limits { source: pipeline.source_limit, report: pipeline.report_limit };
    println!("synthetic incident: {logs} log lines, {spans} spans (one trace), 3 sources; {iterations} iterations");
    println!("masking: chunks of {} records, {} at a time (runtime.mask_parallel_chunks; 0 is one per core)", chunking.chunk, chunking.parallel);
    println!("caps: {} records per source call, {} per report (the pipeline's defaults)", limits.source, limits.report);
    reset_peak_rss();
    let rss_before = peak_rss_mib();
    let mut totals = Vec::new();
    let (mut t_collect, mut t_mask, mut t_report) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = (0usize, 0u64);
    let mut last_truncated = (0usize, 0usize);
    for _ in 0..iterations {
        let t0 = Instant::now();
        let plan = vec![("prod".to_string(), sources.clone())];
        let collected = collect(&runtime, &plan, &req, limits, Duration::from_secs(120), Duration::from_secs(60)).await;
        last_truncated = (
            collected.outcomes.iter().filter(|o| o.truncated.is_some()).count(),
            collected.truncated.as_ref().map_or(0, |t| t.dropped_logs + t.dropped_spans + t.dropped_metrics),
        );
        let t1 = Instant::now();
        let (batch, summary, _) = mask_and_gate(&runtime, std::slice::from_ref(&masker), &ctx, &key, &gate, collected.batch, chunking).await?;
        let t2 = Instant::now();
        let built = report::build(&template, &ReportInput {
            task_id: "bench",
            request: &req,
            masked_message: None,
            batch: &batch,
            sources: &collected.outcomes,
            planned: &[],
            masking: &summary,
            components: &[],
            clock: &collected.clock,
            truncated: collected.truncated.as_ref(),
            generated_at: chrono::Utc::now(),
        });
        let bundle = report::bundle(&built, &batch, &[])?;
        let t3 = Instant::now();
        last = (batch.len(), summary.total);
        std::hint::black_box(bundle);
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1000.0;
        totals.push(ms(t0, t3));
        t_collect.push(ms(t0, t1));
        t_mask.push(ms(t1, t2));
        t_report.push(ms(t2, t3));
    }
    for v in [&mut totals, &mut t_collect, &mut t_mask, &mut t_report] {
        v.sort_by(|a, b| a.total_cmp(b));
    }
    println!("records per report: {}, values masked: {}", last.0, last.1);
    println!("caps applied: {} sources stopped at the per-source cap, {} records dropped by the per-report cap", last_truncated.0, last_truncated.1);
    if let (Some(before), Some(peak)) = (rss_before, peak_rss_mib()) {
        println!("peak resident memory during the diagnoses: {peak:.0} MiB (the process held {before:.0} MiB before them)");
    }
    println!("report generation ms: p50 {:.1}  p99 {:.1}  (collect p50 {:.1}, mask+gate p50 {:.1}, report+bundle p50 {:.1})",
        percentile(&totals, 50.0), percentile(&totals, 99.0), percentile(&t_collect, 50.0), percentile(&t_mask, 50.0), percentile(&t_report, 50.0));

    // Overhead of one call: fresh instance from the pre-instantiated template plus an
    // empty call, through the same path the pipeline uses.
    for _ in 0..50 {
        runtime.mask(&masker, &ctx, key.clone(), Batch::default()).await?;
    }
    let mut per_call = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        runtime.mask(&masker, &ctx, key.clone(), Batch::default()).await?;
        per_call.push(t.elapsed().as_secs_f64() * 1e6);
    }
    per_call.sort_by(|a, b| a.total_cmp(b));
    println!("component call overhead (fresh instance + empty masker call), µs: p50 {:.1}  p99 {:.1}  over {calls} calls",
        percentile(&per_call, 50.0), percentile(&per_call, 99.0));

    // The same for a component that does almost nothing: the ticket mapper reading
    // a tiny answer. The difference to the masker is the masker's own start-up work.
    let mapper = runtime.load("ticket-platform", ComponentKind::TicketMapper, get("ticket-platform")?)?;
    let answer = wit::HttpResponse { status: 200, headers: vec![], body: br#"{"id":"T-1","state":"open"}"#.to_vec() };
    let mut per_call = Vec::with_capacity(calls);
    for i in 0..calls + 50 {
        let t = Instant::now();
        runtime.parse_ticket_response(&mapper, wit::TicketAction::Update, &answer).await?;
        if i >= 50 {
            per_call.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    per_call.sort_by(|a, b| a.total_cmp(b));
    println!("component call overhead (fresh instance + ticket-mapper parse-response), µs: p50 {:.1}  p99 {:.1}  over {calls} calls",
        percentile(&per_call, 50.0), percentile(&per_call, 99.0));

    masking_throughput(&runtime, &masker, &ctx, &key, logs, chunking).await?;
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// Masking throughput on the same lines, side by side: the native detectors the gate
/// uses, the wasm masker one chunk at a time (the like-for-like comparison), the
/// gate, and the whole chain one chunk at a time and as the pipeline runs it (chunks
/// side by side). Each figure is the best of three rounds: the machine is shared.
async fn masking_throughput(
    runtime: &std::sync::Arc<Runtime>,
    masker: &std::sync::Arc<crate::runtime::Loaded>,
    ctx: &wit::MaskContext,
    key: &std::sync::Arc<[u8]>,
    n: usize,
    chunking: Chunking,
) -> Result<()> {
    use casefile_guest::detect;
    const ROUNDS: usize = 3;

    let lines: Vec<String> = (0..n)
        .map(|i| match i % 100 {
            0 => format!("payment failed for user{i}@example.com card 4111 1111 1111 1111 from 203.0.113.{}", i % 250),
            1 => format!("GET https://svc:pw{i}secret@db.internal/orders?id={i} token=ghp_{:036}", i),
            _ => format!("2026-11-27T06:00:{:02}.{:03}Z INFO handled request req_{i:08} in {} ms trace_id={:032x} span_id={:016x} path=/api/v1/items/{i}", i % 60, i % 1000, i % 97, i, i),
        })
        .collect();
    let bytes: usize = lines.iter().map(String::len).sum();
    let mb = bytes as f64 / 1e6;
    let mut batch = Batch::default();
    batch.logs = lines
        .iter()
        .map(|m| crate::model::LogRecord { host: "runtime-1".into(), environment: "prod".into(), ..crate::model::LogRecord::text("bench", m.clone()) })
        .collect();

    let policy = detect::Policy::from_json(&ctx.policy).map_err(|e| anyhow::anyhow!("{e}"))?;
    // The gate as the pipeline builds it (it skips what the shipped masker-default
    // left as it was), and one that scans every text whatever masker ran.
    let gate = std::sync::Arc::new(Gate::for_policy(&ctx.policy, key.to_vec()).map_err(|e| anyhow::anyhow!("{e}"))?);
    let full_gate = std::sync::Arc::new(Gate::for_policy(&ctx.policy, key.to_vec()).map_err(|e| anyhow::anyhow!("{e}"))?.trusting_default_masker(false));
    let sequential = Chunking::sequential(chunking.chunk);
    let (mut native, mut wasm, mut gate_time, mut chain_seq, mut chain_par) = (f64::MAX, f64::MAX, f64::MAX, f64::MAX, f64::MAX);
    let mut chain_full = f64::MAX;
    let (mut found, mut leaks) = (0, 0);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let mut counts = detect::Counts::default();
        // The same texts masker-default masks in these records, message and host, the
        // way it does (a short text found clean once is not scanned again).
        let mut clean = detect::CleanTexts::default();
        for l in &lines {
            for text in [l.as_str(), "runtime-1"] {
                std::hint::black_box(clean.mask(&policy, &mut detect::HmacPseudonyms::new(key), text, &mut counts));
            }
        }
        native = native.min(t.elapsed().as_secs_f64());
        found = counts.total();

        // Each line masks its own copy of the records, made before its clock starts:
        // the pipeline hands over the batch it collected and copies nothing.
        let input = batch.clone();
        let t = Instant::now();
        let (mut masked, _) = mask_batch(runtime, masker, ctx, key, input, sequential).await?;
        wasm = wasm.min(t.elapsed().as_secs_f64());

        let t = Instant::now();
        leaks = gate.scan_batch(&mut masked).total();
        gate_time = gate_time.min(t.elapsed().as_secs_f64());

        let input = batch.clone();
        let t = Instant::now();
        mask_and_gate(runtime, std::slice::from_ref(masker), ctx, key, &gate, input, sequential).await?;
        chain_seq = chain_seq.min(t.elapsed().as_secs_f64());

        let input = batch.clone();
        let t = Instant::now();
        mask_and_gate(runtime, std::slice::from_ref(masker), ctx, key, &gate, input, chunking).await?;
        chain_par = chain_par.min(t.elapsed().as_secs_f64());

        let input = batch.clone();
        let t = Instant::now();
        mask_and_gate(runtime, std::slice::from_ref(masker), ctx, key, &full_gate, input, chunking).await?;
        chain_full = chain_full.min(t.elapsed().as_secs_f64());
    }

    println!("masking throughput on {n} lines ({mb:.1} MB, {found} values found natively), best of {ROUNDS} rounds:");
    println!("  native detectors, same texts as the masker: {:>7.1} MB/s", mb / native);
    println!("  wasm masker ({}, chunks of {}, one at a time, records copied in and out): {:>7.1} MB/s  ({:.2}x native time)", masker.name, chunking.chunk, mb / wasm, wasm / native);
    println!("  gate over the masked output:             {:>7.1} MB/s  ({leaks} leaks)", mb / gate_time);
    println!("  whole chain (masker + gate), one chunk at a time: {:>7.1} MB/s", mb / chain_seq);
    println!("  whole chain, {} chunks side by side (as the pipeline runs it): {:>7.1} MB/s", chunking.parallel, mb / chain_par);
    println!("  the same with the gate scanning every text (runtime.gate_trusts_default_masker: false): {:>7.1} MB/s", mb / chain_full);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::percentile(&v, 50.0), 50.0);
        assert_eq!(super::percentile(&v, 99.0), 99.0);
        assert_eq!(super::percentile(&[3.0], 99.0), 3.0);
    }
}
