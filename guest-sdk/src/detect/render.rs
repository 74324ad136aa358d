//! What a finding becomes (`render`), how often each rule fired (`Counts`), and how
//! to tell our own output from a value (`is_mask_output`). Shared by the engine and
//! the field selectors, which both replace values.
//!
//! Keyed pseudonyms come from a `Pseudonyms` implementation, never from a key held
//! here: the host computes them with the tenant's key (`HmacPseudonyms`), and a masker
//! component asks the host for them through its `pseudonyms` import, so a component
//! never holds the key it could leak.

use super::policy::Action;
use super::RULES;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::RwLock;

/// Makes the keyed token for a value: `<rule>:<12 lowercase hex>`, the same token for
/// the same value under one key, and irreversible without it.
pub trait Pseudonyms {
    /// The token for `value`, found by `rule`; `None` when none can be made, and the
    /// value is then masked instead (fail closed).
    fn token(&mut self, rule: &str, value: &str) -> Option<String>;
}

/// Pseudonyms under a key held by the caller: `<rule>:` and the first six bytes of
/// HMAC-SHA256(key, value) in hex. The key is set up on the first value, so a text
/// with nothing to pseudonymise costs nothing.
pub struct HmacPseudonyms<'k> {
    key: &'k [u8],
    mac: Option<Option<Hmac<Sha256>>>,
}

impl<'k> HmacPseudonyms<'k> {
    pub fn new(key: &'k [u8]) -> HmacPseudonyms<'k> {
        HmacPseudonyms { key, mac: None }
    }
}

impl Pseudonyms for HmacPseudonyms<'_> {
    fn token(&mut self, rule: &str, value: &str) -> Option<String> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let key = self.key;
        // HMAC takes keys of any length; should that ever change, every value is masked.
        let keyed = (self.mac).get_or_insert_with(|| Hmac::<Sha256>::new_from_slice(key).ok());
        // Cloning the keyed state costs less than setting up the key for every value.
        let mut mac = keyed.clone()?;
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(rule.len() + 13);
        out.push_str(rule);
        out.push(':');
        for b in &digest[..6] {
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
        Some(out)
    }
}

/// How often each rule fired with each action; never the values. Rule names are the
/// built-in rules' and those of a policy's own rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts(BTreeMap<Cow<'static, str>, [u64; 4]>);

fn action_slot(action: Action) -> usize {
    Action::ALL.iter().position(|a| *a == action).unwrap_or(0)
}

impl Counts {
    pub fn add(&mut self, rule: &str, action: Action) {
        self.add_n(rule, action, 1);
    }

    fn add_n(&mut self, rule: &str, action: Action, n: u64) {
        let slot = action_slot(action);
        if let Some(counts) = self.0.get_mut(rule) {
            counts[slot] += n;
            return;
        }
        let name = match RULES.iter().find(|r| r.name == rule) {
            Some(r) => Cow::Borrowed(r.name),
            None => Cow::Owned(rule.to_owned()),
        };
        let mut counts = [0; 4];
        counts[slot] = n;
        self.0.insert(name, counts);
    }

    pub fn get(&self, rule: &str, action: &str) -> u64 {
        self.iter()
            .filter(|(r, a, _)| *r == rule && *a == action)
            .map(|(_, _, n)| n)
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.0.values().flatten().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// `(rule, action, count)`, ordered by rule then action.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &'static str, u64)> + '_ {
        self.0.iter().flat_map(|(rule, counts)| {
            (Action::ALL.iter().zip(counts))
                .filter(|(_, n)| **n > 0)
                .map(move |(a, n)| (rule.as_ref(), a.as_str(), *n))
        })
    }

    pub fn merge(&mut self, other: &Counts) {
        for (rule, counts) in &other.0 {
            for (a, n) in Action::ALL.iter().zip(counts) {
                if *n > 0 {
                    self.add_n(rule, *a, *n);
                }
            }
        }
    }
}

/// The names of policies' own rules seen by this process (an instance, in a
/// component), so that their pseudonyms are recognised as masking output like those of
/// built-in rules. Only ever grows; a name says nothing about a value.
static CUSTOM_NAMES: RwLock<Vec<String>> = RwLock::new(Vec::new());

pub(super) fn register_custom_names<'a>(names: impl Iterator<Item = &'a str>) {
    let mut known = CUSTOM_NAMES.write().unwrap_or_else(|e| e.into_inner());
    for name in names {
        if !known.iter().any(|k| k == name) {
            known.push(name.to_owned());
        }
    }
}

/// Whether `name` is a rule that can make a pseudonym: a built-in rule, the field
/// selectors, or a policy's own rule.
fn is_rule_name(name: &str) -> bool {
    RULES.iter().any(|r| r.name == name)
        || name == super::selectors::RULE
        || (CUSTOM_NAMES.read().unwrap_or_else(|e| e.into_inner()))
            .iter()
            .any(|k| k == name)
}

/// Whether `text` ends with the name of such a rule (`…gcp-api-key`).
pub(super) fn ends_with_rule_name(text: &str) -> bool {
    RULES.iter().any(|r| text.ends_with(r.name))
        || text.ends_with(super::selectors::RULE)
        || (CUSTOM_NAMES.read().unwrap_or_else(|e| e.into_inner()))
            .iter()
            .any(|k| text.ends_with(k.as_str()))
}

/// What `value`, found by `rule`, becomes under `action`.
pub fn render(action: Action, rule: &str, value: &str, pseudonyms: &mut dyn Pseudonyms) -> String {
    let mut out = String::new();
    render_into(&mut out, action, rule, value, pseudonyms);
    out
}

pub(super) fn render_into(
    out: &mut String,
    action: Action,
    rule: &str,
    value: &str,
    pseudonyms: &mut dyn Pseudonyms,
) {
    match action {
        Action::Mask => {
            out.push_str("[MASKED:");
            out.push_str(rule);
            out.push(']');
        }
        Action::Remove => {}
        Action::Hash => match pseudonyms.token(rule, value) {
            Some(token) if is_pseudonym(rule, &token) => out.push_str(&token),
            // No token, or one that is not of the documented shape: fail closed.
            _ => render_into(out, Action::Mask, rule, value, pseudonyms),
        },
        Action::Partial => {
            out.push_str("****");
            let alnum = value.chars().filter(|c| c.is_alphanumeric()).count();
            if alnum >= 8 {
                let mut tail: Vec<char> = value
                    .chars()
                    .rev()
                    .filter(|c| c.is_alphanumeric())
                    .take(4)
                    .collect();
                tail.reverse();
                out.extend(tail);
            }
        }
    }
}

/// `token` is `<rule>:` and twelve lowercase hex digits, nothing else: whatever made
/// it, it cannot carry the value along.
fn is_pseudonym(rule: &str, token: &str) -> bool {
    token
        .strip_prefix(rule)
        .and_then(|t| t.strip_prefix(':'))
        .is_some_and(|hex| hex.len() == 12 && pseudonym_hex(hex))
}

/// Whether `value` is what earlier masking left behind: `[MASKED:…]`, `<rule>:<12
/// hex>`, `****1234`. Never masked again, so masking is idempotent and the host's leak
/// gate, which runs the same rules over a masker's output, does not count our own
/// tokens as leaks.
pub fn is_mask_output(value: &str) -> bool {
    mask_token_len(value) == Some(value.len())
}

/// The length of the mask token `value` starts with, if it starts with one that is not
/// glued to more letters or digits.
pub(super) fn mask_token_len(value: &str) -> Option<usize> {
    let glued = |rest: &str| rest.chars().next().is_some_and(char::is_alphanumeric);
    if let Some(rest) = value.strip_prefix("[MASKED:") {
        let name = rest.find(']')?;
        let ok = name > 0
            && (rest[..name].bytes())
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        return ok.then_some("[MASKED:".len() + name + 1);
    }
    if let Some(rest) = value.strip_prefix("****") {
        // What `partial` keeps: up to four letters or digits, of any script.
        let kept: usize = (rest.chars().take_while(|c| c.is_alphanumeric()))
            .map(char::len_utf8)
            .sum();
        let ok = rest[..kept].chars().count() <= 4 && !glued(&rest[kept..]);
        return ok.then_some(4 + kept);
    }
    let (rule, rest) = value.split_once(':')?;
    let ok = is_rule_name(rule) && pseudonym_hex(rest);
    ok.then_some(rule.len() + 1 + 12)
}

/// `rest` starts with the twelve hex digits of a pseudonym, not glued to more.
pub(super) fn pseudonym_hex(rest: &str) -> bool {
    rest.len() >= 12
        && (rest.as_bytes()[..12].iter()).all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && !rest[12..].chars().next().is_some_and(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let r =
            |key: &[u8], v: &str| render(Action::Hash, "email", v, &mut HmacPseudonyms::new(key));
        let a = r(b"k1", "bob@example.com");
        assert!(
            a.starts_with("email:") && a.len() == "email:".len() + 12,
            "{a}"
        );
        assert_eq!(a, r(b"k1", "bob@example.com"));
        assert_ne!(a, r(b"k2", "bob@example.com"));
        assert_ne!(a, r(b"k1", "eve@example.com"));
        assert!(is_mask_output(&a));
    }

    /// A `Pseudonyms` that hands back anything but a token does not get it through.
    #[test]
    fn a_token_of_the_wrong_shape_is_masked_instead() {
        struct Echo;
        impl Pseudonyms for Echo {
            fn token(&mut self, _: &str, value: &str) -> Option<String> {
                Some(value.to_owned())
            }
        }
        assert_eq!(
            render(Action::Hash, "email", "bob@example.com", &mut Echo),
            "[MASKED:email]"
        );
        struct Refuses;
        impl Pseudonyms for Refuses {
            fn token(&mut self, _: &str, _: &str) -> Option<String> {
                None
            }
        }
        assert_eq!(
            render(Action::Hash, "ipv4", "10.0.0.1", &mut Refuses),
            "[MASKED:ipv4]"
        );
    }
}
