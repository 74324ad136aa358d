//! Registry: components are content-addressed by SHA-256. Components named in the
//! config (built-in or from a file) are loaded and approved at start; uploads are
//! checked (a component, of the declared world, importing only what its kind may,
//! signed when the config asks for it) before anything is stored, and wait for a
//! security review. Approved components are bound to a tenant's slots
//! (`bindings`); every task resolves its bindings when it starts and keeps them.

pub mod bindings;
pub mod catalog;
pub mod imports;
pub mod signature;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context, Result};

use self::bindings::{Binding, Mode, Slot, DEFAULT_TENANT};
use self::catalog::{ComponentRecord, NewComponent, Status};
use crate::audit::Audit;
use crate::config::{ComponentKind, Config};
use crate::runtime::{HeaderError, Loaded, Runtime};
use crate::store::{sha256_hex, Store};

/// The WIT package every component is checked against.
pub const WIT_PACKAGE: &str = "casefile:plugin";
pub const WIT_VERSION: &str = "0.2.0";

/// The components this binary ships, built from plugins/ by host/build.rs.
pub mod builtin {
    include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

    pub fn get(name: &str) -> Option<&'static [u8]> {
        ALL.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
    }

    /// The SHA-256 of the `masker-default` this binary ships (hashed once): the
    /// masker whose detectors are the leak gate's own.
    pub fn default_masker_sha256() -> Option<&'static str> {
        static SHA: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        SHA.get_or_init(|| get("masker-default").map(crate::store::sha256_hex)).as_deref()
    }
}

pub fn world_of(kind: ComponentKind) -> String {
    format!("{WIT_PACKAGE}/{}@{WIT_VERSION}", kind.as_str())
}

/// Why a registry request failed; each maps to one API status and code.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The caller's input is wrong (400), with a stable code.
    #[error("{1}")]
    Invalid(&'static str, String),
    /// No such component, source or binding (404), with a stable code.
    #[error("{1}")]
    NotFound(&'static str, String),
    /// The request conflicts with the component's state (409).
    #[error("{1}")]
    Conflict(&'static str, String),
    /// Allowed by role, refused by policy (403).
    #[error("{0}")]
    Forbidden(String),
    /// The host failed (500).
    #[error("{0:#}")]
    Storage(#[from] anyhow::Error),
}

/// What an upload says about itself.
pub struct Upload<'a> {
    pub name: &'a str,
    pub kind: ComponentKind,
    pub version: Option<&'a str>,
    /// ed25519 over the SHA-256, hex or base64.
    pub signature: Option<&'a str>,
    /// The uploader as the audit log names it.
    pub actor: &'a str,
}

/// The components a task runs with, fixed when it starts.
#[derive(Clone)]
pub struct Resolved {
    /// The masker chain, in order; empty when nothing that may run is bound (the
    /// pipeline refuses to diagnose without one).
    pub maskers: Vec<Arc<Loaded>>,
    /// A candidate chain bound in shadow mode (empty when none).
    pub shadow: Vec<Arc<Loaded>>,
    pub mapper: Option<Arc<Loaded>>,
    /// Connector by source name, for every source the tenant uses (and fallbacks).
    pub connectors: BTreeMap<String, Arc<Loaded>>,
    /// Where each slot's components came from: `acme v3`, `* v1` or `config`.
    pub origins: BTreeMap<String, String>,
}

pub struct Registry {
    /// Config-declared components by their config name.
    by_name: HashMap<String, Arc<Loaded>>,
    /// Components loaded by hash (bindings), linked once.
    by_sha: Mutex<HashMap<String, Arc<Loaded>>>,
}

impl Registry {
    /// Loads every component the config declares; any that fails stops the start
    /// with an error naming it. They are recorded as approved by the config (a
    /// component security rejected or revoked stays so, and does not run).
    pub async fn from_config(config: &Config, runtime: &Runtime, store: &Store, audit: &Audit) -> Result<Registry> {
        // A key that cannot be read stops the start, not the first signed upload.
        trusted_keys(config)?;
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
            let imports = runtime.imports(&bytes)?;
            store.put_blob(&bytes)?;
            let world = world_of(c.kind);
            let fresh = catalog::insert(
                store,
                &NewComponent {
                    sha256: &sha,
                    kind: c.kind.as_str(),
                    name,
                    version: None,
                    status: Status::Approved,
                    world: &world,
                    imports: &imports,
                    uploader: "config",
                    signature: None,
                    signature_status: "none",
                    size: bytes.len(),
                },
            )
            .await?;
            catalog::describe(store, &sha, &world, &imports).await?;
            if fresh {
                audit
                    .append(store, "config", "component.registered", &sha, serde_json::json!({"name": name, "kind": c.kind.as_str(), "source": c.source}))
                    .await?;
            } else if catalog::transition(store, &sha, &[Status::Pending], Status::Approved, "config", Some("declared in the config")).await? {
                audit.append(store, "config", "component.approved", &sha, serde_json::json!({"name": name, "by": "config"})).await?;
            }
            tracing::info!(component = %name, kind = c.kind.as_str(), sha256 = %sha, "component ready");
            by_name.insert(name.clone(), loaded);
        }
        Ok(Registry { by_name, by_sha: Mutex::new(HashMap::new()) })
    }

    /// A config-declared component by its config name.
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
            runtime
                .validate_settings(&connector, &source_settings(config, name))
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
            // Each route's settings as its tickets will use them.
            for route in config.owners.routes.iter().filter(|r| !r.ticket_settings.is_empty()) {
                runtime
                    .validate_settings(&mapper, &config.ticket.settings_with(&route.ticket_settings))
                    .await
                    .with_context(|| format!("owners.routes (plugin `{}`): ticket_settings were refused by ticket mapper `{name}`", route.plugin))?;
            }
        }
        Ok(())
    }

    /// Checks and stores an upload. Nothing is stored unless the bytes are a
    /// component of the declared world that imports only what its kind may, with a
    /// valid signature when one is given or required. The same bytes again are the
    /// same component: Ok with `false` and the stored record.
    pub async fn upload(
        &self,
        config: &Config,
        runtime: &Runtime,
        store: &Store,
        audit: &Audit,
        up: &Upload<'_>,
        bytes: &[u8],
    ) -> Result<(ComponentRecord, bool), RegistryError> {
        let sha = sha256_hex(bytes);
        if let Some(existing) = self.show(store, &sha).await? {
            if existing.kind == up.kind.as_str() {
                return Ok((existing, false));
            }
            runtime.load(up.name, up.kind, bytes).map_err(|e| RegistryError::Invalid("wrong_world", format!("{e:#}")))?;
            return Err(RegistryError::Conflict(
                "already_registered",
                format!("these bytes are registered as a {} component ({sha})", existing.kind),
            ));
        }
        let imports = runtime.imports(bytes).map_err(|e| match e.downcast_ref::<HeaderError>() {
            Some(HeaderError::NotWasm) => RegistryError::Invalid("not_a_component", e.to_string()),
            Some(HeaderError::CoreModule) => RegistryError::Invalid("core_module", e.to_string()),
            None => RegistryError::Invalid("invalid_component", format!("{e:#}")),
        })?;
        // The world first (exports, and host interfaces of another kind), then what
        // the linker would allow but the kind may not have.
        runtime.load(up.name, up.kind, bytes).map_err(|e| RegistryError::Invalid("wrong_world", format!("{e:#}")))?;
        let refused = imports::forbidden(up.kind, &imports);
        if !refused.is_empty() {
            return Err(RegistryError::Invalid(
                "forbidden_import",
                format!("a {} component may not import {}", up.kind.as_str(), refused.join(", ")),
            ));
        }
        let trusted = trusted_keys(config)?;
        let signature_status = match up.signature {
            Some(sig) => signature::verify(&sha, sig, &trusted).map_err(|e| RegistryError::Invalid("invalid_signature", e))?,
            None if config.registry.require_signature => {
                return Err(RegistryError::Invalid(
                    "signature_required",
                    "this registry requires an ed25519 signature over the component's SHA-256 by a trusted publisher key; \
                     send it in the X-Casefile-Signature header (casefile component push --signature FILE)"
                        .into(),
                ))
            }
            None => signature::SignatureStatus::None,
        };
        store.put_blob(bytes)?;
        let world = world_of(up.kind);
        catalog::insert(
            store,
            &NewComponent {
                sha256: &sha,
                kind: up.kind.as_str(),
                name: up.name,
                version: up.version,
                status: Status::Pending,
                world: &world,
                imports: &imports,
                uploader: up.actor,
                signature: up.signature,
                signature_status: signature_status.as_str(),
                size: bytes.len(),
            },
        )
        .await?;
        audit
            .append(
                store,
                up.actor,
                "component.uploaded",
                &sha,
                serde_json::json!({"name": up.name, "kind": up.kind.as_str(), "version": up.version, "size": bytes.len(), "signature": signature_status.as_str()}),
            )
            .await?;
        let record = self.show(store, &sha).await?.ok_or_else(|| anyhow!("the stored component {sha} vanished"))?;
        Ok((record, true))
    }

    /// A component with where it is bound.
    pub async fn show(&self, store: &Store, sha: &str) -> Result<Option<ComponentRecord>> {
        let Some(mut record) = catalog::get(store, sha).await? else { return Ok(None) };
        record.bound = bound_at(store).await?.remove(sha).unwrap_or_default();
        Ok(Some(record))
    }

    pub async fn list(&self, store: &Store) -> Result<Vec<ComponentRecord>> {
        let mut bound = bound_at(store).await?;
        let mut all = catalog::list(store).await?;
        for r in &mut all {
            r.bound = bound.remove(&r.sha256).unwrap_or_default();
        }
        Ok(all)
    }

    /// Security's decision on a pending component.
    pub async fn review(
        &self,
        config: &Config,
        store: &Store,
        audit: &Audit,
        sha: &str,
        approve: bool,
        reviewer: (&str, &str),
        reason: Option<&str>,
    ) -> Result<ComponentRecord, RegistryError> {
        let (reviewer_id, actor) = reviewer;
        let record = self.show(store, sha).await?.ok_or_else(|| not_found(sha))?;
        if approve {
            if config.registry.require_signature && record.signature != "valid" {
                return Err(RegistryError::Conflict("signature_required", format!("component {sha} has no valid publisher signature, which this registry requires")));
            }
            let uploader_id = record.uploader.get("token_id").and_then(|v| v.as_str());
            if config.registry.require_distinct_approver && uploader_id == Some(reviewer_id) {
                return Err(RegistryError::Forbidden(format!(
                    "component {sha} was uploaded with this token; registry.require_distinct_approver asks for another reviewer"
                )));
            }
        }
        let to = if approve { Status::Approved } else { Status::Rejected };
        if !catalog::transition(store, sha, &[Status::Pending], to, actor, reason).await? {
            return Err(RegistryError::Conflict(
                "not_pending",
                format!("component {sha} is {}; only a pending component can be approved or rejected", record.status.as_str()),
            ));
        }
        let action = if approve { "component.approved" } else { "component.rejected" };
        audit.append(store, actor, action, sha, serde_json::json!({"name": record.name, "reason": reason})).await?;
        Ok(self.show(store, sha).await?.ok_or_else(|| not_found(sha))?)
    }

    /// Revokes an approved (or pending) component and unbinds it everywhere at once:
    /// each binding that names it gets a new version without it, so the next task
    /// falls back to what is bound below it (the config, then the default).
    pub async fn revoke(&self, store: &Store, audit: &Audit, sha: &str, actor: &str, reason: Option<&str>) -> Result<ComponentRecord, RegistryError> {
        let record = catalog::get(store, sha).await?.ok_or_else(|| not_found(sha))?;
        if !catalog::transition(store, sha, &[Status::Approved, Status::Pending], Status::Revoked, actor, reason).await? {
            return Err(RegistryError::Conflict("not_revocable", format!("component {sha} is already {}", record.status.as_str())));
        }
        let mut unbound = Vec::new();
        for b in bindings::all_current(store).await?.into_iter().filter(|b| b.components.iter().any(|c| c == sha)) {
            let slot = Slot::parse(&b.slot).map_err(|e| anyhow!(e))?;
            let rest: Vec<String> = b.components.iter().filter(|c| *c != sha).cloned().collect();
            let nb = bindings::put(store, &b.tenant, &slot, b.mode, &rest, actor).await?;
            unbound.push(serde_json::json!({"tenant": nb.tenant, "slot": nb.slot, "mode": nb.mode.as_str(), "version": nb.version}));
        }
        audit.append(store, actor, "component.revoked", sha, serde_json::json!({"name": record.name, "reason": reason, "unbound": unbound})).await?;
        Ok(self.show(store, sha).await?.ok_or_else(|| not_found(sha))?)
    }

    /// Binds components (hashes, or names of approved components) to a tenant's
    /// slot. Each is compiled, linked and, for a source, asked to validate that
    /// source's settings before the switch, so the first task after it runs as fast
    /// as the hundredth and a component that would fail is never switched in.
    #[allow(clippy::too_many_arguments)]
    pub async fn bind(
        &self,
        config: &Config,
        runtime: &Runtime,
        store: &Store,
        audit: &Audit,
        tenant: &str,
        slot: &Slot,
        mode: Mode,
        refs: &[String],
        actor: &str,
    ) -> Result<Binding, RegistryError> {
        if mode == Mode::Shadow && *slot != Slot::Masker {
            return Err(RegistryError::Invalid("invalid_binding", "only the masker slot can be bound in shadow mode".into()));
        }
        if let Slot::Source(name) = slot {
            if !config.sources.contains_key(name) {
                return Err(RegistryError::NotFound("unknown_source", format!("source `{name}` is not declared in the config")));
            }
        }
        if refs.len() > slot.max_components() {
            return Err(RegistryError::Invalid("invalid_binding", format!("slot `{slot}` takes at most {} component(s)", slot.max_components())));
        }
        let all = catalog::list(store).await?;
        let mut shas = Vec::new();
        for r in refs {
            let found = all
                .iter()
                .filter(|c| c.sha256.eq_ignore_ascii_case(r) || (c.name == *r && c.status == Status::Approved))
                .max_by_key(|c| c.created_at)
                .ok_or_else(|| RegistryError::NotFound("unknown_component", format!("no component with hash or approved name `{r}`")))?;
            if found.status != Status::Approved {
                return Err(RegistryError::Conflict(
                    "not_approved",
                    format!("component {} is {}; only approved components can be bound", found.sha256, found.status.as_str()),
                ));
            }
            if found.kind != slot.kind().as_str() {
                return Err(RegistryError::Invalid("wrong_kind", format!("slot `{slot}` takes a {} component; {} is a {}", slot.kind().as_str(), found.sha256, found.kind)));
            }
            let loaded = self.load_sha(store, runtime, &found.sha256, slot.kind()).await?;
            if let Slot::Source(name) = slot {
                runtime.validate_settings(&loaded, &source_settings(config, name)).await.map_err(|e| {
                    RegistryError::Invalid("settings_refused", format!("component {} refuses source `{name}`'s settings: {e}", found.sha256))
                })?;
            }
            shas.push(found.sha256.clone());
        }
        let b = bindings::put(store, tenant, slot, mode, &shas, actor).await?;
        audit
            .append(store, actor, "binding.changed", &format!("{tenant}/{slot}"), serde_json::json!({"mode": mode.as_str(), "version": b.version, "components": shas}))
            .await?;
        Ok(b)
    }

    /// Re-binds the version before the current one (skipping versions that name a
    /// component no longer approved); the first binding rolls back to "inherit".
    pub async fn rollback(&self, store: &Store, audit: &Audit, tenant: &str, slot: &Slot, mode: Mode, actor: &str) -> Result<Binding, RegistryError> {
        let history = bindings::history(store, tenant, &slot.to_string(), mode).await?;
        let Some(current) = history.first() else {
            return Err(RegistryError::NotFound("no_binding", format!("tenant `{tenant}` has no binding for slot `{slot}` to roll back")));
        };
        let blocked = catalog::blocked(store).await?;
        let previous = history
            .iter()
            .skip(1)
            .find(|b| b.components != current.components && b.components.iter().all(|c| !blocked.contains(c)))
            .map(|b| b.components.clone())
            .unwrap_or_default();
        if previous.is_empty() && current.components.is_empty() {
            return Err(RegistryError::Conflict("nothing_to_roll_back", format!("slot `{slot}` of `{tenant}` already inherits; there is no earlier binding to restore")));
        }
        let b = bindings::put(store, tenant, slot, mode, &previous, actor).await?;
        audit
            .append(store, actor, "binding.rolled_back", &format!("{tenant}/{slot}"), serde_json::json!({"mode": mode.as_str(), "version": b.version, "from": current.version, "components": previous}))
            .await?;
        Ok(b)
    }

    /// The components a task of `tenant` runs with: for each slot, the tenant's own
    /// binding, else the config's tenant entry, else the default binding (`*`),
    /// else the config's default; a component that is not approved is skipped.
    pub async fn resolve(&self, config: &Config, runtime: &Runtime, store: &Store, tenant: &str) -> Result<Resolved> {
        let blocked = catalog::blocked(store).await?;
        let rows = bindings::current(store, &[tenant, DEFAULT_TENANT]).await?;
        let declared = config.tenants.get(tenant);
        let mut origins = BTreeMap::new();

        let bound = |t: &str, slot: &str, mode: Mode| {
            rows.iter().find(|b| b.tenant == t && b.slot == slot && b.mode == mode).map(|b| (b.version, b.components.clone()))
        };
        // One slot: the first level with a usable component list.
        let mut pick = async |slot: &Slot, config_tenant: Option<&String>, config_default: Option<&String>| -> Result<Vec<Arc<Loaded>>> {
            let slot_s = slot.to_string();
            for (level, db) in [(tenant, true), (tenant, false), (DEFAULT_TENANT, true), (DEFAULT_TENANT, false)] {
                let chain: Vec<Arc<Loaded>> = if db {
                    let Some((version, shas)) = bound(level, &slot_s, Mode::Active) else { continue };
                    let mut chain = Vec::new();
                    for sha in shas.iter().filter(|s| !blocked.contains(*s)) {
                        chain.push(self.load_sha(store, runtime, sha, slot.kind()).await?);
                    }
                    if !chain.is_empty() {
                        origins.insert(slot_s.clone(), format!("{level} v{version}"));
                    }
                    chain
                } else {
                    let name = if level == tenant { config_tenant } else { config_default };
                    let loaded = name.and_then(|n| self.get(n)).filter(|l| !blocked.contains(&l.sha256));
                    if loaded.is_some() {
                        origins.insert(slot_s.clone(), "config".into());
                    }
                    loaded.into_iter().collect()
                };
                if !chain.is_empty() {
                    return Ok(chain);
                }
            }
            Ok(Vec::new())
        };

        let maskers = pick(&Slot::Masker, declared.and_then(|d| d.masker.as_ref()), config.default.masker.as_ref()).await?;
        let mapper = pick(&Slot::TicketMapper, declared.and_then(|d| d.ticket_mapper.as_ref()), config.default.ticket_mapper.as_ref())
            .await?
            .into_iter()
            .next();
        let mut connectors = BTreeMap::new();
        let used = crate::tenants::lookup(config, store, tenant).await?.map(|t| t.sources).unwrap_or_default();
        let mut names: Vec<String> = used.clone();
        // Every fallback down each chain (the config refuses loops).
        let mut next: Vec<String> = used.iter().filter_map(|s| config.sources.get(s)?.fallback.clone()).collect();
        while let Some(fb) = next.pop() {
            if names.contains(&fb) {
                continue;
            }
            next.extend(config.sources.get(&fb).and_then(|s| s.fallback.clone()));
            names.push(fb);
        }
        for name in names {
            let Some(source) = config.sources.get(&name) else { continue };
            let component = Some(&source.component);
            if let Some(c) = pick(&Slot::Source(name.clone()), component, component).await?.into_iter().next() {
                connectors.insert(name, c);
            }
        }
        drop(pick);
        let mut shadow = Vec::new();
        if let Some((_, shas)) = bound(tenant, "masker", Mode::Shadow) {
            for sha in shas.iter().filter(|s| !blocked.contains(*s)) {
                shadow.push(self.load_sha(store, runtime, sha, ComponentKind::Masker).await?);
            }
        }
        Ok(Resolved { maskers, shadow, mapper, connectors, origins })
    }

    /// A component by hash, linked once and kept. (Whether it may run is the
    /// caller's check: `resolve` skips blocked hashes, `allowed` says.)
    pub async fn load_sha(&self, store: &Store, runtime: &Runtime, sha: &str, kind: ComponentKind) -> Result<Arc<Loaded>> {
        if let Some(l) = self.by_sha.lock().map_err(|_| anyhow!("registry cache poisoned"))?.get(sha) {
            if l.kind == kind {
                return Ok(l.clone());
            }
        }
        let record = catalog::get(store, sha).await?.with_context(|| format!("component {sha} is not in the registry"))?;
        let bytes = store.get_blob(sha)?.with_context(|| format!("the bytes of component {sha} are missing from the blob store"))?;
        let loaded = runtime.load(&record.name, kind, &bytes)?;
        self.by_sha.lock().map_err(|_| anyhow!("registry cache poisoned"))?.insert(sha.to_string(), loaded.clone());
        Ok(loaded)
    }
}

/// Whether a hash may run now (approved, not revoked).
pub async fn allowed(store: &Store, sha: &str) -> Result<bool> {
    Ok(!catalog::blocked(store).await?.contains(sha))
}

/// Where each hash is bound now.
async fn bound_at(store: &Store) -> Result<HashMap<String, Vec<catalog::BoundAt>>> {
    let mut out: HashMap<String, Vec<catalog::BoundAt>> = HashMap::new();
    for b in bindings::all_current(store).await? {
        for sha in &b.components {
            out.entry(sha.clone()).or_default().push(catalog::BoundAt {
                tenant: b.tenant.clone(),
                slot: b.slot.clone(),
                mode: b.mode.as_str().to_string(),
                version: b.version,
            });
        }
    }
    Ok(out)
}

fn not_found(sha: &str) -> RegistryError {
    RegistryError::NotFound("unknown_component", format!("no component with sha256 `{sha}`"))
}

fn trusted_keys(config: &Config) -> Result<Vec<ed25519_dalek::VerifyingKey>> {
    (config.registry.trusted_keys.iter().enumerate())
        .map(|(i, k)| signature::parse_key(k).map_err(|e| anyhow!("registry.trusted_keys[{i}]: {e}")))
        .collect()
}

/// A source's settings as the connector gets them.
pub fn source_settings(config: &Config, name: &str) -> String {
    match config.sources.get(name) {
        Some(s) if !s.settings.is_null() => s.settings.to_string(),
        _ => "{}".into(),
    }
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
