//! Feature flags through the API: read them, switch one (platform). A change is
//! audited and in force on every host within a second (`flags`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, ApiJson, ApiPath, ApiResult, Caller, ErrorBody};
use crate::app::App;

#[derive(Debug, Serialize, ToSchema)]
pub struct FlagSet {
    /// Every flag and whether it is on.
    pub flags: BTreeMap<String, bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagChange {
    pub enabled: bool,
}

#[utoipa::path(get, path = "/internal/flags", tag = "flags",
    responses((status = 200, description = "Every flag", body = FlagSet), (status = 500, description = "The host failed", body = ErrorBody)))]
pub async fn get_flags(State(app): State<Arc<App>>) -> ApiResult<Json<FlagSet>> {
    Ok(Json(FlagSet { flags: app.flags.all(&app.store).await? }))
}

/// Switches a flag on or off for every host.
#[utoipa::path(put, path = "/internal/flags/{name}", tag = "flags",
    params(("name" = String, Path, description = "debug-ticket-bridge, debug-observability-v2 or debug-regression-auto")),
    request_body = FlagChange,
    responses(
        (status = 200, description = "Every flag, after the change", body = FlagSet),
        (status = 400, description = "Not a JSON `{\"enabled\": bool}`", body = ErrorBody),
        (status = 404, description = "No such flag", body = ErrorBody),
    ))]
pub async fn put_flag(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(name): ApiPath<String>,
    ApiJson(change): ApiJson<FlagChange>,
) -> ApiResult<Json<FlagSet>> {
    if !crate::flags::ALL.contains(&name.as_str()) {
        return Err(ApiError::not_found("unknown_flag", format!("no flag `{name}`; flags are {}", crate::flags::ALL.join(", "))));
    }
    let actor = who.audit_actor();
    app.flags.set(&app.store, &name, change.enabled, &actor).await?;
    app.audit.append(&app.store, &actor, "flag.changed", &name, serde_json::json!({"enabled": change.enabled})).await?;
    if change.enabled {
        // Paused work (regression runs, tickets) may go now.
        app.wake.notify_waiters();
    }
    if change.enabled && name == crate::flags::TICKET_BRIDGE {
        // What was handed off meanwhile gets its ticket; a failure here leaves it
        // to `casefile reconcile`, not the flag change.
        match crate::ticket::reconcile::after_bridge_on(&app, &actor).await {
            Ok(r) if !r.is_empty() => tracing::info!(queued = r.len(), "ticket bridge on: queued the tickets of tasks handed off while it was off"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "ticket bridge on: cannot queue the missing tickets; run `casefile reconcile`"),
        }
    }
    Ok(Json(FlagSet { flags: app.flags.all(&app.store).await? }))
}
