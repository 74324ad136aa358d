//! Prints the held-out evaluation table: recall per category and false positives on
//! lines that hold nothing sensitive, over `data/eval/eval.jsonl` (made by
//! `scripts/eval/make_eval.py` from sources the rules were not written from).
//!
//! ```text
//! cargo run --release --example eval -p casefile-guest --no-default-features
//! ```
//!
//! `--split learn` scores the part the rules may be tuned on instead; `--show N`
//! prints the first N misses and false positives.

#[path = "../tests/support/eval.rs"]
mod eval;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let split = arg("--split").unwrap_or_else(|| "eval".to_owned());
    let show: usize = arg("--show").and_then(|v| v.parse().ok()).unwrap_or(0);
    let records = eval::load(&split);
    let score = eval::score(&records);
    println!("{split} part: {} records\n", records.len());
    print!("{}", eval::table(&score));
    for m in score.misses.iter().take(show) {
        println!("{m}");
    }
    for f in score.false_positives.iter().take(show) {
        println!("{f}");
    }
}
