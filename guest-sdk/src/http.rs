//! Small HTTP helpers shared by connectors and ticket mappers. The request itself is
//! made by the host (`connector::http_send`); these only build and read messages.

/// Percent-encodes a URL query component: everything but RFC 3986 unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The first `max` bytes of a body, as text, for error messages.
pub fn body_excerpt(body: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&body[..body.len().min(max)]).into_owned()
}

/// `template` with `{plugin}`, `{tenant}` and `{environment}` replaced by `values` (in
/// that order); any other `{name}` is left as it is (see [`unknown_placeholder`]).
pub fn fill_placeholders(template: &str, values: [&str; 3]) -> String {
    template
        .replace("{plugin}", values[0])
        .replace("{tenant}", values[1])
        .replace("{environment}", values[2])
}

/// The first `{name}` in `template` that is not a known placeholder, for
/// `validate-settings` to refuse (a typo would otherwise be searched for literally).
pub fn unknown_placeholder(template: &str) -> Option<String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        if !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !matches!(name, "plugin" | "tenant" | "environment")
        {
            return Some(format!("{{{name}}}"));
        }
        rest = &after[close + 1..];
    }
    None
}

/// `base` without trailing slashes, then `path` (which starts with `/`).
pub fn join_url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

#[cfg(feature = "bindings")]
pub use with_bindings::*;

#[cfg(feature = "bindings")]
mod with_bindings {
    use super::body_excerpt;
    use crate::types::{HttpMethod, HttpResponse, PluginError};

    impl HttpMethod {
        /// The method as it goes on the wire.
        pub fn as_str(self) -> &'static str {
            match self {
                HttpMethod::Get => "GET",
                HttpMethod::Head => "HEAD",
                HttpMethod::Post => "POST",
                HttpMethod::Put => "PUT",
                HttpMethod::Patch => "PATCH",
                HttpMethod::Delete => "DELETE",
                HttpMethod::Options => "OPTIONS",
            }
        }
    }

    /// The body of a 2xx response, else `unavailable("<service> answered <status>:
    /// <first 200 bytes>")`.
    pub fn expect_success<'a>(
        service: &str,
        response: &'a HttpResponse,
    ) -> Result<&'a [u8], PluginError> {
        if (200..300).contains(&response.status) {
            Ok(&response.body)
        } else {
            Err(PluginError::Unavailable(format!(
                "{service} answered {}: {}",
                response.status,
                body_excerpt(&response.body, 200)
            )))
        }
    }

    /// The body of a 2xx response, else the failure it means for the host: a request
    /// the backend refuses as such (other 4xx: a bad query, a wrong URL, rejected
    /// credentials) is `invalid-input`, which no retry or fallback changes; a timeout
    /// (408), throttling (429) or a server error is `unavailable`, which the host
    /// retries and then hands to the source's fallback.
    pub fn check_status<'a>(
        service: &str,
        response: &'a HttpResponse,
    ) -> Result<&'a [u8], PluginError> {
        let status = response.status;
        if (200..300).contains(&status) {
            return Ok(&response.body);
        }
        let excerpt = body_excerpt(&response.body, 200);
        let hint = match status {
            401 | 403 => " (check the source's grant.credentials)",
            404 => " (check settings.url)",
            _ => "",
        };
        let message = format!("{service} answered {status}{hint}: {excerpt}");
        if (400..500).contains(&status) && status != 408 && status != 429 {
            Err(PluginError::InvalidInput(message))
        } else {
            Err(PluginError::Unavailable(message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_logql() {
        assert_eq!(
            percent_encode(r#"{plugin="a b",env="p"}"#),
            "%7Bplugin%3D%22a%20b%22%2Cenv%3D%22p%22%7D"
        );
        assert_eq!(percent_encode("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn excerpt_and_join() {
        assert_eq!(body_excerpt(b"hello world", 5), "hello");
        assert_eq!(body_excerpt("héllo".as_bytes(), 2), "h\u{fffd}");
        assert_eq!(join_url("http://x:1/", "/a"), "http://x:1/a");
        assert_eq!(join_url("http://x:1", "/a"), "http://x:1/a");
    }

    #[test]
    fn placeholders() {
        assert_eq!(
            fill_placeholders("plugin={plugin} t={tenant} e={environment} {x}", ["pay", "acme", "prod"]),
            "plugin=pay t=acme e=prod {x}"
        );
        assert_eq!(unknown_placeholder("a={plugin} b={tenant}"), None);
        assert_eq!(unknown_placeholder(r#"{"json": 1} {plugni}"#).as_deref(), Some("{plugni}"));
        assert_eq!(unknown_placeholder("{environment}{"), None);
    }

    #[cfg(feature = "bindings")]
    #[test]
    fn status_classes() {
        use crate::types::{HttpResponse, PluginError};
        let r = |status: u16| HttpResponse { status, headers: Vec::new(), body: b"why".to_vec() };
        assert_eq!(check_status("x", &r(204)).ok(), Some(&b"why"[..]));
        for s in [400, 401, 404, 422] {
            assert!(matches!(check_status("x", &r(s)), Err(PluginError::InvalidInput(_))), "{s}");
        }
        for s in [408, 429, 500, 503] {
            assert!(matches!(check_status("x", &r(s)), Err(PluginError::Unavailable(_))), "{s}");
        }
        let Err(PluginError::InvalidInput(m)) = check_status("tempo", &r(401)) else { panic!() };
        assert_eq!(m, "tempo answered 401 (check the source's grant.credentials): why");
    }
}
