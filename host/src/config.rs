//! The one YAML config file. Every `${VAR}` or `${VAR:-default}` in a value is
//! taken from the environment after parsing, so deployments differ only by
//! variables and a variable can never change the file's structure. Relative paths
//! resolve against the config file's directory. Unknown keys are errors. Inside a
//! flow mapping or list (`{ ... }`, `[ ... ]`) a value using `${...}` is quoted.
//! `Config::load` validates cross references and says what is wrong and where.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub data_dir: Option<String>,
    #[serde(default)]
    pub database_url: Option<String>,
    #[serde(default)]
    pub pipeline: PipelineConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
    #[serde(default)]
    pub runtime: RuntimeConfig,
    #[serde(default)]
    pub components: BTreeMap<String, ComponentConfig>,
    #[serde(default)]
    pub sources: BTreeMap<String, SourceConfig>,
    #[serde(default)]
    pub ticket: TicketConfig,
    #[serde(default)]
    pub regression: RegressionConfig,
    #[serde(default)]
    pub flags: Flags,
    #[serde(default)]
    pub report: ReportConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub registry: RegistryConfig,
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// Message-bus triggers (`trigger`).
    #[serde(default)]
    pub events: EventsConfig,
    #[serde(default)]
    pub owners: OwnersConfig,
    #[serde(default)]
    pub notify: Option<NotifyConfig>,
    /// Bindings every tenant inherits unless it overrides them.
    pub default: Bindings,
    /// Declared tenants; any other tenant is unknown.
    #[serde(default)]
    pub tenants: BTreeMap<String, Bindings>,
    /// Directory of the config file; relative paths in it are resolved against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: Option<String>,
    /// Largest JSON request body accepted.
    pub max_body_bytes: usize,
    /// Largest component upload accepted.
    pub max_component_bytes: usize,
    /// Public base URL used in ticket links to reports.
    pub public_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: None,
            max_body_bytes: 1 << 20,
            max_component_bytes: 32 << 20,
            public_url: None,
        }
    }
}

/// How long the data of closed tasks is kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Reports, bundles and review samples of tasks closed longer ago than this are
    /// purged (0 keeps them for ever).
    pub days: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig { days: 90 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    /// Concurrent tasks per host.
    pub workers: usize,
    /// How long all sources together may take.
    pub collect_deadline_ms: u64,
    /// A task whose worker has not renewed its lease for this long is taken over.
    pub lease_seconds: u64,
    /// After this many attempts a task fails instead of being retried.
    pub max_attempts: i64,
    /// Most records taken from one source call (the connector is asked to stop there).
    pub source_limit: u32,
    /// Most records one report keeps over all its sources: the ones nearest the
    /// first error. With `source_limit` it bounds a diagnosis's memory.
    pub report_limit: usize,
    /// Window used when a request names none: this long before now.
    pub default_window_minutes: i64,
    /// The largest clock offset a host is corrected by (estimated from spans that
    /// cross hosts); a larger estimate is reported and not applied. 0: never correct.
    pub max_clock_skew_ms: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: 2,
            collect_deadline_ms: 5_000,
            lease_seconds: 30,
            max_attempts: 5,
            source_limit: 200_000,
            report_limit: 300_000,
            default_window_minutes: 30,
            max_clock_skew_ms: 60_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeConfig {
    /// Wall-clock budget of one component call (epoch deadline).
    pub call_timeout_ms: u64,
    /// Linear memory one call may grow to.
    pub memory_limit_mb: usize,
    /// Largest result one call may return.
    pub output_limit_mb: usize,
    /// Records per masker call; bounds the memory a call needs.
    pub mask_chunk_records: usize,
    /// Chunks masked (and gated) at once, each in its own fresh instances; 0 is
    /// one per core.
    pub mask_parallel_chunks: usize,
    /// Timeout of one outbound HTTP request made for a connector or ticket mapper.
    pub http_timeout_ms: u64,
    /// Largest HTTP response body handed to a component.
    pub http_max_response_mb: usize,
    /// Where compiled components are cached [default: <data dir>/compiled].
    pub cache_dir: Option<String>,
    /// Whether the leak gate skips the texts the shipped masker-default left as they
    /// were (it runs the gate's own detectors under the same policy, so they hold
    /// nothing the gate would find); `false` has the gate scan every text whatever
    /// masker ran.
    pub gate_trusts_default_masker: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            call_timeout_ms: 10_000,
            memory_limit_mb: 256,
            output_limit_mb: 64,
            mask_chunk_records: 20_000,
            mask_parallel_chunks: 0,
            http_timeout_ms: 10_000,
            http_max_response_mb: 64,
            cache_dir: None,
            gate_trusts_default_masker: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentKind {
    Masker,
    Connector,
    TicketMapper,
}

impl ComponentKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ComponentKind::Masker => "masker",
            ComponentKind::Connector => "connector",
            ComponentKind::TicketMapper => "ticket-mapper",
        }
    }

    pub fn parse(s: &str) -> Option<ComponentKind> {
        match s {
            "masker" => Some(ComponentKind::Masker),
            "connector" => Some(ComponentKind::Connector),
            "ticket-mapper" | "ticket_mapper" => Some(ComponentKind::TicketMapper),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentConfig {
    pub kind: ComponentKind,
    /// `builtin:<name>` for the components shipped inside the binary, or a path to a `.wasm`.
    pub source: String,
    /// When set, the bytes must hash to this (lowercase hex SHA-256).
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// One directory the connector may read, preopened read-only at `/data`.
    #[serde(default)]
    pub dir: Option<String>,
    /// `host` or `host:port` entries the connector may reach through host-http.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// Credentials the host attaches to this source's requests (to its allowed
    /// hosts only); the connector never sees them.
    #[serde(default)]
    pub credentials: Option<CredentialSource>,
}

/// Where a source's secret comes from and how it is sent.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialSource {
    pub scheme: CredentialScheme,
    /// The user name, for `basic`.
    #[serde(default)]
    pub username: Option<String>,
    /// The header's name, for `header` (e.g. `X-Api-Key`).
    #[serde(default)]
    pub header: Option<String>,
    /// The environment variable holding the secret (token, password or header value).
    #[serde(default)]
    pub from_env: Option<String>,
    /// Or a file holding it (read for every task, so a rotated file takes effect).
    #[serde(default)]
    pub from_file: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum CredentialScheme {
    Bearer,
    Basic,
    Header,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub component: String,
    /// Handed to the connector as JSON.
    #[serde(default)]
    pub settings: serde_json::Value,
    #[serde(default)]
    pub grant: Grant,
    /// Another source asked instead when this one fails.
    #[serde(default)]
    pub fallback: Option<String>,
    /// The environments this source serves; every environment when absent. A
    /// diagnosis of other environments does not call it.
    #[serde(default)]
    pub environments: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketConfig {
    /// Base URL of the ticket system; empty leaves tickets to manual hand-off.
    pub endpoint: Option<String>,
    /// The ticket mappers' settings (a JSON object), checked by each mapper's
    /// `validate-settings` at start.
    pub settings: serde_json::Value,
    /// First delay before an undelivered ticket action is sent again; it doubles
    /// with every failed attempt up to `retry_max_ms`.
    pub retry_base_ms: u64,
    /// Longest delay between two attempts to deliver one ticket action.
    pub retry_max_ms: u64,
    /// A closed ticket whose failure recurs within this many days of its closing
    /// is reopened; later, a new ticket that links the old one is opened.
    pub reopen_window_days: u64,
    /// The shared secret the ticket system signs its webhooks with
    /// (`X-Hub-Signature-256`); unset accepts only service tokens.
    pub webhook_secret: Option<String>,
    /// Credentials the host attaches to every request to the ticket endpoint (for
    /// Redmine: `{scheme: header, header: X-Redmine-API-Key, from_env: VAR}`); the
    /// mapper never sees them, and a header of that name it sets is dropped.
    pub credentials: Option<CredentialSource>,
    /// How often the host polls the ticket system for changes people made, with a
    /// mapper that exports `ticket-poll` (Redmine's); 0 turns polling off.
    pub poll_interval_secs: u64,
}

impl Default for TicketConfig {
    fn default() -> Self {
        TicketConfig {
            endpoint: None,
            settings: serde_json::Value::Null,
            retry_base_ms: 1000,
            retry_max_ms: 60_000,
            reopen_window_days: 30,
            webhook_secret: None,
            credentials: None,
            poll_interval_secs: 60,
        }
    }
}

impl TicketConfig {
    /// The mappers' settings as the JSON object they are given (`{}` when unset).
    pub fn settings_json(&self) -> String {
        if self.settings.is_null() { "{}".into() } else { self.settings.to_string() }
    }

    /// `settings` with a route's `ticket_settings` over it, key by key.
    pub fn settings_with(&self, over: &serde_json::Map<String, serde_json::Value>) -> String {
        if over.is_empty() {
            return self.settings_json();
        }
        let mut merged = self.settings.as_object().cloned().unwrap_or_default();
        merged.extend(over.iter().map(|(k, v)| (k.clone(), v.clone())));
        serde_json::Value::Object(merged).to_string()
    }

    /// Delay before attempt `attempts + 1` of a ticket action: doubling, capped.
    pub fn retry_delay_ms(&self, attempts: i64) -> i64 {
        let base = self.retry_base_ms.max(1);
        let shift = attempts.saturating_sub(1).clamp(0, 30) as u32;
        base.saturating_mul(1u64 << shift).min(self.retry_max_ms.max(base)) as i64
    }

    pub fn reopen_window_ms(&self) -> i64 {
        (self.reopen_window_days.min(100_000) * 86_400_000) as i64
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegressionConfig {
    /// `POST` target for the webhook strategy.
    pub url: Option<String>,
    /// Shell command for the command strategy; exit status 0 means passed.
    pub command: Option<String>,
    /// How long a run may take, from the request to its verdict (default 300000).
    pub timeout_ms: Option<u64>,
    /// How often a run the runner answered as still going is asked again at its
    /// `poll_url` (default 2000).
    pub poll_interval_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Flags {
    #[serde(rename = "debug-observability-v2")]
    pub observability_v2: bool,
    #[serde(rename = "debug-ticket-bridge")]
    pub ticket_bridge: bool,
    #[serde(rename = "debug-regression-auto")]
    pub regression_auto: bool,
}

impl Default for Flags {
    fn default() -> Self {
        Flags { observability_v2: true, ticket_bridge: true, regression_auto: true }
    }
}

/// Access: every route but /healthz needs a bearer token (see `api::access`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// A bearer token accepted as the security role over all tenants (the review
    /// queue's token from before API tokens); unset accepts none.
    pub security_token: Option<String>,
    /// Whether /metrics answers without a token.
    pub open_metrics: bool,
    /// Whether /openapi.json answers without a token.
    pub open_openapi: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig { security_token: None, open_metrics: true, open_openapi: true }
    }
}

/// Who owns a plugin's failures (`notify::owners_for`): the most specific route,
/// else the tenant's owners, else the default queue.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OwnersConfig {
    pub default_queue: Vec<String>,
    pub routes: Vec<OwnerRoute>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerRoute {
    pub plugin: String,
    #[serde(default)]
    pub tenant: Option<String>,
    #[serde(default)]
    pub environment: Option<String>,
    pub owners: Vec<String>,
    /// Where this route's tickets go, in the ticket mapper's own settings (a
    /// project, a repository, labels): merged key by key over `ticket.settings`.
    #[serde(default)]
    pub ticket_settings: serde_json::Map<String, serde_json::Value>,
}

/// Where owners are told about tickets and failures.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// A Slack-compatible incoming webhook, or any receiver of JSON; unset sends nothing.
    pub url: Option<String>,
    pub format: NotifyFormat,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NotifyFormat {
    /// `{"text": ...}` with links.
    Slack,
    /// The event as a JSON object.
    #[default]
    Json,
}

/// Alertmanager webhooks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// The tenant of an alert without a `tenant` label; unset (or empty) rejects
    /// such alerts, so an alert never lands on a tenant nobody chose.
    pub default_tenant: Option<String>,
    /// Alertmanager's base URL (`http://alertmanager:9093`): a passing regression
    /// marks the alert that opened the task resolved there. Unset or empty: the
    /// alert is left to end on its own, and the task says so.
    pub alertmanager_url: Option<String>,
}

impl AlertsConfig {
    /// The configured Alertmanager, if any.
    pub fn alertmanager(&self) -> Option<&str> {
        self.alertmanager_url.as_deref().map(str::trim).filter(|u| !u.is_empty())
    }
}

/// Triggers that arrive on a message bus instead of HTTP.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Subscribe to `plugin.debug.alert` on NATS JetStream; off when absent.
    pub nats: Option<NatsConfig>,
}

/// A JetStream durable pull consumer on one subject. Each message is a
/// `plugin.debug.alert` event or an Alertmanager webhook, taken exactly as the
/// HTTP routes take them, and acknowledged only once its task is stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatsConfig {
    /// `nats://host:port` (several comma-separated for a cluster).
    pub url: String,
    pub subject: String,
    /// The stream holding the subject; created (capturing only `subject`) when missing.
    pub stream: String,
    /// The durable consumer's name, shared by every casefile host on the stream.
    pub consumer: String,
    /// How long a delivered message may go unacknowledged before it is delivered
    /// again (to this host or another).
    pub ack_wait_seconds: u64,
    /// Deliveries of one message before JetStream gives up on it; -1: no limit
    /// (the host itself terminates invalid messages at once).
    pub max_deliver: i64,
    /// How long a stream the host creates keeps messages.
    pub stream_max_age_hours: u64,
    /// Credentials for the NATS server; none when absent.
    pub credentials: Option<NatsCredentials>,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            subject: "plugin.debug.alert".into(),
            stream: "CASEFILE_EVENTS".into(),
            consumer: "casefile".into(),
            ack_wait_seconds: 30,
            max_deliver: -1,
            stream_max_age_hours: 24 * 7,
            credentials: None,
        }
    }
}

/// How the host authenticates to NATS. The secret (token, password, nkey seed or
/// the whole `.creds` file) comes from an environment variable or a file, never
/// from the config itself.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsCredentials {
    pub scheme: NatsAuthScheme,
    /// The user name, for `password`.
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub from_env: Option<String>,
    #[serde(default)]
    pub from_file: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NatsAuthScheme {
    Token,
    Password,
    Nkey,
    /// A `.creds` file (user JWT and nkey seed), as `nsc` writes it.
    Creds,
}

impl NatsConfig {
    fn validate(&self) -> Result<()> {
        let token = |what: &str, v: &str, wildcards: bool| -> Result<()> {
            let bad = v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) || (!wildcards && v.contains(['.', '*', '>']));
            if bad {
                bail!("events.nats.{what} `{v}` is not valid: it must be non-empty without spaces{}", if wildcards { "" } else { " or `.`, `*`, `>`" });
            }
            Ok(())
        };
        if self.url.trim().is_empty() {
            bail!("events.nats.url is empty: name the NATS server, e.g. nats://127.0.0.1:4222");
        }
        token("subject", &self.subject, true)?;
        token("stream", &self.stream, false)?;
        token("consumer", &self.consumer, false)?;
        if self.ack_wait_seconds == 0 {
            bail!("events.nats.ack_wait_seconds must be at least 1");
        }
        if self.max_deliver == 0 || self.max_deliver < -1 {
            bail!("events.nats.max_deliver must be -1 (no limit) or at least 1");
        }
        if let Some(c) = &self.credentials {
            if c.from_env.is_some() == c.from_file.is_some() {
                bail!("events.nats.credentials need exactly one of `from_env` or `from_file`");
            }
            if (c.scheme == NatsAuthScheme::Password) != c.user.is_some() {
                bail!("events.nats.credentials: `user` goes with scheme `password`, and only with it");
            }
        }
        Ok(())
    }
}

/// What the registry demands before a component may be bound.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Uploads must carry an ed25519 signature over their SHA-256 by one of
    /// `trusted_keys`.
    pub require_signature: bool,
    /// Publisher keys (ed25519 public keys, hex or base64) whose signatures count.
    pub trusted_keys: Vec<String>,
    /// The approver must not be the token that uploaded the component.
    pub require_distinct_approver: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    pub template: String,
}

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig { template: "plugins/debug/report_template.yaml".into() }
    }
}

/// What a tenant is bound to. In `default` every field should be set; in a tenant
/// an unset field inherits the default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bindings {
    #[serde(default)]
    pub masker: Option<String>,
    #[serde(default)]
    pub sources: Option<Vec<String>>,
    #[serde(default)]
    pub ticket_mapper: Option<String>,
    #[serde(default)]
    pub owners: Option<Vec<String>>,
    /// Hex key for keyed pseudonyms; when unset the host generates one per tenant and keeps it.
    #[serde(default)]
    pub pseudonym_key: Option<String>,
    /// Per environment (`prod`, `staging`, ...): its own sources and settings. In a
    /// tenant, an environment named here replaces the default's for that environment.
    #[serde(default)]
    pub environments: Option<BTreeMap<String, EnvironmentBinding>>,
}

/// What one environment of a tenant collects from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentBinding {
    /// The sources asked for this environment, instead of the tenant's `sources`
    /// (filtered by each source's `environments`).
    #[serde(default)]
    pub sources: Option<Vec<String>>,
    /// Per source: settings laid over the source's own (top-level keys replaced).
    #[serde(default)]
    pub settings: BTreeMap<String, serde_json::Value>,
}

/// A tenant's bindings with the defaults filled in.
#[derive(Debug, Clone)]
pub struct TenantBindings {
    pub tenant: String,
    pub masker: String,
    pub sources: Vec<String>,
    pub ticket_mapper: Option<String>,
    pub owners: Vec<String>,
    pub pseudonym_key: Option<String>,
    /// The default's environments with the tenant's laid over them.
    pub environments: BTreeMap<String, EnvironmentBinding>,
}

impl TenantBindings {
    /// The sources asked for `env` ("" when the diagnosis names no environment):
    /// the environment's own list, else the tenant's sources that serve it.
    pub fn sources_for(&self, config: &Config, env: &str) -> Vec<String> {
        if let Some(list) = self.environments.get(env).and_then(|b| b.sources.clone()) {
            return list;
        }
        self.sources
            .iter()
            .filter(|name| {
                env.is_empty()
                    || config.sources.get(name.as_str()).and_then(|s| s.environments.as_ref()).is_none_or(|envs| envs.iter().any(|e| e == env))
            })
            .cloned()
            .collect()
    }

    /// A source's settings in `env`: the source's own with the environment's laid over.
    pub fn settings_for(&self, config: &Config, env: &str, source: &str) -> serde_json::Value {
        let mut base = config.sources.get(source).map(|s| s.settings.clone()).filter(|v| !v.is_null()).unwrap_or_else(|| serde_json::json!({}));
        if let Some(over) = self.environments.get(env).and_then(|b| b.settings.get(source)) {
            match (base.as_object_mut(), over.as_object()) {
                (Some(b), Some(o)) => b.extend(o.iter().map(|(k, v)| (k.clone(), v.clone()))),
                _ => base = over.clone(),
            }
        }
        base
    }
}

/// Replaces `${VAR}` and `${VAR:-default}` in one scalar with the environment's values.
/// An unset or empty variable takes the default; without a default it is an error.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            bail!("unterminated `${{` near `{}` (write ${{NAME}} or ${{NAME:-default}})", &rest[start..rest.len().min(start + 40)]);
        };
        let expr = &after[..end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("`${{{expr}}}` is not a variable reference (use ${{NAME}} or ${{NAME:-default}})");
        }
        match (lookup(name).filter(|v| !v.is_empty()), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => bail!(
                "config needs environment variable {name}, which is not set (set it, or give a default: ${{{name}:-default}})"
            ),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let raw = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::parse(&raw, &base).with_context(|| format!("in config file {}", path.display()))
    }

    pub fn parse(raw: &str, base_dir: &Path) -> Result<Config> {
        Config::parse_with_env(raw, base_dir, &|k| std::env::var(k).ok())
    }

    /// Parses the YAML first and expands `${...}` in the parsed string scalars
    /// (never in the raw text), so a variable's value cannot change the file's
    /// structure: `: `, ` #`, quotes and newlines in it stay part of one value.
    /// Errors (unknown keys, wrong types, unset variables) name the key path and the line.
    pub fn parse_with_env(raw: &str, base_dir: &Path, env: &dyn Fn(&str) -> Option<String>) -> Result<Config> {
        let yaml = serde_yaml::Deserializer::from_str(raw);
        let mut config = Config::deserialize(env_expand::Expand::new(yaml, env)).map_err(|e| {
            let hint = if e.to_string().contains("flow") && raw.contains("${") {
                " (inside `{ ... }` or `[ ... ]`, quote a value that uses ${...}: \"${NAME}\")"
            } else {
                ""
            };
            anyhow::anyhow!("config is not valid: {e}{hint}")
        })?;
        config.base_dir = base_dir.to_path_buf();
        // Resolved here, so every reader of these two gets the config-relative path.
        config.data_dir = match config.data_dir() {
            Some(p) => Some(p.to_str().with_context(|| format!("data_dir {} is not valid UTF-8", p.display()))?.to_string()),
            None => None,
        };
        config.database_url = config.database_url();
        config.validate()?;
        Ok(config)
    }

    /// The data directory the config names, relative to the config file's directory.
    pub fn data_dir(&self) -> Option<PathBuf> {
        self.data_dir.as_deref().filter(|d| !d.is_empty()).map(|d| self.resolve_path(d))
    }

    /// The database URL the config names; a relative SQLite file path is resolved
    /// against the config file's directory like every other path in it.
    pub fn database_url(&self) -> Option<String> {
        let url = self.database_url.as_deref().filter(|u| !u.is_empty())?;
        let Some(rest) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) else {
            return Some(url.to_string());
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        if path.is_empty() || path.starts_with(':') || Path::new(path).is_absolute() {
            return Some(url.to_string());
        }
        let resolved = self.resolve_path(path);
        Some(match query {
            Some(q) => format!("sqlite://{}?{q}", resolved.display()),
            None => format!("sqlite://{}", resolved.display()),
        })
    }

    /// A path from the config, relative to the config file's directory.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    fn validate(&self) -> Result<()> {
        let component = |name: &str, kind: ComponentKind, used_by: &str| -> Result<()> {
            match self.components.get(name) {
                None => bail!("{used_by} names component `{name}`, which is not declared under `components`"),
                Some(c) if c.kind != kind => bail!(
                    "{used_by} needs a {} component, but `{name}` is declared as a {}",
                    kind.as_str(),
                    c.kind.as_str()
                ),
                Some(_) => Ok(()),
            }
        };
        for (name, source) in &self.sources {
            component(&source.component, ComponentKind::Connector, &format!("source `{name}`"))?;
            if let Some(fb) = &source.fallback {
                if !self.sources.contains_key(fb) {
                    bail!("source `{name}` falls back to `{fb}`, which is not declared under `sources`");
                }
                if fb == name {
                    bail!("source `{name}` cannot be its own fallback");
                }
            }
            // A chain of fallbacks must end: no source may come back in its own chain.
            let mut seen = vec![name.as_str()];
            let mut next = source.fallback.as_deref();
            while let Some(fb) = next {
                if seen.contains(&fb) {
                    bail!("source `{name}`'s fallbacks loop: {} -> {fb}", seen.join(" -> "));
                }
                seen.push(fb);
                next = self.sources.get(fb).and_then(|s| s.fallback.as_deref());
            }
        }
        if self.default.masker.is_none() {
            bail!("`default.masker` must name the masker every tenant inherits");
        }
        for (tenant, b) in std::iter::once(("default", &self.default))
            .chain(self.tenants.iter().map(|(k, v)| (k.as_str(), v)))
        {
            if let Some(m) = &b.masker {
                component(m, ComponentKind::Masker, &format!("tenant `{tenant}` masker"))?;
            }
            if let Some(t) = &b.ticket_mapper {
                component(t, ComponentKind::TicketMapper, &format!("tenant `{tenant}` ticket_mapper"))?;
            }
            for s in b.sources.iter().flatten() {
                if !self.sources.contains_key(s) {
                    bail!("tenant `{tenant}` uses source `{s}`, which is not declared under `sources`");
                }
            }
            for (env, eb) in b.environments.iter().flatten() {
                for s in eb.sources.iter().flatten().chain(eb.settings.keys()) {
                    if !self.sources.contains_key(s) {
                        bail!("tenant `{tenant}` environment `{env}` names source `{s}`, which is not declared under `sources`");
                    }
                }
            }
            if let Some(k) = &b.pseudonym_key {
                if hex::decode(k).map(|b| b.len() < 16).unwrap_or(true) {
                    bail!("tenant `{tenant}` pseudonym_key must be at least 16 bytes of hex");
                }
            }
        }
        if self.pipeline.workers == 0 {
            bail!("pipeline.workers must be at least 1");
        }
        if self.pipeline.source_limit == 0 || self.pipeline.report_limit == 0 {
            bail!("pipeline.source_limit and pipeline.report_limit must be at least 1 (records per source call, records per report)");
        }
        if let Some(n) = &self.events.nats {
            n.validate()?;
        }
        if let Some(url) = self.alerts.alertmanager() {
            match reqwest::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => bail!("alerts.alertmanager_url `{url}` is not an http(s) URL; give Alertmanager's base URL, e.g. http://alertmanager:9093"),
            }
        }
        if self.registry.require_signature && self.registry.trusted_keys.is_empty() {
            bail!("registry.require_signature is on but registry.trusted_keys is empty: list the publisher keys whose signatures count");
        }
        Ok(())
    }

    /// A tenant the config declares, with the defaults filled in.
    pub fn tenant(&self, name: &str) -> Option<TenantBindings> {
        self.with_defaults(name, self.tenants.get(name)?)
    }

    /// `t` with what it leaves unset taken from `default` (also for tenants declared
    /// through the API, `tenants`).
    pub fn with_defaults(&self, name: &str, t: &Bindings) -> Option<TenantBindings> {
        let d = &self.default;
        Some(TenantBindings {
            tenant: name.to_string(),
            masker: t.masker.clone().or_else(|| d.masker.clone())?,
            sources: t.sources.clone().or_else(|| d.sources.clone()).unwrap_or_default(),
            ticket_mapper: t.ticket_mapper.clone().or_else(|| d.ticket_mapper.clone()),
            owners: t.owners.clone().or_else(|| d.owners.clone()).unwrap_or_default(),
            pseudonym_key: t.pseudonym_key.clone().or_else(|| d.pseudonym_key.clone()),
            environments: {
                let mut envs = d.environments.clone().unwrap_or_default();
                envs.extend(t.environments.clone().unwrap_or_default());
                envs
            },
        })
    }
}

/// A serde `Deserializer` wrapper that expands `${VAR}` in every string scalar the
/// YAML parser hands out. Working on parsed scalars (not on the text) keeps the
/// file's structure fixed whatever the variables hold, and keeps serde_yaml's own
/// error locations (key path, line and column). A scalar read into a bool or a
/// number is expanded first and then parsed, so `flag: ${FLAG:-true}` works. Map
/// keys are never expanded.
mod env_expand {
    use std::fmt;

    use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};

    pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

    pub struct Expand<'a, D> {
        inner: D,
        env: Env<'a>,
    }

    impl<'a, D> Expand<'a, D> {
        pub fn new(inner: D, env: Env<'a>) -> Self {
            Expand { inner, env }
        }
    }

    /// What the target type asked for, so an expanded string can be parsed into it.
    #[derive(Clone, Copy)]
    enum Hint {
        Any,
        Bool,
        Int,
        Float,
    }

    struct V<'a, Vi> {
        inner: Vi,
        env: Env<'a>,
        hint: Hint,
    }

    fn v<'a, Vi>(inner: Vi, env: Env<'a>, hint: Hint) -> V<'a, Vi> {
        V { inner, env, hint }
    }

    macro_rules! any_with_hint {
        ($($method:ident => $hint:ident),* $(,)?) => {$(
            fn $method<Vi: Visitor<'de>>(self, visitor: Vi) -> Result<Vi::Value, D::Error> {
                self.inner.deserialize_any(v(visitor, self.env, Hint::$hint))
            }
        )*};
    }

    impl<'de, 'a, D: Deserializer<'de>> Deserializer<'de> for Expand<'a, D> {
        type Error = D::Error;

        any_with_hint! {
            deserialize_any => Any,
            deserialize_bool => Bool,
            deserialize_i8 => Int, deserialize_i16 => Int, deserialize_i32 => Int, deserialize_i64 => Int, deserialize_i128 => Int,
            deserialize_u8 => Int, deserialize_u16 => Int, deserialize_u32 => Int, deserialize_u64 => Int, deserialize_u128 => Int,
            deserialize_f32 => Float, deserialize_f64 => Float,
        }

        fn deserialize_char<Vi: Visitor<'de>>(self, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_string(v(visitor, self.env, Hint::Any))
        }
        fn deserialize_str<Vi: Visitor<'de>>(self, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_string(v(visitor, self.env, Hint::Any))
        }
        fn deserialize_string<Vi: Visitor<'de>>(self, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_string(v(visitor, self.env, Hint::Any))
        }
        fn deserialize_identifier<Vi: Visitor<'de>>(self, visitor: Vi) -> Result<Vi::Value, D::Error> {
            // Reached for enum variants (`kind: ${KIND}`), never for map keys.
            self.inner.deserialize_string(v(visitor, self.env, Hint::Any))
        }
        fn deserialize_bytes<Vi: Visitor<'de>>(self, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_bytes(v(visitor, self.env, Hint::Any))
        }
        fn deserialize_byte_buf<Vi: Visitor<'de>>(self, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_byte_buf(v(visitor, self.env, Hint::Any))
        }
        fn deserialize_option<Vi: Visitor<'de>>(self, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_option(v(visitor, self.env, Hint::Any))
        }
        fn deserialize_unit<Vi: Visitor<'de>>(self, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_unit(v(visitor, self.env, Hint::Any))
        }
        fn deserialize_unit_struct<Vi: Visitor<'de>>(self, name: &'static str, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_unit_struct(name, v(visitor, self.env, Hint::Any))
        }
        fn deserialize_newtype_struct<Vi: Visitor<'de>>(self, name: &'static str, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_newtype_struct(name, v(visitor, self.env, Hint::Any))
        }
        fn deserialize_seq<Vi: Visitor<'de>>(self, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_seq(v(visitor, self.env, Hint::Any))
        }
        fn deserialize_tuple<Vi: Visitor<'de>>(self, len: usize, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_tuple(len, v(visitor, self.env, Hint::Any))
        }
        fn deserialize_tuple_struct<Vi: Visitor<'de>>(self, name: &'static str, len: usize, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_tuple_struct(name, len, v(visitor, self.env, Hint::Any))
        }
        fn deserialize_map<Vi: Visitor<'de>>(self, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_map(v(visitor, self.env, Hint::Any))
        }
        fn deserialize_struct<Vi: Visitor<'de>>(
            self,
            name: &'static str,
            fields: &'static [&'static str],
            visitor: Vi,
        ) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_struct(name, fields, v(visitor, self.env, Hint::Any))
        }
        fn deserialize_enum<Vi: Visitor<'de>>(
            self,
            name: &'static str,
            variants: &'static [&'static str],
            visitor: Vi,
        ) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_enum(name, variants, v(visitor, self.env, Hint::Any))
        }
        fn deserialize_ignored_any<Vi: Visitor<'de>>(self, visitor: Vi) -> Result<Vi::Value, D::Error> {
            self.inner.deserialize_ignored_any(visitor)
        }
        fn is_human_readable(&self) -> bool {
            self.inner.is_human_readable()
        }
    }

    fn parse_bool(s: &str) -> Option<bool> {
        match s {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        }
    }

    macro_rules! forward {
        ($($method:ident($ty:ty)),* $(,)?) => {$(
            fn $method<E: de::Error>(self, x: $ty) -> Result<Self::Value, E> {
                self.inner.$method(x)
            }
        )*};
    }

    impl<'de, 'a, Vi: Visitor<'de>> Visitor<'de> for V<'a, Vi> {
        type Value = Vi::Value;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            self.inner.expecting(f)
        }

        forward! {
            visit_bool(bool), visit_i8(i8), visit_i16(i16), visit_i32(i32), visit_i64(i64), visit_i128(i128),
            visit_u8(u8), visit_u16(u16), visit_u32(u32), visit_u64(u64), visit_u128(u128),
            visit_f32(f32), visit_f64(f64), visit_char(char), visit_bytes(&[u8]), visit_byte_buf(Vec<u8>),
        }

        fn visit_borrowed_bytes<E: de::Error>(self, x: &'de [u8]) -> Result<Self::Value, E> {
            self.inner.visit_borrowed_bytes(x)
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
            if !s.contains("${") {
                return self.inner.visit_str(s);
            }
            let expanded = super::expand_env(s, self.env).map_err(|e| E::custom(format!("{e:#}")))?;
            match self.hint {
                Hint::Bool => {
                    if let Some(b) = parse_bool(&expanded) {
                        return self.inner.visit_bool(b);
                    }
                }
                Hint::Int => {
                    if let Ok(n) = expanded.parse::<u64>() {
                        return self.inner.visit_u64(n);
                    }
                    if let Ok(n) = expanded.parse::<i64>() {
                        return self.inner.visit_i64(n);
                    }
                }
                Hint::Float => {
                    if let Ok(n) = expanded.parse::<f64>() {
                        return self.inner.visit_f64(n);
                    }
                }
                Hint::Any => {}
            }
            self.inner.visit_string(expanded)
        }
        fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
            if s.contains("${") {
                self.visit_str(s)
            } else {
                self.inner.visit_borrowed_str(s)
            }
        }
        fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
            if s.contains("${") {
                self.visit_str(&s)
            } else {
                self.inner.visit_string(s)
            }
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            self.inner.visit_none()
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            self.inner.visit_unit()
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            self.inner.visit_some(Expand::new(d, self.env))
        }
        fn visit_newtype_struct<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            self.inner.visit_newtype_struct(Expand::new(d, self.env))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
            self.inner.visit_seq(Access { inner: seq, env: self.env })
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            self.inner.visit_map(Access { inner: map, env: self.env })
        }
        fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
            self.inner.visit_enum(Access { inner: data, env: self.env })
        }
    }

    /// A seed whose deserializer expands.
    struct Seed<'a, S> {
        inner: S,
        env: Env<'a>,
    }

    impl<'de, 'a, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<'a, S> {
        type Value = S::Value;
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
            self.inner.deserialize(Expand::new(d, self.env))
        }
    }

    /// Sequence, map, enum and variant access that hand out expanding deserializers.
    struct Access<'a, A> {
        inner: A,
        env: Env<'a>,
    }

    impl<'de, 'a, A: SeqAccess<'de>> SeqAccess<'de> for Access<'a, A> {
        type Error = A::Error;
        fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, A::Error> {
            self.inner.next_element_seed(Seed { inner: seed, env: self.env })
        }
        fn size_hint(&self) -> Option<usize> {
            self.inner.size_hint()
        }
    }

    impl<'de, 'a, A: MapAccess<'de>> MapAccess<'de> for Access<'a, A> {
        type Error = A::Error;
        fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
            self.inner.next_key_seed(seed)
        }
        fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
            self.inner.next_value_seed(Seed { inner: seed, env: self.env })
        }
        fn size_hint(&self) -> Option<usize> {
            self.inner.size_hint()
        }
    }

    impl<'de, 'a, A: EnumAccess<'de>> EnumAccess<'de> for Access<'a, A> {
        type Error = A::Error;
        type Variant = Access<'a, A::Variant>;
        fn variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<(T::Value, Self::Variant), A::Error> {
            let env = self.env;
            let (value, variant) = self.inner.variant_seed(Seed { inner: seed, env })?;
            Ok((value, Access { inner: variant, env }))
        }
    }

    impl<'de, 'a, A: VariantAccess<'de>> VariantAccess<'de> for Access<'a, A> {
        type Error = A::Error;
        fn unit_variant(self) -> Result<(), A::Error> {
            self.inner.unit_variant()
        }
        fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
            self.inner.newtype_variant_seed(Seed { inner: seed, env: self.env })
        }
        fn tuple_variant<Vi: Visitor<'de>>(self, len: usize, visitor: Vi) -> Result<Vi::Value, A::Error> {
            self.inner.tuple_variant(len, v(visitor, self.env, Hint::Any))
        }
        fn struct_variant<Vi: Visitor<'de>>(self, fields: &'static [&'static str], visitor: Vi) -> Result<Vi::Value, A::Error> {
            self.inner.struct_variant(fields, v(visitor, self.env, Hint::Any))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_environment_gets_its_sources_and_settings() {
        let raw = r#"
components:
  m: { kind: masker, source: "builtin:masker-default" }
  c: { kind: connector, source: "builtin:connector-ndjson" }
sources:
  files: { component: c, settings: { dir: all, extensions: [log] } }
  prod-only: { component: c, environments: [prod] }
  other: { component: c }
default:
  masker: m
  sources: [files, prod-only]
  environments:
    qa: { sources: [other] }
tenants:
  acme:
    environments:
      staging: { settings: { files: { dir: staging } } }
"#;
        let c = Config::parse_with_env(raw, Path::new("."), &|_| None).unwrap();
        let t = c.tenant("acme").unwrap();
        assert_eq!(t.sources_for(&c, "prod"), ["files", "prod-only"]);
        assert_eq!(t.sources_for(&c, "staging"), ["files"], "prod-only serves prod only");
        assert_eq!(t.sources_for(&c, "qa"), ["other"], "the default's environment binding is inherited");
        assert_eq!(t.sources_for(&c, ""), ["files", "prod-only"], "no environment named: every source");
        assert_eq!(t.settings_for(&c, "staging", "files"), serde_json::json!({"dir": "staging", "extensions": ["log"]}));
        assert_eq!(t.settings_for(&c, "prod", "files"), serde_json::json!({"dir": "all", "extensions": ["log"]}));
        let bad = raw.replace("settings: { files: { dir: staging } }", "sources: [nope]");
        let e = format!("{:#}", Config::parse_with_env(&bad, Path::new("."), &|_| None).unwrap_err());
        assert!(e.contains("environment `staging`") && e.contains("`nope`"), "{e}");
    }

    #[test]
    fn env_expansion_uses_value_then_default() {
        let env = |k: &str| (k == "SET").then(|| "v".to_string());
        assert_eq!(expand_env("a ${SET} ${UNSET:-d} b", env).unwrap(), "a v d b");
        assert!(expand_env("${UNSET}", env).unwrap_err().to_string().contains("UNSET"));
        assert!(expand_env("${bad name}", env).is_err());
        assert!(expand_env("${OPEN", env).is_err());
    }

    const MIN: &str = r#"
components:
  m: { kind: masker, source: "builtin:masker-default" }
  c: { kind: connector, source: "builtin:connector-ndjson" }
sources:
  files: { component: c, grant: { dir: samples } }
default: { masker: m, sources: [files] }
tenants:
  default: {}
  acme: { owners: [team-a] }
"#;

    #[test]
    fn a_fallback_chain_that_loops_is_refused() {
        let looped = MIN.replace(
            "  files: { component: c, grant: { dir: samples } }",
            "  files: { component: c, grant: { dir: samples }, fallback: b }\n  b: { component: c, fallback: d }\n  d: { component: c, fallback: b }",
        );
        let e = format!("{:#}", Config::parse(&looped, Path::new(".")).unwrap_err());
        assert!(e.contains("loop") && e.contains("b -> d -> b"), "{e}");
        let chain = MIN.replace(
            "  files: { component: c, grant: { dir: samples } }",
            "  files: { component: c, grant: { dir: samples }, fallback: b }\n  b: { component: c, fallback: d }\n  d: { component: c }",
        );
        assert!(Config::parse(&chain, Path::new(".")).is_ok());
    }

    #[test]
    fn comment_lines_are_not_expanded() {
        let raw = format!("# set ${{NAME}} or ${{OTHER:-x}}\n{MIN}");
        assert!(Config::parse(&raw, Path::new(".")).is_ok());
    }

    fn parse_env(raw: &str, vars: &[(&str, &str)]) -> Result<Config> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::parse_with_env(raw, Path::new("/etc/casefile"), &|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn env_values_cannot_change_the_structure() {
        let raw = format!("ticket:\n  endpoint: ${{URL}}\nserver:\n  public_url: \"${{PUB}}\"\n{MIN}");
        let hostile = "http://x: y # not a comment\ndata_dir: /tmp/evil\n'\"";
        let c = parse_env(&raw, &[("URL", hostile), ("PUB", "a: b\nc: d")]).unwrap();
        assert_eq!(c.ticket.endpoint.as_deref(), Some(hostile));
        assert_eq!(c.server.public_url.as_deref(), Some("a: b\nc: d"));
        assert_eq!(c.data_dir, None, "a newline in a value must not add a key");
    }

    #[test]
    fn env_values_fill_typed_fields_and_settings() {
        let raw = format!(
            "flags:\n  debug-ticket-bridge: ${{BRIDGE:-true}}\npipeline:\n  workers: ${{WORKERS:-3}}\n{}",
            MIN.replace("grant: { dir: samples }", "grant: { dir: samples }, settings: { url: \"${LOKI}/x\" }")
        );
        let c = parse_env(&raw, &[("BRIDGE", "false"), ("LOKI", "http://l:3100")]).unwrap();
        assert!(!c.flags.ticket_bridge);
        assert_eq!(c.pipeline.workers, 3);
        assert_eq!(c.sources["files"].settings["url"], "http://l:3100/x");
        let e = format!("{:#}", parse_env(&raw.replace("${WORKERS:-3}", "${WORKERS}"), &[("WORKERS", "many"), ("LOKI", "h")]).unwrap_err());
        assert!(e.contains("pipeline.workers") && e.contains("line 4"), "{e}");
    }

    #[test]
    fn the_clock_skew_cap_defaults_to_a_minute_and_is_set_per_deployment() {
        assert_eq!(parse_env(MIN, &[]).unwrap().pipeline.max_clock_skew_ms, 60_000);
        let raw = format!("pipeline:\n  max_clock_skew_ms: ${{SKEW:-60000}}\n{MIN}");
        assert_eq!(parse_env(&raw, &[("SKEW", "2500")]).unwrap().pipeline.max_clock_skew_ms, 2_500);
        let e = format!("{:#}", parse_env(&raw, &[("SKEW", "-1")]).unwrap_err());
        assert!(e.contains("pipeline.max_clock_skew_ms"), "{e}");
    }

    #[test]
    fn unset_variable_names_the_variable_the_key_and_the_line() {
        let bad = MIN.replace("default: { masker: m, sources: [files] }", "default:\n  masker: ${CASEFILE_TEST_SURELY_UNSET}");
        let e = format!("{:#}", parse_env(&bad, &[]).unwrap_err());
        assert!(e.contains("CASEFILE_TEST_SURELY_UNSET") && e.contains("default.masker") && e.contains("line 8"), "{e}");
        // Unquoted in a flow mapping, `${` is YAML syntax: the error says to quote it.
        let flow = MIN.replace("default: { masker: m", "default: { masker: ${M}");
        let e = format!("{:#}", parse_env(&flow, &[("M", "m")]).unwrap_err());
        assert!(e.contains("quote a value") && e.contains("line 7"), "{e}");
        assert!(parse_env(&MIN.replace("default: { masker: m", "default: { masker: \"${M}\""), &[("M", "m")]).is_ok());
    }

    #[test]
    fn relative_data_dir_and_sqlite_file_resolve_against_the_config_folder() {
        let raw = format!("data_dir: ${{DATA:-./data}}\ndatabase_url: sqlite://db/c.db?mode=rwc\n{MIN}");
        let c = parse_env(&raw, &[]).unwrap();
        assert_eq!(c.data_dir.as_deref(), Some("/etc/casefile/./data"));
        assert_eq!(c.database_url.as_deref(), Some("sqlite:///etc/casefile/db/c.db?mode=rwc"));
        let c = parse_env(&raw, &[("DATA", "/var/lib/casefile")]).unwrap();
        assert_eq!(c.data_dir.as_deref(), Some("/var/lib/casefile"));
        let pg = parse_env(&raw.replace("sqlite://db/c.db?mode=rwc", "postgres://u@h/db"), &[]).unwrap();
        assert_eq!(pg.database_url.as_deref(), Some("postgres://u@h/db"));
        let mem = parse_env(&raw.replace("sqlite://db/c.db?mode=rwc", "'sqlite::memory:'"), &[]).unwrap();
        assert_eq!(mem.database_url.as_deref(), Some("sqlite::memory:"));
    }

    #[test]
    fn unknown_nested_key_names_the_key_and_the_line() {
        let bad = MIN.replace("grant: { dir: samples }", "grant: { dir: samples, allow_hostz: [x] }");
        let e = format!("{:#}", parse_env(&bad, &[]).unwrap_err());
        assert!(e.contains("allow_hostz") && e.contains("sources.files.grant") && e.contains("line 6"), "{e}");
        let bad = MIN.replace("tenants:", "tenants:\n  acme2:\n    maskr: m");
        let e = format!("{:#}", parse_env(&bad, &[]).unwrap_err());
        assert!(e.contains("maskr") && e.contains("line 10"), "{e}");
    }

    #[test]
    fn tenants_inherit_default_bindings() {
        let c = Config::parse(MIN, Path::new("/etc/casefile")).unwrap();
        let acme = c.tenant("acme").unwrap();
        assert_eq!(acme.masker, "m");
        assert_eq!(acme.sources, vec!["files"]);
        assert_eq!(acme.owners, vec!["team-a"]);
        assert!(c.tenant("nobody").is_none());
        assert_eq!(c.resolve_path("samples"), PathBuf::from("/etc/casefile/samples"));
    }

    #[test]
    fn wrong_kind_and_unknown_names_are_explained() {
        let bad = MIN.replace("default: { masker: m", "default: { masker: c");
        let e = format!("{:#}", Config::parse(&bad, Path::new(".")).unwrap_err());
        assert!(e.contains("needs a masker component"), "{e}");
        let bad = MIN.replace("sources: [files]", "sources: [nope]");
        let e = format!("{:#}", Config::parse(&bad, Path::new(".")).unwrap_err());
        assert!(e.contains("`nope`"), "{e}");
        let bad = MIN.replace("components:", "componnets:");
        let e = format!("{:#}", Config::parse(&bad, Path::new(".")).unwrap_err());
        assert!(e.contains("componnets"), "{e}");
    }
}

#[cfg(test)]
mod ticket_tests {
    use super::TicketConfig;

    #[test]
    fn ticket_backoff_doubles_up_to_its_cap() {
        let t = TicketConfig::default();
        let delays: Vec<i64> = (1..=8).map(|a| t.retry_delay_ms(a)).collect();
        assert_eq!(delays, [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
        assert_eq!(t.retry_delay_ms(i64::MAX), 60_000, "no overflow on a long outage");
        let small = TicketConfig { retry_base_ms: 50, retry_max_ms: 200, ..TicketConfig::default() };
        assert_eq!((small.retry_delay_ms(1), small.retry_delay_ms(3), small.retry_delay_ms(9)), (50, 200, 200));
        assert_eq!(t.reopen_window_ms(), 30 * 86_400_000);
    }
}
