//! The tenant's masking policy: which rules run, what each category's matches become,
//! which keys are secret whatever their value, and what is never masked.
//!
//! It arrives as JSON (`mask-context.policy`, from the report template). Unknown fields
//! are errors so that a typo (`"catgories"`) is reported instead of silently ignored;
//! every field has a default, so `{}` is the default policy.

use super::{Category, RULES};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
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
}

impl Default for Actions {
    fn default() -> Self {
        Actions {
            credential: Action::Mask,
            payment: Action::Partial,
            government_id: Action::Mask,
            contact: Action::Hash,
            network: Action::Hash,
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
        }
    }
}

/// Keys whose values are secret whatever they look like. Anchored at the end so that
/// `db_password`, `X-Api-Key` and `accessToken` match but `author`, `token_count` and
/// `max_tokens` do not.
pub const DEFAULT_SENSITIVE_KEYS: &str = r"(?i)(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|auth|authorization|session([_-]?id)?|sessionid|cookie)$";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Categories whose rules run (default: all five).
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
            compiled: OnceLock::new(),
        }
    }
}

/// Why a policy was refused; the message names the field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

/// The policy's regexes and sets, built once per policy value.
#[derive(Clone, Debug)]
struct Compiled {
    keys: Vec<Regex>,
    allow: HashSet<String>,
    allow_patterns: Vec<Regex>,
    disabled: HashSet<String>,
    /// Bit `i` set: `RULES[i]` is disabled by name.
    disabled_mask: u128,
    /// `enabled_rules` for the categories it was computed for.
    enabled: (Vec<Category>, u128),
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

    /// Checks rule names and compiles the regexes, keeping them for later calls.
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
        for name in self.disabled_rules.iter().chain(self.rule_actions.keys()) {
            if !RULES.iter().any(|r| r.name == name) {
                return Err(PolicyError(format!("policy: unknown rule {name:?}")));
            }
        }
        let compile = |field: &str, i: usize, p: &str, anchored: bool| {
            let p = if anchored {
                format!("^(?:{p})$")
            } else {
                p.to_owned()
            };
            Regex::new(&p).map_err(|e| PolicyError(format!("policy: {field}[{i}]: {e}")))
        };
        let keys = (self.sensitive_keys.iter().enumerate())
            .map(|(i, p)| compile("sensitive_keys", i, p, false))
            .collect::<Result<_, _>>()?;
        let allow_patterns = (self.allow_patterns.iter().enumerate())
            .map(|(i, p)| compile("allow_patterns", i, p, true))
            .collect::<Result<_, _>>()?;
        let disabled_mask = (RULES.iter().enumerate())
            .filter(|(_, r)| self.disabled_rules.iter().any(|d| d == r.name))
            .fold(0, |mask, (i, _)| mask | 1 << i);
        Ok(Compiled {
            keys,
            allow: self.allow.iter().cloned().collect(),
            allow_patterns,
            disabled: self.disabled_rules.iter().cloned().collect(),
            disabled_mask,
            enabled: (
                self.categories.clone(),
                enabled_mask(&self.categories, disabled_mask),
            ),
        })
    }

    /// The compiled form. A policy built in code and never validated may hold a bad
    /// regex; then it fails closed: the default key patterns stand in for the
    /// sensitive keys and no allow pattern applies.
    fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            self.build().unwrap_or_else(|_| {
                let fallback = Policy {
                    allow_patterns: Vec::new(),
                    sensitive_keys: vec![DEFAULT_SENSITIVE_KEYS.to_owned()],
                    disabled_rules: Vec::new(),
                    rule_actions: BTreeMap::new(),
                    ..self.clone()
                };
                fallback.build().unwrap_or_else(|_| Compiled {
                    keys: Vec::new(),
                    allow: HashSet::new(),
                    allow_patterns: Vec::new(),
                    disabled: HashSet::new(),
                    disabled_mask: 0,
                    enabled: (self.categories.clone(), enabled_mask(&self.categories, 0)),
                })
            })
        })
    }

    /// Whether the rule runs under this policy.
    pub fn rule_enabled(&self, name: &str, category: Category) -> bool {
        self.categories.contains(&category) && !self.compiled().disabled.contains(name)
    }

    /// Bit `i` set: `RULES[i]` runs under this policy (`rule_enabled` for the whole
    /// table at once).
    pub fn enabled_rules(&self) -> u128 {
        let compiled = self.compiled();
        match &compiled.enabled {
            (categories, mask) if *categories == self.categories => *mask,
            // `categories` changed after the policy was first used.
            _ => enabled_mask(&self.categories, compiled.disabled_mask),
        }
    }

    /// The action for a rule: its own override, else its category's.
    pub fn action_for(&self, rule: &str, category: Category) -> Action {
        self.rule_actions
            .get(rule)
            .copied()
            .unwrap_or_else(|| self.actions.get(category))
    }

    /// Whether a key (attribute name, JSON field, `key=`) marks its value as secret.
    pub fn key_is_sensitive(&self, key: &str) -> bool {
        self.compiled().keys.iter().any(|re| re.is_match(key))
    }

    /// Whether a value is on the allow-list.
    pub fn is_allowed(&self, value: &str) -> bool {
        let c = self.compiled();
        c.allow.contains(value) || c.allow_patterns.iter().any(|re| re.is_match(value))
    }
}

/// The rules of `categories` that are not disabled, as bits of `RULES` indices.
fn enabled_mask(categories: &[Category], disabled: u128) -> u128 {
    (RULES.iter().enumerate())
        .filter(|(i, r)| disabled & 1 << i == 0 && categories.contains(&r.category))
        .fold(0, |mask, (i, _)| mask | 1 << i)
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
