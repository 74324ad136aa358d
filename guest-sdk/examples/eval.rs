//! Prints the held-out evaluation table: recall per category and false positives on
//! lines that hold nothing sensitive, over `data/eval/eval.jsonl` (made by
//! `scripts/eval/make_eval.py` from sources the rules were not written from).
//!
//! ```text
//! cargo run --release --example eval -p casefile-guest --no-default-features
//! ```
//!
//! `--split learn` scores the part the rules may be tuned on instead; `--show N`
//! prints the first N misses and false positives; `--generic-only` switches the
//! vendor formats off (what an unknown vendor's token gets from the generic rules).

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
    // `--generic-only`: the vendor formats switched off (`tokens`, `keyed`), to see
    // what a token of a vendor no rule names would get from the generic rules.
    let generic_only = args.iter().any(|a| a == "--generic-only");
    let policy = if generic_only {
        use casefile_guest::detect::{keyed, tokens};
        let vendor: Vec<&str> = (tokens::TOKENS.iter().chain(keyed::KEYED))
            .map(|r| r.name)
            .collect();
        casefile_guest::detect::Policy::from_json(
            &serde_json::json!({ "disabled_rules": vendor }).to_string(),
        )
        .expect("valid policy")
    } else {
        casefile_guest::detect::Policy::default()
    };
    let score = eval::score_with(&records, &policy);
    println!(
        "{split} part: {} records{}\n",
        records.len(),
        if generic_only {
            ", vendor formats off"
        } else {
            ""
        }
    );
    print!("{}", eval::table(&score));
    for m in score.misses.iter().take(show) {
        println!("{m}");
    }
    for f in score.false_positives.iter().take(show) {
        println!("{f}");
    }
}
