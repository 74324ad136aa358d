//! The WebAssembly runtime: one wasmtime engine with the component model, a pooled
//! instance allocator, epoch deadlines, a memory cap, an output cap and an on-disk
//! cache of compiled artifacts keyed by the component's SHA-256.
//!
//! Every call gets a fresh `Store` and a fresh instance from a pre-instantiated
//! template, so nothing a component keeps in memory survives into another call,
//! tenant or task.

/// The generated bindings (they live with the data model, `model::wit`).
pub mod bindings {
    pub use crate::model::wit::types as wit;
    pub use crate::model::wit::{connector, masker, ticket_mapper, ticket_mapper_comments, ticket_mapper_polling};
}
pub mod convert;
pub mod refusals;
pub mod stdio;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, Trap};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use self::bindings::{connector::ConnectorPre, masker::MaskerPre, ticket_mapper::TicketMapperPre, ticket_mapper_comments::TicketMapperCommentsPre, ticket_mapper_polling::TicketMapperPollingPre, wit};
pub use self::bindings::ticket_mapper_polling::exports::casefile::plugin::ticket_poll::{PollPage, TicketStatus};
use crate::outbound::{HttpGrant, Outbound, OutboundError};
use self::refusals::{Refusal, Refusals};
use self::stdio::CappedOutput;
use crate::config::{ComponentKind, RuntimeConfig};
use crate::model::{Batch, FailureKind};
use crate::store::sha256_hex;
use casefile_guest::detect::{self, Pseudonyms as _};

/// How often the epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// What a component may print per call (stdout and stderr each) before the rest is
/// dropped; what it printed goes to the host's log.
const STDIO_CAP: usize = 16 << 10;

/// Why a component call did not produce a result. The messages are what users see.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("component {component} ran past its {limit_ms} ms deadline and was stopped")]
    Deadline { component: String, limit_ms: u64 },
    #[error("component {component} tried to use more than its {limit_mb} MiB memory cap and was stopped")]
    Memory { component: String, limit_mb: usize },
    #[error("component {component} returned about {bytes} bytes, over the {limit_mb} MiB output cap; the result was dropped")]
    OutputTooLarge { component: String, bytes: usize, limit_mb: usize },
    #[error("component {component} trapped: {detail}")]
    Trap { component: String, detail: String },
    /// The component's own typed error (or the host's, in the same terms).
    #[error("component {component} failed: {}", convert::plugin_error(error))]
    Plugin { component: String, error: wit::PluginError },
}

impl CallError {
    pub fn kind(&self) -> FailureKind {
        match self {
            CallError::Deadline { .. } => FailureKind::Deadline,
            CallError::Memory { .. } => FailureKind::Memory,
            CallError::OutputTooLarge { .. } => FailureKind::OutputTooLarge,
            CallError::Trap { .. } => FailureKind::Trap,
            CallError::Plugin { error, .. } => match error {
                wit::PluginError::InvalidInput(_) => FailureKind::InvalidInput,
                wit::PluginError::Unavailable(_) => FailureKind::Unavailable,
                wit::PluginError::Denied(_) => FailureKind::Denied,
                wit::PluginError::Internal(_) => FailureKind::Internal,
            },
        }
    }
}

/// A component compiled and linked against its world, ready to instantiate.
pub struct Loaded {
    pub name: String,
    pub sha256: String,
    pub kind: ComponentKind,
    /// Shared by every name the same bytes are loaded under.
    pre: Arc<Pre>,
}

impl Loaded {
    /// Whether this is a ticket mapper that exports `ticket-poll` (the host can poll
    /// its ticket system for changes).
    pub fn can_poll(&self) -> bool {
        matches!(&*self.pre, Pre::Mapper { polling: Some(_), .. })
    }

    /// Whether this is a ticket mapper that exports `ticket-comments` (a close's or
    /// reopen's comment goes out as a request of its own).
    pub fn comments_apart(&self) -> bool {
        matches!(&*self.pre, Pre::Mapper { comments: Some(_), .. })
    }
}

enum Pre {
    Masker(MaskerPre<HostState>),
    Connector(ConnectorPre<HostState>),
    /// The mapper, and the same component linked against the optional worlds whose
    /// extra interface it exports too (`ticket-poll`, `ticket-comments`).
    Mapper {
        mapper: TicketMapperPre<HostState>,
        polling: Option<TicketMapperPollingPre<HostState>>,
        comments: Option<TicketMapperCommentsPre<HostState>>,
    },
}

/// Per-call store data: WASI with nothing granted beyond what the call allows.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: CallLimiter,
    http: Option<HttpCapability>,
    /// The tenant's pseudonym key, for a masker call's `pseudonyms` import; it stays
    /// here, in the host.
    pseudonym_key: Option<Arc<[u8]>>,
    stdout: CappedOutput,
    stderr: CappedOutput,
    /// What the sandbox refused this call, for the caller to audit.
    refusals: Refusals,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

struct HttpCapability {
    grant: HttpGrant,
    outbound: Outbound,
}

/// Refuses memory growth past the cap and remembers that it did, so the error can
/// say "memory" instead of a generic trap.
struct CallLimiter {
    memory_limit: usize,
    memory_exceeded: bool,
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            self.memory_exceeded = true;
            return Err(wasmtime::format_err!("memory cap of {} bytes reached", self.memory_limit));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }

    fn instances(&self) -> usize {
        100
    }

    fn tables(&self) -> usize {
        100
    }

    fn memories(&self) -> usize {
        100
    }
}

/// What a call may touch beyond its arguments.
#[derive(Debug, Clone, Default)]
pub struct CallGrant {
    /// Preopened read-only at `/data`.
    pub dir: Option<PathBuf>,
    pub http: HttpGrant,
    /// The tenant's pseudonym key, for maskers (used by the host, never passed in).
    pub pseudonym_key: Option<Arc<[u8]>>,
    /// Where the sandbox's refusals during the call are recorded.
    pub refusals: Refusals,
}

pub struct Runtime {
    engine: Engine,
    masker_linker: Linker<HostState>,
    connector_linker: Linker<HostState>,
    mapper_linker: Linker<HostState>,
    limits: RuntimeConfig,
    cache_dir: PathBuf,
    /// Linked templates by (sha256, world): the same bytes compile and link once.
    linked: Mutex<HashMap<(String, &'static str), Arc<Pre>>>,
    http: Outbound,
}

/// Linear memory a pool slot keeps resident between calls (with `pagemap_scan`).
const KEEP_RESIDENT: usize = 8 << 20;

impl Runtime {
    pub fn new(limits: RuntimeConfig, cache_dir: PathBuf) -> Result<Arc<Runtime>> {
        let memory_limit = limits.memory_limit_mb << 20;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(256)
            .total_core_instances(1024)
            .total_memories(512)
            .total_tables(512)
            .total_stacks(256)
            .max_memories_per_component(16)
            // A little above the cap so that our limiter, not the pool, says no.
            .max_memory_size(memory_limit + (1 << 20));
        // A fresh instance per call reuses a slot of the pool. With Linux's
        // PAGEMAP_SCAN (6.7 and later) wasmtime restores only the pages a call
        // dirtied and keeps them resident, so the next call does not fault them in
        // again. Without it, keeping memory resident means a memset of the whole
        // amount after every call, which costs more than the faults it saves.
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.pagemap_scan(wasmtime::Enabled::Auto)
                .linear_memory_keep_resident(KEEP_RESIDENT)
                .table_keep_resident(KEEP_RESIDENT / 16);
        }
        let mut config = Config::new();
        // `CASEFILE_PROFILE=perfmap` writes /tmp/perf-PID.map, so `perf record` and
        // `perf report` name the components' functions (for component authors and
        // for finding where a masker spends its time).
        if std::env::var("CASEFILE_PROFILE").is_ok_and(|p| p == "perfmap") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(anyhow::Error::from).context("cannot create the wasmtime engine")?;

        // Deadlines are counted in epochs; one thread advances them for the process.
        let ticker = engine.weak();
        std::thread::Builder::new().name("casefile-epoch".into()).spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match ticker.upgrade() {
                Some(e) => e.increment_epoch(),
                None => break,
            }
        })?;

        let mut masker_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut masker_linker)?;
        bindings::masker::Masker::add_to_linker::<_, HasSelf<HostState>>(&mut masker_linker, |s| s)?;
        let mut connector_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut connector_linker)?;
        bindings::connector::Connector::add_to_linker::<_, HasSelf<HostState>>(&mut connector_linker, |s| s)?;
        refusals::watch_file_opens(&mut connector_linker)?;
        let mut mapper_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut mapper_linker)?;

        std::fs::create_dir_all(&cache_dir)
            .with_context(|| format!("cannot create compile cache {}", cache_dir.display()))?;
        let http = Outbound::new(&limits)?;
        Ok(Arc::new(Runtime {
            engine,
            masker_linker,
            connector_linker,
            mapper_linker,
            limits,
            cache_dir,
            linked: Mutex::new(HashMap::new()),
            http,
        }))
    }

    pub fn limits(&self) -> &RuntimeConfig {
        &self.limits
    }

    /// Compiles (or reuses) and links `bytes` as a component of `kind`. Errors say
    /// what the bytes are instead: not wasm, a core module, or the wrong world.
    pub fn load(&self, name: &str, kind: ComponentKind, bytes: &[u8]) -> Result<Arc<Loaded>> {
        let sha = sha256_hex(bytes);
        let key = (sha.clone(), kind.as_str());
        let cached = self.linked.lock().map_err(|_| anyhow!("component cache poisoned"))?.get(&key).cloned();
        if let Some(pre) = cached {
            return Ok(Arc::new(Loaded { name: name.to_string(), sha256: sha, kind, pre }));
        }
        check_component_header(bytes)?;
        let component = self.compile_cached(&sha, bytes)?;
        let pre = match kind {
            ComponentKind::Masker => Pre::Masker(
                MaskerPre::new(self.link(&self.masker_linker, &component, kind)?)
                    .map_err(|e| wrong_world(kind, e))?,
            ),
            ComponentKind::Connector => Pre::Connector(
                ConnectorPre::new(self.link(&self.connector_linker, &component, kind)?)
                    .map_err(|e| wrong_world(kind, e))?,
            ),
            ComponentKind::TicketMapper => {
                let linked = self.link(&self.mapper_linker, &component, kind)?;
                // Each fails without its interface: the mapper is then simply not
                // polled, or comments together with its state changes.
                let polling = TicketMapperPollingPre::new(linked.clone()).ok();
                let comments = TicketMapperCommentsPre::new(linked.clone()).ok();
                Pre::Mapper { mapper: TicketMapperPre::new(linked).map_err(|e| wrong_world(kind, e))?, polling, comments }
            }
        };
        let pre = Arc::new(pre);
        self.linked.lock().map_err(|_| anyhow!("component cache poisoned"))?.insert(key, pre.clone());
        Ok(Arc::new(Loaded { name: name.to_string(), sha256: sha, kind, pre }))
    }

    /// Compiles `bytes` (cached by hash) and lists what the component imports, for
    /// the registry to check against its kind before anything is stored.
    pub fn imports(&self, bytes: &[u8]) -> Result<Vec<String>> {
        check_component_header(bytes)?;
        let component = self.compile_cached(&sha256_hex(bytes), bytes)?;
        let ty = component.component_type();
        Ok(ty.imports(&self.engine).map(|(name, _)| name.to_string()).collect())
    }

    fn link(
        &self,
        linker: &Linker<HostState>,
        component: &Component,
        kind: ComponentKind,
    ) -> Result<wasmtime::component::InstancePre<HostState>> {
        linker.instantiate_pre(component).map_err(|e| {
            anyhow!(
                "the component is not a {} component: it imports something the {} world does not grant ({e})",
                kind.as_str(),
                kind.as_str()
            )
        })
    }

    /// Compiled code is cached on disk under the component hash plus the engine's
    /// compatibility hash, so only code this host compiled is ever deserialized.
    fn compile_cached(&self, sha: &str, bytes: &[u8]) -> Result<Component> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        let path = self.cache_dir.join(format!("{sha}-{:016x}.cwasm", h.finish()));
        if path.exists() {
            // SAFETY: the file was written by `precompile_component` of an engine with
            // the same compatibility hash, into a directory only this host writes.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "discarding unusable compiled artifact"),
            }
        }
        let started = Instant::now();
        let compiled = self
            .engine
            .precompile_component(bytes)
            .map_err(|e| anyhow!("the bytes are not a valid WebAssembly component: {e}"))?;
        tracing::info!(sha256 = sha, ms = started.elapsed().as_millis() as u64, "compiled component");
        let tmp = path.with_extension(format!("tmp{}", uuid::Uuid::new_v4().simple()));
        if std::fs::write(&tmp, &compiled).and_then(|_| std::fs::rename(&tmp, &path)).is_err() {
            tracing::warn!(path = %path.display(), "could not write compile cache");
            let _ = std::fs::remove_file(&tmp);
        }
        // SAFETY: `compiled` was produced just now by this engine.
        Ok(unsafe { Component::deserialize(&self.engine, &compiled) }?)
    }

    /// A store with WASI as the grant allows and nothing else: no environment, no
    /// arguments, no sockets or name lookup, no directories but the granted one;
    /// stdout and stderr captured (capped) for the host's log.
    fn new_store(&self, grant: &CallGrant) -> Result<Store<HostState>> {
        let mut wasi = WasiCtxBuilder::new();
        let (stdout, stderr) = (CappedOutput::new(STDIO_CAP), CappedOutput::new(STDIO_CAP));
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false);
        if let Some(dir) = &grant.dir {
            wasi.preopened_dir(dir, "/data", FsPerms::ReadOnly)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot open granted directory {}", dir.display()))?;
        }
        let http = (!grant.http.is_empty()).then(|| HttpCapability { grant: grant.http.clone(), outbound: self.http.clone() });
        let mut table = ResourceTable::new();
        table.set_max_capacity(10_000);
        let mut store = Store::new(
            &self.engine,
            HostState {
                wasi: wasi.build(),
                table,
                limiter: CallLimiter { memory_limit: self.limits.memory_limit_mb << 20, memory_exceeded: false },
                http,
                pseudonym_key: grant.pseudonym_key.clone(),
                stdout,
                stderr,
                refusals: grant.refusals.clone(),
            },
        );
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(self.deadline_ticks());
        store.epoch_deadline_trap();
        Ok(store)
    }

    fn deadline_ticks(&self) -> u64 {
        (self.limits.call_timeout_ms / EPOCH_TICK.as_millis() as u64).max(1)
    }

    /// Turns a wasmtime error into what happened, using what the store saw.
    fn classify(&self, loaded: &Loaded, store: &Store<HostState>, err: wasmtime::Error) -> CallError {
        let component = format!("{} ({})", loaded.name, &loaded.sha256[..12]);
        if store.data().limiter.memory_exceeded {
            return CallError::Memory { component, limit_mb: self.limits.memory_limit_mb };
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallError::Deadline { component, limit_ms: self.limits.call_timeout_ms },
            Some(t) => CallError::Trap { component, detail: t.to_string() },
            None => CallError::Trap { component, detail: format!("{err:#}") },
        }
    }

    fn check_output(&self, loaded: &Loaded, bytes: usize) -> Result<(), CallError> {
        if bytes > self.limits.output_limit_mb << 20 {
            return Err(CallError::OutputTooLarge {
                component: format!("{} ({})", loaded.name, &loaded.sha256[..12]),
                bytes,
                limit_mb: self.limits.output_limit_mb,
            });
        }
        Ok(())
    }

    fn plugin_err(loaded: &Loaded, error: wit::PluginError) -> CallError {
        CallError::Plugin { component: format!("{} ({})", loaded.name, &loaded.sha256[..12]), error }
    }

    /// Masks `batch` with `ctx`; the masker's `pseudonyms` import answers with
    /// `pseudonym_key`, which never enters the component.
    pub async fn mask(
        &self,
        loaded: &Loaded,
        ctx: &wit::MaskContext,
        pseudonym_key: Arc<[u8]>,
        batch: Batch,
    ) -> Result<(Batch, Vec<wit::RuleCount>), CallError> {
        let Pre::Masker(pre) = &*loaded.pre else { return Err(not_kind(loaded, ComponentKind::Masker)) };
        let started = Instant::now();
        let grant = CallGrant { pseudonym_key: Some(pseudonym_key), ..CallGrant::default() };
        let mut store = self.new_store(&grant).map_err(|e| host_err(loaded, e))?;
        let result = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.casefile_plugin_mask().call_mask(&mut store, ctx, &batch).await
        }
        .await;
        let out = self.finish(loaded, &mut store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))?;
        let masked = out.batch;
        self.check_output(loaded, masked.approx_bytes())?;
        Ok((masked, out.counts))
    }

    pub async fn fetch(&self, loaded: &Loaded, query: &wit::Query, grant: &CallGrant) -> Result<Batch, CallError> {
        let Pre::Connector(pre) = &*loaded.pre else { return Err(not_kind(loaded, ComponentKind::Connector)) };
        let started = Instant::now();
        let mut store = self.new_store(grant).map_err(|e| host_err(loaded, e))?;
        let result = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.casefile_plugin_source().call_fetch(&mut store, query).await
        }
        .await;
        let out = self.finish(loaded, &mut store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))?;
        let batch = out;
        self.check_output(loaded, batch.approx_bytes())?;
        Ok(batch)
    }

    /// Asks a connector or ticket mapper whether `settings` suit it; a masker has
    /// none, so it is always content.
    pub async fn validate_settings(&self, loaded: &Loaded, settings: &str) -> Result<(), CallError> {
        let started = Instant::now();
        let mut store = self.new_store(&CallGrant::default()).map_err(|e| host_err(loaded, e))?;
        let result = match &*loaded.pre {
            Pre::Masker(_) => return Ok(()),
            Pre::Connector(pre) => {
                async {
                    let inst = pre.instantiate_async(&mut store).await?;
                    inst.casefile_plugin_source().call_validate_settings(&mut store, settings).await
                }
                .await
            }
            Pre::Mapper { mapper: pre, .. } => {
                async {
                    let inst = pre.instantiate_async(&mut store).await?;
                    inst.casefile_plugin_mapper().call_validate_settings(&mut store, settings).await
                }
                .await
            }
        };
        self.finish(loaded, &mut store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))
    }

    pub async fn build_ticket_request(
        &self,
        loaded: &Loaded,
        target: &wit::TicketTarget,
        action: wit::TicketAction,
        report: &wit::ReportSummary,
        ticket: Option<&wit::TicketRef>,
        comment: &str,
    ) -> Result<wit::HttpRequest, CallError> {
        let Pre::Mapper { mapper: pre, .. } = &*loaded.pre else { return Err(not_kind(loaded, ComponentKind::TicketMapper)) };
        let started = Instant::now();
        let mut store = self.new_store(&CallGrant::default()).map_err(|e| host_err(loaded, e))?;
        let ticket = ticket.cloned();
        let result = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.casefile_plugin_mapper()
                .call_build_request(&mut store, target, action, report, ticket.as_ref(), comment)
                .await
        }
        .await;
        let req = self.finish(loaded, &mut store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))?;
        self.check_output(loaded, req.body.len() + req.url.len())?;
        Ok(req)
    }

    pub async fn parse_ticket_response(
        &self,
        loaded: &Loaded,
        action: wit::TicketAction,
        response: &wit::HttpResponse,
    ) -> Result<wit::TicketRef, CallError> {
        let Pre::Mapper { mapper: pre, .. } = &*loaded.pre else { return Err(not_kind(loaded, ComponentKind::TicketMapper)) };
        let started = Instant::now();
        let mut store = self.new_store(&CallGrant::default()).map_err(|e| host_err(loaded, e))?;
        let result = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.casefile_plugin_mapper().call_parse_response(&mut store, action, response).await
        }
        .await;
        self.finish(loaded, &mut store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))
    }

    fn polling(loaded: &Loaded) -> Result<&TicketMapperPollingPre<HostState>, CallError> {
        match &*loaded.pre {
            Pre::Mapper { polling: Some(p), .. } => Ok(p),
            _ => Err(CallError::Plugin {
                component: loaded.name.clone(),
                error: wit::PluginError::InvalidInput("does not export ticket-poll".into()),
            }),
        }
    }

    pub async fn build_ticket_poll(
        &self,
        loaded: &Loaded,
        target: &wit::TicketTarget,
        since: &str,
        page: Option<&str>,
    ) -> Result<wit::HttpRequest, CallError> {
        let pre = Self::polling(loaded)?;
        let started = Instant::now();
        let mut store = self.new_store(&CallGrant::default()).map_err(|e| host_err(loaded, e))?;
        let result = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.casefile_plugin_ticket_poll().call_build_poll(&mut store, target, since, page).await
        }
        .await;
        let req = self.finish(loaded, &mut store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))?;
        self.check_output(loaded, req.body.len() + req.url.len())?;
        Ok(req)
    }

    pub async fn parse_ticket_poll(&self, loaded: &Loaded, response: &wit::HttpResponse) -> Result<PollPage, CallError> {
        let pre = Self::polling(loaded)?;
        let started = Instant::now();
        let mut store = self.new_store(&CallGrant::default()).map_err(|e| host_err(loaded, e))?;
        let result = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.casefile_plugin_ticket_poll().call_parse_poll(&mut store, response).await
        }
        .await;
        let page = self.finish(loaded, &mut store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))?;
        let bytes: usize = page.tickets.iter().map(|t| t.id.len() + t.updated.len() + t.assignee.as_ref().map_or(0, String::len) + 16).sum();
        self.check_output(loaded, bytes)?;
        Ok(page)
    }

    /// Builds the request adding `comment` to `ticket`, for a mapper that exports
    /// `ticket-comments`.
    pub async fn build_ticket_comment(
        &self,
        loaded: &Loaded,
        target: &wit::TicketTarget,
        ticket: &wit::TicketRef,
        comment: &str,
    ) -> Result<wit::HttpRequest, CallError> {
        let pre = Self::commenting(loaded)?;
        let started = Instant::now();
        let mut store = self.new_store(&CallGrant::default()).map_err(|e| host_err(loaded, e))?;
        let result = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.casefile_plugin_ticket_comments().call_build_comment(&mut store, target, ticket, comment).await
        }
        .await;
        let req = self.finish(loaded, &mut store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))?;
        self.check_output(loaded, req.body.len() + req.url.len())?;
        Ok(req)
    }

    pub async fn parse_ticket_comment(&self, loaded: &Loaded, response: &wit::HttpResponse) -> Result<(), CallError> {
        let pre = Self::commenting(loaded)?;
        let started = Instant::now();
        let mut store = self.new_store(&CallGrant::default()).map_err(|e| host_err(loaded, e))?;
        let result = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.casefile_plugin_ticket_comments().call_parse_comment(&mut store, response).await
        }
        .await;
        self.finish(loaded, &mut store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))
    }

    fn commenting(loaded: &Loaded) -> Result<&TicketMapperCommentsPre<HostState>, CallError> {
        match &*loaded.pre {
            Pre::Mapper { comments: Some(c), .. } => Ok(c),
            _ => Err(CallError::Plugin {
                component: loaded.name.clone(),
                error: wit::PluginError::InvalidInput("does not export ticket-comments".into()),
            }),
        }
    }

    /// Records the call's metrics, logs what the component printed and maps a
    /// wasmtime failure to a `CallError`.
    fn finish<T>(
        &self,
        loaded: &Loaded,
        store: &mut Store<HostState>,
        started: Instant,
        result: wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        for (stream, out) in [("stdout", &store.data().stdout), ("stderr", &store.data().stderr)] {
            let (text, dropped) = out.take();
            if !text.is_empty() || dropped > 0 {
                // Scrubbed like any host log line: a guest may print what it was given.
                tracing::info!(
                    component = %loaded.name,
                    sha256 = %loaded.sha256,
                    stream,
                    dropped_bytes = dropped,
                    output = %text,
                    "component output"
                );
            }
        }
        let outcome = if result.is_ok() { "ok" } else { "error" };
        let labels = [("kind", loaded.kind.as_str().to_string()), ("component", loaded.name.clone())];
        metrics::counter!("casefile_component_calls_total", &[
            ("kind", loaded.kind.as_str().to_string()),
            ("component", loaded.name.clone()),
            ("outcome", outcome.to_string()),
        ])
        .increment(1);
        metrics::histogram!("casefile_component_call_ms", &labels).record(started.elapsed().as_secs_f64() * 1000.0);
        result.map_err(|e| {
            let err = self.classify(loaded, store, e);
            tracing::warn!(component = %loaded.name, sha256 = %loaded.sha256, error = %err, "component call failed");
            err
        })
    }
}

fn not_kind(loaded: &Loaded, want: ComponentKind) -> CallError {
    CallError::Plugin {
        component: loaded.name.clone(),
        error: wit::PluginError::InvalidInput(format!(
            "is a {} component, not a {}",
            loaded.kind.as_str(),
            want.as_str()
        )),
    }
}

fn host_err(loaded: &Loaded, e: anyhow::Error) -> CallError {
    CallError::Plugin {
        component: loaded.name.clone(),
        error: wit::PluginError::Internal(format!("host could not prepare the call: {e:#}")),
    }
}

fn wrong_world(kind: ComponentKind, e: wasmtime::Error) -> anyhow::Error {
    anyhow!("the component does not export the `{}` world's interface: {e}", kind.as_str())
}

/// What the bytes are when they are not a component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the bytes are not WebAssembly (no \\0asm header); upload a component built for wasm32-wasip2")]
    NotWasm,
    #[error("the bytes are a core WebAssembly module, not a component; build for wasm32-wasip2 (or wrap it with `wasm-tools component new`)")]
    CoreModule,
}

/// Says what the bytes are when they are not a component, before compiling them.
pub fn check_component_header(bytes: &[u8]) -> Result<(), HeaderError> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        return Err(HeaderError::NotWasm);
    }
    // Layer 0 (bytes 6..8) is a core module; components are layer 1.
    if bytes[6..8] == [0, 0] {
        return Err(HeaderError::CoreModule);
    }
    Ok(())
}

impl bindings::masker::casefile::plugin::types::Host for HostState {}

impl bindings::masker::casefile::plugin::pseudonyms::Host for HostState {
    fn token(&mut self, rule: String, value: String) -> Option<String> {
        // No key (never the case for a masker call the host makes): no token, so the
        // masker masks the value instead.
        let key = self.pseudonym_key.as_ref()?;
        detect::HmacPseudonyms::new(key).token(&rule, &value)
    }
}

impl bindings::connector::casefile::plugin::host_http::Host for HostState {
    async fn send(&mut self, request: wit::HttpRequest) -> Result<wit::HttpResponse, wit::PluginError> {
        let Some(cap) = &self.http else {
            let reason = "this source has no host-http grant".to_string();
            self.refusals.push(Refusal { kind: "http", target: host_port(&request.url), reason: reason.clone() });
            return Err(wit::PluginError::Denied(reason));
        };
        let headers: Vec<(String, String)> = request.headers.into_iter().map(|f| (f.key, f.value)).collect();
        let answer = cap
            .outbound
            .send(&cap.grant, convert::method(request.method), &request.url, &headers, request.body)
            .await
            .map_err(|e| match e {
                OutboundError::Denied(m) => {
                    self.refusals.push(Refusal { kind: "http", target: host_port(&request.url), reason: m.clone() });
                    wit::PluginError::Denied(m)
                }
                OutboundError::Unavailable(m) => wit::PluginError::Unavailable(m),
            })?;
        let headers = answer.headers.into_iter().map(|(key, value)| wit::Field { key, value }).collect();
        let (status, body) = (answer.status, answer.body);
        Ok(wit::HttpResponse { status, headers, body })
    }
}

/// The host and port of a URL a component asked for: what the audit log may keep
/// (never its path, query or credentials).
fn host_port(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}:{}", u.host_str().unwrap_or("?"), u.port_or_known_default().unwrap_or(0)),
        Err(_) => "(not a URL)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_under_two_names_keep_their_names_and_share_one_link() {
        let dir = tempfile::tempdir().unwrap();
        let rt = Runtime::new(RuntimeConfig::default(), dir.path().to_path_buf()).unwrap();
        let bytes = crate::registry::builtin::get("ticket-platform").expect("built-in");
        let a = rt.load("mapper", ComponentKind::TicketMapper, bytes).unwrap();
        let b = rt.load("mapper-copy", ComponentKind::TicketMapper, bytes).unwrap();
        assert_eq!((a.name.as_str(), b.name.as_str()), ("mapper", "mapper-copy"));
        assert_eq!(a.sha256, b.sha256);
        assert!(Arc::ptr_eq(&a.pre, &b.pre));
        let e = format!("{:#}", rt.load("x", ComponentKind::Masker, bytes).err().expect("wrong world"));
        assert!(e.contains("masker"), "{e}");
    }
}
