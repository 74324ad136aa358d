//! Reconcile through the API (platform): finds the drift between tasks, the ticket
//! outbox and tickets, and repairs it unless asked for a dry run (`ticket::reconcile`).

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ApiJsonOrDefault, ApiResult, Caller, ErrorBody};
use crate::app::App;
use crate::ticket::reconcile::Reconciled;

#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconcileRequest {
    /// Say what would be repaired and change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Compares tasks, the outbox and the tickets (as last synced) and repairs drift:
/// stuck outbox entries, open tickets of closed tasks, tasks waiting on closed
/// tickets, tasks that never got their ticket. Each repair is audited. Safe to run
/// at any time; a second run finds nothing the first repaired.
#[utoipa::path(post, path = "/internal/debug/reconcile", tag = "diagnosis",
    request_body(content = ReconcileRequest, description = "May be empty (not a dry run)"),
    responses(
        (status = 200, description = "What was found and repaired (or would be, in a dry run)", body = Reconciled),
        (status = 400, description = "Not JSON or not the request's shape", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
pub async fn reconcile(State(app): State<Arc<App>>, Caller(who): Caller, ApiJsonOrDefault(r): ApiJsonOrDefault<ReconcileRequest>) -> ApiResult<Json<Reconciled>> {
    let done = crate::ticket::reconcile::run(&app, &who.scope, &who.audit_actor(), r.dry_run).await?;
    tracing::info!(dry_run = done.dry_run, repairs = done.repairs.len(), left = done.left.len(), "reconcile");
    Ok(Json(done))
}
