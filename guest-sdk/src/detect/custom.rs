//! A tenant's own detectors, set in the policy (`"rules": [...]`) instead of written as
//! a component: a pattern, keywords that must be near a match, a validator from the
//! built-in set, a category and an action. Checked when the policy is set: a pattern
//! that does not parse, or that matches the empty string, is refused with a message
//! that names the rule and the field. Patterns are compiled the first time a text
//! could need them, so a policy pays for its rules only when it uses them.
//!
//! ```
//! use casefile_guest::detect::{mask_text, Counts, HmacPseudonyms, Policy};
//! let policy = Policy::from_json(r#"{"rules": [{
//!     "name": "acme-order-key", "pattern": "\\bAOK-[0-9A-F]{16}\\b",
//!     "keywords": ["order"], "category": "credential"}]}"#).unwrap();
//! let mut counts = Counts::default();
//! let out = mask_text(&policy, &mut HmacPseudonyms::new(b"k"),
//!     "order key AOK-0123456789ABCDEF accepted", &mut counts);
//! assert_eq!(out, "order key [MASKED:acme-order-key] accepted");
//! assert_eq!(counts.get("acme-order-key", "mask"), 1);
//! ```

use super::engine::{ascii_boundaries, CompiledRule};
use super::policy::{Action, Policy, PolicyError};
use super::{validate as v, Candidate, Category, RULES};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

/// The validators a policy's rule can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CustomValidator {
    /// The Luhn (mod 10) check over the value's digits (cards, IMEIs, many ids).
    Luhn,
    /// ISO 7064 MOD 97-10 over the value's letters and digits (letters count 10-35),
    /// remainder 1, as in IBANs and many account numbers.
    Mod97,
    /// A whole IBAN: country length and check digits.
    Iban,
    /// A payment card: issuer, length and Luhn.
    Card,
    /// Shannon entropy of at least `min_entropy` bits per character (default 3.0).
    Entropy,
    /// Both letters and digits.
    LettersAndDigits,
}

/// One rule of the policy.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    /// Lower-case letters, digits and dashes: the name in counts and `[MASKED:<name>]`.
    pub name: String,
    /// A Rust `regex` pattern (`\b` is an ASCII word boundary, as in the built-in
    /// table). A group named `v` (or starting with `v`) is the value to mask;
    /// otherwise the whole match is.
    pub pattern: String,
    /// Words of which one must occur (ASCII case-insensitively) within `near` bytes of
    /// a match; none: the pattern alone decides.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// How far from the match a keyword may be, in bytes (default 64).
    #[serde(default = "default_near")]
    pub near: usize,
    #[serde(default)]
    pub validator: Option<CustomValidator>,
    /// For `"validator": "entropy"`: bits per character (default 3.0).
    #[serde(default)]
    pub min_entropy: Option<f64>,
    /// The category whose action applies (default `credential`).
    #[serde(default = "default_category")]
    pub category: Category,
    /// The action, overriding the category's (`rule_actions` overrides this).
    #[serde(default)]
    pub action: Option<Action>,
}

fn default_near() -> usize {
    64
}

fn default_category() -> Category {
    Category::Credential
}

/// A checked rule; its regex is compiled on first use (`None` if it then fails to,
/// e.g. over the size limit: the rule finds nothing, and the built-in rules go on).
#[derive(Clone, Debug)]
pub(crate) struct CompiledCustom {
    rule: CustomRule,
    keywords: Vec<Vec<u8>>,
    regex: Arc<OnceLock<Option<CompiledRule>>>,
}

impl std::fmt::Debug for CompiledRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledRule").finish_non_exhaustive()
    }
}

/// Checks the policy's rules and prepares them; errors name the rule and the field.
pub(crate) fn build(rules: &[CustomRule]) -> Result<Vec<CompiledCustom>, PolicyError> {
    let mut out = Vec::with_capacity(rules.len());
    for (i, r) in rules.iter().enumerate() {
        let err = |field: &str, what: String| {
            PolicyError(format!("policy: rules[{i}] {:?}: {field}: {what}", r.name))
        };
        let name_ok = !r.name.is_empty()
            && r.name.len() <= 64
            && (r.name.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && r.name
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_lowercase());
        if !name_ok {
            return Err(err(
                "name",
                "use lower-case letters, digits and dashes, starting with a letter \
                 (the name is shown as [MASKED:<name>])"
                    .into(),
            ));
        }
        if RULES.iter().any(|b| b.name == r.name) || r.name == super::selectors::RULE {
            return Err(err(
                "name",
                "is the name of a built-in rule; choose another (use rule_actions or \
                 disabled_rules to change a built-in rule)"
                    .into(),
            ));
        }
        if rules[..i].iter().any(|o| o.name == r.name) {
            return Err(err(
                "name",
                "is used by an earlier rule; names must be unique".into(),
            ));
        }
        match super::policy::check_pattern(&ascii_boundaries(&r.pattern)) {
            Err(e) => {
                return Err(err(
                    "pattern",
                    format!("{e}; fix the regex (Rust `regex` syntax)"),
                ))
            }
            Ok(true) => {
                return Err(err(
                    "pattern",
                    "matches the empty string, so it would mask between every two \
                     characters; make it require at least one character"
                        .into(),
                ))
            }
            Ok(false) => {}
        }
        if let Some(k) = r.keywords.iter().position(|k| k.trim().is_empty()) {
            return Err(err(&format!("keywords[{k}]"), "is empty; remove it".into()));
        }
        if r.near == 0 && !r.keywords.is_empty() {
            return Err(err(
                "near",
                "is 0, so no keyword could be near; use e.g. 64".into(),
            ));
        }
        if r.min_entropy.is_some() && r.validator != Some(CustomValidator::Entropy) {
            return Err(err(
                "min_entropy",
                "applies only with \"validator\": \"entropy\"".into(),
            ));
        }
        if r.min_entropy.is_some_and(|e| !(0.0..=8.0).contains(&e)) {
            return Err(err(
                "min_entropy",
                "is bits per character, between 0 and 8 (e.g. 3.5)".into(),
            ));
        }
        out.push(CompiledCustom {
            keywords: (r.keywords.iter())
                .map(|k| k.to_ascii_lowercase().into_bytes())
                .collect(),
            rule: r.clone(),
            regex: Arc::new(OnceLock::new()),
        });
    }
    super::render::register_custom_names(rules.iter().map(|r| r.name.as_str()));
    Ok(out)
}

/// Whether `needle` (lower case) occurs in `hay`, ASCII case-insensitively.
fn contains_folded(hay: &[u8], needle: &[u8]) -> bool {
    needle.len() <= hay.len()
        && hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

fn validates(rule: &CustomRule, value: &str, c: &Candidate<'_>) -> bool {
    match rule.validator {
        None => true,
        Some(CustomValidator::Luhn) => {
            let digits: String = value.chars().filter(char::is_ascii_digit).collect();
            digits.len() >= 2 && v::luhn(&digits)
        }
        Some(CustomValidator::Mod97) => v::mod97(value),
        Some(CustomValidator::Iban) => v::iban(c),
        Some(CustomValidator::Card) => v::card_number(c),
        Some(CustomValidator::Entropy) => {
            v::shannon_entropy(value) >= rule.min_entropy.unwrap_or(3.0)
        }
        Some(CustomValidator::LettersAndDigits) => v::letters_and_digits(c),
    }
}

/// Runs the policy's rules over `text`, calling `found(name, category, order, start,
/// end)` for each confirmed value. `filtered`: skip a rule whose keywords do not occur
/// in the text at all (what the built-in triggers do).
pub(crate) fn find(
    policy: &Policy,
    text: &str,
    filtered: bool,
    base_order: usize,
    found: &mut dyn FnMut(&str, Category, usize, usize, usize),
) {
    let rules = policy.custom_rules();
    if rules.is_empty()
        || !rules
            .iter()
            .any(|r| policy.categories.contains(&r.rule.category))
    {
        return;
    }
    let bytes = text.as_bytes();
    for (j, c) in rules.iter().enumerate() {
        let rule = &c.rule;
        if !policy.rule_enabled(&rule.name, rule.category) {
            continue;
        }
        if filtered
            && !c.keywords.is_empty()
            && !c.keywords.iter().any(|k| contains_folded(bytes, k))
        {
            continue;
        }
        let compiled = c.regex.get_or_init(|| {
            Regex::new(&ascii_boundaries(&rule.pattern))
                .ok()
                .map(CompiledRule::from_regex)
        });
        let Some(compiled) = compiled else {
            continue;
        };
        compiled.candidates(text, policy, |start, end, key| {
            if start == end {
                return;
            }
            if !c.keywords.is_empty() {
                let mut from = start.saturating_sub(rule.near);
                while !text.is_char_boundary(from) {
                    from -= 1;
                }
                let to = (end + rule.near).min(text.len());
                let window = &bytes[from..to];
                if !c.keywords.iter().any(|k| contains_folded(window, k)) {
                    return;
                }
            }
            let candidate = Candidate {
                haystack: text,
                start,
                end,
                key,
                policy,
            };
            if validates(rule, &text[start..end], &candidate) {
                found(&rule.name, rule.category, base_order + j, start, end);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::detect::{find, find_unfiltered, mask_text, Counts, HmacPseudonyms, Policy};

    fn policy(rules: &str) -> Result<Policy, String> {
        Policy::from_json(&format!(r#"{{"rules": {rules}}}"#)).map_err(|e| e.0)
    }

    fn mask(p: &Policy, text: &str) -> (String, Counts) {
        let mut counts = Counts::default();
        let out = mask_text(p, &mut HmacPseudonyms::new(b"k"), text, &mut counts);
        (out, counts)
    }

    #[test]
    fn a_rule_with_keyword_validator_and_action() {
        let p = policy(
            r#"[{"name": "loyalty-card", "pattern": "\\b[0-9]{12}\\b", "keywords": ["loyalty"],
                 "validator": "luhn", "category": "payment", "action": "hash"}]"#,
        )
        .expect("valid");
        // 499273987101: Luhn-valid; 499273987100: not.
        let (out, counts) = mask(&p, "loyalty no 499273987101 ok");
        assert!(out.starts_with("loyalty no loyalty-card:"), "{out}");
        assert_eq!(counts.get("loyalty-card", "hash"), 1);
        let (out, _) = mask(&p, "loyalty no 499273987100 ok");
        assert_eq!(out, "loyalty no 499273987100 ok");
        // No keyword near: nothing.
        let far = format!("499273987101 {} loyalty", "x".repeat(80));
        assert_eq!(mask(&p, &far).0, far);
        // The prefilter hides nothing: filtered and unfiltered agree.
        for t in ["loyalty no 499273987101", "no keyword 499273987101", &far] {
            assert_eq!(find(&p, t), find_unfiltered(&p, t), "{t}");
        }
    }

    #[test]
    fn a_value_group_masks_only_the_value() {
        let p = policy(r#"[{"name": "pin", "pattern": "(?i)\\bpin[ :=]+(?P<v>[0-9]{4,6})\\b"}]"#)
            .expect("valid");
        assert_eq!(mask(&p, "PIN: 4821 entered").0, "PIN: [MASKED:pin] entered");
        // The policy's rules obey rule_actions and disabled_rules like built-in ones.
        let p = Policy::from_json(
            r#"{"rules": [{"name": "pin", "pattern": "\\bpin=(?P<v>[0-9]{4})"}],
                "rule_actions": {"pin": "remove"}}"#,
        )
        .expect("valid");
        assert_eq!(mask(&p, "pin=4821").0, "pin=");
        let p = Policy::from_json(
            r#"{"rules": [{"name": "pin", "pattern": "\\bpin=(?P<v>[0-9]{4})"}],
                "disabled_rules": ["pin"]}"#,
        )
        .expect("valid");
        assert_eq!(mask(&p, "pin=4821").0, "pin=4821");
    }

    #[test]
    fn entropy_and_mod97_validators() {
        let p = policy(
            r#"[{"name": "acme-secret", "pattern": "\\bacme_[A-Za-z0-9]{16}\\b",
                 "validator": "entropy", "min_entropy": 3.5}]"#,
        )
        .expect("valid");
        assert_eq!(mask(&p, "acme_aaaaaaaaaaaaaaaa").0, "acme_aaaaaaaaaaaaaaaa");
        assert_eq!(mask(&p, "acme_Zx81Qp0LmW3vT7yK").0, "[MASKED:acme-secret]");
        let p =
            policy(r#"[{"name": "acct", "pattern": "\\bAC[0-9]{8}\\b", "validator": "mod97"}]"#)
                .expect("valid");
        let good = (0..1000)
            .map(|n| format!("AC{n:08}"))
            .find(|v| crate::detect::validate::mod97(v))
            .expect("one in 97 passes");
        assert_eq!(mask(&p, &good).0, "[MASKED:acct]");
        let bad = (0..1000)
            .map(|n| format!("AC{n:08}"))
            .find(|v| !crate::detect::validate::mod97(v))
            .expect("most fail");
        assert_eq!(mask(&p, &bad).0, bad);
    }

    #[test]
    fn masked_output_is_recognised_as_ours() {
        let p =
            policy(r#"[{"name": "ticket-9", "pattern": "\\bTK-[0-9]{6}\\b", "action": "hash"}]"#)
                .expect("valid");
        let (once, _) = mask(&p, "see TK-123456 now");
        let (twice, again) = mask(&p, &once);
        assert_eq!(once, twice);
        assert!(again.is_empty());
        assert!(crate::detect::is_mask_output("[MASKED:ticket-9]"));
    }

    #[test]
    fn refusals_name_the_rule_and_the_field_and_say_what_to_do() {
        let cases = [
            (
                r#"[{"name": "x", "pattern": "("}]"#,
                r#"rules[0] "x": pattern:"#,
            ),
            (
                r#"[{"name": "x", "pattern": "a*"}]"#,
                "matches the empty string",
            ),
            (
                r#"[{"name": "x", "pattern": "(?:)|abc"}]"#,
                "matches the empty string",
            ),
            (
                r#"[{"name": "Bad Name", "pattern": "a"}]"#,
                "name: use lower-case",
            ),
            (r#"[{"name": "email", "pattern": "a"}]"#, "built-in rule"),
            (
                r#"[{"name": "a", "pattern": "a"}, {"name": "a", "pattern": "b"}]"#,
                r#"rules[1] "a": name: is used by an earlier rule"#,
            ),
            (
                r#"[{"name": "a", "pattern": "a", "keywords": [""]}]"#,
                "keywords[0]",
            ),
            (
                r#"[{"name": "a", "pattern": "a", "min_entropy": 3}]"#,
                "min_entropy",
            ),
            (
                r#"[{"name": "a", "pattern": "a", "validator": "crc"}]"#,
                "unknown variant `crc`",
            ),
            (
                r#"[{"name": "a", "pattern": "a", "category": "misc"}]"#,
                "unknown variant `misc`",
            ),
            (r#"[{"name": "a", "regex": "a"}]"#, "unknown field `regex`"),
        ];
        for (rules, expected) in cases {
            let e = policy(rules).expect_err(rules);
            assert!(e.contains(expected), "{rules}: {e}");
        }
        // A policy's rule may be named in rule_actions and disabled_rules.
        Policy::from_json(
            r#"{"rules": [{"name": "a", "pattern": "a"}], "rule_actions": {"a": "hash"}}"#,
        )
        .expect("valid");
    }
}
