//! Outbound HTTP, in one place for connectors (the `host-http` import) and ticket
//! delivery: one allow-list check, one capped read, one set of timeouts from the
//! config, no redirects (a redirect could leave the allow-list).
//!
//! The allow-list is checked on every request, after the URL is parsed by the same
//! parser reqwest uses, so tricks like `http://allowed@evil/` are judged by the real
//! host.

use std::net::{IpAddr, SocketAddr};
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
    timeout: Duration,
    max_response: usize,
}

impl Outbound {
    pub fn new(limits: &RuntimeConfig) -> Result<Outbound> {
        let timeout = Duration::from_millis(limits.http_timeout_ms);
        let client = Self::builder_with(timeout).build()?;
        Ok(Outbound { client, timeout, max_response: limits.http_max_response_mb << 20 })
    }

    fn builder(&self) -> reqwest::ClientBuilder {
        Self::builder_with(self.timeout)
    }

    fn builder_with(timeout: Duration) -> reqwest::ClientBuilder {
        reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none())
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
        let client = match literal_ip(&host) {
            Some(_) => self.client.clone(),
            None => {
                // Connect only to the addresses just checked, so a second DNS answer
                // cannot differ from the one that was judged.
                let addrs = grant.resolve(&host, url.port_or_known_default().unwrap_or(0)).await?;
                self.builder()
                    .resolve_to_addrs(&host, &addrs)
                    .build()
                    .map_err(|e| OutboundError::Unavailable(format!("cannot build a client for {host}: {e}")))?
            }
        };
        let mut req = client.request(method, url);
        for (k, v) in headers {
            // A component cannot set (or overwrite) the header the host's
            // credentials go in.
            if grant.credential.as_ref().is_some_and(|c| c.name.as_str().eq_ignore_ascii_case(k)) {
                continue;
            }
            req = req.header(k, v);
        }
        if let Some(c) = &grant.credential {
            req = req.header(c.name.clone(), c.value.clone());
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

/// Where a source (or the ticket bridge) may send requests.
///
/// Entries are `host`, `host:port`, an address (`10.0.0.7`, `[::1]:8080`) or a
/// network (`10.0.0.0/8`). A URL's host must be named by an entry. A host *name* is
/// then resolved by the host, and every address it is connected to must be public
/// or named by an address or network entry: an allowed name whose DNS answer points
/// at loopback, a private network or the cloud metadata address is refused, so a
/// rebinding DNS answer cannot walk a connector into the internal network.
/// A header the host adds to a source's requests: its credentials. Never printed.
#[derive(Clone)]
pub struct Credential {
    name: reqwest::header::HeaderName,
    value: reqwest::header::HeaderValue,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({}: [hidden])", self.name)
    }
}

impl Credential {
    /// Reads the secret where `src` says and shapes the header; errors name the
    /// source of the secret, never the secret.
    pub fn resolve(src: &crate::config::CredentialSource, resolve_path: &dyn Fn(&str) -> std::path::PathBuf) -> Result<Credential> {
        use crate::config::CredentialScheme;
        use base64::Engine as _;
        let secret = read_secret(src.from_env.as_deref(), src.from_file.as_deref(), resolve_path)?;
        let secret = secret.as_str();
        let (name, value) = match src.scheme {
            CredentialScheme::Bearer => ("authorization".to_string(), format!("Bearer {secret}")),
            CredentialScheme::Basic => {
                let user = src.username.as_deref().ok_or_else(|| anyhow::anyhow!("basic credentials need a `username`"))?;
                ("authorization".to_string(), format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"))))
            }
            CredentialScheme::Header => (src.header.clone().ok_or_else(|| anyhow::anyhow!("header credentials need a `header` name"))?, secret.to_string()),
        };
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| anyhow::anyhow!("`{name}` is not a valid header name"))?;
        let mut value = reqwest::header::HeaderValue::from_str(&value).map_err(|_| anyhow::anyhow!("the credentials hold characters a header cannot carry"))?;
        value.set_sensitive(true);
        Ok(Credential { name, value })
    }
}

/// A secret from an environment variable or a file (exactly one), without its
/// trailing newline; errors name where it was looked for, never the secret.
pub fn read_secret(from_env: Option<&str>, from_file: Option<&str>, resolve_path: &dyn Fn(&str) -> std::path::PathBuf) -> Result<String> {
    let secret = match (from_env, from_file) {
        (Some(var), None) => std::env::var(var).map_err(|_| anyhow::anyhow!("environment variable `{var}` is not set"))?,
        (None, Some(file)) => {
            let path = resolve_path(file);
            std::fs::read_to_string(&path).map_err(|e| anyhow::anyhow!("cannot read credentials file {}: {e}", path.display()))?
        }
        _ => bail!("credentials need exactly one of `from_env` or `from_file`"),
    };
    let secret = secret.trim_end_matches(['\n', '\r']).to_string();
    if secret.is_empty() {
        bail!("the credentials are empty");
    }
    Ok(secret)
}

#[derive(Debug, Clone, Default)]
pub struct HttpGrant {
    /// Host names: `host` (any port) or `host:port`, lowercase.
    names: Vec<(String, Option<u16>)>,
    /// Addresses and networks, each with its port when the entry gave one.
    addrs: Vec<(ipnet::IpNet, Option<u16>)>,
    /// Names may resolve anywhere: set for the ticket endpoint, whose one host the
    /// operator wrote and no component can change.
    trust_resolution: bool,
    /// Attached by the host to every request this grant lets through.
    credential: Option<Credential>,
}

impl HttpGrant {
    pub fn new(allow: &[String]) -> HttpGrant {
        let mut grant = HttpGrant::default();
        for entry in allow.iter().map(|h| h.trim().to_ascii_lowercase()) {
            if let Ok(net) = entry.parse::<ipnet::IpNet>() {
                grant.addrs.push((net, None));
            } else if let Ok(ip) = entry.parse::<IpAddr>() {
                grant.addrs.push((ip.into(), None));
            } else if let Ok(sock) = entry.parse::<SocketAddr>() {
                grant.addrs.push((sock.ip().into(), Some(sock.port())));
            } else {
                match entry.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
                    Some((host, Ok(port))) => grant.names.push((host.to_string(), Some(port))),
                    _ => grant.names.push((entry, None)),
                }
            }
        }
        grant
    }

    /// The same grant, with credentials the host adds to its requests.
    pub fn with_credential(mut self, c: Option<Credential>) -> HttpGrant {
        self.credential = c;
        self
    }

    /// The one host of a configured endpoint, wherever its name resolves.
    pub fn endpoint(host_port: &str) -> HttpGrant {
        HttpGrant { trust_resolution: true, ..HttpGrant::new(&[host_port.to_string()]) }
    }

    /// `endpoint` for the host and port (the scheme's default when none is
    /// written) of a configured URL; Err says why the URL names none.
    pub fn for_url(url: &str) -> Result<HttpGrant, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let host = (parsed.host_str().zip(parsed.port_or_known_default()))
            .map(|(h, p)| format!("{h}:{p}"))
            .ok_or_else(|| format!("`{url}` names no host and port"))?;
        Ok(HttpGrant::endpoint(&host))
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.addrs.is_empty()
    }

    /// Ok with the parsed URL when the grant allows its host, Err saying why not.
    /// A name is checked again, by address, when it is resolved (`resolve`).
    pub fn check(&self, url: &str) -> Result<reqwest::Url> {
        let parsed = reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("`{url}` is not a valid URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("scheme `{}` is not allowed (http and https only)", parsed.scheme());
        }
        let Some(host) = parsed.host_str() else { bail!("`{url}` has no host") };
        let host = host.to_ascii_lowercase();
        let port = parsed.port_or_known_default().unwrap_or(0);
        let allowed = match literal_ip(&host) {
            Some(ip) => self.names_address(ip, port),
            None => self.names.iter().any(|(h, p)| *h == host && p.is_none_or(|p| p == port)),
        };
        if allowed {
            Ok(parsed)
        } else {
            bail!("host `{host}:{port}` is not on the allow-list")
        }
    }

    fn names_address(&self, ip: IpAddr, port: u16) -> bool {
        self.addrs.iter().any(|(net, p)| net.contains(&ip) && p.is_none_or(|p| p == port))
    }

    /// Resolves `host` and keeps the addresses this grant may connect to: public
    /// ones and those an entry names. Err (a refusal) when none is left.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, OutboundError> {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| OutboundError::Unavailable(format!("cannot resolve `{host}`: {e}")))?
            .collect();
        let allowed: Vec<SocketAddr> = found
            .iter()
            .copied()
            .filter(|a| self.trust_resolution || is_public(a.ip()) || self.names_address(a.ip(), port))
            .collect();
        if allowed.is_empty() {
            let shown: Vec<String> = found.iter().map(|a| a.ip().to_string()).collect();
            return Err(OutboundError::Denied(format!(
                "host `{host}` resolves to {}, which the allow-list does not name; \
                 add the address or its network to the allow-list to reach it",
                if shown.is_empty() { "no address".to_string() } else { shown.join(", ") }
            )));
        }
        Ok(allowed)
    }
}

/// The address in a URL host (`127.0.0.1`, `[::1]`), if it is one.
fn literal_ip(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Globally routable: not loopback, private, link-local (the cloud metadata address
/// 169.254.169.254 is one), shared, documentation, multicast or otherwise reserved.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || (seg[0] == 0x2001 && seg[1] == 0x0db8)
                || (seg[0] == 0x64 && seg[1] == 0xff9b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configured_url_grants_its_own_host_and_port_only() {
        let g = HttpGrant::for_url("https://tickets.example.org/api/issues").unwrap();
        assert!(g.check("https://tickets.example.org/api/issues/7").is_ok());
        assert!(g.check("https://tickets.example.org:8443/").is_err(), "another port");
        assert!(g.check("https://other.example.org/").is_err());
        let g = HttpGrant::for_url("http://127.0.0.1:9093/api/v2/alerts").unwrap();
        assert!(g.check("http://127.0.0.1:9093/x").is_ok());
        assert!(g.check("http://127.0.0.1:80/x").is_err());
        assert!(HttpGrant::for_url("not a url").unwrap_err().contains("is not a URL"));
        assert!(HttpGrant::for_url("mailto:ops@example.org").unwrap_err().contains("names no host"));
    }

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

    #[test]
    fn addresses_and_networks_name_literal_hosts() {
        let g = HttpGrant::new(&["10.0.0.0/8".into(), "[::1]:8080".into(), "192.168.1.5".into()]);
        assert!(g.check("http://10.20.30.40:9200/_search").is_ok());
        assert!(g.check("http://[::1]:8080/").is_ok());
        assert!(g.check("http://[::1]:8081/").is_err());
        assert!(g.check("http://192.168.1.5:1/").is_ok());
        assert!(g.check("http://192.168.1.6/").is_err());
        // A name is not an address: listing the network does not allow names in it.
        assert!(g.check("http://ten.internal/").is_err());
    }

    #[test]
    fn public_means_globally_routable() {
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
            "224.0.0.1", "255.255.255.255", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "2001:db8::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn the_host_attaches_a_sources_credentials_and_the_component_cannot_override_them() {
        use crate::config::{CredentialScheme, CredentialSource};
        let seen: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
        let sink = seen.clone();
        let app = axum::Router::new().fallback(move |h: axum::http::HeaderMap| {
            let sink = sink.clone();
            async move {
                let auth: Vec<String> = h.get_all("authorization").iter().filter_map(|v| v.to_str().ok().map(str::to_string)).collect();
                sink.lock().unwrap().extend(auth);
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "s3cr3t-token\n").unwrap();
        let src = CredentialSource { scheme: CredentialScheme::Bearer, username: None, header: None, from_env: None, from_file: Some("token".into()) };
        let cred = Credential::resolve(&src, &|p| dir.path().join(p)).unwrap();
        assert!(!format!("{cred:?}").contains("s3cr3t"), "never printed");
        let grant = HttpGrant::new(&[addr.to_string()]).with_credential(Some(cred));
        let out = Outbound::new(&RuntimeConfig::default()).unwrap();
        let forged = [("Authorization".to_string(), "Bearer from-the-component".to_string())];
        let answer = out.send(&grant, reqwest::Method::GET, &format!("http://{addr}/q"), &forged, vec![]).await.unwrap();
        assert_eq!(answer.status, 200);
        assert_eq!(*seen.lock().unwrap(), vec!["Bearer s3cr3t-token".to_string()]);
        // Not sent where the grant does not allow.
        let elsewhere = out.send(&grant, reqwest::Method::GET, "http://127.0.0.9:9/", &[], vec![]).await;
        assert!(matches!(elsewhere, Err(OutboundError::Denied(_))));

        let basic = CredentialSource { scheme: CredentialScheme::Basic, username: Some("svc".into()), header: None, from_env: None, from_file: Some("token".into()) };
        assert!(format!("{:?}", Credential::resolve(&basic, &|p| dir.path().join(p)).unwrap()).starts_with("Credential(authorization"));
        let missing = CredentialSource { scheme: CredentialScheme::Bearer, username: None, header: None, from_env: Some("CASEFILE_TEST_UNSET_VAR".into()), from_file: None };
        assert!(Credential::resolve(&missing, &|p| dir.path().join(p)).unwrap_err().to_string().contains("CASEFILE_TEST_UNSET_VAR"));
    }

    #[tokio::test]
    async fn an_allowed_name_that_resolves_to_an_address_nobody_named_is_refused() {
        let name_only = HttpGrant::new(&["localhost:9".into()]);
        assert!(name_only.check("http://localhost:9/").is_ok(), "the name itself is listed");
        let err = name_only.resolve("localhost", 9).await.expect_err("loopback is not named");
        assert!(matches!(&err, OutboundError::Denied(m) if m.contains("resolves to") && m.contains("allow-list")), "{err}");

        let with_net = HttpGrant::new(&["localhost:9".into(), "127.0.0.0/8".into(), "::1".into()]);
        let addrs = with_net.resolve("localhost", 9).await.expect("named network");
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));

        assert!(HttpGrant::endpoint("localhost:9").resolve("localhost", 9).await.is_ok(), "an endpoint is trusted");
    }
}
