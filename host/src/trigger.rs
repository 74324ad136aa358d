//! Trigger: diagnoses opened from a message bus rather than HTTP (step 1 of the
//! flow). A message carries what the HTTP routes take — a `plugin.debug.alert`
//! event (`POST /internal/debug/events`) or an Alertmanager webhook
//! (`POST /internal/debug/alerts`) — and goes through the same code
//! (`api::accept_event`, `api::accept_alerts`): the same checks, the same
//! idempotency on (tenant, error event id), the same answer. Each bus is a
//! submodule that only moves messages and acknowledgements (`nats`).

pub mod nats;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::access::Scope;
use crate::api::{self, parse_json, AlertmanagerWebhook, ApiError, EventBody, TaskRef};
use crate::app::App;

/// What became of one message.
#[derive(Debug)]
pub enum Outcome {
    /// A task was created.
    Created,
    /// The task for this event existed already (a repeat or a redelivery).
    Repeat,
    /// Only resolved alerts, recorded on their tasks.
    Resolved,
    /// Nothing in it is casefile's (alerts without a plugin label).
    Skipped,
    /// Invalid: it will never become a task, so it is not redelivered.
    Rejected(ApiError),
    /// The host failed (say, the database is down): worth delivering again.
    Failed(ApiError),
}

impl Outcome {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Repeat => "repeat",
            Outcome::Resolved => "resolved",
            Outcome::Skipped => "skipped",
            Outcome::Rejected(_) => "rejected",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// The answer to one message: what the HTTP route would have answered (status and
/// JSON body) and what became of it.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub outcome: Outcome,
}

impl Answer {
    fn error(e: ApiError) -> Answer {
        let body = json!({"error": e.detail()});
        let status = e.status;
        let outcome = if status.is_server_error() { Outcome::Failed(e) } else { Outcome::Rejected(e) };
        Answer { status, body, outcome }
    }
}

/// Takes one message's payload as `actor`, with the rights of a service token for
/// every tenant (the bus itself is the access control). `max_bytes` is the HTTP
/// body limit, so a bus does not take what the API would refuse.
pub async fn accept(app: &App, actor: &str, payload: &[u8], max_bytes: usize) -> Answer {
    match route(app, actor, payload, max_bytes).await {
        Ok(a) => a,
        Err(e) => Answer::error(e),
    }
}

async fn route(app: &App, actor: &str, payload: &[u8], max_bytes: usize) -> Result<Answer, ApiError> {
    if payload.len() > max_bytes {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the message is {} bytes, over server.max_body_bytes ({max_bytes})", payload.len()),
        ));
    }
    let v: Value = parse_json(payload)?;
    let is_event = v.get("type").is_some();
    let is_webhook = v.get("alerts").is_some() || v.get("version").is_some();
    if !is_event && is_webhook {
        let hook: AlertmanagerWebhook = parse_json(payload)?;
        let out = api::accept_alerts(app, actor, &Scope::All, hook).await?;
        let outcome = if out.tasks.iter().any(|t| t.created) {
            Outcome::Created
        } else if !out.tasks.is_empty() {
            Outcome::Repeat
        } else if !out.resolved.is_empty() {
            Outcome::Resolved
        } else if let Some(first) = out.rejected.first() {
            // Nothing in it could be taken: the message as a whole is refused, with
            // the first alert's reason.
            let reason = format!("{} of {} alerts refused; the first ({}): {}", out.rejected.len(), out.rejected.len() + out.skipped_without_plugin_label.len(), first.alertname.as_deref().unwrap_or("no alertname"), first.error.message);
            Outcome::Rejected(ApiError::bad("invalid_alert", reason))
        } else {
            Outcome::Skipped
        };
        let body = serde_json::to_value(&out).map_err(|e| ApiError::internal(e.into()))?;
        return Ok(Answer { status: StatusCode::ACCEPTED, body, outcome });
    }
    if !is_event {
        return Err(ApiError::bad(
            "invalid_event",
            "the message is neither a plugin.debug.alert event (a report request with \"type\": \"plugin.debug.alert\") nor an Alertmanager webhook (\"version\": \"4\", \"alerts\": [...])",
        ));
    }
    let event: EventBody = parse_json(payload)?;
    let (task_id, created, state) = api::accept_event(app, actor, &Scope::All, event).await?;
    let body = serde_json::to_value(TaskRef { task_id, state }).map_err(|e| ApiError::internal(e.into()))?;
    Ok(if created {
        Answer { status: StatusCode::ACCEPTED, body, outcome: Outcome::Created }
    } else {
        Answer { status: StatusCode::OK, body, outcome: Outcome::Repeat }
    })
}
