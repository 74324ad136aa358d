//! Tenants through the API: list them (config and API), declare one. A declared
//! tenant inherits the config's `default` bindings and is known to every host at
//! once; its components are bound with the bindings routes.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::{ApiError, ApiJsonOrDefault, ApiPath, ApiResult, Caller, ErrorBody};
use crate::access::Scope;
use crate::app::App;
use crate::tenants::{self, TenantInfo, TenantSpec};

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<TenantInfo>,
}

/// The tenants the caller may see.
#[utoipa::path(get, path = "/internal/tenants", tag = "tenants",
    responses((status = 200, description = "Declared tenants, in the config or through the API", body = TenantList), (status = 500, description = "The host failed", body = ErrorBody)))]
pub async fn list_tenants(State(app): State<Arc<App>>, Caller(who): Caller) -> ApiResult<Json<TenantList>> {
    let all = tenants::list(&app.config, &app.store).await?;
    Ok(Json(TenantList { tenants: all.into_iter().filter(|t| who.scope.allows(&t.name)).collect() }))
}

/// Declares a tenant (or replaces what the API declared for it); the next request
/// for it is accepted on every host.
#[utoipa::path(put, path = "/internal/tenants/{tenant}", tag = "tenants",
    params(("tenant" = String, Path, description = "The tenant's name: a-z, 0-9, `-`, `_`, `.`")),
    request_body(content = Option<TenantSpec>),
    responses(
        (status = 201, description = "Declared", body = TenantInfo),
        (status = 200, description = "Updated", body = TenantInfo),
        (status = 400, description = "A bad name, or a source that is not configured", body = ErrorBody),
        (status = 403, description = "The token is scoped to some tenants", body = ErrorBody),
        (status = 409, description = "The config declares this tenant", body = ErrorBody),
    ))]
pub async fn put_tenant(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(name): ApiPath<String>,
    ApiJsonOrDefault(spec): ApiJsonOrDefault<TenantSpec>,
) -> ApiResult<(StatusCode, Json<TenantInfo>)> {
    if !matches!(who.scope, Scope::All) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "declaring tenants needs a token for all tenants"));
    }
    tenants::check_name(&name).map_err(|e| ApiError::bad("invalid_tenant", e.to_string()))?;
    if app.config.tenants.contains_key(&name) {
        return Err(ApiError::new(StatusCode::CONFLICT, "declared_in_config", format!("tenant `{name}` is declared in the config; change it there")));
    }
    let actor = who.audit_actor();
    let created = tenants::declare(&app.config, &app.store, &name, &spec, &actor).await.map_err(|e| ApiError::bad("invalid_tenant", format!("{e:#}")))?;
    app.audit
        .append(&app.store, &actor, if created { "tenant.declared" } else { "tenant.updated" }, &name, serde_json::json!({"owners": spec.owners, "sources": spec.sources}))
        .await?;
    let info = tenants::list(&app.config, &app.store).await?.into_iter().find(|t| t.name == name).ok_or_else(|| ApiError::internal(anyhow::anyhow!("tenant {name} vanished")))?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(info)))
}
