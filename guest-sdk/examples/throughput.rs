//! How fast the detectors are (`mask`, which copies a line only when it changes it) on
//! a realistic mix (mostly ordinary log lines, about one in a hundred with a planted
//! value), and how long building the detector takes. A
//! measurement, not a check:
//!
//! ```text
//! cargo run --release --example throughput -p casefile-guest --no-default-features
//! ```
//!
//! Options: `--lines N` (default 200000), `--rounds N` (default 5), `--seed N`,
//! `--uniform` for the earlier measurement's input instead (every line alike, each with
//! an email and an address).

#[path = "../tests/support/mod.rs"]
mod support;

use casefile_guest::detect::{mask, Counts, HmacPseudonyms, Policy};
use std::time::{Duration, Instant};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    (args.iter().position(|a| a == name))
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What a fresh component instance pays before its first line: `Policy::from_json("{}")`
/// and the first `mask` of a short line (the detector's trigger index is built
/// then; no regex is compiled for a line that triggers none). Measured in a new
/// process each time, since both are built once per process; `--startup-only` is that
/// child's mode.
fn startup(line: &str) -> (std::time::Duration, std::time::Duration) {
    let started = Instant::now();
    let policy = Policy::from_json("{}").expect("default policy");
    let parsed = started.elapsed();
    let out = mask(
        &policy,
        &mut HmacPseudonyms::new(b"k"),
        line,
        &mut Counts::default(),
    );
    let total = started.elapsed();
    std::hint::black_box(out);
    (parsed, total)
}

fn startup_in_children(line: &str, runs: usize) -> Vec<(f64, f64)> {
    let exe = std::env::current_exe().expect("own path");
    let mut out: Vec<(f64, f64)> = (0..runs)
        .filter_map(|_| {
            let o = std::process::Command::new(&exe)
                .args(["--startup-only", line])
                .output()
                .ok()?;
            let text = String::from_utf8(o.stdout).ok()?;
            let (a, b) = text.trim().split_once(' ')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect();
    out.sort_by(|a, b| a.1.total_cmp(&b.1));
    out
}

/// Time this thread has spent on a CPU (Linux: `/proc/thread-self/schedstat`), so that
/// a measurement on a machine busy with other work (a shared build box) still says what
/// the detectors cost: wall time there includes the time other processes held the CPU.
fn thread_cpu_time() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--startup-only") {
        let (parsed, total) = startup(args.get(i + 1).map_or("x", String::as_str));
        println!(
            "{} {}",
            parsed.as_secs_f64() * 1e6,
            total.as_secs_f64() * 1e6
        );
        return;
    }
    // A new process pays for loading and first-touching the code too (page faults
    // cost about 2 us each in a sandbox like this one); a component instance whose
    // module is already compiled and mapped pays what the second measurement shows.
    let short = "GET /healthz 200 3ms";
    let runs = startup_in_children(short, 21);
    if let Some(&(parsed, total)) = runs.get(runs.len() / 2) {
        println!(
            "start-up, new process (median of {}): from_json(\"{{}}\") {parsed:.1} us; with the first mask of {short:?}: {total:.1} us",
            runs.len()
        );
    }
    let mut warm: Vec<(f64, f64)> = (0..201)
        .map(|_| {
            let (p, t) = startup(short);
            (p.as_secs_f64() * 1e6, t.as_secs_f64() * 1e6)
        })
        .collect();
    warm.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (parsed, total) = warm[warm.len() / 2];
    println!(
        "start-up, code resident (median of {}): from_json(\"{{}}\") {parsed:.1} us; with the first mask of {short:?}: {total:.1} us",
        warm.len()
    );
    let lines_n = arg("--lines", 200_000) as usize;
    let rounds = arg("--rounds", 5);
    let seed = arg("--seed", 42);

    let policy = Policy::from_json("").expect("default policy");

    let uniform = std::env::args().any(|a| a == "--uniform");
    let lines = if uniform {
        (0..lines_n)
            .map(|i| format!("2024-05-01T12:34:56.{:03}Z INFO req_id=r{i} user=bob@example.com ip=10.0.{}.{} took {i}ms trace_id=4bf92f3577b34da6a3ce929d0e0e4736 GET /api/v1/items?id={i}", i % 1000, i % 256, i % 200))
            .collect()
    } else {
        support::mixed_lines(seed, lines_n)
    };
    let bytes: usize = lines.iter().map(|l| l.len()).sum();

    // A component instance masks one batch: how long the first batch takes on a cold
    // detector (rules are compiled as their triggers first fire), then what compiling
    // every remaining rule would add.
    let batch = &lines[..lines.len().min(1000)];
    let batch_bytes: usize = batch.iter().map(|l| l.len()).sum();
    let started = Instant::now();
    for line in batch {
        std::hint::black_box(mask(
            &policy,
            &mut HmacPseudonyms::new(b"k"),
            line,
            &mut Counts::default(),
        ));
    }
    let cold_batch = started.elapsed();
    let started = Instant::now();
    for line in batch {
        std::hint::black_box(mask(
            &policy,
            &mut HmacPseudonyms::new(b"k"),
            line,
            &mut Counts::default(),
        ));
    }
    let warm_batch = started.elapsed();
    let started = Instant::now();
    let _ = casefile_guest::detect::find_unfiltered(&policy, "x");
    let rest = started.elapsed();

    let mut best = Duration::MAX;
    let mut best_cpu = Duration::MAX;
    let mut findings = 0;
    for _ in 0..rounds {
        let mut counts = Counts::default();
        let cpu_started = thread_cpu_time();
        let started = Instant::now();
        for line in &lines {
            std::hint::black_box(mask(
                &policy,
                &mut HmacPseudonyms::new(b"k"),
                line,
                &mut counts,
            ));
        }
        best = best.min(started.elapsed());
        if let (Some(a), Some(b)) = (cpu_started, thread_cpu_time()) {
            best_cpu = best_cpu.min(b.saturating_sub(a));
        }
        findings = counts.total();
    }
    let mbps = bytes as f64 / best.as_secs_f64() / 1e6;
    println!(
        "first batch ({} lines, {:.0} KB): cold {:.3} ms, warm {:.3} ms",
        batch.len(),
        batch_bytes as f64 / 1e3,
        cold_batch.as_secs_f64() * 1e3,
        warm_batch.as_secs_f64() * 1e3
    );
    println!(
        "compiling the rules left:  {:>10.3} ms",
        rest.as_secs_f64() * 1e3
    );
    println!(
        "mask: {} lines, {:.1} MB, best of {rounds}: {:.1} ms = {mbps:.1} MB/s ({:.2} us/line), {findings} findings",
        lines.len(),
        bytes as f64 / 1e6,
        best.as_secs_f64() * 1e3,
        best.as_secs_f64() * 1e6 / lines.len() as f64,
    );
    if best_cpu != Duration::MAX {
        println!(
            "  on the CPU (this thread's run time, best of {rounds}): {:.1} ms = {:.1} MB/s; load average {}",
            best_cpu.as_secs_f64() * 1e3,
            bytes as f64 / best_cpu.as_secs_f64() / 1e6,
            std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|l| l.split_whitespace().next().map(str::to_owned))
                .unwrap_or_else(|| "?".to_owned()),
        );
    }
}
