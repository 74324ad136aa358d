//! The masked output of any line holds none of the secrets planted in it: one to three
//! values drawn from the positive examples of every rule (all credential formats,
//! generic assignments in every syntax, cards, IBANs, government ids, e-mail, phones,
//! network identifiers, names and addresses in context), each with the context its
//! example gives it, put between random text and separators, under every action.
//!
//! Failures are persisted beside this file (`planted.proptest-regressions`) and
//! replayed first on every run.

use casefile_guest::detect::examples::expand_marked;
use casefile_guest::detect::{mask_text, Category, Counts, HmacPseudonyms, Policy, RULES};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const ACTIONS: [&str; 4] = ["mask", "hash", "partial", "remove"];

fn policy(action: &str) -> Policy {
    let actions: serde_json::Map<String, serde_json::Value> = Category::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), action.into()))
        .collect();
    Policy::from_json(&serde_json::json!({ "actions": actions }).to_string()).expect("valid policy")
}

/// Rules whose values stand at the start of a line by definition.
const LINE_START_RULES: &[&str] = &["person-name-speaker"];

/// Every positive example template of every rule, with its rule's name.
fn templates() -> Vec<(&'static str, &'static str)> {
    RULES
        .iter()
        .flat_map(|r| r.examples.masks.iter().map(move |t| (r.name, *t)))
        .collect()
}

/// A planted value: its rule, the text that carries it and the value itself.
#[derive(Clone, Debug)]
struct Planted {
    rule: &'static str,
    text: String,
    value: String,
}

fn planted() -> impl Strategy<Value = Planted> {
    let all = templates();
    (0..all.len(), any::<u64>()).prop_map(move |(i, seed)| {
        let (rule, template) = all[i];
        let (mut text, mut range) = expand_marked(template, seed);
        // A chat speaker is one at the start of a line.
        if LINE_START_RULES.contains(&rule) {
            text.insert(0, '\n');
            range = range.start + 1..range.end + 1;
        }
        Planted {
            rule,
            value: text[range].to_string(),
            text,
        }
    })
}

/// Surrounding text: printable ASCII with some accents, CJK and wide spaces.
fn filler() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~éüßç中文日本語\u{3000}，]{0,30}").expect("valid regex")
}

/// What ends the text before a planted value and begins the text after it.
fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "\n", " | ", "; ", "\n\n", " -- ", "\t|\t", "\n> ", "，",
    ])
}

prop_compose! {
    fn line()(
        before in filler(),
        values in proptest::collection::vec((planted(), separator()), 1..=3),
        after in filler(),
        open in separator(),
    ) -> (String, Vec<Planted>) {
        let mut text = format!("{before}{open}");
        for (p, sep) in &values {
            text.push_str(&p.text);
            text.push_str(sep);
        }
        text.push_str(&after);
        (text, values.into_iter().map(|(p, _)| p).collect())
    }
}

/// 1,000 cases (`PROPTEST_CASES` for more), failures persisted beside this file.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_planted_secret_survives((text, planted) in line()) {
        for action in ACTIONS {
            let out = mask_text(
                &policy(action),
                &mut HmacPseudonyms::new(b"planted"),
                &text,
                &mut Counts::default(),
            );
            for p in &planted {
                prop_assert!(
                    !out.contains(&p.value),
                    "{action}: {} value {:?} left in {out:?}",
                    p.rule,
                    p.value
                );
            }
        }
    }
}

/// Every template is planted at least once per run, whatever proptest draws.
#[test]
fn every_template_is_plantable() {
    let all = templates();
    assert!(all.len() > 450, "{} templates", all.len());
    let p = policy("mask");
    let mut failures = Vec::new();
    for (i, (rule, template)) in all.iter().enumerate() {
        let (text, range) = expand_marked(template, i as u64);
        let value = &text[range];
        let line = format!("x={} |\n{text}\n| done", i * 7);
        let out = mask_text(
            &p,
            &mut HmacPseudonyms::new(b"planted"),
            &line,
            &mut Counts::default(),
        );
        if out.contains(value) {
            failures.push(format!("{rule}: {value:?} left in {out:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
