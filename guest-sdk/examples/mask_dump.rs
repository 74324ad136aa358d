//! Masks a large, varied set of lines and prints every result, so that a change meant
//! to make the detectors cheaper (not different) can be checked byte for byte: dump
//! with the code before the change, dump again after it, and compare.
//!
//! ```text
//! cargo run --release --example mask_dump -p casefile-guest --no-default-features > /tmp/dump-before.txt
//! # ... change the detectors ...
//! cargo run --release --example mask_dump -p casefile-guest --no-default-features > /tmp/dump-after.txt
//! cmp /tmp/dump-before.txt /tmp/dump-after.txt
//! ```
//!
//! Any difference means the change altered what is found or how it is masked.
//!
//! The lines: the throughput bench's mixed lines (`tests/support`, two seeds), the
//! labeled corpus generator's positive lines of every category and its hard negatives,
//! the expanded examples (`masks` and `keeps`) of every built-in rule, and the text of
//! every record of `data/eval` (both splits; only their texts, for the comparison).
//! Each line is masked under the default policy (and the corpus lines under a few
//! other policies too, since the triggers read the policy); for each one the dump
//! holds the masked text, the findings (rule, category, byte range) and the counts.

#[path = "../tests/support/mod.rs"]
mod support;

#[path = "../tests/support/eval.rs"]
mod eval;

use casefile_guest::detect::examples::expand;
use casefile_guest::detect::{find, mask_text, Category, Counts, HmacPseudonyms, Policy, RULES};
use std::io::Write;

fn dump(out: &mut impl Write, section: &str, policy: &Policy, lines: &[String]) {
    writeln!(out, "== {section}: {} lines", lines.len()).unwrap();
    for (i, line) in lines.iter().enumerate() {
        let mut counts = Counts::default();
        let masked = mask_text(policy, &mut HmacPseudonyms::new(b"dump"), line, &mut counts);
        let findings: Vec<String> = find(policy, line)
            .iter()
            .map(|f| format!("{}/{}@{}..{}", f.rule, f.category.as_str(), f.start, f.end))
            .collect();
        writeln!(
            out,
            "{i} {:?}\n  -> {:?}\n  found [{}] counted {}",
            line,
            masked,
            findings.join(" "),
            counts.total()
        )
        .unwrap();
    }
}

fn main() {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let default = Policy::default();

    for seed in [42, 7] {
        let lines = support::mixed_lines(seed, 20_000);
        dump(&mut out, &format!("mixed lines, seed {seed}"), &default, &lines);
    }

    let mut rng = support::Rng::new(0x00C0_FFEE_CA5E_F11E);
    let mut corpus = Vec::new();
    for category in Category::ALL {
        corpus.extend((0..1500).map(|_| support::positive_line(&mut rng, category).text));
    }
    corpus.extend((0..6000).map(|_| support::negative_line(&mut rng).text));
    dump(&mut out, "corpus", &default, &corpus);
    for json in [
        r#"{"sensitive_keys": ["(?i)^pin$", "^[0-9]+$", "x-internal"]}"#,
        r#"{"mask_loopback_ip": true, "mask_documentation_ip": false}"#,
        r#"{"categories": ["credential", "person"], "actions": {"person": "partial"}}"#,
    ] {
        let policy = Policy::from_json(json).expect("valid policy");
        dump(&mut out, &format!("corpus under {json}"), &policy, &corpus);
    }

    let mut examples = Vec::new();
    for (i, rule) in RULES.iter().enumerate() {
        for (j, t) in rule.examples.masks.iter().enumerate() {
            let seed = ((i as u64) << 20) | j as u64;
            examples.push(expand(t, seed));
            examples.push(format!("{} = {}; next", rule.name, expand(t, seed ^ 1)));
        }
        examples.extend(rule.examples.keeps.iter().map(|k| (*k).to_owned()));
    }
    dump(&mut out, "rule examples", &default, &examples);

    for split in ["learn", "eval"] {
        let texts: Vec<String> = eval::load(split).into_iter().map(|r| r.text).collect();
        dump(&mut out, &format!("data/eval {split}"), &default, &texts);
    }
    out.flush().unwrap();
}
