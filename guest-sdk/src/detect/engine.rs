//! Applies the rule table under a policy: find candidates, validate them, settle
//! overlaps, replace. Kept apart from the table so that adding a rule never touches
//! this file.

use super::policy::Policy;
use super::prefilter::Shape;
use super::render::{
    is_mask_output, mask_token_len, pseudonym_hex, render, render_into, Counts, Pseudonyms,
};
use super::{Candidate, Category, Rule, RULES};
use aho_corasick::{AhoCorasick, AhoCorasickKind};
use regex::Regex;
use std::sync::OnceLock;

/// One value a rule found and its validator confirmed: what, where (byte range of the
/// value in the text), never the value itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub category: Category,
    pub start: usize,
    pub end: usize,
    /// Position of the rule in `RULES`; breaks ties between equal ranges.
    order: usize,
}

/// A rule's regex and where its value and key groups are.
struct CompiledRule {
    regex: Regex,
    value_groups: Vec<usize>,
    key_group: Option<usize>,
}

impl CompiledRule {
    fn new(rule: &Rule) -> CompiledRule {
        // The table is fixed at compile time and a unit test compiles every pattern,
        // so a failure here is a bug in this crate, not bad input.
        let regex = Regex::new(&ascii_boundaries(rule.pattern))
            .unwrap_or_else(|e| panic!("rule {}: {e}", rule.name));
        let names: Vec<(usize, &str)> = (regex.capture_names().enumerate())
            .filter_map(|(i, n)| Some((i, n?)))
            .collect();
        CompiledRule {
            value_groups: (names.iter())
                .filter(|(_, n)| n.starts_with('v'))
                .map(|(i, _)| *i)
                .collect(),
            key_group: names.iter().find(|(_, n)| *n == "k").map(|(i, _)| *i),
            regex,
        }
    }
}

/// The whole table, built once per process (per instance in a component): one
/// Aho-Corasick automaton over every rule's trigger literals, and each rule's regex,
/// compiled the first time its trigger fires. A component instance lives for one call,
/// so it only pays for the rules its batch needs.
struct Detector {
    literals: AhoCorasick,
    /// For each literal of `literals`, the rules it triggers wherever it occurs (bit
    /// `i`: `RULES[i]`) and those whose `near` test must accept the occurrence first.
    literal_rules: Vec<(u128, u128)>,
    rules: Vec<OnceLock<CompiledRule>>,
}

/// `\b` in the table means an ASCII word boundary (see rules.rs).
fn ascii_boundaries(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)")
}

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        let mut words: Vec<String> = Vec::new();
        let mut literal_rules: Vec<(u128, u128)> = Vec::new();
        for (i, rule) in RULES.iter().enumerate() {
            for literal in rule.trigger.literals {
                let literal = literal.to_ascii_lowercase();
                let at = words.iter().position(|w| *w == literal).unwrap_or_else(|| {
                    words.push(literal);
                    literal_rules.push((0, 0));
                    words.len() - 1
                });
                match rule.trigger.near {
                    None => literal_rules[at].0 |= 1 << i,
                    Some(_) => literal_rules[at].1 |= 1 << i,
                }
            }
        }
        let literals = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&words)
            .expect("trigger literals build an automaton");
        Detector {
            literals,
            literal_rules,
            rules: RULES.iter().map(|_| OnceLock::new()).collect(),
        }
    })
}

impl Detector {
    /// Bit `i` set: `RULES[i]` may find something in `text` (its trigger fired).
    fn triggered(&self, text: &str, policy: &Policy, enabled: u128) -> u128 {
        let mut fired = 0u128;
        for m in self.literals.find_overlapping_iter(text) {
            let (anywhere, near) = self.literal_rules[m.pattern().as_usize()];
            fired |= anywhere & enabled;
            let mut pending = near & enabled & !fired;
            while pending != 0 {
                let i = pending.trailing_zeros() as usize;
                pending &= pending - 1;
                if RULES[i]
                    .trigger
                    .near
                    .is_some_and(|f| f(text.as_bytes(), m.start(), m.end()))
                {
                    fired |= 1 << i;
                }
            }
        }
        let shape = Shape::of(text, policy);
        for (i, rule) in RULES.iter().enumerate() {
            let bit = 1u128 << i;
            if fired & bit == 0
                && enabled & bit != 0
                && rule.trigger.shape.is_some_and(|f| f(&shape))
            {
                fired |= bit;
            }
        }
        fired
    }

    fn rule(&self, idx: usize) -> &CompiledRule {
        self.rules[idx].get_or_init(|| CompiledRule::new(&RULES[idx]))
    }
}

/// Where the part of a candidate that is not ours starts, or `None` when there is
/// none. A candidate can start with a mask token: a bare value runs on past it
/// (`password=****abcd!x`), and the hex of a pseudonym whose rule name ends like a
/// secret key reads as that key's value (`gcp-api-key:e096afd77cf1`; found by the
/// property tests). Punctuation after a token is nobody's secret; anything else after
/// it is masked, so that a masker cannot slip a value past the leak gate behind a token
/// (`"password":"[MASKED:x] hunter2"`). A pseudonym's hex read as a value is skipped
/// whole: what follows it was never that key's value.
fn past_mask_tokens(text: &str, start: usize, end: usize) -> Option<usize> {
    let value = &text[start..end];
    let after_rule = text[..start]
        .strip_suffix(':')
        .is_some_and(|before| RULES.iter().any(|r| before.ends_with(r.name)));
    if after_rule && pseudonym_hex(value) {
        return None;
    }
    let Some(token) = mask_token_len(value) else {
        return Some(start);
    };
    let rest = &value[token..];
    let first = rest.char_indices().find(|(_, c)| c.is_alphanumeric())?.0;
    Some(start + token + first)
}

/// Finds every value the policy wants masked in `text`, in order and without overlaps.
pub fn find(policy: &Policy, text: &str) -> Vec<Finding> {
    if text.is_empty() {
        return Vec::new();
    }
    let det = detector();
    let enabled = policy.enabled_rules();
    let fired = det.triggered(text, policy, enabled);
    find_with(det, policy, text, fired)
}

/// `find` without the prefilter: every enabled rule runs. For tests that prove the
/// triggers never hide a finding.
#[doc(hidden)]
pub fn find_unfiltered(policy: &Policy, text: &str) -> Vec<Finding> {
    if text.is_empty() {
        return Vec::new();
    }
    find_with(detector(), policy, text, policy.enabled_rules())
}

fn find_with(det: &Detector, policy: &Policy, text: &str, rules: u128) -> Vec<Finding> {
    let mut found = Vec::new();
    if rules == 0 {
        return found;
    }
    for (idx, rule) in RULES.iter().enumerate() {
        if rules & 1 << idx == 0 {
            continue;
        }
        let compiled = det.rule(idx);
        let mut consider = |start: usize, end: usize, key: Option<&str>| {
            if start == end {
                return;
            }
            let candidate = Candidate {
                haystack: text,
                start,
                end,
                key,
                policy,
            };
            if rule.validate.is_some_and(|validate| !validate(&candidate)) {
                return;
            }
            if policy.is_allowed(&text[start..end]) {
                return;
            }
            let Some(start) = past_mask_tokens(text, start, end) else {
                return;
            };
            found.push(Finding {
                rule: rule.name,
                category: rule.category,
                start,
                end,
                order: idx,
            });
        };
        if compiled.value_groups.is_empty() && compiled.key_group.is_none() {
            // No groups: the whole match is the value, and finding it is cheaper than
            // capturing it.
            for m in compiled.regex.find_iter(text) {
                consider(m.start(), m.end(), None);
            }
            continue;
        }
        for caps in compiled.regex.captures_iter(text) {
            let value = if compiled.value_groups.is_empty() {
                caps.get(0)
            } else {
                compiled.value_groups.iter().find_map(|&g| caps.get(g))
            };
            let Some(value) = value else {
                continue;
            };
            let key = compiled
                .key_group
                .and_then(|g| caps.get(g))
                .map(|k| k.as_str());
            consider(value.start(), value.end(), key);
        }
    }
    resolve_overlaps(found)
}

/// Earliest first; at the same start the longest; at the same range the rule that
/// comes first in the table. Whatever overlaps a kept finding is dropped.
fn resolve_overlaps(mut found: Vec<Finding>) -> Vec<Finding> {
    found.sort_by_key(|f| (f.start, std::cmp::Reverse(f.end), f.order));
    let mut kept: Vec<Finding> = Vec::with_capacity(found.len());
    for f in found {
        if kept.last().is_none_or(|last| f.start >= last.end) {
            kept.push(f);
        }
    }
    kept
}

/// Masks every finding in `text`, counting each under its rule and action.
pub fn mask_text(
    policy: &Policy,
    pseudonyms: &mut dyn Pseudonyms,
    text: &str,
    counts: &mut Counts,
) -> String {
    // Selected JSON fields first; the detectors then scan what is left.
    let selected = super::selectors::apply(policy, pseudonyms, text, counts);
    let text = selected.as_deref().unwrap_or(text);
    let findings = find(policy, text);
    if findings.is_empty() {
        return text.to_owned();
    }
    // Findings are sorted and disjoint, so one pass left to right rebuilds the text
    // (the same result as replacing right to left, without shifting offsets).
    let mut out = String::with_capacity(text.len() + 16 * findings.len());
    let mut last = 0;
    for f in &findings {
        let action = policy.action_for(f.rule, f.category);
        out.push_str(&text[last..f.start]);
        render_into(&mut out, action, f.rule, &text[f.start..f.end], pseudonyms);
        counts.add(f.rule, action);
        last = f.end;
    }
    out.push_str(&text[last..]);
    out
}

/// Masks the value of a named field (log attribute, span attribute, metric label,
/// header): a key the policy calls sensitive masks the whole value, whatever it looks
/// like; otherwise the value is scanned like any text.
pub fn mask_field(
    policy: &Policy,
    pseudonyms: &mut dyn Pseudonyms,
    field_key: &str,
    value: &str,
    counts: &mut Counts,
) -> String {
    const RULE: &str = "sensitive-key";
    let category = Category::Credential;
    if !value.is_empty()
        && super::selectors::selects_attribute(policy, field_key)
        && !is_mask_output(value)
    {
        let action = policy.action_for(super::selectors::RULE, category);
        counts.add(super::selectors::RULE, action);
        return render(action, super::selectors::RULE, value, pseudonyms);
    }
    if !value.is_empty()
        && policy.rule_enabled(RULE, category)
        && policy.key_is_sensitive(field_key)
        && !is_mask_output(value)
        && !policy.is_allowed(value)
    {
        let action = policy.action_for(RULE, category);
        counts.add(RULE, action);
        return render(action, RULE, value, pseudonyms);
    }
    mask_text(policy, pseudonyms, value, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::detect::policy::Action;
    use crate::detect::render::HmacPseudonyms;

    const KEY: &[u8] = b"tenant-a";

    fn keyed() -> HmacPseudonyms<'static> {
        HmacPseudonyms::new(KEY)
    }

    fn mask(policy: &Policy, text: &str) -> (String, Counts) {
        let mut counts = Counts::default();
        let out = mask_text(policy, &mut keyed(), text, &mut counts);
        (out, counts)
    }

    #[test]
    fn every_pattern_compiles_and_names_are_unique() {
        let det = detector();
        assert_eq!(det.rules.len(), RULES.len());
        assert!(RULES.len() <= 128, "rule sets are u128 bit masks");
        for (i, r) in RULES.iter().enumerate() {
            let _ = det.rule(i);
            assert!(
                !r.trigger.literals.is_empty() || r.trigger.shape.is_some(),
                "{}: a trigger that never fires",
                r.name
            );
            assert!(
                !r.pattern.contains(r"\\b"),
                "{}: `\\\\b` would be rewritten",
                r.name
            );
            assert!(
                RULES[..i].iter().all(|o| o.name != r.name),
                "duplicate rule {}",
                r.name
            );
        }
    }

    #[test]
    fn default_actions_render_as_documented() {
        let p = Policy::default();
        let (out, counts) = mask(
            &p,
            "card 4111 1111 1111 1111 from bob@example.com at 10.1.2.3",
        );
        let email = render(Action::Hash, "email", "bob@example.com", &mut keyed());
        let ip = render(Action::Hash, "ipv4", "10.1.2.3", &mut keyed());
        assert_eq!(out, format!("card ****1111 from {email} at {ip}"));
        assert!(email.starts_with("email:") && email.len() == "email:".len() + 12);
        assert_eq!(counts.get("credit-card", "partial"), 1);
        assert_eq!(counts.get("email", "hash"), 1);
        assert_eq!(counts.get("ipv4", "hash"), 1);
        assert_eq!(counts.total(), 3);
    }

    #[test]
    fn remove_and_partial() {
        assert_eq!(render(Action::Remove, "x", "secret", &mut keyed()), "");
        assert_eq!(
            render(
                Action::Partial,
                "iban",
                "DE89 3704 0044 0532 0130 00",
                &mut keyed()
            ),
            "****3000"
        );
        assert_eq!(render(Action::Partial, "x", "short", &mut keyed()), "****");
    }

    #[test]
    fn masking_twice_changes_nothing_more() {
        for action in ["mask", "hash", "partial", "remove"] {
            let json = format!(
                r#"{{"actions": {{"credential": "{action}", "payment": "{action}", "government-id": "{action}", "contact": "{action}", "network": "{action}"}}}}"#
            );
            let p = Policy::from_json(&json).expect("valid");
            let text = r#"password=hunter22 {"api_key":"abcd1234efgh"} card 4111111111111111 mail bob@example.com ip 10.0.0.9 postgres://u:pw123456@db/x ssn 123-45-6789"#;
            let (once, counts) = mask(&p, text);
            assert!(counts.total() >= 7, "{action}: {once}");
            let (twice, again) = mask(&p, &once);
            assert_eq!(twice, once, "{action}");
            assert!(again.is_empty(), "{action}: {again:?} in {once}");
        }
    }

    #[test]
    fn our_own_tokens_are_not_masked_again() {
        // Found by the property tests. A pseudonym whose rule name ends like a secret
        // key (`gcp-api-key:…`, `pem-private-key:…`) reads as a `key: value` pair, and
        // a bare value runs on past a token into CJK punctuation.
        let p = Policy::from_json(r#"{"actions": {"credential": "hash", "payment": "partial"}}"#)
            .expect("valid");
        for text in [
            " AIzaL_SEzjDTQ9NnAC9mm-ZedHeLhZKVl8Ka37B ",
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----，后面",
            "password=hunter2密码很长很长 done",
            "card 4111 1111 1111 1111，谢谢",
        ] {
            let (once, _) = mask(&p, text);
            let (twice, again) = mask(&p, &once);
            assert_eq!(twice, once, "{text}");
            assert!(again.is_empty(), "{again:?} in {once}");
        }
        assert!(is_mask_output("****长很长"));
        assert!(is_mask_output("email:0123456789ab"));
        assert!(!is_mask_output("email:0123456789abc"));
        assert!(!is_mask_output("****abcde"));
        assert_eq!(mask_token_len("****长很长，后面"), Some(4 + 9));
        assert_eq!(mask_token_len("email:0123456789ab，"), Some(18));
    }

    #[test]
    fn a_token_does_not_hide_what_follows_it() {
        // A broken or malicious masker's output, as the leak gate sees it.
        let p = Policy::default();
        let (out, counts) = mask(&p, r#"{"password":"[MASKED:secret-assignment] hunter2"}"#);
        assert_eq!(
            out,
            r#"{"password":"[MASKED:secret-assignment] [MASKED:secret-assignment]"}"#
        );
        assert_eq!(counts.total(), 1);
        let (out, _) = mask(&p, "password=****abcd!hunter2 ok");
        assert_eq!(out, "password=****abcd![MASKED:secret-assignment] ok");
    }

    #[test]
    fn overlaps_earliest_then_longest() {
        let p = Policy::default();
        // The JWT sits inside the Authorization header value: one finding, the header.
        let (out, counts) = mask(
            &p,
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJl",
        );
        assert_eq!(out, "Authorization: [MASKED:authorization-header]");
        assert_eq!(counts.total(), 1);
        let f = resolve_overlaps(vec![
            Finding {
                rule: "b",
                category: Category::Contact,
                start: 2,
                end: 5,
                order: 1,
            },
            Finding {
                rule: "a",
                category: Category::Contact,
                start: 0,
                end: 3,
                order: 2,
            },
            Finding {
                rule: "c",
                category: Category::Contact,
                start: 0,
                end: 4,
                order: 3,
            },
            Finding {
                rule: "d",
                category: Category::Contact,
                start: 0,
                end: 4,
                order: 0,
            },
        ]);
        assert_eq!(f.iter().map(|f| f.rule).collect::<Vec<_>>(), ["d"]);
    }

    #[test]
    fn disabled_rules_and_categories_do_not_run() {
        let p = Policy::from_json(r#"{"categories": ["credential"], "disabled_rules": ["secret-assignment", "sensitive-key"]}"#)
            .expect("valid");
        let text = "password=x1 bob@example.com AKIAIOSFODNN7EXAMPLE";
        assert_eq!(
            mask(&p, text).0,
            "password=x1 bob@example.com [MASKED:aws-access-key-id]"
        );
    }

    #[test]
    fn allow_list_wins() {
        let p = Policy::from_json(r#"{"allow": ["support@example.com"]}"#).expect("valid");
        let (out, counts) = mask(&p, "write to support@example.com");
        assert_eq!(out, "write to support@example.com");
        assert!(counts.is_empty());
    }

    #[test]
    fn field_key_rule_masks_whatever_the_value() {
        let p = Policy::default();
        let mut counts = Counts::default();
        assert_eq!(
            mask_field(&p, &mut keyed(), "X-Api-Key", "plain", &mut counts),
            "[MASKED:sensitive-key]"
        );
        assert_eq!(
            mask_field(&p, &mut keyed(), "Cookie", "a=b; c=d", &mut counts),
            "[MASKED:sensitive-key]"
        );
        assert_eq!(
            mask_field(&p, &mut keyed(), "user", "bob", &mut counts),
            "bob"
        );
        assert_eq!(
            mask_field(&p, &mut keyed(), "password", "", &mut counts),
            ""
        );
        let email = render(Action::Hash, "email", "bob@example.com", &mut keyed());
        assert_eq!(
            mask_field(&p, &mut keyed(), "from", "bob@example.com", &mut counts),
            email
        );
        assert_eq!(counts.get("sensitive-key", "mask"), 2);
        assert_eq!(counts.get("email", "hash"), 1);
    }

    #[test]
    fn policy_keys_apply_to_pairs_in_text_and_json() {
        let p = Policy::from_json(r#"{"sensitive_keys": ["(?i)^pin$"]}"#).expect("valid");
        let (out, _) = mask(
            &p,
            r#"pin=1234 {"pin": "9876", "user": "bob"} https://x/?pin=55&a=1"#,
        );
        assert_eq!(
            out,
            r#"pin=[MASKED:sensitive-key] {"pin": "[MASKED:sensitive-key]", "user": "bob"} https://x/?pin=[MASKED:sensitive-key]&a=1"#
        );
    }

    #[test]
    fn json_embedded_in_a_message() {
        let p = Policy::default();
        let (out, _) = mask(
            &p,
            r#"request body {"user":"bob","password":"x","token":"t-1"} rejected"#,
        );
        assert_eq!(
            out,
            r#"request body {"user":"bob","password":"[MASKED:secret-assignment]","token":"[MASKED:secret-assignment]"} rejected"#
        );
    }

    #[test]
    fn non_ascii_text_is_handled_on_char_boundaries() {
        let p = Policy::default();
        let (out, _) = mask(&p, "用户 password=密码很长 ünïcödé 手机");
        assert_eq!(out, "用户 password=[MASKED:secret-assignment] ünïcödé 手机");
    }
}
