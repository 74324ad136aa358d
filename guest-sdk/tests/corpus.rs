//! The labeled corpus (tests/support): every planted value of every category is masked
//! under the default policy and found as its own category, and hard negatives come out
//! unchanged. `cargo test -p casefile-guest --no-default-features --test corpus --
//! --nocapture` prints the figures.

mod support;

use casefile_guest::detect::{find, mask_text, Category, Counts, HmacPseudonyms, Policy};
use support::{negative_line, positive_line, Line, Rng};

const SEED: u64 = 0x00C0_FFEE_CA5E_F11E;

/// The fixed seed, or `CORPUS_SEED` to explore another corpus of the same shape.
fn seed() -> u64 {
    std::env::var("CORPUS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SEED)
}
const LINES_PER_CATEGORY: usize = 400;
const NEGATIVE_LINES: usize = 3000;
/// Hard negatives the default policy changes: the README reports 0 of 3,000 (0.00 %).
const REPORTED_FALSE_POSITIVES: usize = 0;

/// Why a planted value counts as missed, or `None` when it was masked as its category.
fn miss(policy: &Policy, line: &Line, value: &str, category: Category) -> Option<String> {
    let out = mask_text(
        policy,
        &mut HmacPseudonyms::new(b"corpus-key"),
        &line.text,
        &mut Counts::default(),
    );
    if out.contains(value) {
        return Some(format!("left in the output: {out}"));
    }
    let start = line.text.find(value).expect("planted value is in its line");
    let end = start + value.len();
    let findings = find(policy, &line.text);
    let covering: Vec<_> = findings
        .iter()
        .filter(|f| f.start < end && start < f.end)
        .collect();
    if covering.iter().all(|f| f.category != category) {
        return Some(format!(
            "found as {:?}",
            covering
                .iter()
                .map(|f| (f.rule.clone(), f.category))
                .collect::<Vec<_>>()
        ));
    }
    None
}

#[test]
fn every_planted_value_is_masked_and_negatives_are_kept() {
    let policy = Policy::default();
    let mut rng = Rng::new(seed());
    let mut failures = Vec::new();

    println!("category       lines  values  masked  recall");
    for category in Category::ALL {
        let (mut values, mut masked) = (0, 0);
        for _ in 0..LINES_PER_CATEGORY {
            let line = positive_line(&mut rng, category);
            for p in &line.planted {
                values += 1;
                match miss(&policy, &line, &p.value, p.category) {
                    None => masked += 1,
                    Some(why) => failures.push(format!(
                        "MISS {} [{}] {:?}: {why}\n    line: {}",
                        p.category.as_str(),
                        line.kind,
                        p.value,
                        line.text
                    )),
                }
            }
        }
        println!(
            "{:<14} {:>5}  {:>6}  {:>6}  {:>6.2} %",
            category.as_str(),
            LINES_PER_CATEGORY,
            values,
            masked,
            100.0 * masked as f64 / values as f64
        );
    }

    let mut false_positives = 0;
    for _ in 0..NEGATIVE_LINES {
        let line = negative_line(&mut rng);
        let out = mask_text(
            &policy,
            &mut HmacPseudonyms::new(b"corpus-key"),
            &line.text,
            &mut Counts::default(),
        );
        if out != line.text {
            false_positives += 1;
            failures.push(format!(
                "FALSE POSITIVE\n    in:  {}\n    out: {out}",
                line.text
            ));
        }
    }
    let fp_rate = 100.0 * false_positives as f64 / NEGATIVE_LINES as f64;
    println!("hard negatives {NEGATIVE_LINES:>5}  changed {false_positives:>4}  false-positive rate {fp_rate:.2} %");

    for f in failures.iter().take(400) {
        println!("{f}");
    }
    let misses = failures.iter().filter(|f| f.starts_with("MISS")).count();
    assert_eq!(
        misses, 0,
        "{misses} planted values missed (first ones printed above)"
    );
    // The README's figure is this one: the test enforces exactly what is reported, so
    // a change that trades a false positive for anything else has to change both.
    assert_eq!(
        false_positives, REPORTED_FALSE_POSITIVES,
        "{false_positives} of {NEGATIVE_LINES} hard negatives changed (the README reports {REPORTED_FALSE_POSITIVES})"
    );
}

/// The same corpus under each action for every category: recall must not depend on
/// the action.
#[test]
fn recall_holds_under_every_action() {
    for action in ["mask", "hash", "partial", "remove"] {
        let actions: serde_json::Map<String, serde_json::Value> = Category::ALL
            .iter()
            .map(|c| (c.as_str().to_string(), action.into()))
            .collect();
        let policy = Policy::from_json(&serde_json::json!({ "actions": actions }).to_string())
            .expect("valid policy");
        let mut rng = Rng::new(seed() ^ 0x5EED);
        for category in Category::ALL {
            for _ in 0..100 {
                let line = positive_line(&mut rng, category);
                let out = mask_text(
                    &policy,
                    &mut HmacPseudonyms::new(b"k"),
                    &line.text,
                    &mut Counts::default(),
                );
                for p in &line.planted {
                    assert!(
                        !out.contains(&p.value),
                        "{action}: {:?} left in {out}",
                        p.value
                    );
                }
            }
        }
    }
}

/// The prefilter only skips rules that cannot find anything: over the whole corpus,
/// positives and negatives, filtered and unfiltered findings are the same.
#[test]
fn triggers_never_hide_a_finding() {
    let policies = [
        Policy::default(),
        Policy::from_json(r#"{"sensitive_keys": ["(?i)^pin$", "^[0-9]+$", "x-internal"]}"#)
            .expect("valid policy"),
        Policy::from_json(r#"{"mask_loopback_ip": true, "mask_documentation_ip": false}"#)
            .expect("valid policy"),
    ];
    let mut rng = Rng::new(seed() ^ 0x7121);
    let mut lines: Vec<String> = Vec::new();
    for category in Category::ALL {
        lines.extend((0..200).map(|_| positive_line(&mut rng, category).text));
    }
    lines.extend((0..1000).map(|_| negative_line(&mut rng).text));
    for policy in &policies {
        for line in &lines {
            assert_eq!(
                casefile_guest::detect::find(policy, line),
                casefile_guest::detect::find_unfiltered(policy, line),
                "{line}"
            );
        }
    }
}
