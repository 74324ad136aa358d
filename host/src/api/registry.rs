//! The registry's routes: upload, review (approve, reject, revoke), and a tenant's
//! bindings (read, bind, roll back). The roles are in `access::RULES`; tenant scope
//! is checked here: another tenant's bindings answer 404 like an unknown tenant, and
//! the default bindings (`*`) need a token for all tenants.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ApiError, ApiJson, ApiJsonOrDefault, ApiPath, ApiQuery, ApiResult, Caller, ErrorBody, RawBody};
use crate::access::{Principal, Scope};
use crate::app::App;
use crate::config::ComponentKind;
use crate::registry::bindings::{self, Binding, Mode, Slot, DEFAULT_TENANT};
use crate::registry::catalog::ComponentRecord;
use crate::registry::{RegistryError, Upload};

/// The header an upload's publisher signature comes in (hex or base64 ed25519 over
/// the SHA-256 of the body).
pub const SIGNATURE_HEADER: &str = "x-casefile-signature";

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> ApiError {
        match e {
            RegistryError::Invalid(code, m) => ApiError::bad(code, m),
            RegistryError::NotFound(code, m) => ApiError::not_found(code, m),
            RegistryError::Conflict(code, m) => ApiError::new(StatusCode::CONFLICT, code, m),
            RegistryError::Forbidden(m) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", m),
            RegistryError::Storage(e) => ApiError::internal(e),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The world the component implements: `masker`, `connector` or `ticket-mapper`.
    pub kind: Option<String>,
    /// A name for it; `uploaded-<kind>` when absent.
    pub name: Option<String>,
    /// The author's version label.
    pub version: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComponentList {
    pub components: Vec<ComponentRecord>,
}

/// Why a review decision was taken; optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub reason: Option<String>,
}

/// Uploads a component: checked (a component, of the declared world, importing only
/// what its kind may, signed when required), stored by hash, pending review.
#[utoipa::path(post, path = "/internal/components", tag = "registry",
    params(UploadQuery, ("x-casefile-signature" = Option<String>, Header, description = "ed25519 signature over the SHA-256 (hex or base64)")),
    request_body(content = Vec<u8>, content_type = "application/wasm", description = "The component's bytes"),
    responses(
        (status = 201, description = "Stored, pending review", body = ComponentRecord),
        (status = 200, description = "These bytes are already stored", body = ComponentRecord),
        (status = 400, description = "Not a component, a core module, the wrong world, a forbidden import, or a bad or missing signature", body = ErrorBody),
        (status = 413, description = "Over the component size limit", body = ErrorBody),
        (status = 500, description = "The host failed to store it", body = ErrorBody),
    ))]
pub async fn upload_component(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<UploadQuery>,
    RawBody(bytes): RawBody,
) -> ApiResult<(StatusCode, Json<ComponentRecord>)> {
    let kind_s = q.kind.ok_or_else(|| ApiError::bad("invalid_request", "say which world the component implements: ?kind=masker|connector|ticket-mapper"))?;
    let kind = ComponentKind::parse(&kind_s).ok_or_else(|| ApiError::bad("invalid_request", format!("unknown kind `{kind_s}`; use masker, connector or ticket-mapper")))?;
    let name = q.name.unwrap_or_else(|| format!("uploaded-{}", kind.as_str()));
    super::id_ok("name", &name)?;
    if let Some(v) = &q.version {
        super::id_ok("version", v)?;
    }
    let signature = match headers.get(SIGNATURE_HEADER) {
        Some(v) => Some(v.to_str().map_err(|_| ApiError::bad("invalid_signature", "the signature header must be hex or base64 text"))?.to_string()),
        None => None,
    };
    let actor = who.audit_actor();
    let up = Upload { name: &name, kind, version: q.version.as_deref(), signature: signature.as_deref(), actor: &actor };
    let (record, created) = app.registry.upload(&app.config, &app.runtime, &app.store, &app.audit, &up, &bytes).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(record)))
}

/// Every component: hash, kind, world, imports, grants, uploader, signature,
/// review and where it is bound.
#[utoipa::path(get, path = "/internal/components", tag = "registry",
    responses((status = 200, description = "The components", body = ComponentList), (status = 500, description = "The host failed", body = ErrorBody)))]
pub async fn list_components(State(app): State<Arc<App>>) -> ApiResult<Json<ComponentList>> {
    Ok(Json(ComponentList { components: app.registry.list(&app.store).await? }))
}

/// One component.
#[utoipa::path(get, path = "/internal/components/{sha256}", tag = "registry",
    params(("sha256" = String, Path, description = "The component's SHA-256, hex")),
    responses((status = 200, description = "The component", body = ComponentRecord), (status = 404, description = "No such component", body = ErrorBody)))]
pub async fn show_component(State(app): State<Arc<App>>, ApiPath(sha): ApiPath<String>) -> ApiResult<Json<ComponentRecord>> {
    app.registry
        .show(&app.store, &sha.to_ascii_lowercase())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("unknown_component", format!("no component with sha256 `{sha}`")))
}

/// Approves a pending component, so it can be bound.
#[utoipa::path(post, path = "/internal/components/{sha256}/approve", tag = "registry",
    params(("sha256" = String, Path, description = "The component's SHA-256, hex")),
    request_body(content = Option<Decision>),
    responses(
        (status = 200, description = "Approved", body = ComponentRecord),
        (status = 403, description = "The approver uploaded it and the config asks for another", body = ErrorBody),
        (status = 404, description = "No such component", body = ErrorBody),
        (status = 409, description = "Not pending, or not signed when signatures are required", body = ErrorBody),
    ))]
pub async fn approve_component(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(sha): ApiPath<String>,
    ApiJsonOrDefault(d): ApiJsonOrDefault<Decision>,
) -> ApiResult<Json<ComponentRecord>> {
    review(&app, &who, &sha, true, d).await
}

/// Rejects a pending component; it can never be bound.
#[utoipa::path(post, path = "/internal/components/{sha256}/reject", tag = "registry",
    params(("sha256" = String, Path, description = "The component's SHA-256, hex")),
    request_body(content = Option<Decision>),
    responses(
        (status = 200, description = "Rejected", body = ComponentRecord),
        (status = 404, description = "No such component", body = ErrorBody),
        (status = 409, description = "Not pending", body = ErrorBody),
    ))]
pub async fn reject_component(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(sha): ApiPath<String>,
    ApiJsonOrDefault(d): ApiJsonOrDefault<Decision>,
) -> ApiResult<Json<ComponentRecord>> {
    review(&app, &who, &sha, false, d).await
}

async fn review(app: &App, who: &Principal, sha: &str, approve: bool, d: Decision) -> ApiResult<Json<ComponentRecord>> {
    let actor = who.audit_actor();
    let sha = sha.to_ascii_lowercase();
    Ok(Json(app.registry.review(&app.config, &app.store, &app.audit, &sha, approve, (&who.token_id, &actor), d.reason.as_deref()).await?))
}

/// Revokes a component and unbinds it everywhere at once; tasks fall back to what
/// is bound below it.
#[utoipa::path(post, path = "/internal/components/{sha256}/revoke", tag = "registry",
    params(("sha256" = String, Path, description = "The component's SHA-256, hex")),
    request_body(content = Option<Decision>),
    responses(
        (status = 200, description = "Revoked", body = ComponentRecord),
        (status = 404, description = "No such component", body = ErrorBody),
        (status = 409, description = "Already rejected or revoked", body = ErrorBody),
    ))]
pub async fn revoke_component(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(sha): ApiPath<String>,
    ApiJsonOrDefault(d): ApiJsonOrDefault<Decision>,
) -> ApiResult<Json<ComponentRecord>> {
    let actor = who.audit_actor();
    Ok(Json(app.registry.revoke(&app.store, &app.audit, &sha.to_ascii_lowercase(), &actor, d.reason.as_deref()).await?))
}

/// A tenant's bindings: what its own rows say, and what a task would run now.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantBindings {
    pub tenant: String,
    /// The binding rows in force for this tenant (not the inherited ones).
    pub bindings: Vec<Binding>,
    /// What a task of this tenant would run now, per slot, and where it comes from.
    pub effective: BTreeMap<String, Effective>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Effective {
    /// Component hashes in order.
    pub components: Vec<String>,
    /// `<tenant> v<version>`, `* v<version>` or `config`.
    pub origin: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindRequest {
    /// Component hashes, or names of approved components, in chain order (one for
    /// a ticket mapper or a source); an empty list inherits again.
    pub components: Vec<String>,
    #[serde(default)]
    pub mode: Mode,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    #[serde(default)]
    pub mode: Mode,
}

/// The tenant named in a path, if the caller may act on it: a declared tenant in
/// the caller's scope, or `*` (the default bindings) for a caller over all tenants.
pub(super) async fn tenant_in_scope(app: &App, who: &Principal, tenant: &str) -> ApiResult<()> {
    let known = if tenant == DEFAULT_TENANT {
        matches!(who.scope, Scope::All)
    } else {
        who.scope.allows(tenant) && crate::tenants::lookup(&app.config, &app.store, tenant).await?.is_some()
    };
    if known {
        Ok(())
    } else {
        Err(ApiError::not_found("unknown_tenant", format!("tenant `{tenant}` is not declared (or not yours); `*` names the default bindings")))
    }
}

fn slot(s: &str) -> ApiResult<Slot> {
    Slot::parse(s).map_err(|m| ApiError::bad("invalid_slot", m))
}

#[utoipa::path(get, path = "/internal/tenants/{tenant}/bindings", tag = "registry",
    params(("tenant" = String, Path, description = "A declared tenant, or `*` for the default bindings")),
    responses((status = 200, description = "The bindings", body = TenantBindings), (status = 404, description = "Unknown tenant", body = ErrorBody)))]
pub async fn get_bindings(State(app): State<Arc<App>>, Caller(who): Caller, ApiPath(tenant): ApiPath<String>) -> ApiResult<Json<TenantBindings>> {
    tenant_in_scope(&app, &who, &tenant).await?;
    let rows = bindings::current(&app.store, &[&tenant]).await?;
    let mut effective = BTreeMap::new();
    if tenant != DEFAULT_TENANT {
        let r = app.registry.resolve(&app.config, &app.runtime, &app.store, &tenant).await?;
        let origin = |slot: &str| r.origins.get(slot).cloned().unwrap_or_else(|| "config".into());
        let origin_of_masker = if r.maskers.is_empty() { "none: nothing that may run is bound".to_string() } else { origin("masker") };
        effective.insert("masker".to_string(), Effective { components: r.maskers.iter().map(|l| l.sha256.clone()).collect(), origin: origin_of_masker });
        if let Some(m) = &r.mapper {
            effective.insert("ticket-mapper".to_string(), Effective { components: vec![m.sha256.clone()], origin: origin("ticket-mapper") });
        }
        for (name, c) in &r.connectors {
            let slot = format!("source:{name}");
            effective.insert(slot.clone(), Effective { components: vec![c.sha256.clone()], origin: origin(&slot) });
        }
    }
    Ok(Json(TenantBindings { tenant, bindings: rows, effective }))
}

/// Binds components to a slot; the next task of the tenant runs them (tasks already
/// running finish on what they started with).
#[utoipa::path(put, path = "/internal/tenants/{tenant}/bindings/{slot}", tag = "registry",
    params(("tenant" = String, Path, description = "A declared tenant, or `*` for the default bindings"),
           ("slot" = String, Path, description = "`masker`, `ticket-mapper` or `source:<name>`")),
    request_body = BindRequest,
    responses(
        (status = 200, description = "The new binding and its version", body = Binding),
        (status = 400, description = "Bad slot, wrong kind, too many components, or settings the component refuses", body = ErrorBody),
        (status = 404, description = "Unknown tenant, source or component", body = ErrorBody),
        (status = 409, description = "A component is not approved", body = ErrorBody),
    ))]
pub async fn put_binding(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath((tenant, slot_s)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<BindRequest>,
) -> ApiResult<Json<Binding>> {
    tenant_in_scope(&app, &who, &tenant).await?;
    let slot = slot(&slot_s)?;
    let actor = who.audit_actor();
    Ok(Json(app.registry.bind(&app.config, &app.runtime, &app.store, &app.audit, &tenant, &slot, req.mode, &req.components, &actor).await?))
}

/// Re-binds the slot's previous version.
#[utoipa::path(post, path = "/internal/tenants/{tenant}/bindings/{slot}/rollback", tag = "registry",
    params(("tenant" = String, Path, description = "A declared tenant, or `*` for the default bindings"),
           ("slot" = String, Path, description = "`masker`, `ticket-mapper` or `source:<name>`")),
    request_body(content = Option<RollbackRequest>),
    responses(
        (status = 200, description = "The new binding (repeating an earlier one)", body = Binding),
        (status = 404, description = "Unknown tenant, or no binding to roll back", body = ErrorBody),
        (status = 409, description = "Nothing earlier to restore", body = ErrorBody),
    ))]
pub async fn rollback_binding(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath((tenant, slot_s)): ApiPath<(String, String)>,
    ApiJsonOrDefault(req): ApiJsonOrDefault<RollbackRequest>,
) -> ApiResult<Json<Binding>> {
    tenant_in_scope(&app, &who, &tenant).await?;
    let slot = slot(&slot_s)?;
    let actor = who.audit_actor();
    Ok(Json(app.registry.rollback(&app.store, &app.audit, &tenant, &slot, req.mode, &actor).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShadowRuns {
    /// The latest 50, newest first.
    pub runs: Vec<crate::mask::shadow::ShadowRun>,
}

/// What the tenant's shadow masker did differently on live tasks: counts per rule,
/// records only one side masked and where; never a value.
#[utoipa::path(get, path = "/internal/tenants/{tenant}/shadow", tag = "registry",
    params(("tenant" = String, Path, description = "A declared tenant")),
    responses((status = 200, description = "The shadow runs", body = ShadowRuns), (status = 404, description = "Unknown tenant", body = ErrorBody)))]
pub async fn shadow_runs(State(app): State<Arc<App>>, Caller(who): Caller, ApiPath(tenant): ApiPath<String>) -> ApiResult<Json<ShadowRuns>> {
    tenant_in_scope(&app, &who, &tenant).await?;
    Ok(Json(ShadowRuns { runs: crate::mask::shadow::list(&app.store, &tenant, 50).await? }))
}
