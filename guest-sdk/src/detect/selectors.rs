//! Field selectors: dotted paths naming fields that are masked whatever their value
//! looks like, in JSON bodies (a message that is, or contains, a JSON object) and in
//! attributes. `user.email` selects `{"user": {"email": …}}`; `*` matches any key or
//! array element (`items.*.card`); a one-segment selector also names an attribute key.
//! Unlike `sensitive_keys` (a regex over any key anywhere), a selector names one
//! place, so a tenant can mask `customer.id` without masking every `id`.

use serde_json::Value;

use super::policy::Policy;
use super::render::{is_mask_output, render, Counts, Pseudonyms};
use super::Category;

pub const RULE: &str = "field-selector";

/// Whether an attribute named `key` is selected (`key` or `attributes.key`).
pub fn selects_attribute(policy: &Policy, key: &str) -> bool {
    policy
        .fields
        .iter()
        .any(|f| f == key || f.strip_prefix("attributes.") == Some(key))
}

fn mask_path(
    v: &mut Value,
    path: &[&str],
    policy: &Policy,
    pseudonyms: &mut dyn Pseudonyms,
    counts: &mut Counts,
) {
    let Some((head, rest)) = path.split_first() else {
        // The selected value itself: strings keep their pseudonym, anything else
        // (numbers, objects) is masked whole as its JSON text.
        let action = policy.action_for(RULE, Category::Credential);
        let text = match &mut *v {
            // Already masked (by a masker before the gate): nothing to do, nothing to count.
            Value::String(s) if is_mask_output(s) => return,
            Value::String(s) => std::mem::take(s),
            Value::Null => return,
            other => other.to_string(),
        };
        counts.add(RULE, action);
        *v = Value::String(render(action, RULE, &text, pseudonyms));
        return;
    };
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                if *head == "*" || k == head {
                    mask_path(child, rest, policy, pseudonyms, counts);
                }
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter_mut().enumerate() {
                if *head == "*" || head.parse::<usize>() == Ok(i) {
                    mask_path(child, rest, policy, pseudonyms, counts);
                }
            }
        }
        _ => {}
    }
}

/// Applies the policy's selectors to the first JSON object or array in `text`.
/// Returns None when there is nothing to change (no selectors, no JSON, or no
/// selected field in it); otherwise the text with that JSON re-serialised compactly.
pub fn apply(
    policy: &Policy,
    pseudonyms: &mut dyn Pseudonyms,
    text: &str,
    counts: &mut Counts,
) -> Option<String> {
    if policy.fields.is_empty() {
        return None;
    }
    let start = text.find(['{', '['])?;
    let mut stream = serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
    let mut value = stream.next()?.ok()?;
    let end = start + stream.byte_offset();
    let mut local = Counts::default();
    for f in &policy.fields {
        let path: Vec<&str> = f.split('.').filter(|s| !s.is_empty()).collect();
        let path = match path.first() {
            Some(&"attributes") => &path[1..],
            _ => &path[..],
        };
        mask_path(&mut value, path, policy, pseudonyms, &mut local);
    }
    if local.is_empty() {
        return None;
    }
    counts.merge(&local);
    Some(format!("{}{}{}", &text[..start], value, &text[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::render::HmacPseudonyms;

    fn k() -> HmacPseudonyms<'static> {
        HmacPseudonyms::new(b"k")
    }

    fn policy(fields: &[&str]) -> Policy {
        let json = serde_json::json!({"fields": fields}).to_string();
        Policy::from_json(&json).expect("policy")
    }

    #[test]
    fn masks_selected_json_fields_whatever_they_hold() {
        let p = policy(&["customer.id", "items.*.sku"]);
        let mut c = Counts::default();
        let out = apply(&p, &mut k(), r#"order rejected {"customer":{"id":"C-991","name":"x"},"items":[{"sku":"A1"},{"sku":7}]} retry"#, &mut c).unwrap();
        assert_eq!(
            out,
            r#"order rejected {"customer":{"id":"[MASKED:field-selector]","name":"x"},"items":[{"sku":"[MASKED:field-selector]"},{"sku":"[MASKED:field-selector]"}]} retry"#
        );
        assert_eq!(c.get(RULE, "mask"), 3);
        // Masking the output again changes and counts nothing (the gate relies on it).
        let mut again = Counts::default();
        assert_eq!(apply(&p, &mut k(), &out, &mut again), None);
        assert!(again.is_empty());
    }

    #[test]
    fn leaves_text_without_selected_fields_alone() {
        let p = policy(&["customer.id"]);
        let mut c = Counts::default();
        assert_eq!(
            apply(&p, &mut k(), r#"{"id":"C-1"}"#, &mut c),
            None,
            "`id` at the top is another field"
        );
        assert_eq!(apply(&p, &mut k(), "no json here", &mut c), None);
        assert_eq!(apply(&p, &mut k(), "broken {json", &mut c), None);
        assert_eq!(
            apply(
                &policy(&[]),
                &mut k(),
                r#"{"customer":{"id":"C-1"}}"#,
                &mut c
            ),
            None
        );
        assert!(c.is_empty());
    }

    #[test]
    fn one_segment_selectors_name_attributes() {
        let p = policy(&["customer_ref", "attributes.tenant_user"]);
        assert!(selects_attribute(&p, "customer_ref"));
        assert!(selects_attribute(&p, "tenant_user"));
        assert!(!selects_attribute(&p, "customer"));
    }
}
