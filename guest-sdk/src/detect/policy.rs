//! The tenant's masking policy: which rules run, what each category's matches become,
//! which keys are secret whatever their value, and what is never masked.
//!
//! It arrives as JSON (`mask-context.policy`, from the report template). Unknown fields
//! are errors so that a typo (`"catgories"`) is reported instead of silently ignored;
//! every field has a default, so `{}` is the default policy.

use super::custom::{CompiledCustom, CustomRule};
use super::engine::RuleSet;
use super::{Category, RULES};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// What a match becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// `[MASKED:<rule>]`
    Mask,
    /// Nothing at all.
    Remove,
    /// `<rule>:<first 12 hex of HMAC-SHA256(pseudonym key, value)>`: the same value maps
    /// to the same token everywhere for one tenant, and cannot be reversed without the key.
    Hash,
    /// `****` and the last four letters or digits (only when there are at least eight).
    Partial,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Mask, Action::Remove, Action::Hash, Action::Partial];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Mask => "mask",
            Action::Remove => "remove",
            Action::Hash => "hash",
            Action::Partial => "partial",
        }
    }
}

/// The action for each category. A partial object keeps the defaults of the others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Actions {
    pub credential: Action,
    pub payment: Action,
    #[serde(rename = "government-id")]
    pub government_id: Action,
    pub contact: Action,
    pub network: Action,
    /// Person names and street addresses.
    pub person: Action,
}

impl Default for Actions {
    fn default() -> Self {
        Actions {
            credential: Action::Mask,
            payment: Action::Partial,
            government_id: Action::Mask,
            contact: Action::Hash,
            network: Action::Hash,
            person: Action::Hash,
        }
    }
}

impl Actions {
    pub fn get(&self, category: Category) -> Action {
        match category {
            Category::Credential => self.credential,
            Category::Payment => self.payment,
            Category::GovernmentId => self.government_id,
            Category::Contact => self.contact,
            Category::Network => self.network,
            Category::Person => self.person,
        }
    }
}

/// Keys whose values are secret whatever they look like. Anchored at the end so that
/// `db_password`, `X-Api-Key` and `accessToken` match but `author`, `token_count` and
/// `max_tokens` do not. The default policy matches them without building this regex
/// (`DEFAULT_KEY_SUFFIXES`, the same set; a test holds the two together).
pub const DEFAULT_SENSITIVE_KEYS: &str = r"(?i)(pass(word|wd|phrase|code)?|pwd|secret|token|(api|access|private|secret|client|app|account|master|encryption|signing|shared|subscription|license)[_-]?key|apikey|art[_-]?api|credentials?|auth|authorization|session([_-]?id)?|sessionid|cookie)$";

/// The ends of a key that mark its value secret (`DEFAULT_SENSITIVE_KEYS`), lower case.
/// Matched through `default_suffix`, which a test holds to this list.
#[cfg_attr(not(test), allow(dead_code))]
const DEFAULT_KEY_SUFFIXES: &[&str] = &[
    "pass",
    "password",
    "passwd",
    "passphrase",
    "passcode",
    "pwd",
    "secret",
    "token",
    "credential",
    "credentials",
    "auth",
    "authorization",
    "session",
    "sessionid",
    "session_id",
    "session-id",
    "cookie",
    "apikey",
    "artapi",
    "art_api",
    "art-api",
];

/// Words that make `<word>key`, `<word>_key`, `<word>-key` a secret key.
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "access",
    "private",
    "secret",
    "client",
    "app",
    "account",
    "master",
    "encryption",
    "signing",
    "shared",
    "subscription",
    "license",
];

/// Whether `key` ends with one of `DEFAULT_KEY_SUFFIXES`, ASCII case-insensitively:
/// its last three bytes pick the one or two suffixes that can (a test holds this to
/// the list), instead of trying all twenty-one on every key (`trace_id`, `version`:
/// most keys that get here end like a sensitive one and are none). Compared in
/// place, not in a lower-case copy of the key.
fn default_suffix(key: &[u8]) -> bool {
    let Some(&[a, b, c]) = key.len().checked_sub(3).map(|at| &key[at..]) else {
        return false;
    };
    let ends = |s: &[u8]| ends_with_folded(key, s);
    match &[a.to_ascii_lowercase(), b.to_ascii_lowercase(), c.to_ascii_lowercase()] {
        b"ass" => ends(b"pass"),
        b"ord" => ends(b"password"),
        b"swd" => ends(b"passwd"),
        b"ase" => ends(b"passphrase"),
        b"ode" => ends(b"passcode"),
        b"pwd" => true,
        b"ret" => ends(b"secret"),
        b"ken" => ends(b"token"),
        b"ial" => ends(b"credential"),
        b"als" => ends(b"credentials"),
        b"uth" => ends(b"auth"),
        b"ion" => ends(b"authorization") || ends(b"session"),
        b"nid" => ends(b"sessionid"),
        b"_id" => ends(b"session_id"),
        b"-id" => ends(b"session-id"),
        b"kie" => ends(b"cookie"),
        b"key" => ends(b"apikey"),
        b"api" => ends(b"artapi") || ends(b"art_api") || ends(b"art-api"),
        _ => false,
    }
}

/// `DEFAULT_SENSITIVE_KEYS` without a regex.
pub(crate) fn default_key_is_sensitive(key: &str) -> bool {
    default_key_end_is_sensitive(key.as_bytes())
}

/// `default_key_is_sensitive` of the key that ends where `before` does. Every word
/// of the set is made of bytes that a key is made of too (letters, `_`, `-`), and
/// the longest is shorter than the 24 bytes read: whatever stands before the key's
/// start cannot be part of a match, so a caller may pass the text up to the key's
/// end without finding where the key starts (`has_sensitive_pair` looks for that
/// start only for a key that is sensitive).
pub(crate) fn default_key_end_is_sensitive(before: &[u8]) -> bool {
    // (Only suffixes of sixteen bytes at most are compared: reading the last 24
    // bytes, as this did in a lower-case copy, or all of them is the same.)
    if default_suffix(before) {
        return true;
    }
    if !ends_with_folded(before, b"key") {
        return false;
    }
    let rest = &before[..before.len() - 3];
    let rest = rest
        .strip_suffix(b"_")
        .or_else(|| rest.strip_suffix(b"-"))
        .unwrap_or(rest);
    KEY_QUALIFIERS
        .iter()
        .any(|q| ends_with_folded(rest, q.as_bytes()))
}

/// `bytes` ends with `lower` (lower case), ASCII case-insensitively.
fn ends_with_folded(bytes: &[u8], lower: &[u8]) -> bool {
    bytes.len() >= lower.len() && bytes[bytes.len() - lower.len()..].eq_ignore_ascii_case(lower)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Categories whose rules run (default: all six).
    pub categories: Vec<Category>,
    /// Rules switched off by name, e.g. `["phone-e164"]`.
    pub disabled_rules: Vec<String>,
    /// Action per category.
    pub actions: Actions,
    /// Action per rule, overriding its category's, e.g. `{"email": "mask"}`.
    pub rule_actions: BTreeMap<String, Action>,
    /// Regexes (searched, not anchored) over attribute keys and over the keys of
    /// `key=value` / JSON pairs in text: a match masks the value whatever it is.
    pub sensitive_keys: Vec<String>,
    /// Literal values that are never masked (e.g. a public support address).
    pub allow: Vec<String>,
    /// Regexes a whole value must match to be never masked.
    pub allow_patterns: Vec<String>,
    /// Mask 127.0.0.0/8, ::1 and the unspecified addresses too (default false).
    pub mask_loopback_ip: bool,
    /// Mask the documentation ranges 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and
    /// 2001:db8::/32 (default true: they are addresses like any other).
    pub mask_documentation_ip: bool,
    /// Field selectors (`customer.id`, `items.*.card`, `attributes.customer_ref`):
    /// these fields of JSON bodies and attributes are masked whatever they hold.
    pub fields: Vec<String>,
    /// The tenant's own detectors: a pattern, keywords that must be near it, a
    /// validator from the built-in set, a category and an action (see `CustomRule`).
    pub rules: Vec<CustomRule>,
    #[serde(skip)]
    compiled: OnceLock<Compiled>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            categories: Category::ALL.to_vec(),
            disabled_rules: Vec::new(),
            actions: Actions::default(),
            rule_actions: BTreeMap::new(),
            sensitive_keys: vec![DEFAULT_SENSITIVE_KEYS.to_owned()],
            allow: Vec::new(),
            allow_patterns: Vec::new(),
            mask_loopback_ip: false,
            mask_documentation_ip: true,
            fields: Vec::new(),
            rules: Vec::new(),
            compiled: OnceLock::new(),
        }
    }
}

/// Why a policy was refused; the message names the field and says what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

/// How keys are judged sensitive: the default set without a regex, or the policy's
/// regexes, compiled on first use.
#[derive(Debug)]
enum Keys {
    Default,
    Patterns(Vec<String>, OnceLock<Vec<Regex>>),
}

/// The policy's sets and regexes, built once per policy value; regexes are compiled
/// when first needed, so a policy that never meets a key or an allowed value costs
/// nothing for them.
#[derive(Debug)]
struct Compiled {
    keys: Keys,
    allow: BTreeSet<String>,
    allow_patterns: Vec<String>,
    allow_regexes: OnceLock<Vec<Regex>>,
    disabled: BTreeSet<String>,
    disabled_set: RuleSet,
    /// `enabled_rules` for the categories it was computed for.
    enabled: (Vec<Category>, RuleSet),
    custom: Vec<CompiledCustom>,
}

impl Clone for Compiled {
    fn clone(&self) -> Self {
        Compiled {
            keys: match &self.keys {
                Keys::Default => Keys::Default,
                Keys::Patterns(p, _) => Keys::Patterns(p.clone(), OnceLock::new()),
            },
            allow: self.allow.clone(),
            allow_patterns: self.allow_patterns.clone(),
            allow_regexes: OnceLock::new(),
            disabled: self.disabled.clone(),
            disabled_set: self.disabled_set,
            enabled: self.enabled.clone(),
            custom: self.custom.clone(),
        }
    }
}

/// Checks that `pattern` is a regex the `regex` crate accepts (parsing it, which costs
/// far less than compiling it), and whether it can match the empty string.
pub(crate) fn check_pattern(pattern: &str) -> Result<bool, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .build()
        .parse(pattern)
        .map_err(|e| e.to_string().replace('\n', " "))?;
    Ok(hir.properties().minimum_len() == Some(0))
}

impl Policy {
    /// Parses and validates a policy; an empty string or `{}` is the default policy.
    pub fn from_json(json: &str) -> Result<Policy, PolicyError> {
        let policy = if json.trim().is_empty() {
            Policy::default()
        } else {
            serde_json::from_str::<Policy>(json).map_err(|e| PolicyError(format!("policy: {e}")))?
        };
        policy.validate()?;
        Ok(policy)
    }

    /// Checks rule names, patterns and the policy's own rules, keeping what it built
    /// for later calls.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let compiled = self.build()?;
        let _ = self.compiled.set(compiled);
        Ok(())
    }

    fn build(&self) -> Result<Compiled, PolicyError> {
        for (i, f) in self.fields.iter().enumerate() {
            if f.is_empty() || f.split('.').any(str::is_empty) {
                return Err(PolicyError(format!(
                    "policy: fields[{i}] {f:?} is not a dotted path such as \"customer.id\""
                )));
            }
        }
        let custom = super::custom::build(&self.rules)?;
        let known = |name: &str| {
            rule_names().contains(name)
                || self.rules.iter().any(|r| r.name == name)
                || name == super::selectors::RULE
        };
        for (field, name) in (self.disabled_rules.iter().map(|n| ("disabled_rules", n)))
            .chain(self.rule_actions.keys().map(|n| ("rule_actions", n)))
        {
            if !known(name) {
                return Err(PolicyError(format!(
                    "policy: {field}: unknown rule {name:?} (rule names are listed in the \
                     detector table; a policy's own rules are named in \"rules\")"
                )));
            }
        }
        let check = |field: &str, patterns: &[String]| {
            for (i, p) in patterns.iter().enumerate() {
                check_pattern(p).map_err(|e| {
                    PolicyError(format!(
                        "policy: {field}[{i}]: {e}; fix the regex (Rust `regex` syntax)"
                    ))
                })?;
            }
            Ok::<(), PolicyError>(())
        };
        let default_keys =
            self.sensitive_keys.len() == 1 && self.sensitive_keys[0] == DEFAULT_SENSITIVE_KEYS;
        if !default_keys {
            check("sensitive_keys", &self.sensitive_keys)?;
        }
        check("allow_patterns", &self.allow_patterns)?;
        let mut disabled_set = RuleSet::empty();
        if !self.disabled_rules.is_empty() {
            let disabled: BTreeSet<&str> = self.disabled_rules.iter().map(String::as_str).collect();
            for (i, r) in RULES.iter().enumerate() {
                if disabled.contains(r.name) {
                    disabled_set.insert(i);
                }
            }
        }
        let enabled = enabled_set(&self.categories, &disabled_set);
        Ok(Compiled {
            keys: if default_keys {
                Keys::Default
            } else {
                Keys::Patterns(self.sensitive_keys.clone(), OnceLock::new())
            },
            allow: self.allow.iter().cloned().collect(),
            allow_patterns: self.allow_patterns.clone(),
            allow_regexes: OnceLock::new(),
            disabled: self.disabled_rules.iter().cloned().collect(),
            disabled_set,
            enabled: (self.categories.clone(), enabled),
            custom,
        })
    }

    /// The compiled form. A policy built in code and never validated may hold a bad
    /// regex; then it fails closed: the default key patterns stand in for the
    /// sensitive keys, no allow pattern applies, and no rule is switched off.
    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            self.build().unwrap_or_else(|_| {
                let fallback = Policy {
                    allow_patterns: Vec::new(),
                    sensitive_keys: vec![DEFAULT_SENSITIVE_KEYS.to_owned()],
                    disabled_rules: Vec::new(),
                    rule_actions: BTreeMap::new(),
                    rules: Vec::new(),
                    ..self.clone()
                };
                fallback.build().unwrap_or_else(|_| Compiled {
                    keys: Keys::Default,
                    allow: BTreeSet::new(),
                    allow_patterns: Vec::new(),
                    allow_regexes: OnceLock::new(),
                    disabled: BTreeSet::new(),
                    disabled_set: RuleSet::empty(),
                    enabled: (
                        self.categories.clone(),
                        enabled_set(&self.categories, &RuleSet::empty()),
                    ),
                    custom: Vec::new(),
                })
            })
        })
    }

    /// The policy's own rules, ready to run.
    pub(crate) fn custom_rules(&self) -> &[CompiledCustom] {
        &self.compiled().custom
    }

    /// Whether the rule runs under this policy.
    pub fn rule_enabled(&self, name: &str, category: Category) -> bool {
        self.categories.contains(&category) && !self.compiled().disabled.contains(name)
    }

    /// The built-in rules that run under this policy (`rule_enabled` for the whole
    /// table at once).
    pub(crate) fn enabled_rules(&self) -> Cow<'_, RuleSet> {
        let compiled = self.compiled();
        match &compiled.enabled {
            (categories, set) if *categories == self.categories => Cow::Borrowed(set),
            // `categories` changed after the policy was first used.
            _ => Cow::Owned(enabled_set(&self.categories, &compiled.disabled_set)),
        }
    }

    /// The action for a rule: its own override, else the policy rule's own action,
    /// else its category's.
    pub fn action_for(&self, rule: &str, category: Category) -> Action {
        if let Some(a) = self.rule_actions.get(rule) {
            return *a;
        }
        if !self.rules.is_empty() {
            if let Some(a) = self
                .rules
                .iter()
                .find(|r| r.name == rule)
                .and_then(|r| r.action)
            {
                return a;
            }
        }
        self.actions.get(category)
    }

    /// Whether the sensitive keys are the default set (then `key_is_sensitive` needs
    /// no regex, and the triggers can pre-filter keys by their last letters).
    pub(crate) fn has_default_keys(&self) -> bool {
        matches!(self.compiled().keys, Keys::Default)
    }

    /// Whether a key (attribute name, JSON field, `key=`) marks its value as secret.
    pub fn key_is_sensitive(&self, key: &str) -> bool {
        match &self.compiled().keys {
            Keys::Default => default_key_is_sensitive(key),
            Keys::Patterns(patterns, regexes) => regexes
                .get_or_init(|| {
                    let compiled: Option<Vec<Regex>> =
                        patterns.iter().map(|p| Regex::new(p).ok()).collect();
                    // Fails closed: a pattern that does not compile after all (over a
                    // size limit) leaves the default keys in force.
                    compiled.unwrap_or_else(|| {
                        vec![Regex::new(DEFAULT_SENSITIVE_KEYS).expect("default keys compile")]
                    })
                })
                .iter()
                .any(|re| re.is_match(key)),
        }
    }

    /// Whether a value is on the allow-list.
    pub fn is_allowed(&self, value: &str) -> bool {
        let c = self.compiled();
        if c.allow.contains(value) {
            return true;
        }
        if c.allow_patterns.is_empty() {
            return false;
        }
        c.allow_regexes
            .get_or_init(|| {
                (c.allow_patterns.iter())
                    .filter_map(|p| Regex::new(&format!("^(?:{p})$")).ok())
                    .collect()
            })
            .iter()
            .any(|re| re.is_match(value))
    }
}

/// The names of the built-in rules, for checking a policy's rule names.
fn rule_names() -> &'static BTreeSet<&'static str> {
    static NAMES: OnceLock<BTreeSet<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| RULES.iter().map(|r| r.name).collect())
}

/// The rules of `categories` that are not disabled.
fn enabled_set(categories: &[Category], disabled: &RuleSet) -> RuleSet {
    let mut set = RuleSet::empty();
    for (i, r) in RULES.iter().enumerate() {
        if !disabled.contains(i) && categories.contains(&r.category) {
            set.insert(i);
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_braces_are_the_default() {
        for json in ["", "  ", "{}"] {
            let p = Policy::from_json(json).expect("default policy");
            assert_eq!(p.categories, Category::ALL.to_vec());
            assert_eq!(p.actions, Actions::default());
            assert!(!p.mask_loopback_ip);
            assert!(p.mask_documentation_ip);
        }
    }

    #[test]
    fn default_actions_per_category() {
        let a = Actions::default();
        assert_eq!(a.get(Category::Credential), Action::Mask);
        assert_eq!(a.get(Category::Payment), Action::Partial);
        assert_eq!(a.get(Category::GovernmentId), Action::Mask);
        assert_eq!(a.get(Category::Contact), Action::Hash);
        assert_eq!(a.get(Category::Network), Action::Hash);
        assert_eq!(a.get(Category::Person), Action::Hash);
    }

    #[test]
    fn default_keys_without_a_regex_match_the_regex() {
        let re = Regex::new(DEFAULT_SENSITIVE_KEYS).expect("compiles");
        let words = [
            "password",
            "db_password",
            "X-Api-Key",
            "accessToken",
            "client_secret",
            "Cookie",
            "session_id",
            "auth",
            "author",
            "token_count",
            "max_tokens",
            "user",
            "session_count",
            "passenger",
            "passcode",
            "secret_key",
            "SECRET-KEY",
            "monkey",
            "X-JFrog-Art-Api",
            "Ocp-Apim-Subscription-Key",
            "apikey",
            "signing_key",
            "key",
            "cache_key",
            "idempotency_key",
            "keyword",
            "sessionid",
            "SESSIONID",
            "bypass",
            "pwd",
            "credentials",
            "credential_id",
            "PRIVATE-KEY",
            "licensekey",
            "turnkey",
            "master_key",
            "client-key",
            "appkey",
            "hotkey",
            "",
        ];
        for w in words {
            assert_eq!(default_key_is_sensitive(w), re.is_match(w), "{w:?}");
        }
    }

    #[test]
    fn suffix_dispatch_agrees_with_the_list() {
        // Every suffix, every way it can be cut short or run on, and some others.
        let mut keys: Vec<String> = vec![String::new(), "x".into(), "id".into(), "_id".into()];
        for s in DEFAULT_KEY_SUFFIXES {
            for cut in 0..=s.len() {
                for head in ["", "x", "_", "db_", "my-"] {
                    keys.push(format!("{head}{}", &s[cut..]));
                    keys.push(format!("{head}{}", &s[..cut]));
                    keys.push(format!("{head}{s}x"));
                }
            }
        }
        for k in &keys {
            let lower = k.as_bytes();
            let listed = DEFAULT_KEY_SUFFIXES.iter().any(|s| lower.ends_with(s.as_bytes()));
            assert_eq!(default_suffix(lower), listed, "{k:?}");
        }
    }

    #[test]
    fn partial_actions_keep_other_defaults() {
        let p = Policy::from_json(
            r#"{"actions": {"contact": "mask"}, "rule_actions": {"ipv4": "remove"}}"#,
        )
        .expect("valid");
        assert_eq!(p.action_for("email", Category::Contact), Action::Mask);
        assert_eq!(
            p.action_for("credit-card", Category::Payment),
            Action::Partial
        );
        assert_eq!(p.action_for("ipv4", Category::Network), Action::Remove);
        assert_eq!(p.action_for("ipv6", Category::Network), Action::Hash);
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let e = Policy::from_json(r#"{"catgories": []}"#).unwrap_err();
        assert!(e.0.contains("unknown field `catgories`"), "{e}");
        let e = Policy::from_json(r#"{"actions": {"payment": "scramble"}}"#).unwrap_err();
        assert!(e.0.contains("unknown variant `scramble`"), "{e}");
        let e = Policy::from_json(r#"{"disabled_rules": ["no-such-rule"]}"#).unwrap_err();
        assert!(e.0.contains("no-such-rule"), "{e}");
        assert!(e.0.contains("disabled_rules"), "{e}");
        let e = Policy::from_json(r#"{"sensitive_keys": ["("]}"#).unwrap_err();
        assert!(e.0.contains("sensitive_keys[0]"), "{e}");
        let e = Policy::from_json("[1]").unwrap_err();
        assert!(e.0.starts_with("policy:"), "{e}");
    }

    #[test]
    fn default_sensitive_keys() {
        let p = Policy::default();
        for k in [
            "password",
            "db_password",
            "X-Api-Key",
            "accessToken",
            "client_secret",
            "Cookie",
            "session_id",
            "auth",
        ] {
            assert!(p.key_is_sensitive(k), "{k}");
        }
        for k in [
            "author",
            "token_count",
            "max_tokens",
            "user",
            "session_count",
            "passenger",
            "cache_key",
            "idempotency_key",
        ] {
            assert!(!p.key_is_sensitive(k), "{k}");
        }
    }

    #[test]
    fn allow_list_literal_and_pattern() {
        let p = Policy::from_json(
            r#"{"allow": ["support@example.com"], "allow_patterns": ["10\\.0\\.0\\.\\d+"]}"#,
        )
        .expect("valid");
        assert!(p.is_allowed("support@example.com"));
        assert!(p.is_allowed("10.0.0.7"));
        assert!(!p.is_allowed("10.0.0.7x"));
        assert!(!p.is_allowed("bob@example.com"));
    }

    #[test]
    fn unvalidated_bad_policy_fails_closed() {
        let p = Policy {
            sensitive_keys: vec!["(".into()],
            allow_patterns: vec![".*".into()],
            ..Policy::default()
        };
        assert!(p.key_is_sensitive("password"));
        assert!(!p.is_allowed("anything"));
    }
}
