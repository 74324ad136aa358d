//! Applies the rule table under a policy: find candidates, validate them, settle
//! overlaps, replace. Kept apart from the table so that adding a rule never touches
//! this file.

use super::policy::{Action, Policy};
use super::{Candidate, Category, RULES};
use hmac::{Hmac, Mac};
use regex::{Regex, RegexSet, RegexSetBuilder};
use sha2::Sha256;
use std::collections::BTreeMap;
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

/// How often each rule fired with each action; never the values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts(BTreeMap<(&'static str, Action), u64>);

impl Counts {
    pub fn add(&mut self, rule: &'static str, action: Action) {
        *self.0.entry((rule, action)).or_default() += 1;
    }

    pub fn get(&self, rule: &str, action: &str) -> u64 {
        (self.0.iter())
            .filter(|((r, a), _)| *r == rule && a.as_str() == action)
            .map(|(_, n)| *n)
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `(rule, action, count)`, ordered by rule then action.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str, u64)> + '_ {
        self.0.iter().map(|((r, a), n)| (*r, a.as_str(), *n))
    }

    pub fn merge(&mut self, other: &Counts) {
        for (k, n) in &other.0 {
            *self.0.entry(*k).or_default() += n;
        }
    }
}

/// A rule's regex and where its value and key groups are.
struct CompiledRule {
    regex: Regex,
    value_groups: Vec<usize>,
    key_group: Option<usize>,
}

/// The whole table, compiled once per process (per instance in a component): a
/// `RegexSet` says which rules can match a text at all, so only those run.
struct Detector {
    set: RegexSet,
    rules: Vec<CompiledRule>,
}

/// `\b` in the table means an ASCII word boundary (see rules.rs).
fn ascii_boundaries(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)")
}

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        let patterns: Vec<String> = RULES.iter().map(|r| ascii_boundaries(r.pattern)).collect();
        // The table is fixed at compile time and a unit test compiles every pattern,
        // so a failure here is a bug in this crate, not bad input. The set gets a larger
        // lazy-DFA cache than the default: with the default it thrashes and falls back
        // to the slow engine (measured: 80x slower on ordinary log lines).
        let set = RegexSetBuilder::new(&patterns)
            .size_limit(64 << 20)
            .dfa_size_limit(8 << 20)
            .build()
            .expect("built-in rule patterns compile as a set");
        let rules = (RULES.iter().zip(&patterns))
            .map(|(rule, p)| {
                let regex = Regex::new(p).unwrap_or_else(|e| panic!("rule {}: {e}", rule.name));
                let names: Vec<(usize, &str)> = regex
                    .capture_names()
                    .enumerate()
                    .filter_map(|(i, n)| Some((i, n?)))
                    .collect();
                CompiledRule {
                    value_groups: names
                        .iter()
                        .filter(|(_, n)| n.starts_with('v'))
                        .map(|(i, _)| *i)
                        .collect(),
                    key_group: names.iter().find(|(_, n)| *n == "k").map(|(i, _)| *i),
                    regex,
                }
            })
            .collect();
        Detector { set, rules }
    })
}

/// What earlier masking left behind: `[MASKED:…]`, `<rule>:<12 hex>`, `****1234`.
/// Never masked again, so masking is idempotent and the host's leak gate, which runs
/// the same rules over a masker's output, does not count our own tokens as leaks.
fn is_mask_output(value: &str) -> bool {
    if value.starts_with("[MASKED:") {
        return true;
    }
    if let Some(rest) = value.strip_prefix("****") {
        return rest.len() <= 4 && rest.bytes().all(|b| b.is_ascii_alphanumeric());
    }
    match value.rsplit_once(':') {
        Some((rule, hex)) => {
            hex.len() == 12
                && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
                && RULES.iter().any(|r| r.name == rule)
        }
        None => false,
    }
}

/// Finds every value the policy wants masked in `text`, in order and without overlaps.
pub fn find(policy: &Policy, text: &str) -> Vec<Finding> {
    if text.is_empty() {
        return Vec::new();
    }
    let det = detector();
    let mut found = Vec::new();
    for idx in det.set.matches(text).iter() {
        let rule = &RULES[idx];
        if !policy.rule_enabled(rule.name, rule.category) {
            continue;
        }
        let compiled = &det.rules[idx];
        for caps in compiled.regex.captures_iter(text) {
            let value = if compiled.value_groups.is_empty() {
                caps.get(0)
            } else {
                compiled.value_groups.iter().find_map(|&g| caps.get(g))
            };
            let Some(value) = value.filter(|m| !m.is_empty()) else {
                continue;
            };
            let candidate = Candidate {
                haystack: text,
                start: value.start(),
                end: value.end(),
                key: compiled
                    .key_group
                    .and_then(|g| caps.get(g))
                    .map(|k| k.as_str()),
                policy,
            };
            if rule.validate.is_some_and(|validate| !validate(&candidate)) {
                continue;
            }
            if is_mask_output(value.as_str()) || policy.is_allowed(value.as_str()) {
                continue;
            }
            found.push(Finding {
                rule: rule.name,
                category: rule.category,
                start: value.start(),
                end: value.end(),
                order: idx,
            });
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

/// What `value`, found by `rule`, becomes under `action`.
pub fn render(action: Action, rule: &str, value: &str, pseudonym_key: &[u8]) -> String {
    match action {
        Action::Mask => format!("[MASKED:{rule}]"),
        Action::Remove => String::new(),
        Action::Hash => match Hmac::<Sha256>::new_from_slice(pseudonym_key) {
            Ok(mut mac) => {
                mac.update(value.as_bytes());
                let digest = mac.finalize().into_bytes();
                let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
                format!("{rule}:{hex}")
            }
            // HMAC takes keys of any length; should that ever change, fail closed.
            Err(_) => format!("[MASKED:{rule}]"),
        },
        Action::Partial => {
            let alnum: Vec<char> = value.chars().filter(|c| c.is_alphanumeric()).collect();
            if alnum.len() >= 8 {
                let tail: String = alnum[alnum.len() - 4..].iter().collect();
                format!("****{tail}")
            } else {
                "****".to_owned()
            }
        }
    }
}

/// Masks every finding in `text`, counting each under its rule and action.
pub fn mask_text(policy: &Policy, pseudonym_key: &[u8], text: &str, counts: &mut Counts) -> String {
    let findings = find(policy, text);
    if findings.is_empty() {
        return text.to_owned();
    }
    // Findings are sorted and disjoint, so one pass left to right rebuilds the text
    // (the same result as replacing right to left, without shifting offsets).
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for f in &findings {
        let action = policy.action_for(f.rule, f.category);
        out.push_str(&text[last..f.start]);
        out.push_str(&render(
            action,
            f.rule,
            &text[f.start..f.end],
            pseudonym_key,
        ));
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
    pseudonym_key: &[u8],
    field_key: &str,
    value: &str,
    counts: &mut Counts,
) -> String {
    const RULE: &str = "sensitive-key";
    let category = Category::Credential;
    if !value.is_empty()
        && policy.rule_enabled(RULE, category)
        && policy.key_is_sensitive(field_key)
        && !is_mask_output(value)
        && !policy.is_allowed(value)
    {
        let action = policy.action_for(RULE, category);
        counts.add(RULE, action);
        return render(action, RULE, value, pseudonym_key);
    }
    mask_text(policy, pseudonym_key, value, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"tenant-a";

    fn mask(policy: &Policy, text: &str) -> (String, Counts) {
        let mut counts = Counts::default();
        let out = mask_text(policy, KEY, text, &mut counts);
        (out, counts)
    }

    #[test]
    fn every_pattern_compiles_and_names_are_unique() {
        let det = detector();
        assert_eq!(det.rules.len(), RULES.len());
        for (i, r) in RULES.iter().enumerate() {
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
        let email = render(Action::Hash, "email", "bob@example.com", KEY);
        let ip = render(Action::Hash, "ipv4", "10.1.2.3", KEY);
        assert_eq!(out, format!("card ****1111 from {email} at {ip}"));
        assert!(email.starts_with("email:") && email.len() == "email:".len() + 12);
        assert_eq!(counts.get("credit-card", "partial"), 1);
        assert_eq!(counts.get("email", "hash"), 1);
        assert_eq!(counts.get("ipv4", "hash"), 1);
        assert_eq!(counts.total(), 3);
    }

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let a = render(Action::Hash, "email", "bob@example.com", b"k1");
        assert_eq!(a, render(Action::Hash, "email", "bob@example.com", b"k1"));
        assert_ne!(a, render(Action::Hash, "email", "bob@example.com", b"k2"));
        assert_ne!(a, render(Action::Hash, "email", "eve@example.com", b"k1"));
    }

    #[test]
    fn remove_and_partial() {
        assert_eq!(render(Action::Remove, "x", "secret", KEY), "");
        assert_eq!(
            render(Action::Partial, "iban", "DE89 3704 0044 0532 0130 00", KEY),
            "****3000"
        );
        assert_eq!(render(Action::Partial, "x", "short", KEY), "****");
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
            mask_field(&p, KEY, "X-Api-Key", "plain", &mut counts),
            "[MASKED:sensitive-key]"
        );
        assert_eq!(
            mask_field(&p, KEY, "Cookie", "a=b; c=d", &mut counts),
            "[MASKED:sensitive-key]"
        );
        assert_eq!(mask_field(&p, KEY, "user", "bob", &mut counts), "bob");
        assert_eq!(mask_field(&p, KEY, "password", "", &mut counts), "");
        let email = render(Action::Hash, "email", "bob@example.com", KEY);
        assert_eq!(
            mask_field(&p, KEY, "from", "bob@example.com", &mut counts),
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
