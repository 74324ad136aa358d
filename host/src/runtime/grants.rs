//! The security boundary of what a component may reach, in one place: which hosts a
//! connector's host-http calls may go to. Checked on every request, after the URL
//! is parsed by the same parser reqwest uses, so tricks like `http://allowed@evil/`
//! are judged by the real host.

use anyhow::{bail, Result};

#[derive(Debug, Clone, Default)]
pub struct HttpGrant {
    /// `host` (any port) or `host:port`, lowercase.
    allow: Vec<String>,
}

impl HttpGrant {
    pub fn new(allow: &[String]) -> HttpGrant {
        HttpGrant { allow: allow.iter().map(|h| h.trim().to_ascii_lowercase()).collect() }
    }

    pub fn is_empty(&self) -> bool {
        self.allow.is_empty()
    }

    /// Ok with the parsed URL when the grant allows it, Err saying why not.
    pub fn check(&self, url: &str) -> Result<reqwest::Url> {
        let parsed = reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("`{url}` is not a valid URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("scheme `{}` is not allowed (http and https only)", parsed.scheme());
        }
        let Some(host) = parsed.host_str() else { bail!("`{url}` has no host") };
        let host = host.to_ascii_lowercase();
        let port = parsed.port_or_known_default().unwrap_or(0);
        let with_port = format!("{host}:{port}");
        if self.allow.iter().any(|a| *a == host || *a == with_port) {
            Ok(parsed)
        } else {
            bail!("host `{with_port}` is not on this source's allow-list")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_hosts_pass() {
        let g = HttpGrant::new(&["127.0.0.1:3100".into(), "Loki.internal".into()]);
        assert!(g.check("http://127.0.0.1:3100/loki/api/v1/query_range").is_ok());
        assert!(g.check("http://loki.internal:9999/x").is_ok());
        assert!(g.check("http://127.0.0.1:3101/").is_err());
        assert!(g.check("http://127.0.0.1:3100@evil.example/").is_err());
        assert!(g.check("file:///etc/passwd").is_err());
        assert!(g.check("not a url").is_err());
        assert!(HttpGrant::default().check("http://127.0.0.1:3100/").is_err());
    }
}
