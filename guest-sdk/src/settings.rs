//! What every connector's `validate-settings` starts with: the settings JSON (empty
//! means all defaults) and the base URL of the system it reads; and, for settings read
//! field by field (the ticket mappers'), the object and each field. Errors are the
//! text of an `invalid-input`, naming the field.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The settings object; an empty string is `T::default()`.
pub fn parse<T: DeserializeOwned + Default>(json: &str) -> Result<T, String> {
    if json.trim().is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(json).map_err(|e| format!("settings: {e}"))
}

/// `settings.url`, required and http(s); `hint` says what it is (`the Loki base URL,
/// e.g. http://loki:3100`).
pub fn base_url(url: Option<&str>, hint: &str) -> Result<String, String> {
    let base = url.map(str::trim).filter(|u| !u.is_empty()).ok_or_else(|| format!("settings.url is required ({hint})"))?;
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(format!("settings.url `{base}` must start with http:// or https://"));
    }
    Ok(base.to_owned())
}

/// The settings object, for settings read field by field with [`get`]: an empty
/// string is `{}`; text that is not a JSON object, or a key not in `known`, is an
/// error. `needs` (`the GitHub mapper needs {"owner": …}`) ends the errors that
/// could mean the settings are not this component's at all.
// Inline, so that serde_json's parser for `Value` is the component's own copy: one
// made in this crate would be a second one in it.
#[inline]
pub fn object(json: &str, needs: &str, known: &[&str]) -> Result<Map<String, Value>, String> {
    let json = if json.trim().is_empty() { "{}" } else { json };
    let v: Value = serde_json::from_str(json).map_err(|e| format!("settings: {e} ({needs})"))?;
    let Value::Object(obj) = v else {
        return Err(format!("settings: not a JSON object ({needs})"));
    };
    if let Some(k) = obj.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("settings: unknown field `{k}`, expected one of {}", known.join(", ")));
    }
    Ok(obj)
}

/// `settings.<name>` as a `T`, `None` when it is not there, or an error naming the
/// field (`settings.labels: invalid type: …`).
pub fn get<T: DeserializeOwned>(obj: &Map<String, Value>, name: &str) -> Result<Option<T>, String> {
    obj.get(name)
        .map(|v| serde_json::from_value(v.clone()).map_err(|e| format!("settings.{name}: {e}")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Default, Debug, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct S {
        url: Option<String>,
    }

    #[test]
    fn empty_is_default_and_errors_name_the_field() {
        assert_eq!(parse::<S>("  ").unwrap(), S::default());
        assert!(parse::<S>(r#"{"uri": "x"}"#).unwrap_err().starts_with("settings: unknown field `uri`"));
        assert_eq!(base_url(Some(" http://a:1 "), "x").unwrap(), "http://a:1");
        assert_eq!(base_url(None, "the Loki base URL").unwrap_err(), "settings.url is required (the Loki base URL)");
        assert_eq!(base_url(Some(""), "h").unwrap_err(), "settings.url is required (h)");
        assert!(base_url(Some("ftp://a"), "h").unwrap_err().contains("must start with http:// or https://"));
    }

    #[test]
    fn objects_read_field_by_field() {
        const KNOWN: &[&str] = &["owner", "labels"];
        let obj = object(r#"{"owner": "o", "labels": ["a"]}"#, "needs owner", KNOWN).unwrap();
        assert_eq!(get::<String>(&obj, "owner").unwrap().as_deref(), Some("o"));
        assert_eq!(get::<Vec<String>>(&obj, "labels").unwrap(), Some(vec!["a".to_owned()]));
        assert_eq!(get::<String>(&obj, "repo").unwrap(), None);
        assert_eq!(get::<u64>(&obj, "owner").unwrap_err(), "settings.owner: invalid type: string \"o\", expected u64");
        assert!(object(" ", "n", KNOWN).unwrap().is_empty());
        assert_eq!(object("[]", "needs owner", KNOWN).unwrap_err(), "settings: not a JSON object (needs owner)");
        assert!(object("{", "needs owner", KNOWN).unwrap_err().ends_with(" (needs owner)"));
        assert_eq!(
            object(r#"{"owner": "o", "token": "t"}"#, "n", KNOWN).unwrap_err(),
            "settings: unknown field `token`, expected one of owner, labels"
        );
    }
}
