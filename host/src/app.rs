//! The process's shared state: config, storage, runtime and registry, built once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::audit::Audit;
use crate::config::Config;
use crate::registry::Registry;
use crate::report::Template;
use crate::runtime::Runtime;
use crate::store::Store;

pub struct App {
    pub config: Config,
    /// Seals the tenants' pseudonym keys at rest.
    pub master: crate::keys::MasterKey,
    pub store: Store,
    pub runtime: Arc<Runtime>,
    pub registry: Registry,
    pub template: Template,
    pub audit: Audit,
    pub metrics: PrometheusHandle,
    /// Wakes idle workers when a task is queued.
    pub wake: tokio::sync::Notify,
    /// Identifies this process in task leases.
    pub host_id: String,
    /// Each source's recent failures on this host (`collect::health`).
    pub source_health: crate::collect::health::SourceHealth,
    /// Feature flags, switchable at runtime (`flags`).
    pub flags: crate::flags::FlagCache,
    /// Outbound HTTP for ticket delivery and regression webhooks (same client,
    /// timeouts and caps as the connectors' host-http).
    pub outbound: crate::outbound::Outbound,
    pub http: reqwest::Client,
    pub data_dir: PathBuf,
}

impl App {
    pub async fn start(config: Config, data_dir: &Path, database_url: Option<String>) -> Result<Arc<App>> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        let url = database_url
            .or_else(|| config.database_url.clone().filter(|u| !u.is_empty()))
            .unwrap_or_else(|| Store::default_url(data_dir));
        let store = Store::open(&url, data_dir).await?;
        let (master, origin) = crate::keys::MasterKey::load(data_dir)?;
        match &origin {
            crate::keys::Origin::Environment => tracing::info!("tenant keys are sealed with the master key from CASEFILE_MASTER_KEY"),
            crate::keys::Origin::File(p) => tracing::info!(path = %p.display(), "tenant keys are sealed with the master key file"),
            crate::keys::Origin::Generated(p) => tracing::warn!(
                path = %p.display(),
                "CASEFILE_MASTER_KEY is not set, so a master key file was made (owner-only); back it up, or the tenant keys (and with them every pseudonym) cannot be opened again"
            ),
        }
        let cache_dir = match &config.runtime.cache_dir {
            Some(d) if !d.is_empty() => config.resolve_path(d),
            _ => data_dir.join("compiled"),
        };
        let runtime = Runtime::new(config.runtime.clone(), cache_dir)?;
        let audit = Audit::default();
        let registry = Registry::from_config(&config, &runtime, &store, &audit).await?;
        registry.validate_settings(&config, &runtime).await?;
        // A source's credentials that cannot be read stop the start, not a diagnosis.
        for (name, s) in &config.sources {
            if let Some(src) = &s.grant.credentials {
                crate::outbound::Credential::resolve(src, &|p| config.resolve_path(p)).with_context(|| format!("source `{name}`: credentials"))?;
            }
        }
        if let Some(src) = &config.ticket.credentials {
            crate::outbound::Credential::resolve(src, &|p| config.resolve_path(p)).context("ticket.credentials")?;
        }
        let template = Template::load(&config.resolve_path(&config.report.template))?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(config.runtime.http_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let outbound = crate::outbound::Outbound::new(&config.runtime)?;
        Ok(Arc::new(App {
            master,
            flags: crate::flags::FlagCache::new(&config.flags),
            source_health: Default::default(),
            config,
            store,
            runtime,
            registry,
            template,
            audit,
            metrics: crate::telemetry::metrics(),
            wake: tokio::sync::Notify::new(),
            host_id: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            outbound,
            http,
            data_dir: data_dir.to_path_buf(),
        }))
    }

    pub async fn flag(&self, name: &str) -> bool {
        self.flags.on(&self.store, name).await
    }
}
