//! The detectors' cost in instructions, which stay the same on a busy machine (wall
//! and CPU time do not): masks the mixed lines of `throughput.rs` once to warm up
//! (every regex compiled), then again inside `measured`, the one function callgrind
//! is told to count.
//!
//! ```text
//! cargo build --release --example callgrind -p casefile-guest --no-default-features
//! valgrind --tool=callgrind --toggle-collect='*callgrind::measured*' \
//!     target/release/examples/callgrind --lines 20000
//! ```
//!
//! Instructions per line: the `Collected` total over the number of lines.

#[path = "../tests/support/mod.rs"]
mod support;

use casefile_guest::detect::{mask, Counts, HmacPseudonyms, Policy};

#[inline(never)]
fn measured(policy: &Policy, lines: &[String]) -> u64 {
    // Not a tail call, so that callgrind sees this frame for the whole run.
    std::hint::black_box(mask_all(policy, lines))
}

/// Masks every line; the warm-up calls it directly, outside `measured`.
#[inline(never)]
fn mask_all(policy: &Policy, lines: &[String]) -> u64 {
    let mut counts = Counts::default();
    for line in lines {
        std::hint::black_box(mask(
            policy,
            &mut HmacPseudonyms::new(b"k"),
            line,
            &mut counts,
        ));
    }
    counts.total()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        (args.iter().position(|a| a == name))
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let lines = support::mixed_lines(arg("--seed", 42), arg("--lines", 20_000) as usize);
    let bytes: usize = lines.iter().map(|l| l.len()).sum();
    let policy = Policy::from_json("").expect("default policy");
    let _ = casefile_guest::detect::find_unfiltered(&policy, "x");
    let warm = mask_all(&policy, &lines);
    let findings = measured(&policy, &lines);
    assert_eq!(warm, findings);
    println!("{} lines, {bytes} bytes, {findings} findings", lines.len());
}
