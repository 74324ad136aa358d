//! What every connector's `validate-settings` starts with: the settings JSON (empty
//! means all defaults) and the base URL of the system it reads. Errors are the text
//! of an `invalid-input`, naming the field.

use serde::de::DeserializeOwned;

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
}
