//! How fast `mask_text` is on a realistic mix (mostly ordinary log lines, about one in
//! a hundred with a planted value), and how long building the detector takes. A
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

use casefile_guest::detect::{mask_text, Counts, HmacPseudonyms, Policy};
use std::time::{Duration, Instant};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    (args.iter().position(|a| a == name))
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let lines_n = arg("--lines", 200_000) as usize;
    let rounds = arg("--rounds", 5);
    let seed = arg("--seed", 42);

    // What a fresh component instance pays before its first line: the policy (its key
    // patterns) and the detector (every rule's regex), built on first use.
    let started = Instant::now();
    let policy = Policy::from_json("").expect("default policy");
    let policy_time = started.elapsed();
    let started = Instant::now();
    let first = mask_text(
        &policy,
        &mut HmacPseudonyms::new(b"k"),
        "x",
        &mut Counts::default(),
    );
    let build_time = started.elapsed();
    assert_eq!(first, "x");

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
        std::hint::black_box(mask_text(
            &policy,
            &mut HmacPseudonyms::new(b"k"),
            line,
            &mut Counts::default(),
        ));
    }
    let cold_batch = started.elapsed();
    let started = Instant::now();
    for line in batch {
        std::hint::black_box(mask_text(
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
    let mut findings = 0;
    for _ in 0..rounds {
        let mut counts = Counts::default();
        let started = Instant::now();
        for line in &lines {
            std::hint::black_box(mask_text(
                &policy,
                &mut HmacPseudonyms::new(b"k"),
                line,
                &mut counts,
            ));
        }
        best = best.min(started.elapsed());
        findings = counts.total();
    }
    let mbps = bytes as f64 / best.as_secs_f64() / 1e6;
    println!(
        "policy from_json:          {:>10.3} ms",
        policy_time.as_secs_f64() * 1e3
    );
    println!(
        "detector build (1st call): {:>10.3} ms",
        build_time.as_secs_f64() * 1e3
    );
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
        "mask_text: {} lines, {:.1} MB, best of {rounds}: {:.1} ms = {mbps:.1} MB/s ({:.2} us/line), {findings} findings",
        lines.len(),
        bytes as f64 / 1e6,
        best.as_secs_f64() * 1e3,
        best.as_secs_f64() * 1e6 / lines.len() as f64,
    );
}
