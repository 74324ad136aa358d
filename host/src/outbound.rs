//! Outbound HTTP, in one place for connectors (the `host-http` import) and ticket
//! delivery: one allow-list check, one capped read, one set of timeouts from the
//! config, no redirects (a redirect could leave the allow-list).
//!
//! The allow-list is checked on every request, after the URL is parsed by the same
//! parser reqwest uses, so tricks like `http://allowed@evil/` are judged by the real
//! host.

use std::time::Duration;

use anyhow::{bail, Result};

use crate::config::RuntimeConfig;

/// Why an outbound request did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The grant does not allow the URL: a policy refusal.
    #[error("{0}")]
    Denied(String),
    /// The network, the peer or the size cap failed it.
    #[error("{0}")]
    Unavailable(String),
}

/// An answer, read whole (up to the cap).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The client every outbound request goes through.
#[derive(Debug, Clone)]
pub struct Outbound {
    client: reqwest::Client,
    max_response: usize,
}

impl Outbound {
    pub fn new(limits: &RuntimeConfig) -> Result<Outbound> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(limits.http_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Outbound { client, max_response: limits.http_max_response_mb << 20 })
    }

    /// Sends the request if `grant` allows its URL, and reads the answer up to the cap.
    pub async fn send(
        &self,
        grant: &HttpGrant,
        method: reqwest::Method,
        url: &str,
        headers: &[(String, String)],
        body: Vec<u8>,
    ) -> Result<Answer, OutboundError> {
        let url = grant.check(url).map_err(|e| OutboundError::Denied(e.to_string()))?;
        let host = url.host_str().unwrap_or_default().to_string();
        let mut req = self.client.request(method, url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        if !body.is_empty() {
            req = req.body(body);
        }
        let resp = req.send().await.map_err(|e| OutboundError::Unavailable(format!("request to {host} failed: {e}")))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let body = read_capped(resp, self.max_response).await.map_err(OutboundError::Unavailable)?;
        Ok(Answer { status, headers, body })
    }
}

/// Reads a response body, refusing one over `max` bytes.
async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("reading the response failed: {e}"))? {
        if body.len() + chunk.len() > max {
            return Err(format!("response body is over the {max}-byte limit"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

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
