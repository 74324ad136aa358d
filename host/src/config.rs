//! The one YAML config file. Every `${VAR}` or `${VAR:-default}` in it is taken
//! from the environment before parsing, so deployments differ only by variables.
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
    /// Most records taken from one source call.
    pub source_limit: u32,
    /// Window used when a request names none: this long before now.
    pub default_window_minutes: i64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: 2,
            collect_deadline_ms: 15_000,
            lease_seconds: 30,
            max_attempts: 5,
            source_limit: 200_000,
            default_window_minutes: 30,
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
    /// Timeout of one outbound HTTP request made for a connector or ticket mapper.
    pub http_timeout_ms: u64,
    /// Largest HTTP response body handed to a component.
    pub http_max_response_mb: usize,
    /// Where compiled components are cached [default: <data dir>/compiled].
    pub cache_dir: Option<String>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            call_timeout_ms: 10_000,
            memory_limit_mb: 256,
            output_limit_mb: 64,
            mask_chunk_records: 20_000,
            http_timeout_ms: 10_000,
            http_max_response_mb: 64,
            cache_dir: None,
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
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TicketConfig {
    /// Base URL of the ticket system; empty leaves tickets to manual hand-off.
    pub endpoint: Option<String>,
    /// The ticket mappers' settings (a JSON object), checked by each mapper's
    /// `validate-settings` at start.
    pub settings: serde_json::Value,
}

impl TicketConfig {
    /// The mappers' settings as the JSON object they are given (`{}` when unset).
    pub fn settings_json(&self) -> String {
        if self.settings.is_null() { "{}".into() } else { self.settings.to_string() }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegressionConfig {
    /// `POST` target for the webhook strategy.
    pub url: Option<String>,
    /// Shell command for the command strategy; exit status 0 means passed.
    pub command: Option<String>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Flags {
    #[serde(rename = "debug-observability-v2")]
    pub observability_v2: bool,
    #[serde(rename = "debug-ticket-bridge")]
    pub ticket_bridge: bool,
}

impl Default for Flags {
    fn default() -> Self {
        Flags { observability_v2: true, ticket_bridge: true }
    }
}

/// Credentials of the roles that may read what others may not.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Bearer token of the security role (review queue); unset disables those endpoints.
    pub security_token: Option<String>,
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
}

/// Replaces `${VAR}` and `${VAR:-default}` with the environment's values.
pub fn expand_env(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            bail!("unterminated `${{` in config near `{}`", &rest[start..rest.len().min(start + 40)]);
        };
        let expr = &after[..end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("`${{{expr}}}` in config is not a variable reference (use ${{NAME}} or ${{NAME:-default}})");
        }
        match (lookup(name).filter(|v| !v.is_empty()), default) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => bail!("config needs environment variable {name}, which is not set"),
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
        // Comment lines are left alone, so they can document `${NAME}` syntax.
        let mut text = String::with_capacity(raw.len());
        for (n, line) in raw.lines().enumerate() {
            if line.trim_start().starts_with('#') {
                text.push_str(line);
            } else {
                text.push_str(&expand_env(line, |k| std::env::var(k).ok()).with_context(|| format!("line {}", n + 1))?);
            }
            text.push('\n');
        }
        let mut config: Config = serde_yaml::from_str(&text).context("config is not valid")?;
        config.base_dir = base_dir.to_path_buf();
        config.validate()?;
        Ok(config)
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
            if let Some(k) = &b.pseudonym_key {
                if hex::decode(k).map(|b| b.len() < 16).unwrap_or(true) {
                    bail!("tenant `{tenant}` pseudonym_key must be at least 16 bytes of hex");
                }
            }
        }
        if self.pipeline.workers == 0 {
            bail!("pipeline.workers must be at least 1");
        }
        Ok(())
    }

    pub fn tenant(&self, name: &str) -> Option<TenantBindings> {
        let t = self.tenants.get(name)?;
        let d = &self.default;
        Some(TenantBindings {
            tenant: name.to_string(),
            masker: t.masker.clone().or_else(|| d.masker.clone())?,
            sources: t.sources.clone().or_else(|| d.sources.clone()).unwrap_or_default(),
            ticket_mapper: t.ticket_mapper.clone().or_else(|| d.ticket_mapper.clone()),
            owners: t.owners.clone().or_else(|| d.owners.clone()).unwrap_or_default(),
            pseudonym_key: t.pseudonym_key.clone().or_else(|| d.pseudonym_key.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn comment_lines_are_not_expanded() {
        let raw = format!("# set ${{NAME}} or ${{OTHER:-x}}\n{MIN}");
        assert!(Config::parse(&raw, Path::new(".")).is_ok());
        let bad = MIN.replace("default: { masker: m", "default: { masker: ${CASEFILE_TEST_SURELY_UNSET}");
        let e = format!("{:#}", Config::parse(&bad, Path::new(".")).unwrap_err());
        assert!(e.contains("CASEFILE_TEST_SURELY_UNSET") && e.contains("line"), "{e}");
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
