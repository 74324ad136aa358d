//! `Field` lists from JSON: attributes, labels, headers.

use crate::types::Field;
use serde_json::{Map, Value};

pub fn field(key: impl Into<String>, value: impl Into<String>) -> Field {
    Field {
        key: key.into(),
        value: value.into(),
    }
}

/// A JSON value as a field value: strings as they are, `null` as empty, anything else
/// (numbers, booleans, nested objects and arrays) as compact JSON.
pub fn value_to_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Every entry of a JSON object as a field, in key order.
pub fn fields_from_map(map: &Map<String, Value>) -> Vec<Field> {
    map.iter()
        .map(|(k, v)| field(k.clone(), value_to_string(v)))
        .collect()
}

/// Appends `extra` to `fields`, replacing fields of the same key (later sources win).
pub fn merge_fields(fields: &mut Vec<Field>, extra: Vec<Field>) {
    for f in extra {
        match fields.iter_mut().find(|g| g.key == f.key) {
            Some(existing) => existing.value = f.value,
            None => fields.push(f),
        }
    }
}
