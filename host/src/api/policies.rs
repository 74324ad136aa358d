//! A tenant's masking policy and report layout through the API: read, replace
//! (checked first, the field and reason named when refused), list the versions, roll
//! back. Every change is audited and takes effect for the tenant's next task.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::registry::{tenant_in_scope, Decision};
use super::{ApiError, ApiJson, ApiJsonOrDefault, ApiPath, ApiResult, Caller, ErrorBody};
use crate::access::Principal;
use crate::app::App;
use crate::mask::versions::{self, PolicyVersion, TenantPolicy};
use crate::registry::bindings::DEFAULT_TENANT;
use crate::report::layout::{self, Layout, LayoutVersion};

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyVersions {
    /// Newest first; empty until the first change (the config's policy is version 1).
    pub versions: Vec<PolicyVersion>,
}

async fn declared(app: &App, who: &Principal, tenant: &str) -> ApiResult<()> {
    if tenant == DEFAULT_TENANT {
        return Err(ApiError::not_found("unknown_tenant", "masking policies are per tenant; the defaults live in the report template's `masking` section"));
    }
    tenant_in_scope(app, who, tenant).await
}

#[utoipa::path(get, path = "/internal/tenants/{tenant}/masking-policy", tag = "policies",
    params(("tenant" = String, Path, description = "A declared tenant")),
    responses((status = 200, description = "The policy in force and its version", body = PolicyVersion), (status = 404, description = "Unknown tenant", body = ErrorBody)))]
pub async fn get_policy(State(app): State<Arc<App>>, Caller(who): Caller, ApiPath(tenant): ApiPath<String>) -> ApiResult<Json<PolicyVersion>> {
    declared(&app, &who, &tenant).await?;
    Ok(Json(versions::current(&app.store, &app.template.masking, &tenant).await?))
}

/// Replaces the tenant's policy; the next task uses it.
#[utoipa::path(put, path = "/internal/tenants/{tenant}/masking-policy", tag = "policies",
    params(("tenant" = String, Path, description = "A declared tenant")),
    request_body = TenantPolicy,
    responses(
        (status = 200, description = "Stored as the next version", body = PolicyVersion),
        (status = 400, description = "The policy is invalid (the message names the field and why)", body = ErrorBody),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
    ))]
pub async fn put_policy(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiJson(policy): ApiJson<TenantPolicy>,
) -> ApiResult<Json<PolicyVersion>> {
    declared(&app, &who, &tenant).await?;
    policy.check().map_err(|e| ApiError::bad("invalid_policy", format!("{e:#}")))?;
    let actor = who.audit_actor();
    let stored = versions::set(&app.store, &app.template.masking, &tenant, &policy, &actor).await?;
    app.audit.append(&app.store, &actor, "policy.changed", &tenant, serde_json::json!({"version": stored.version})).await?;
    Ok(Json(stored))
}

#[utoipa::path(get, path = "/internal/tenants/{tenant}/masking-policy/versions", tag = "policies",
    params(("tenant" = String, Path, description = "A declared tenant")),
    responses((status = 200, description = "Every stored version, newest first", body = PolicyVersions), (status = 404, description = "Unknown tenant", body = ErrorBody)))]
pub async fn policy_versions(State(app): State<Arc<App>>, Caller(who): Caller, ApiPath(tenant): ApiPath<String>) -> ApiResult<Json<PolicyVersions>> {
    declared(&app, &who, &tenant).await?;
    Ok(Json(PolicyVersions { versions: versions::history(&app.store, &tenant).await? }))
}

/// Stores the version before the current one again, as the next version.
#[utoipa::path(post, path = "/internal/tenants/{tenant}/masking-policy/rollback", tag = "policies",
    params(("tenant" = String, Path, description = "A declared tenant")),
    request_body(content = Option<Decision>),
    responses(
        (status = 200, description = "The restored policy as the next version", body = PolicyVersion),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
        (status = 409, description = "No earlier version to restore", body = ErrorBody),
    ))]
pub async fn rollback_policy(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiJsonOrDefault(d): ApiJsonOrDefault<Decision>,
) -> ApiResult<Json<PolicyVersion>> {
    declared(&app, &who, &tenant).await?;
    let actor = who.audit_actor();
    let Some(stored) = versions::rollback(&app.store, &app.template.masking, &tenant, &actor).await? else {
        return Err(ApiError::new(StatusCode::CONFLICT, "nothing_to_roll_back", format!("tenant `{tenant}` has no earlier masking policy to restore")));
    };
    app.audit.append(&app.store, &actor, "policy.rolled_back", &tenant, serde_json::json!({"version": stored.version, "reason": d.reason})).await?;
    Ok(Json(stored))
}

// ---- report layout ---------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct LayoutVersions {
    /// Newest first; empty until the first change (the template file's is version 1).
    pub versions: Vec<LayoutVersion>,
}

async fn tenant_for_layout(app: &App, who: &Principal, tenant: &str) -> ApiResult<()> {
    if tenant == DEFAULT_TENANT {
        return Err(ApiError::not_found("unknown_tenant", "report layouts are per tenant; the default is the report template file"));
    }
    tenant_in_scope(app, who, tenant).await
}

#[utoipa::path(get, path = "/internal/tenants/{tenant}/report-template", tag = "policies",
    params(("tenant" = String, Path, description = "A declared tenant")),
    responses((status = 200, description = "The report layout in force (sections, limits) and its version", body = LayoutVersion), (status = 404, description = "Unknown tenant", body = ErrorBody)))]
pub async fn get_layout(State(app): State<Arc<App>>, Caller(who): Caller, ApiPath(tenant): ApiPath<String>) -> ApiResult<Json<LayoutVersion>> {
    tenant_for_layout(&app, &who, &tenant).await?;
    Ok(Json(layout::current(&app.store, &app.template, &tenant).await?))
}

/// Replaces the tenant's report layout; the next task uses it.
#[utoipa::path(put, path = "/internal/tenants/{tenant}/report-template", tag = "policies",
    params(("tenant" = String, Path, description = "A declared tenant")),
    request_body = Layout,
    responses(
        (status = 200, description = "Stored as the next version", body = LayoutVersion),
        (status = 400, description = "The layout is invalid (the message names the field and why)", body = ErrorBody),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
    ))]
pub async fn put_layout(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiJson(body): ApiJson<Layout>,
) -> ApiResult<Json<LayoutVersion>> {
    tenant_for_layout(&app, &who, &tenant).await?;
    body.check().map_err(|e| ApiError::bad("invalid_template", format!("{e:#}")))?;
    let actor = who.audit_actor();
    let stored = layout::set(&app.store, &app.template, &tenant, &body, &actor).await?;
    app.audit.append(&app.store, &actor, "template.changed", &tenant, serde_json::json!({"version": stored.version})).await?;
    Ok(Json(stored))
}

#[utoipa::path(get, path = "/internal/tenants/{tenant}/report-template/versions", tag = "policies",
    params(("tenant" = String, Path, description = "A declared tenant")),
    responses((status = 200, description = "Every stored version, newest first", body = LayoutVersions), (status = 404, description = "Unknown tenant", body = ErrorBody)))]
pub async fn layout_versions(State(app): State<Arc<App>>, Caller(who): Caller, ApiPath(tenant): ApiPath<String>) -> ApiResult<Json<LayoutVersions>> {
    tenant_for_layout(&app, &who, &tenant).await?;
    Ok(Json(LayoutVersions { versions: layout::history(&app.store, &tenant).await? }))
}

/// Stores the layout before the current one again, as the next version.
#[utoipa::path(post, path = "/internal/tenants/{tenant}/report-template/rollback", tag = "policies",
    params(("tenant" = String, Path, description = "A declared tenant")),
    request_body(content = Option<Decision>),
    responses(
        (status = 200, description = "The restored layout as the next version", body = LayoutVersion),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
        (status = 409, description = "No earlier version to restore", body = ErrorBody),
    ))]
pub async fn rollback_layout(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(tenant): ApiPath<String>,
    ApiJsonOrDefault(d): ApiJsonOrDefault<Decision>,
) -> ApiResult<Json<LayoutVersion>> {
    tenant_for_layout(&app, &who, &tenant).await?;
    let actor = who.audit_actor();
    let Some(stored) = layout::rollback(&app.store, &app.template, &tenant, &actor).await? else {
        return Err(ApiError::new(StatusCode::CONFLICT, "nothing_to_roll_back", format!("tenant `{tenant}` has no earlier report layout to restore")));
    };
    app.audit.append(&app.store, &actor, "template.rolled_back", &tenant, serde_json::json!({"version": stored.version, "reason": d.reason})).await?;
    Ok(Json(stored))
}
