//! The WebAssembly runtime: one wasmtime engine with the component model, a pooled
//! instance allocator, epoch deadlines, a memory cap, an output cap and an on-disk
//! cache of compiled artifacts keyed by the component's SHA-256.
//!
//! Every call gets a fresh `Store` and a fresh instance from a pre-instantiated
//! template, so nothing a component keeps in memory survives into another call,
//! tenant or task.

pub mod bindings;
pub mod convert;
pub mod grants;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, Trap};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use self::bindings::{connector::ConnectorPre, masker::MaskerPre, ticket_mapper::TicketMapperPre, wit};
use self::grants::HttpGrant;
use crate::config::{ComponentKind, RuntimeConfig};
use crate::model::Batch;
use crate::store::sha256_hex;

/// How often the epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);

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
    #[error("component {component} failed: {detail}")]
    Plugin { component: String, detail: String },
}

/// A component compiled and linked against its world, ready to instantiate.
pub struct Loaded {
    pub name: String,
    pub sha256: String,
    pub kind: ComponentKind,
    /// Shared by every name the same bytes are loaded under.
    pre: Arc<Pre>,
}

enum Pre {
    Masker(MaskerPre<HostState>),
    Connector(ConnectorPre<HostState>),
    Mapper(TicketMapperPre<HostState>),
}

/// Per-call store data: WASI with nothing granted beyond what the call allows.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: CallLimiter,
    http: Option<HttpCapability>,
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

struct HttpCapability {
    grant: HttpGrant,
    client: reqwest::Client,
    max_response: usize,
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
    http: reqwest::Client,
}

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
        let mut config = Config::new();
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
        let mut connector_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut connector_linker)?;
        bindings::connector::Connector::add_to_linker::<_, HasSelf<HostState>>(&mut connector_linker, |s| s)?;
        let mut mapper_linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut mapper_linker)?;

        std::fs::create_dir_all(&cache_dir)
            .with_context(|| format!("cannot create compile cache {}", cache_dir.display()))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(limits.http_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
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
            ComponentKind::TicketMapper => Pre::Mapper(
                TicketMapperPre::new(self.link(&self.mapper_linker, &component, kind)?)
                    .map_err(|e| wrong_world(kind, e))?,
            ),
        };
        let pre = Arc::new(pre);
        self.linked.lock().map_err(|_| anyhow!("component cache poisoned"))?.insert(key, pre.clone());
        Ok(Arc::new(Loaded { name: name.to_string(), sha256: sha, kind, pre }))
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

    fn new_store(&self, grant: &CallGrant) -> Result<Store<HostState>> {
        let mut wasi = WasiCtxBuilder::new();
        if let Some(dir) = &grant.dir {
            wasi.preopened_dir(dir, "/data", FsPerms::ReadOnly)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("cannot open granted directory {}", dir.display()))?;
        }
        let http = (!grant.http.is_empty()).then(|| HttpCapability {
            grant: grant.http.clone(),
            client: self.http.clone(),
            max_response: self.limits.http_max_response_mb << 20,
        });
        let mut table = ResourceTable::new();
        table.set_max_capacity(10_000);
        let mut store = Store::new(
            &self.engine,
            HostState {
                wasi: wasi.build(),
                table,
                limiter: CallLimiter { memory_limit: self.limits.memory_limit_mb << 20, memory_exceeded: false },
                http,
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

    fn plugin_err(loaded: &Loaded, e: wit::PluginError) -> CallError {
        CallError::Plugin {
            component: format!("{} ({})", loaded.name, &loaded.sha256[..12]),
            detail: convert::plugin_error(e),
        }
    }

    pub async fn mask(&self, loaded: &Loaded, ctx: &wit::MaskContext, batch: Batch) -> Result<(Batch, Vec<wit::RuleCount>), CallError> {
        let Pre::Masker(pre) = &*loaded.pre else { return Err(not_kind(loaded, ComponentKind::Masker)) };
        let started = Instant::now();
        let mut store = self.new_store(&CallGrant::default()).map_err(|e| host_err(loaded, e))?;
        let input = convert::batch_out(batch);
        let result = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.casefile_plugin_mask().call_mask(&mut store, ctx, &input).await
        }
        .await;
        let out = self.finish(loaded, &store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))?;
        let masked = convert::batch_in(out.batch);
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
        let out = self.finish(loaded, &store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))?;
        let batch = convert::batch_in(out);
        self.check_output(loaded, batch.approx_bytes())?;
        Ok(batch)
    }

    pub async fn build_ticket_request(
        &self,
        loaded: &Loaded,
        endpoint: &str,
        action: wit::TicketAction,
        report: &wit::ReportSummary,
        ticket: Option<&wit::TicketRef>,
        comment: &str,
    ) -> Result<wit::HttpRequest, CallError> {
        let Pre::Mapper(pre) = &*loaded.pre else { return Err(not_kind(loaded, ComponentKind::TicketMapper)) };
        let started = Instant::now();
        let mut store = self.new_store(&CallGrant::default()).map_err(|e| host_err(loaded, e))?;
        let ticket = ticket.cloned();
        let result = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.casefile_plugin_mapper()
                .call_build_request(&mut store, endpoint, action, report, ticket.as_ref(), comment)
                .await
        }
        .await;
        let req = self.finish(loaded, &store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))?;
        self.check_output(loaded, req.body.len() + req.url.len())?;
        Ok(req)
    }

    pub async fn parse_ticket_response(
        &self,
        loaded: &Loaded,
        action: wit::TicketAction,
        response: &wit::HttpResponse,
    ) -> Result<wit::TicketRef, CallError> {
        let Pre::Mapper(pre) = &*loaded.pre else { return Err(not_kind(loaded, ComponentKind::TicketMapper)) };
        let started = Instant::now();
        let mut store = self.new_store(&CallGrant::default()).map_err(|e| host_err(loaded, e))?;
        let result = async {
            let inst = pre.instantiate_async(&mut store).await?;
            inst.casefile_plugin_mapper().call_parse_response(&mut store, action, response).await
        }
        .await;
        self.finish(loaded, &store, started, result)?.map_err(|e| Self::plugin_err(loaded, e))
    }

    /// Records the call's metrics and maps a wasmtime failure to a `CallError`.
    fn finish<T>(
        &self,
        loaded: &Loaded,
        store: &Store<HostState>,
        started: Instant,
        result: wasmtime::Result<T>,
    ) -> Result<T, CallError> {
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
            tracing::warn!(component = %loaded.name, sha256 = %loaded.sha256, error = %crate::mask::gate::scrub(&err.to_string()), "component call failed");
            err
        })
    }
}

fn not_kind(loaded: &Loaded, want: ComponentKind) -> CallError {
    CallError::Plugin {
        component: loaded.name.clone(),
        detail: format!("is a {} component, not a {}", loaded.kind.as_str(), want.as_str()),
    }
}

fn host_err(loaded: &Loaded, e: anyhow::Error) -> CallError {
    CallError::Plugin { component: loaded.name.clone(), detail: format!("host could not prepare the call: {e:#}") }
}

fn wrong_world(kind: ComponentKind, e: wasmtime::Error) -> anyhow::Error {
    anyhow!("the component does not export the `{}` world's interface: {e}", kind.as_str())
}

/// Says what the bytes are when they are not a component, before compiling them.
pub fn check_component_header(bytes: &[u8]) -> Result<()> {
    if bytes.len() < 8 || &bytes[..4] != b"\0asm" {
        anyhow::bail!("the bytes are not WebAssembly (no \\0asm header); upload a component built for wasm32-wasip2");
    }
    // Layer 0 (bytes 6..8) is a core module; components are layer 1.
    if bytes[6..8] == [0, 0] {
        anyhow::bail!(
            "the bytes are a core WebAssembly module, not a component; build for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
        );
    }
    Ok(())
}

impl bindings::masker::casefile::plugin::types::Host for HostState {}

impl bindings::connector::casefile::plugin::host_http::Host for HostState {
    async fn send(&mut self, request: wit::HttpRequest) -> Result<wit::HttpResponse, String> {
        let Some(cap) = &self.http else {
            return Err("denied: this source has no host-http grant".into());
        };
        let url = cap.grant.check(&request.url).map_err(|e| format!("denied: {e}"))?;
        let method = reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("`{}` is not an HTTP method", request.method))?;
        let mut req = cap.client.request(method, url);
        for h in &request.headers {
            req = req.header(&h.key, &h.value);
        }
        if !request.body.is_empty() {
            req = req.body(request.body);
        }
        let resp = req.send().await.map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some(wit::Field { key: k.to_string(), value: v.to_str().ok()?.to_string() }))
            .collect();
        let body = read_capped(resp, cap.max_response).await?;
        Ok(wit::HttpResponse { status, headers, body })
    }
}

/// Reads a response body, refusing one over `max` bytes.
pub async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| format!("reading the response failed: {e}"))? {
        if body.len() + chunk.len() > max {
            return Err(format!("response body is over the {max}-byte limit"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
