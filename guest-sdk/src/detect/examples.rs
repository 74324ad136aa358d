//! Example templates: how a rule's positive examples are written without writing a
//! value that looks like a live secret. `glptt-{h40}` is `glptt-` and forty random
//! lower-case hex digits, drawn when a test runs; a secret scanner reading the
//! repository sees only the template.
//!
//! | placeholder | characters |
//! | --- | --- |
//! | `{hN}` / `{HN}` | hex, lower / upper case |
//! | `{dN}` | digits |
//! | `{aN}` | letters (both cases) and digits |
//! | `{lN}` / `{uN}` | lower / upper case letters |
//! | `{xN}` / `{XN}` | lower / upper case letters and digits |
//! | `{bN}` | base64 (`A-Za-z0-9+/`) |
//! | `{BN}` | base64url (`A-Za-z0-9-_`) |
//! | `{zN}` | base32 (`A-Z2-7`) |
//! | `{uuid}` | a random UUID |
//!
//! `{{` and `}}` stand for braces. Random bodies always hold at least one letter and
//! one digit where the class has both, as real keys do.

/// A SplitMix64 step: tiny, and the same on every platform.
pub fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn class(c: char) -> Option<&'static [u8]> {
    Some(match c {
        'h' => b"0123456789abcdef",
        'H' => b"0123456789ABCDEF",
        'd' => b"0123456789",
        'a' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        'l' => b"abcdefghijklmnopqrstuvwxyz",
        'u' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        'x' => b"abcdefghijklmnopqrstuvwxyz0123456789",
        'X' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        'b' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        'B' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
        'z' => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        _ => return None,
    })
}

/// Draws `n` characters of `alphabet`, mixing letters and digits when it has both.
fn draw(alphabet: &[u8], n: usize, seed: &mut u64) -> String {
    let has_letters = alphabet.iter().any(u8::is_ascii_alphabetic);
    let has_digits = alphabet.iter().any(u8::is_ascii_digit);
    loop {
        let s: String = (0..n)
            .map(|_| alphabet[(next(seed) % alphabet.len() as u64) as usize] as char)
            .collect();
        let mixed = n < 4
            || !(has_letters && has_digits)
            || (s.bytes().any(|b| b.is_ascii_alphabetic())
                && s.bytes().any(|b| b.is_ascii_digit()));
        if mixed {
            return s;
        }
    }
}

/// The template with every placeholder drawn from `seed`. Panics on a malformed
/// template (they are fixed in the table, and a test expands every one).
pub fn expand(template: &str, seed: u64) -> String {
    let mut seed = seed ^ 0xD1B5_4A32_D192_ED03;
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        let close = tail
            .find('}')
            .unwrap_or_else(|| panic!("unclosed placeholder in {template:?}"));
        let spec = &tail[1..close];
        if spec == "uuid" {
            let h = draw(b"0123456789abcdef", 32, &mut seed);
            out.push_str(&format!(
                "{}-{}-4{}-a{}-{}",
                &h[..8],
                &h[8..12],
                &h[13..16],
                &h[17..20],
                &h[20..32]
            ));
        } else {
            let mut chars = spec.chars();
            let c = chars.next().unwrap_or(' ');
            let n: usize = chars
                .as_str()
                .parse()
                .unwrap_or_else(|_| panic!("bad placeholder {{{spec}}} in {template:?}"));
            let alphabet = class(c).unwrap_or_else(|| panic!("bad class {c:?} in {template:?}"));
            out.push_str(&draw(alphabet, n, &mut seed));
        }
        rest = &tail[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_to_their_classes() {
        let v = expand("glptt-{h40}", 1);
        assert!(v.starts_with("glptt-") && v.len() == 46, "{v}");
        assert!(v[6..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(expand("glptt-{h40}", 1), expand("glptt-{h40}", 2));
        assert_eq!(expand("glptt-{h40}", 7), expand("glptt-{h40}", 7));
        let v = expand("{{x}} {d3}-{uuid}", 3);
        assert!(v.starts_with("{x} ") && v.len() == 4 + 3 + 1 + 36, "{v}");
        let v = expand("{a30}", 9);
        assert!(
            v.bytes().any(|b| b.is_ascii_digit()) && v.bytes().any(|b| b.is_ascii_alphabetic())
        );
    }
}

/// A positive example expanded: the text, and the byte range of the value the rule
/// must find. `«…»` in a template marks the value within its context; without marks
/// the whole expansion is the value.
pub fn expand_marked(template: &str, seed: u64) -> (String, std::ops::Range<usize>) {
    let text = expand(template, seed);
    match (text.find('«'), text.find('»')) {
        (Some(a), Some(b)) if a < b => {
            let value_start = a;
            let value_end = b - '«'.len_utf8();
            let clean = text.replacen('«', "", 1).replacen('»', "", 1);
            (clean, value_start..value_end)
        }
        _ => {
            let n = text.len();
            (text, 0..n)
        }
    }
}

/// Every rule's examples, run as tests: each positive is found whole by its own rule
/// (with every other rule switched off), in several surroundings when it has no
/// context of its own, and never survives the default policy; each negative is not
/// found by its rule; and the trigger hides none of them.
#[cfg(test)]
mod rule_examples {
    use super::expand_marked;
    use crate::detect::{find, find_unfiltered, mask_text, Counts, HmacPseudonyms, Policy, RULES};

    fn only(rule: &str) -> Policy {
        let others: Vec<&str> = RULES
            .iter()
            .map(|r| r.name)
            .filter(|n| *n != rule)
            .collect();
        let json = serde_json::json!({
            "disabled_rules": others,
            "sensitive_keys": ["^$"],
            "actions": {"credential": "mask", "payment": "mask", "government-id": "mask",
                        "contact": "mask", "network": "mask", "person": "mask"},
        });
        Policy::from_json(&json.to_string()).expect("valid policy")
    }

    #[test]
    fn every_rule_finds_its_examples_and_keeps_its_negatives() {
        let default = Policy::default();
        let mut failures = Vec::new();
        for rule in RULES {
            if rule.examples.masks.is_empty() && rule.examples.keeps.is_empty() {
                continue;
            }
            let policy = only(rule.name);
            for template in rule.examples.masks {
                for seed in 1..=3u64 {
                    let (text, range) = expand_marked(template, seed);
                    let marked = range.len() != text.len();
                    let contexts: Vec<(String, usize)> = if marked {
                        vec![(text.clone(), 0)]
                    } else {
                        [
                            ("", ""),
                            ("token ", " used"),
                            ("{\"key\": \"", "\"}"),
                            ("KEY=", "\n"),
                            ("(", ")"),
                        ]
                        .iter()
                        .map(|(a, b)| (format!("{a}{text}{b}"), a.len()))
                        .collect()
                    };
                    for (line, offset) in contexts {
                        let want = (range.start + offset)..(range.end + offset);
                        let found = find(&policy, &line);
                        let whole = found.iter().any(|f| {
                            f.rule == rule.name && f.start == want.start && f.end == want.end
                        });
                        if !whole {
                            failures.push(format!(
                                "{}: {:?} not found whole in {line:?}: {found:?}",
                                rule.name,
                                &line[want.clone()]
                            ));
                        }
                        if found != find_unfiltered(&policy, &line) {
                            failures.push(format!("{}: the trigger hides {line:?}", rule.name));
                        }
                        let out = mask_text(
                            &default,
                            &mut HmacPseudonyms::new(b"k"),
                            &line,
                            &mut Counts::default(),
                        );
                        if out.contains(&line[want.clone()]) {
                            failures.push(format!(
                                "{}: default policy leaves {:?} in {out:?}",
                                rule.name, &line[want]
                            ));
                        }
                    }
                }
            }
            for template in rule.examples.keeps {
                let (text, _) = expand_marked(template, 1);
                let found = find(&policy, &text);
                if found.iter().any(|f| f.rule == rule.name) {
                    failures.push(format!("{}: negative {text:?} found: {found:?}", rule.name));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn every_credential_rule_has_examples_both_ways() {
        for rule in RULES {
            if rule.category == crate::detect::Category::Credential
                && rule.examples.masks.is_empty()
            {
                // The generic rules keep their examples as test functions in rules.rs.
                assert!(
                    crate::detect::rules::GENERIC_CREDENTIAL_RULES.contains(&rule.name),
                    "{}: no positive example",
                    rule.name
                );
            }
            if !rule.examples.masks.is_empty() {
                assert!(
                    !rule.examples.keeps.is_empty(),
                    "{}: no negative example",
                    rule.name
                );
            }
        }
    }
}
