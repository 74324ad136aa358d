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
}
