//! Registry: components are content-addressed by SHA-256. Components named in the
//! config (built-in or from a file) are loaded at start; uploads are validated as a
//! component of the declared world before anything is stored.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::audit::Audit;
use crate::config::{ComponentKind, Config};
use crate::runtime::{Loaded, Runtime};
use crate::store::{sha256_hex, Store};

/// The components this binary ships, built from plugins/ by host/build.rs.
pub mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

    pub fn get(name: &str) -> Option<&'static [u8]> {
        ALL.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
    }
}

pub struct Registry {
    by_name: HashMap<String, Arc<Loaded>>,
}

impl Registry {
    /// Loads every component the config declares; any that fails stops the start
    /// with an error naming it.
    pub async fn from_config(config: &Config, runtime: &Runtime, store: &Store, audit: &Audit) -> Result<Registry> {
        let mut by_name = HashMap::new();
        for (name, c) in &config.components {
            let bytes = read_source(config, &c.source).with_context(|| format!("component `{name}`"))?;
            let sha = sha256_hex(&bytes);
            if let Some(pin) = &c.sha256 {
                if !pin.eq_ignore_ascii_case(&sha) {
                    bail!("component `{name}` is pinned to sha256 {pin} but {} hashes to {sha}", c.source);
                }
            }
            let loaded = runtime
                .load(name, c.kind, &bytes)
                .with_context(|| format!("component `{name}` ({}) cannot be used as a {}", c.source, c.kind.as_str()))?;
            let fresh = store.get_blob(&sha)?.is_none();
            store.put_blob(&bytes)?;
            store.record_component(&sha, c.kind.as_str(), name, bytes.len()).await?;
            if fresh {
                audit
                    .append(store, "config", "component.registered", &sha, serde_json::json!({"name": name, "kind": c.kind.as_str(), "source": c.source}))
                    .await?;
            }
            tracing::info!(component = %name, kind = c.kind.as_str(), sha256 = %sha, "component ready");
            by_name.insert(name.clone(), loaded);
        }
        Ok(Registry { by_name })
    }

    pub fn get(&self, name: &str) -> Option<Arc<Loaded>> {
        self.by_name.get(name).cloned()
    }

    /// Asks each configured source's connector, and each ticket mapper a tenant
    /// uses, whether its settings suit it, so that a wrong setting stops the start
    /// with the component's own message instead of failing the first incident.
    pub async fn validate_settings(&self, config: &Config, runtime: &Runtime) -> Result<()> {
        for (name, source) in &config.sources {
            let Some(connector) = self.get(&source.component) else {
                bail!("source `{name}` uses component `{}`, which is not declared under components", source.component);
            };
            let settings = if source.settings.is_null() { "{}".to_string() } else { source.settings.to_string() };
            runtime
                .validate_settings(&connector, &settings)
                .await
                .with_context(|| format!("source `{name}`: its settings were refused by component `{}`", source.component))?;
        }
        let mut mappers: Vec<String> = config.tenants.keys().filter_map(|t| config.tenant(t)?.ticket_mapper).collect();
        mappers.extend(config.default.ticket_mapper.clone());
        mappers.sort();
        mappers.dedup();
        let settings = config.ticket.settings_json();
        for name in mappers {
            let Some(mapper) = self.get(&name) else { continue };
            runtime
                .validate_settings(&mapper, &settings)
                .await
                .with_context(|| format!("ticket.settings were refused by ticket mapper `{name}`"))?;
        }
        Ok(())
    }

    /// Validates and stores an uploaded component. Nothing is stored unless the bytes
    /// are a component that fits the declared world.
    pub async fn upload(
        runtime: &Runtime,
        store: &Store,
        audit: &Audit,
        actor: &str,
        name: &str,
        kind: ComponentKind,
        bytes: &[u8],
    ) -> Result<String, UploadError> {
        let loaded = runtime.load(name, kind, bytes).map_err(UploadError::Invalid)?;
        store.put_blob(bytes).map_err(UploadError::Storage)?;
        store.record_component(&loaded.sha256, kind.as_str(), name, bytes.len()).await.map_err(UploadError::Storage)?;
        audit
            .append(store, actor, "component.uploaded", &loaded.sha256, serde_json::json!({"name": name, "kind": kind.as_str(), "size": bytes.len()}))
            .await
            .map_err(UploadError::Storage)?;
        Ok(loaded.sha256.clone())
    }
}

/// Why an upload failed: the uploader's bytes (a 4xx) or the host's storage (a 5xx).
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The bytes are not a component of the declared world.
    #[error("{0:#}")]
    Invalid(anyhow::Error),
    /// The component is valid but could not be stored or audited.
    #[error("cannot store the component: {0:#}")]
    Storage(anyhow::Error),
}

/// The bytes of a component named in the config: `builtin:<name>` or a path.
pub fn read_source(config: &Config, source: &str) -> Result<Vec<u8>> {
    if let Some(name) = source.strip_prefix("builtin:") {
        return builtin::get(name).map(<[u8]>::to_vec).with_context(|| {
            format!(
                "there is no built-in component `{name}`; built-ins are: {}",
                builtin::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )
        });
    }
    let path = config.resolve_path(source);
    std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
}
