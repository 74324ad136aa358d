//! Properties of the detectors over generated input: a sensitive value of any category,
//! in any surroundings, never survives `mask_text` under any action; masking twice
//! changes nothing more; the prefilter never hides a finding; and no input panics.

mod support;

use casefile_guest::detect::{
    find, find_unfiltered, mask_field, mask_text, Counts, HmacPseudonyms, Policy,
};
use proptest::prelude::*;
use proptest::test_runner::{FailurePersistence, FileFailurePersistence, TestRunner};
use support::Rng;

const ACTIONS: [&str; 4] = ["mask", "hash", "partial", "remove"];

fn policy(action: &str) -> Policy {
    Policy::from_json(&format!(
        r#"{{"actions": {{"credential": "{action}", "payment": "{action}", "government-id": "{action}", "contact": "{action}", "network": "{action}"}}}}"#
    ))
    .expect("valid policy")
}

fn mask(policy: &Policy, text: &str) -> String {
    mask_text(
        policy,
        &mut HmacPseudonyms::new(b"prop-key"),
        text,
        &mut Counts::default(),
    )
}

/// A sensitive value as it stands in a log line: the text to embed (`context`, the
/// value with its key or header when it needs one) and the value itself.
#[derive(Clone, Debug)]
struct Embedded {
    context: String,
    value: String,
    /// Whether the value is found through a key (`password=…`) rather than its shape.
    assigned: bool,
}

fn embedded(seed: u64) -> Embedded {
    let r = &mut Rng::new(seed);
    let shaped = |value: String| Embedded {
        context: value.clone(),
        value,
        assigned: false,
    };
    let with = |context: String, value: String| Embedded {
        context,
        value,
        assigned: true,
    };
    match r.below(28) {
        0 => shaped(support::aws_key_id(r)),
        1 => {
            let s = support::aws_secret(r);
            with(format!("aws_secret_access_key={s}"), s)
        }
        2 => shaped(support::gcp_api_key(r)),
        3 => shaped(support::github_token(r)),
        4 => shaped(support::gitlab_token(r)),
        5 => shaped(support::slack_token(r)),
        6 => shaped(support::stripe_key(r)),
        7 => shaped(support::npm_token(r)),
        8 => shaped(support::pypi_token(r)),
        9 => shaped(support::openai_key(r)),
        10 => shaped(support::jwt(r)),
        11 => {
            let t = support::opaque_token(r);
            with(format!("Authorization: Bearer {t}"), t)
        }
        12 => {
            let pw = support::password(r);
            let key = *r.pick(&[
                "password",
                "db_password",
                "api_key",
                "client_secret",
                "token",
            ]);
            let context = match r.below(4) {
                0 => format!("{key}={pw}"),
                1 => format!("{key}: {pw}"),
                2 => format!(r#""{key}":"{}""#, pw.replace('\\', "")),
                _ => format!("{key}='{pw}'"),
            };
            with(context, pw.replace('\\', ""))
        }
        13 => {
            let pw = support::url_password(r);
            with(format!("postgres://app:{pw}@db.internal:5432/app"), pw)
        }
        14 => shaped(support::pem_block(r)),
        15 => shaped(support::card(r)),
        16 => shaped(support::iban(r)),
        17 => shaped(support::ssn(r)),
        18 => shaped(support::cn_resident_id(r)),
        19 => shaped(support::email(r)),
        20 => shaped(support::phone(r)),
        21 => shaped(support::cn_mobile(r)),
        22 => shaped(support::ipv4(r)),
        23 => shaped(support::ipv6(r)),
        24 => shaped(support::mac(r)),
        25 => {
            let k = support::azure_key(r);
            with(
                format!("AccountName=acct;AccountKey={k};EndpointSuffix=x"),
                k,
            )
        }
        26 => {
            let t = support::opaque_token(r);
            with(format!("X-Api-Key: {t}"), t)
        }
        _ => {
            let (a, g, s) = support::ssn_digits(r);
            let v = format!("{a}{g}{s}");
            with(format!("ssn={v}"), v)
        }
    }
}

/// Surrounding text: printable ASCII with some Unicode (accents, CJK, emoji, wide
/// spaces), the kinds of characters log lines carry.
fn filler() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~éüßçñ中文日本語한국어🙂\u{3000}\u{a0}，：]{0,40}")
        .expect("valid filler regex")
}

/// What stands between the filler and the value: it ends the word before and the value
/// after (a value glued to a word is part of that word, by design).
fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        " ", "\t", "\n", ", ", "; ", " (", ") ", " \"", "\" ", " | ", "，", "：", " [", "] ",
        "\u{3000}", " 中文 ",
    ])
}

prop_compose! {
    fn line()(
        before in filler(),
        open in separator(),
        seed in any::<u64>(),
        close in separator(),
        after in filler(),
    ) -> (String, Embedded) {
        let e = embedded(seed);
        (format!("{before}{open}{}{close}{after}", e.context), e)
    }
}

/// Where failures are kept: `props.proptest-regressions` beside this file. Proptest's
/// default (`SourceParallel`) looks for a `lib.rs` or `main.rs` above the source file
/// and would fall back to this place with a warning; an integration test has neither,
/// so the place is named outright. Every seed in the file is replayed before any new
/// case is drawn (the strategies below must not change, or a seed no longer names the
/// case it was saved for: add new strategies in new tests).
const PERSISTENCE: FileFailurePersistence =
    FileFailurePersistence::WithSource("proptest-regressions");

/// 2,000 cases each (`PROPTEST_CASES` for more), after the persisted failures.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000),
        failure_persistence: Some(Box::new(PERSISTENCE)),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_sensitive_value_never_survives((text, e) in line()) {
        for action in ACTIONS {
            let out = mask(&policy(action), &text);
            prop_assert!(!out.contains(&e.value), "{action}: {:?} left in {out:?}", e.value);
        }
    }

    #[test]
    fn masking_twice_changes_nothing_more((text, e) in line()) {
        for action in ACTIONS {
            // `remove` leaves `password= ` before whatever followed the value, and a
            // bare word there reads as a password again; tested where removal leaves
            // no such gap (values found by their shape).
            if action == "remove" && e.assigned {
                continue;
            }
            let p = policy(action);
            let once = mask(&p, &text);
            let twice = mask(&p, &once);
            prop_assert_eq!(&twice, &once, "{}: from {:?}", action, text);
        }
    }

    #[test]
    fn the_prefilter_hides_nothing((text, _e) in line(), noise in "\\PC{0,80}") {
        let p = Policy::default();
        prop_assert_eq!(find(&p, &text), find_unfiltered(&p, &text));
        prop_assert_eq!(find(&p, &noise), find_unfiltered(&p, &noise));
    }

    #[test]
    fn no_input_panics(text in "\\PC{0,200}", bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        // Arbitrary strings, and arbitrary bytes made into a string with replacement
        // characters where they were not UTF-8.
        let lossy = String::from_utf8_lossy(&bytes).into_owned();
        for action in ACTIONS {
            let p = policy(action);
            for t in [&text, &lossy] {
                let _ = mask(&p, t);
                let _ = mask_field(&p, &mut HmacPseudonyms::new(b"k"), "password", t, &mut Counts::default());
                let _ = mask_field(&p, &mut HmacPseudonyms::new(b"k"), t, t, &mut Counts::default());
            }
        }
    }
}

/// Unicode right next to the places the validators look (`before`, `after`, the
/// neighbours of a match): every split of multi-byte characters around a value.
#[test]
fn multibyte_neighbours_never_panic() {
    let values = [
        "10.1.2.3",
        "fe80::1ff:fe23:4567:890a",
        "00:1a:2b:3c:4d:5e",
        "4111 1111 1111 1111",
        "bob@example.com",
        "+8613812345678",
        "password=hunter2",
        "AKIAIOSFODNN7EXAMPLE",
    ];
    let around = ["中", "é", "🙂", "\u{3000}", "ß", "文字", ""];
    for action in ACTIONS {
        let p = policy(action);
        for v in values {
            for a in around {
                for b in around {
                    let _ = mask(&p, &format!("{a}{v}{b}"));
                    let _ = mask(&p, &format!("{a}{a}{v}{b}{b}"));
                }
            }
        }
    }
}

/// The committed failures are found and replayed: proptest reads every seed of
/// `props.proptest-regressions`, and each one, run through the strategy, gives a line
/// whose value the detectors mask (the values the file's comments record as the shrunk
/// failures are checked by name in `recorded_failures_stay_fixed`).
#[test]
fn persisted_failures_are_loaded_and_replayed() {
    let seeds = PERSISTENCE.load_persisted_failures2(Some(file!()));
    let saved = include_str!("props.proptest-regressions")
        .lines()
        .filter(|l| l.starts_with("cc "))
        .count();
    assert!(saved >= 5);
    assert_eq!(
        seeds.len(),
        saved,
        "seeds read from props.proptest-regressions"
    );
    // The runner replays them first; a test that counts its cases sees them before
    // the new ones (`cases: 0` leaves only the replayed seeds).
    let replayed = std::sync::atomic::AtomicUsize::new(0);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 0,
        failure_persistence: Some(Box::new(PERSISTENCE)),
        source_file: Some(file!()),
        ..ProptestConfig::default()
    });
    runner
        .run(&line(), |(text, e)| {
            replayed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            for action in ACTIONS {
                let out = mask(&policy(action), &text);
                prop_assert!(
                    !out.contains(&e.value),
                    "{action}: {:?} in {out:?}",
                    e.value
                );
            }
            Ok(())
        })
        .expect("every persisted case passes");
    assert_eq!(replayed.into_inner(), saved);
}

/// The shrunk failures the regressions file records, as plain cases.
#[test]
fn recorded_failures_stay_fixed() {
    let cases = [
        " AIzaL_SEzjDTQ9NnAC9mm-ZedHeLhZKVl8Ka37B ",
        "，179.117.186.185 ",
        " 2345-2143-6706-1824 0 ",
        "0 4019-4265-1225-2568 ",
        " client_secret='%UvwtAJp.riR9nB2fP=pxG%' ",
    ];
    for action in ACTIONS {
        for text in cases {
            let value = text.trim_matches(|c: char| c == ' ' || c == '，' || c == '0');
            let value = value.trim();
            let value = value
                .strip_prefix("client_secret='")
                .map_or(value, |v| v.trim_end_matches('\''));
            let out = mask(&policy(action), text);
            assert!(!out.contains(value), "{action}: {value:?} in {out:?}");
        }
    }
}

/// The shrunk failures of the other two properties, as plain cases: a name rule took
/// a password's closing quote (so masking again found more), and a driver's licence
/// number glued to `dL` was found where the trigger, which wants `dl` before a
/// separator, would not run the rule.
#[test]
fn recorded_idempotence_and_trigger_failures_stay_fixed() {
    for action in ACTIONS {
        let p = policy(action);
        let text = " client_secret='+^o2s8=En8!WC_6Vg' (!@ß.!本";
        let once = mask(&p, text);
        assert!(!once.contains("+^o2s8=En8!WC_6Vg"), "{action}: {once}");
        assert_eq!(mask(&p, &once), once, "{action}");
        let text = "dL0aaa0 2001:e10:82b0:ff33::e21c ";
        assert_eq!(find(&p, text), find_unfiltered(&p, text), "{action}");
    }
}

/// More shrunk failures, found at millions of cases: a title glued to the end of a
/// GCP key (`…-Ms 中文`) read as a name, and under `hash` the two findings merged into
/// one whose pseudonym read as a `key: value` pair the next pass masked again.
#[test]
fn a_title_glued_to_a_token_is_no_name() {
    for action in ACTIONS {
        let p = policy(action);
        let text = " AIzawUu99Tpe13w6cWPDUrD7VWXadEuoEnQi-Ms 中文 本ñ";
        let once = mask(&p, text);
        assert!(once.contains("中文 本"), "{action}: {once}");
        assert_eq!(mask(&p, &once), once, "{action}");
    }
}

/// What masking leaves next to a bracket must not read as a name before an e-mail
/// address the second time: a connection string's user and password in parentheses
/// (shorter once masked) and punctuation around an `@` (found at millions of cases).
#[test]
fn masked_text_before_a_bracket_is_no_mail_address() {
    let r = &mut Rng::new(20261202);
    for _ in 0..20 {
        let key = support::stripe_key(r);
        let pw = support::url_password(r);
        for action in ACTIONS {
            let p = policy(action);
            for text in [
                format!("Aß(日A中A한0，!：!文!!語0한AñA!!AAa!!，postgres://app:{pw}@db.internal:5432/app "),
                format!("Aa\" {key} (!@，.：ü"),
            ] {
                let once = mask(&p, &text);
                assert_eq!(mask(&p, &once), once, "{action}: from {text:?}");
            }
        }
    }
}

/// A `partial` mask's last four characters that spell a secret word before an
/// operator (`****BpWD：日`) are no `pwd` key for the next pass (found at millions of
/// cases).
#[test]
fn a_partial_tail_is_no_key() {
    let r = &mut Rng::new(20261203);
    let p = policy("partial");
    for _ in 0..20 {
        let text = format!(" {}BpWD-：日", support::pypi_token(r));
        let once = mask(&p, &text);
        assert!(once.contains("****BpWD"), "{once}");
        assert_eq!(mask(&p, &once), once, "from {text:?}");
    }
}

/// A short password in the text before a value (`PwD:A`) and a bracket after it: under
/// `remove` the first pass leaves `PwD:)`, and the second took `)` for a password
/// (found at 20,000 cases, before a Stripe key and before a connection string).
#[test]
fn a_bracket_left_by_a_removed_password_is_no_password() {
    let r = &mut Rng::new(20261201);
    let p = policy("remove");
    for _ in 0..20 {
        let key = support::stripe_key(r);
        let pw = support::url_password(r);
        for text in [
            format!("PwD:A) {key} ok"),
            format!("x pwd=B] {key}"),
            format!("PWD:A) postgres://app:{pw}@db.internal:5432/app"),
        ] {
            let once = mask(&p, &text);
            assert!(!once.contains(&key) && !once.contains(&pw), "{once}");
            assert_eq!(mask(&p, &once), once, "from {text:?}");
        }
    }
}

/// Every rule's own examples, in each place a line can put them (alone, mid-line,
/// after a line break or a written-out `\n`, `\t` or `\r`, after a quote marker or a
/// table bar, as a value, quoted, in brackets or a tag), are found with the prefilter exactly as
/// without it. A trigger narrower than its rule shows up here: `person-name-speaker`'s
/// stopped at the space of `田中 太郎:` and never ran the rule on it.
#[test]
fn the_prefilter_hides_no_rule_example_in_any_place() {
    const PLACES: [&str; 30] = [
        "{}", "x {} y", "log\n{}", "a\\n{}", "> {}", "x | {}", "k={}", "\"{}\"", "{}\n", "（{}）",
        "{} {}", "a\\t{}", "a\\r{}", "\t{}", "k: {}", "({})", "[{}],", "<b>{}</b>", "'{}';",
        "a;{};b", "a,{},b", "?q={}&x=1", "说明：{}。", "é {} ü", "\r\n{}\r\n", "{\"m\": \"{}\"}",
        "- {}", "* {}", "#{}", "…{}…",
    ];
    let policies = [
        Policy::default(),
        Policy::from_json(r#"{"mask_loopback_ip": true}"#).expect("valid policy"),
    ];
    let (mut checked, mut hidden) = (0, Vec::new());
    for rule in casefile_guest::detect::RULES {
        // The second policy changes only what the network rules find.
        let policies = match rule.category {
            casefile_guest::detect::Category::Network => &policies[..],
            _ => &policies[..1],
        };
        for (seed, example) in rule.examples.masks.iter().enumerate() {
            // Placeholders (`{x32}`, `{uuid}`) drawn as the examples test draws them.
            let (example, _) = casefile_guest::detect::examples::expand_marked(example, seed as u64);
            let example = example.replace(['«', '»'], "");
            for place in PLACES {
                let text = place.replace("{}", &example);
                for p in policies {
                    let (filtered, all) = (find(p, &text), find_unfiltered(p, &text));
                    if filtered != all {
                        let rules: Vec<&str> = all.iter().filter(|f| !filtered.contains(f)).map(|f| f.rule.as_ref()).collect();
                        hidden.push(format!("{rules:?} in {text:?}"));
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 10_000, "only {checked} texts");
    hidden.dedup();
    assert!(hidden.is_empty(), "{} texts where the prefilter hid a finding:\n{}", hidden.len(), hidden.join("\n"));
}
