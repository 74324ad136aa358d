//! The HTTP API. Every error is `{"error": {"code", "message"}}` with a 4xx/5xx
//! status and a message that says what is wrong and what to do (`error`).
//!
//! The routes are one table, [`routes`]: the router serves exactly what it lists
//! and the OpenAPI description at `/openapi.json` is generated from the same
//! table, from each handler's `#[utoipa::path]` and its request and response types.

pub mod access;
pub mod contracts;
mod error;
pub mod flags;
pub mod openapi;
pub mod policies;
pub mod reconcile;
pub mod registry;
pub mod tenants;
#[cfg(test)]
mod props;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use access::Caller;
pub use error::{parse_json, ApiError, ApiJson, ApiJsonOrDefault, ApiPath, ApiQuery, ApiResult, ErrorBody, ErrorDetail, RawBody};

use crate::access::{Principal, Role, Scope, TokenInfo};
use crate::app::App;
use crate::audit::{Audit, Verification};
use crate::config::Config;
use crate::model::{DiagnosisRequest, PluginRef, RegressionStrategy, TaskState, Window};
use crate::report::Report;

/// Every route the host serves, with its OpenAPI operation. `max_component` is the
/// body limit for component uploads.
pub fn routes(max_component: usize) -> OpenApiRouter<Arc<App>> {
    let (schemas, paths, components) = routes!(registry::list_components, registry::upload_component);
    OpenApiRouter::with_openapi(openapi::base())
        .routes(routes!(create_report))
        .routes(routes!(get_report))
        .routes(routes!(get_bundle))
        .routes(routes!(get_markdown))
        .routes(routes!(start_regression))
        .routes(routes!(retry_task))
        .routes(routes!(ticket_events))
        .routes(routes!(cancel_ticket_delivery))
        .routes(routes!(reconcile::reconcile))
        .routes(routes!(create_from_event))
        .routes(routes!(create_from_alertmanager))
        .routes((schemas, paths, components.layer(DefaultBodyLimit::max(max_component))))
        .routes(routes!(registry::show_component))
        .routes(routes!(registry::approve_component))
        .routes(routes!(registry::reject_component))
        .routes(routes!(registry::revoke_component))
        .routes(routes!(registry::get_bindings))
        .routes(routes!(registry::put_binding))
        .routes(routes!(registry::rollback_binding))
        .routes(routes!(registry::shadow_runs))
        .routes(routes!(tenants::list_tenants))
        .routes(routes!(flags::get_flags))
        .routes(routes!(flags::put_flag))
        .routes(routes!(tenants::put_tenant))
        .routes(routes!(policies::get_policy, policies::put_policy))
        .routes(routes!(policies::policy_versions))
        .routes(routes!(policies::rollback_policy))
        .routes(routes!(policies::get_layout, policies::put_layout))
        .routes(routes!(policies::layout_versions))
        .routes(routes!(policies::rollback_layout))
        .routes(routes!(audit_entries))
        .routes(routes!(audit_verify))
        .routes(routes!(audit_archive))
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
        .routes(routes!(review_list))
        .routes(routes!(review_cases))
        .routes(routes!(review_mark))
        .routes(routes!(report_schema))
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(openapi))
}

/// The OpenAPI description of [`routes`].
pub fn openapi_document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = routes(0).split_for_parts().1;
        access::describe(&mut doc);
        doc
    })
}

pub fn router(app: Arc<App>) -> Router {
    let max_body = app.config.server.max_body_bytes;
    let (router, _) = routes(app.config.server.max_component_bytes).split_for_parts();
    router
        // Only matched routes: the fallback answers 404 to anyone.
        .route_layer(axum::middleware::from_fn_with_state(app.clone(), access::authorize))
        .fallback(|| async { ApiError::not_found("not_found", "no such endpoint; see /openapi.json") })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(app)
}

// ---- requests ------------------------------------------------------------------

/// Opens a diagnosis.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// Idempotency key with the tenant: a repeat returns the existing task.
    #[schema(min_length = 1, max_length = 256)]
    pub error_event_id: String,
    /// A tenant declared in the config.
    pub tenant: String,
    pub plugin: PluginRef,
    /// Environments to collect from; all when absent.
    #[serde(default)]
    pub environments: Option<Vec<String>>,
    /// The time window; the config's default window before now when absent.
    #[serde(default)]
    pub window: Option<WindowIn>,
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub trace_ids: Option<Vec<String>>,
    /// What the trigger says about the failure; masked before it is stored.
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub regression: Option<RegressionIn>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowIn {
    /// RFC 3339, e.g. `2026-01-02T03:04:05Z`.
    #[schema(format = DateTime)]
    pub start: String,
    #[schema(format = DateTime)]
    pub end: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegressionIn {
    pub strategy: RegressionStrategy,
}

/// Prometheus Alertmanager's webhook payload, version 4 (the fields casefile reads).
#[derive(Debug, Deserialize, ToSchema)]
pub struct AlertmanagerWebhook {
    /// Must be `"4"`.
    pub version: Option<String>,
    pub alerts: Option<Vec<Alert>>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Alert {
    /// `firing` or `resolved`; a resolved alert is recorded on the task its firing
    /// opened (if any) and opens none.
    #[serde(default)]
    pub status: Option<String>,
    /// `plugin` (or `plugin_id`) names the plugin; `tenant`, `environment` (or `env`)
    /// and `plugin_version` are read too.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `summary` (or `description`) becomes the task's message.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, rename = "startsAt")]
    pub starts_at: Option<String>,
    /// When a resolved alert ended.
    #[serde(default, rename = "endsAt")]
    pub ends_at: Option<String>,
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Where the alert came from (Prometheus' expression browser).
    #[serde(default, rename = "generatorURL")]
    pub generator_url: Option<String>,
}

/// Why the diagnosis is run again (kept in the audit log); optional.
#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegressionRequest {
    /// The fix to verify (a git ref or build id), handed to the regression runner.
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
}

#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelDelivery {
    /// Why, kept in the audit log.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryCancelled {
    pub task_id: String,
    /// How many pending ticket actions of the task were cancelled.
    pub cancelled: usize,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReviewQuery {
    pub tenant: Option<String>,
    /// `pending`, `miss` or `ok`.
    pub status: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewVerdict {
    /// `miss` (something should have been masked) or `ok`.
    pub verdict: String,
    #[serde(default)]
    pub note: Option<String>,
    /// What should have been masked, for a miss.
    #[serde(default)]
    pub expected_masked: Vec<String>,
}

// ---- responses -----------------------------------------------------------------

/// The task a trigger created or found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskRef {
    pub task_id: String,
    pub state: TaskState,
}

/// A task: its state, report, ticket and the components that touched its data.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskView {
    pub task_id: String,
    pub state: TaskState,
    pub tenant: String,
    pub plugin: PluginRef,
    pub error_event_id: String,
    /// Null until the report is written.
    pub report: Option<Report>,
    /// Null while no ticket is open (or tickets are handed off manually).
    pub ticket: Option<TicketView>,
    pub components: Vec<TaskComponent>,
    /// Why the task failed (state `failed`).
    pub error: Option<ErrorDetail>,
    pub bundle_sha256: Option<String>,
    pub history: Vec<TaskEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TicketView {
    /// Empty while the ticket's create waits for the ticket system.
    pub id: String,
    pub url: Option<String>,
    /// `pending` (not created yet), `open`, `closed`, `rejected`, or the ticket
    /// system's own word.
    pub state: String,
    /// Diagnoses of this failure that found this ticket, the first included.
    #[serde(default)]
    pub occurrences: i64,
    /// The closed ticket this one replaced (its failure recurred after the reopen window).
    #[serde(default)]
    pub previous_id: Option<String>,
    /// The task's own ticket action in the outbox, when it has not been delivered.
    #[serde(default)]
    pub delivery: Option<DeliveryView>,
}

/// A ticket action of the task that the ticket system has not taken (yet).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    /// `create`, `comment`, `reopen` or `close`.
    pub action: String,
    /// `pending` (retried with backoff), `rejected` or `cancelled`.
    pub state: String,
    /// When it was queued, milliseconds since the Unix epoch.
    pub since: i64,
    pub attempts: i64,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<i64>,
    /// The last failure, or the ticket system's answer to a rejected action.
    pub answer: Option<String>,
    /// `ticketing: waiting for the ticket system since ...` while pending.
    pub detail: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskComponent {
    /// `masker`, `ticket-mapper` or `source:<name>` (empty for tasks from before
    /// bindings).
    #[serde(default)]
    pub slot: String,
    pub kind: String,
    pub name: String,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskEvent {
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub state: String,
    pub detail: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertsAccepted {
    pub tasks: Vec<AlertTask>,
    /// Alert names of firing alerts without a `plugin` label.
    pub skipped_without_plugin_label: Vec<String>,
    /// Alerts that could not become a task (say, an undeclared tenant label).
    pub rejected: Vec<RejectedAlert>,
    /// Tasks whose alert is now resolved (recorded in their history).
    pub resolved: Vec<TaskRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AlertTask {
    pub task_id: String,
    pub state: TaskState,
    /// False when the alert repeats one that already has a task.
    pub created: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RejectedAlert {
    pub alertname: Option<String>,
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntries {
    /// The hash-chained entries, oldest first, each with `chain_intact`.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewSamples {
    #[schema(value_type = Vec<Object>)]
    pub samples: Vec<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// This process's id in task leases.
    pub host: String,
}

// ---- validation ----------------------------------------------------------------

fn rfc3339(field: &str, s: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| ApiError::bad("invalid_window", format!("window.{field} `{s}` is not an RFC 3339 time ({e}); e.g. 2026-01-02T03:04:05Z")))
}

pub(crate) fn id_ok(what: &str, s: &str) -> ApiResult<()> {
    if s.trim().is_empty() {
        return Err(ApiError::bad("invalid_request", format!("{what} must not be empty")));
    }
    if s.len() > 256 || s.chars().any(char::is_control) {
        return Err(ApiError::bad("invalid_request", format!("{what} must be at most 256 printable characters")));
    }
    Ok(())
}

/// Checks a request against the config and turns it into a stored request.
/// A tenant outside the caller's scope is answered exactly like an undeclared one,
/// and the message names only the tenants the caller may see.
/// `tenants` are the declared tenants' names (config and API).
pub fn validate(config: &Config, tenants: &[String], scope: &Scope, r: ReportRequest, now: DateTime<Utc>) -> ApiResult<DiagnosisRequest> {
    id_ok("error_event_id", &r.error_event_id)?;
    id_ok("plugin.id", &r.plugin.id)?;
    if !tenants.contains(&r.tenant) || !scope.allows(&r.tenant) {
        let visible: Vec<String> = tenants.iter().filter(|t| scope.allows(t)).cloned().collect();
        return Err(ApiError::not_found(
            "unknown_tenant",
            format!("tenant `{}` is not declared in the config (or not yours); yours: {}", r.tenant, visible.join(", ")),
        ));
    }
    let window = match r.window {
        Some(w) => {
            let (start, end) = (rfc3339("start", &w.start)?, rfc3339("end", &w.end)?);
            if end <= start {
                return Err(ApiError::bad("invalid_window", format!("window.end ({}) must be after window.start ({})", w.end, w.start)));
            }
            if end - start > chrono::Duration::days(7) {
                return Err(ApiError::bad("invalid_window", "the window is longer than 7 days; narrow it around the failure"));
            }
            Window { start, end }
        }
        None => Window { start: now - chrono::Duration::minutes(config.pipeline.default_window_minutes), end: now },
    };
    let environments = r.environments.unwrap_or_default();
    for e in &environments {
        id_ok("environments[]", e)?;
    }
    let trace_ids = r.trace_ids.unwrap_or_default();
    if trace_ids.len() > 1000 {
        return Err(ApiError::bad("invalid_request", "at most 1000 trace_ids"));
    }
    if r.message.as_ref().is_some_and(|m| m.len() > 64 * 1024) {
        return Err(ApiError::bad("invalid_request", "message is over 64 KiB"));
    }
    let regression = r.regression.map(|x| x.strategy).unwrap_or(RegressionStrategy::Webhook);
    Ok(DiagnosisRequest {
        error_event_id: r.error_event_id,
        tenant: r.tenant,
        plugin: r.plugin,
        environments,
        window,
        trace_ids,
        message: r.message,
        regression,
        alert: None,
    })
}

/// The names of every declared tenant (config and API), read now.
async fn declared_tenants(app: &App) -> ApiResult<Vec<String>> {
    Ok(crate::tenants::list(&app.config, &app.store).await?.into_iter().map(|t| t.name).collect())
}

/// Creates the task (or finds the one for the same tenant and error event).
pub async fn submit(app: &App, actor: &str, req: DiagnosisRequest) -> ApiResult<(String, bool, TaskState)> {
    let id = format!("tsk_{}", uuid::Uuid::new_v4().simple());
    let (id, created) = app.store.create_task(&id, &req).await?;
    if created {
        app.audit
            .append(&app.store, actor, "task.created", &id, json!({"tenant": req.tenant, "plugin": req.plugin.id, "error_event_id": req.error_event_id}))
            .await?;
        app.wake.notify_waiters();
    }
    let state = app.store.task(&id).await?.map(|t| t.state).unwrap_or(TaskState::Queued);
    Ok((id, created, state))
}

fn created_response(task_id: String, created: bool, state: TaskState) -> (StatusCode, Json<TaskRef>) {
    let status = if created { StatusCode::ACCEPTED } else { StatusCode::OK };
    (status, Json(TaskRef { task_id, state }))
}

// ---- handlers ------------------------------------------------------------------

/// Open a diagnosis (idempotent on tenant + error_event_id).
#[utoipa::path(post, path = "/internal/debug/report", tag = "diagnosis",
    request_body = ReportRequest,
    responses(
        (status = 202, description = "Task created", body = TaskRef),
        (status = 200, description = "The existing task for this tenant and error event", body = TaskRef),
        (status = 400, description = "Not JSON, not the request's shape, or an invalid window", body = ErrorBody),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn create_report(State(app): State<Arc<App>>, Caller(who): Caller, ApiJson(r): ApiJson<ReportRequest>) -> ApiResult<(StatusCode, Json<TaskRef>)> {
    let req = validate(&app.config, &declared_tenants(&app).await?, &who.scope, r, Utc::now())?;
    let (id, created, state) = submit(&app, &who.audit_actor(), req).await?;
    Ok(created_response(id, created, state))
}

/// A `plugin.debug.alert` event: the report request's fields plus `type`.
#[utoipa::path(post, path = "/internal/debug/events", tag = "diagnosis",
    request_body(content = EventBody, description = "The fields of a ReportRequest plus `\"type\": \"plugin.debug.alert\"`"),
    responses(
        (status = 202, description = "Task created", body = TaskRef),
        (status = 200, description = "The existing task", body = TaskRef),
        (status = 400, description = "Not an event of this type, or not a report request", body = ErrorBody),
        (status = 404, description = "Unknown tenant", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn create_from_event(State(app): State<Arc<App>>, Caller(who): Caller, ApiJson(event): ApiJson<EventBody>) -> ApiResult<(StatusCode, Json<TaskRef>)> {
    let (id, created, state) = accept_event(&app, &who.audit_actor(), &who.scope, event).await?;
    Ok(created_response(id, created, state))
}

/// A `plugin.debug.alert` event from any channel (HTTP, NATS): checked like a
/// report request, then the task is created or found. Returns the task, whether
/// it is new, and its state.
pub async fn accept_event(app: &App, actor: &str, scope: &Scope, event: EventBody) -> ApiResult<(String, bool, TaskState)> {
    let r = event_request(event)?;
    let req = validate(&app.config, &declared_tenants(app).await?, scope, r, Utc::now())?;
    submit(app, actor, req).await
}

/// The report request inside a `plugin.debug.alert` event.
pub fn event_request(event: EventBody) -> ApiResult<ReportRequest> {
    match event.event_type.as_deref() {
        Some("plugin.debug.alert") => {}
        other => {
            return Err(ApiError::bad(
                "invalid_event",
                format!("event type must be \"plugin.debug.alert\", got {}", other.map_or("nothing".into(), |t| format!("\"{t}\""))),
            ))
        }
    }
    ReportRequest::deserialize(Value::Object(event.rest))
        .map_err(|e| ApiError::bad("invalid_request", format!("event does not match the schema: {e}")))
}

/// A `plugin.debug.alert` event: `type` and the fields of a [`ReportRequest`] (the
/// handler checks them as strictly as a report request's).
#[derive(Debug, Deserialize, ToSchema)]
pub struct EventBody {
    /// Always `plugin.debug.alert`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// The report request's fields.
    #[serde(flatten)]
    #[schema(ignore)]
    pub rest: serde_json::Map<String, Value>,
}

/// Prometheus Alertmanager webhook (version 4): one task per firing alert that names
/// a plugin (label `plugin` or `plugin_id`).
#[utoipa::path(post, path = "/internal/debug/alerts", tag = "diagnosis",
    request_body = AlertmanagerWebhook,
    responses(
        (status = 202, description = "The tasks created or found, and the alerts skipped or rejected", body = AlertsAccepted),
        (status = 400, description = "Not an Alertmanager version 4 payload", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn create_from_alertmanager(State(app): State<Arc<App>>, Caller(who): Caller, ApiJson(v): ApiJson<AlertmanagerWebhook>) -> ApiResult<(StatusCode, Json<AlertsAccepted>)> {
    Ok((StatusCode::ACCEPTED, Json(accept_alerts(&app, &who.audit_actor(), &who.scope, v).await?)))
}

/// An Alertmanager webhook from any channel (HTTP, NATS): a task per firing alert,
/// each alert refused or skipped on its own, resolved alerts recorded on their task.
pub async fn accept_alerts(app: &App, actor: &str, scope: &Scope, v: AlertmanagerWebhook) -> ApiResult<AlertsAccepted> {
    if v.version.as_deref() != Some("4") {
        return Err(ApiError::bad("invalid_alert", "expected an Alertmanager webhook payload with \"version\": \"4\""));
    }
    let alerts = v.alerts.ok_or_else(|| ApiError::bad("invalid_alert", "payload has no `alerts` list"))?;
    let mut out = AlertsAccepted { tasks: Vec::new(), skipped_without_plugin_label: Vec::new(), rejected: Vec::new(), resolved: Vec::new() };
    let declared = declared_tenants(app).await?;
    for a in alerts {
        let now = Utc::now();
        let r = match alert_request(&a, now, app.config.pipeline.default_window_minutes, app.config.alerts.default_tenant.as_deref()) {
            AlertRoute::Resolved(Some(done)) => {
                if let Some(task) = record_resolved(app, actor, scope, &done).await? {
                    out.resolved.push(task);
                }
                continue;
            }
            AlertRoute::Resolved(None) => continue,
            AlertRoute::NoTenant => {
                let e = ApiError::bad("no_tenant", "the alert has no `tenant` label and the config names no `alerts.default_tenant`; label the alert rule with its tenant");
                out.rejected.push(RejectedAlert { alertname: a.labels.get("alertname").cloned(), error: e.detail() });
                continue;
            }
            AlertRoute::NoPlugin(alertname) => {
                out.skipped_without_plugin_label.push(alertname);
                continue;
            }
            AlertRoute::Request(r) => r,
        };
        // One bad alert (say, an undeclared tenant label, or a tenant outside the
        // token's scope) must not drop the others.
        match validate(&app.config, &declared, scope, r, now) {
            Ok(mut req) => {
                req.alert = Some(crate::model::AlertOrigin { labels: a.labels.clone(), starts_at: a.starts_at.clone(), generator_url: a.generator_url.clone() });
                let (task_id, created, state) = submit(app, actor, req).await?;
                out.tasks.push(AlertTask { task_id, state, created });
            }
            Err(e) => out.rejected.push(RejectedAlert { alertname: a.labels.get("alertname").cloned(), error: e.detail() }),
        }
    }
    Ok(out)
}

/// Notes a resolved alert in the history of the task its firing opened (once,
/// however often Alertmanager repeats it) and audits it. None when no task of a
/// tenant the caller may see matches.
async fn record_resolved(app: &App, actor: &str, scope: &Scope, done: &ResolvedAlert) -> ApiResult<Option<TaskRef>> {
    if !scope.allows(&done.tenant) {
        return Ok(None);
    }
    let Some(task) = app.store.task_by_event(&done.tenant, &done.error_event_id).await? else {
        return Ok(None);
    };
    let detail = format!("alert resolved{}", done.ends_at.as_deref().map(|e| format!(" at {e}")).unwrap_or_default());
    if app.store.note_once(&task.id, task.state, "alert resolved", &detail).await? {
        app.audit.append(&app.store, actor, "alert.resolved", &task.id, json!({"tenant": task.tenant, "ends_at": done.ends_at})).await?;
    }
    Ok(Some(TaskRef { task_id: task.id, state: task.state }))
}

/// What one alert of a webhook asks for.
#[derive(Debug)]
pub enum AlertRoute {
    /// A resolved alert: nothing to diagnose; the task its firing opened, when the
    /// alert names a plugin and a tenant.
    Resolved(Option<ResolvedAlert>),
    /// No `plugin`/`plugin_id` label: not casefile's alert (its `alertname`).
    NoPlugin(String),
    /// No `tenant` label and no `alerts.default_tenant`.
    NoTenant,
    Request(ReportRequest),
}

/// The task a resolved alert belongs to: the tenant and error event id its firing had.
#[derive(Debug, PartialEq)]
pub struct ResolvedAlert {
    pub tenant: String,
    pub error_event_id: String,
    pub ends_at: Option<String>,
}

/// An alert's error event id: Alertmanager keeps `fingerprint` and `startsAt` from
/// firing to resolved, and a new firing of the same rule starts anew.
fn alert_event_id(a: &Alert) -> String {
    format!("alert:{}:{}", a.fingerprint.as_deref().unwrap_or("nofp"), a.starts_at.as_deref().unwrap_or(""))
}

/// Reads one alert: the plugin and tenant from its labels, the window from
/// `startsAt` (five minutes before it, to now), the message from its annotations.
pub fn alert_request(a: &Alert, now: DateTime<Utc>, default_window_minutes: i64, default_tenant: Option<&str>) -> AlertRoute {
    let label = |k: &str| a.labels.get(k).cloned();
    let plugin = label("plugin").or_else(|| label("plugin_id"));
    let tenant = label("tenant").or_else(|| default_tenant.filter(|t| !t.is_empty()).map(str::to_string));
    if a.status.as_deref() == Some("resolved") {
        let done = plugin.and(tenant).map(|tenant| ResolvedAlert { tenant, error_event_id: alert_event_id(a), ends_at: a.ends_at.clone() });
        return AlertRoute::Resolved(done);
    }
    let Some(plugin) = plugin else {
        return AlertRoute::NoPlugin(label("alertname").unwrap_or_default());
    };
    let Some(tenant) = tenant else {
        return AlertRoute::NoTenant;
    };
    let starts = a.starts_at.as_deref().and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|d| d.with_timezone(&Utc));
    let fallback = now.checked_sub_signed(chrono::Duration::minutes(default_window_minutes)).unwrap_or(now);
    let start = starts.and_then(|s| s.checked_sub_signed(chrono::Duration::minutes(5))).unwrap_or(fallback);
    let end = now.max(start + chrono::Duration::seconds(1));
    AlertRoute::Request(ReportRequest {
        error_event_id: alert_event_id(a),
        tenant,
        plugin: PluginRef { id: plugin, version: label("plugin_version") },
        environments: label("environment").or_else(|| label("env")).map(|e| vec![e]),
        window: Some(WindowIn { start: start.to_rfc3339(), end: end.to_rfc3339() }),
        trace_ids: None,
        message: a.annotations.get("summary").or_else(|| a.annotations.get("description")).cloned(),
        regression: None,
    })
}

/// The task, if it exists and belongs to a tenant the caller may see: another
/// tenant's task is answered exactly like one that never existed.
async fn load_task(app: &App, who: &Principal, id: &str) -> ApiResult<crate::store::TaskRow> {
    match app.store.task(id).await? {
        Some(t) if who.scope.allows(&t.tenant) => Ok(t),
        _ => Err(ApiError::not_found("unknown_task", format!("no task `{id}`"))),
    }
}

/// The task's ticket, and its undelivered action when there is one: a task waiting
/// for the ticket system shows the fingerprint's ticket (perhaps not created yet).
async fn ticket_view(app: &App, t: &crate::store::TaskRow) -> anyhow::Result<Option<TicketView>> {
    let undelivered = app.store.outbox_of_task(&t.id).await?.into_iter().rev().find(|e| e.state != "delivered");
    let row = match (&t.ticket_id, &t.fingerprint) {
        (Some(tid), _) => app.store.ticket_by_id(&t.tenant, tid).await?,
        (None, Some(fp)) if undelivered.is_some() => app.store.ticket(&t.tenant, fp).await?,
        _ => None,
    };
    let delivery = undelivered.map(|e| DeliveryView {
        detail: match e.state.as_str() {
            "pending" => crate::ticket::waiting_detail(&e),
            other => format!("ticket {} {other}: {}", e.action, e.answer.as_deref().unwrap_or("")),
        },
        next_attempt_at: (e.state == "pending").then_some(e.next_at),
        action: e.action,
        state: e.state,
        since: e.created_at,
        attempts: e.attempts,
        answer: e.answer,
    });
    Ok(row.map(|r| TicketView {
        id: r.ticket_id,
        url: r.url,
        state: r.state,
        occurrences: r.occurrences,
        previous_id: r.previous_ticket_id,
        delivery,
    }))
}

/// Task state, report and ticket.
#[utoipa::path(get, path = "/internal/debug/report/{task_id}", tag = "diagnosis",
    params(("task_id" = String, Path, description = "The task's id, `tsk_...`")),
    responses(
        (status = 200, description = "The task", body = TaskView),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn get_report(State(app): State<Arc<App>>, Caller(who): Caller, ApiPath(id): ApiPath<String>) -> ApiResult<Json<TaskView>> {
    let t = load_task(&app, &who, &id).await?;
    if t.report.is_some() {
        app.audit.append(&app.store, &who.audit_actor(), "report.read", &t.id, json!({"tenant": t.tenant})).await?;
    }
    let ticket = ticket_view(&app, &t).await?;
    let report = t.report.as_ref().map(Report::from_stored).transpose().map_err(|e| anyhow::anyhow!("task {}: {e:#}", t.id))?;
    let components = Vec::<TaskComponent>::deserialize(&t.components).unwrap_or_default();
    let error = t.error.as_ref().map(|e| {
        ErrorDetail::deserialize(e).unwrap_or_else(|_| ErrorDetail { code: "failed".into(), message: e.to_string() })
    });
    let history = app.store.task_events(&t.id).await?.into_iter().map(|(at, state, detail)| TaskEvent { at, state, detail }).collect();
    Ok(Json(TaskView {
        task_id: t.id,
        state: t.state,
        tenant: t.tenant,
        plugin: t.request.plugin,
        error_event_id: t.request.error_event_id,
        report,
        ticket,
        components,
        error,
        bundle_sha256: t.bundle_sha256,
        history,
    }))
}

/// The masked bundle: a tar.gz of the report, the masked records and a manifest of SHA-256 sums.
#[utoipa::path(get, path = "/internal/debug/report/{task_id}/bundle", tag = "diagnosis",
    params(("task_id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The bundle", content_type = "application/gzip", body = Vec<u8>,
            headers(("x-content-sha256" = String, description = "SHA-256 of the bundle, hex"))),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "The report is not written yet", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn get_bundle(State(app): State<Arc<App>>, Caller(who): Caller, ApiPath(id): ApiPath<String>) -> ApiResult<Response> {
    let t = load_task(&app, &who, &id).await?;
    let Some(sha) = t.bundle_sha256 else {
        return Err(ApiError::new(StatusCode::CONFLICT, "report_not_ready", format!("task is `{}`; the bundle exists once the report is written", t.state)));
    };
    let bytes = app.store.get_blob(&sha)?.ok_or_else(|| anyhow::anyhow!("bundle blob {sha} is missing"))?;
    app.audit.append(&app.store, &who.audit_actor(), "bundle.read", &t.id, json!({"tenant": t.tenant, "sha256": sha})).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{id}.tar.gz\"")),
            (header::HeaderName::from_static("x-content-sha256"), sha),
        ],
        bytes,
    )
        .into_response())
}

/// The report as Markdown (what tickets carry).
#[utoipa::path(get, path = "/internal/debug/report/{task_id}/markdown", tag = "diagnosis",
    params(("task_id" = String, Path, description = "The task's id")),
    responses(
        (status = 200, description = "The Markdown", content_type = "text/markdown", body = String),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "The report is not written yet", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn get_markdown(State(app): State<Arc<App>>, Caller(who): Caller, ApiPath(id): ApiPath<String>) -> ApiResult<Response> {
    let t = load_task(&app, &who, &id).await?;
    let md = t.report_md.ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "report_not_ready", format!("task is `{}`", t.state)))?;
    app.audit.append(&app.store, &who.audit_actor(), "report.read", &t.id, json!({"tenant": t.tenant, "format": "markdown"})).await?;
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], md).into_response())
}

/// The ticket system's webhook: a person closed, reopened or reassigned a ticket.
/// Authenticated by `X-Hub-Signature-256` (HMAC-SHA256 of the body with
/// `ticket.webhook_secret`), GitLab's `X-Gitlab-Token` (the secret itself) or a
/// service token; the access table marks the route
/// public because the signature is checked here.
#[utoipa::path(post, path = "/internal/ticket/events", tag = "diagnosis",
    request_body(content = Object, description = "`{\"ticket_id\", \"state\": \"closed\"|\"open\", \"assignee\"?, \"actor\"?, \"tenant\"?}`, a GitHub issues event or a GitLab issue event"),
    responses(
        (status = 200, description = "Applied to the ticket and its task", body = crate::ticket::sync::Applied),
        (status = 400, description = "Not a ticket event casefile follows", body = ErrorBody),
        (status = 401, description = "Neither a valid signature nor a service token", body = ErrorBody),
        (status = 404, description = "No ticket with that id (in the caller's tenants)", body = ErrorBody),
    ))]
async fn ticket_events(State(app): State<Arc<App>>, headers: axum::http::HeaderMap, RawBody(body): RawBody) -> ApiResult<Json<crate::ticket::sync::Applied>> {
    let signature = headers.get("x-hub-signature-256").and_then(|v| v.to_str().ok());
    let gitlab_token = headers.get("x-gitlab-token").and_then(|v| v.to_str().ok());
    let secret = app.config.ticket.webhook_secret.as_deref().filter(|s| !s.is_empty());
    let scope = match (signature, gitlab_token, secret) {
        (Some(sig), _, Some(secret)) if crate::ticket::sync::signed(secret, &body, sig) => Scope::All,
        (Some(_), _, _) => return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "the X-Hub-Signature-256 signature does not match ticket.webhook_secret")),
        (None, Some(token), Some(secret)) if crate::ticket::sync::gitlab_token_matches(secret, token) => Scope::All,
        (None, Some(_), _) => return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "the X-Gitlab-Token does not match ticket.webhook_secret")),
        (None, None, _) => {
            let bearer = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).map(str::trim);
            let who = match bearer {
                Some(t) => crate::access::authenticate(&app.store, t).await?,
                None => None,
            };
            match who {
                Some(p) if p.role == Role::Service || p.role == Role::Admin => p.scope,
                _ => return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "sign the webhook (X-Hub-Signature-256 with ticket.webhook_secret) or send a service token")),
            }
        }
    };
    let value: Value = serde_json::from_slice(&body).map_err(|e| ApiError::bad("invalid_json", format!("request body is not valid JSON: {e}")))?;
    let event = crate::ticket::sync::parse(&value).map_err(|m| ApiError::bad("invalid_event", m))?;
    let applied = crate::ticket::sync::apply(&app, &event, &scope)
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_ticket", format!("no ticket `{}`", event.ticket_id)))?;
    app.audit
        .append(&app.store, "ticket-system", &format!("ticket.{}", applied.effect), &applied.ticket_id, json!({"task_id": applied.task_id, "by": event.by, "change": format!("{:?}", event.change)}))
        .await?;
    Ok(Json(applied))
}

/// Runs a failed diagnosis again from the start (after its cause was fixed: a
/// policy, a binding, a source). The same error event id keeps the same task.
#[utoipa::path(post, path = "/internal/debug/report/{task_id}/retry", tag = "diagnosis",
    params(("task_id" = String, Path, description = "The failed task")),
    request_body(content = Option<RetryRequest>),
    responses(
        (status = 202, description = "Queued again", body = TaskRef),
        (status = 404, description = "No such task (or not yours)", body = ErrorBody),
        (status = 409, description = "The task has not failed", body = ErrorBody),
    ))]
async fn retry_task(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJsonOrDefault(r): ApiJsonOrDefault<RetryRequest>,
) -> ApiResult<(StatusCode, Json<TaskRef>)> {
    let t = load_task(&app, &who, &id).await?;
    if !app.store.retry_failed(&id).await? {
        return Err(ApiError::new(StatusCode::CONFLICT, "not_failed", format!("task is `{}`; only a failed task is retried", t.state)));
    }
    app.audit.append(&app.store, &who.audit_actor(), "task.retried", &id, json!({"tenant": t.tenant, "error": t.error, "reason": r.reason})).await?;
    app.wake.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(TaskRef { task_id: id, state: TaskState::Queued })))
}

/// Run regression for the fix; on pass the ticket is closed.
#[utoipa::path(post, path = "/internal/debug/report/{task_id}/regression", tag = "diagnosis",
    params(("task_id" = String, Path, description = "The task's id")),
    request_body(content = RegressionRequest, description = "May be empty"),
    responses(
        (status = 202, description = "Verifying", body = TaskRef),
        (status = 400, description = "Not JSON or not the request's shape", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "The task is not awaiting a fix, or has regression `none`", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn start_regression(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJsonOrDefault(r): ApiJsonOrDefault<RegressionRequest>,
) -> ApiResult<(StatusCode, Json<TaskRef>)> {
    if let Some(x) = &r.git_ref {
        id_ok("ref", x)?;
    }
    let t = load_task(&app, &who, &id).await?;
    if t.request.regression == RegressionStrategy::None {
        return Err(ApiError::new(StatusCode::CONFLICT, "no_regression", "the task was created with regression strategy `none`"));
    }
    app.store.set_regression_ref(&id, r.git_ref.as_deref()).await?;
    if !app.store.transition(&id, &[TaskState::AwaitingFix], TaskState::Verifying, None).await? {
        let now = load_task(&app, &who, &id).await?;
        if now.state == TaskState::Verifying {
            return Ok((StatusCode::ACCEPTED, Json(TaskRef { task_id: id, state: now.state })));
        }
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_awaiting_fix",
            format!("task is `{}`; regression runs once the report and ticket are done (state awaiting_fix)", now.state),
        ));
    }
    app.audit.append(&app.store, &who.audit_actor(), "regression.requested", &id, json!({"tenant": t.tenant, "ref": r.git_ref})).await?;
    app.wake.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(TaskRef { task_id: id, state: TaskState::Verifying })))
}

/// Give up on the task's ticket actions that the ticket system has not taken: they
/// are no longer retried, and a task waiting on them moves on (its ticket is then
/// handed off manually).
#[utoipa::path(post, path = "/internal/debug/report/{task_id}/ticket/cancel", tag = "diagnosis",
    params(("task_id" = String, Path, description = "The task's id")),
    request_body(content = CancelDelivery, description = "May be empty"),
    responses(
        (status = 200, description = "Cancelled", body = DeliveryCancelled),
        (status = 400, description = "Not JSON or not the request's shape", body = ErrorBody),
        (status = 404, description = "No such task", body = ErrorBody),
        (status = 409, description = "Nothing of the task waits for the ticket system", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn cancel_ticket_delivery(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJsonOrDefault(r): ApiJsonOrDefault<CancelDelivery>,
) -> ApiResult<Json<DeliveryCancelled>> {
    let t = load_task(&app, &who, &id).await?;
    let actor = who.audit_actor();
    let n = app.store.outbox_cancel_task(&t.id, &actor).await?;
    if n == 0 {
        return Err(ApiError::new(StatusCode::CONFLICT, "nothing_pending", "no ticket action of this task waits for the ticket system"));
    }
    app.audit.append(&app.store, &actor, "ticket.cancelled", &t.id, json!({"tenant": t.tenant, "cancelled": n, "reason": r.reason})).await?;
    app.wake.notify_waiters();
    Ok(Json(DeliveryCancelled { task_id: t.id, cancelled: n }))
}

/// Upload a component; it is validated as a component of the declared world before
/// anything is stored.
/// The hash-chained audit log.
#[utoipa::path(get, path = "/internal/audit", tag = "audit",
    responses((status = 200, description = "The entries", body = AuditEntries), (status = 500, description = "The host failed", body = ErrorBody)))]
async fn audit_entries(State(app): State<Arc<App>>, Caller(who): Caller) -> ApiResult<Json<AuditEntries>> {
    all_tenants(&who, "the audit log")?;
    Ok(Json(AuditEntries { entries: Audit::entries(&app.store, 10_000).await? }))
}

/// Checks the whole audit chain and names the first entry that does not hold.
#[utoipa::path(get, path = "/internal/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "The outcome (`intact` false and `first_broken` when the chain is broken)", body = Verification),
        (status = 403, description = "The token is scoped to some tenants", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn audit_verify(State(app): State<Arc<App>>, Caller(who): Caller) -> ApiResult<Json<Verification>> {
    all_tenants(&who, "the audit log")?;
    Ok(Json(Audit::verify(&app.store).await?))
}

/// A closed task's audit trail, archived when its regression passed, checked as it
/// is read. Another tenant's task is answered like one that never existed.
#[utoipa::path(get, path = "/internal/audit/archives/{task_id}", tag = "audit",
    params(("task_id" = String, Path, description = "The task")),
    responses(
        (status = 200, description = "The archive (`intact` false when it no longer matches its hash)", body = crate::audit::ArchiveView),
        (status = 404, description = "No archive for this task (not closed by a passing regression, or not yours)", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn audit_archive(State(app): State<Arc<App>>, Caller(who): Caller, ApiPath(task_id): ApiPath<String>) -> ApiResult<Json<crate::audit::ArchiveView>> {
    match Audit::archive(&app.store, &task_id).await? {
        Some(a) if who.scope.allows(&a.tenant) => Ok(Json(a)),
        _ => Err(ApiError::not_found("no_archive", format!("no audit archive for task `{task_id}`; a task's trail is archived when a passing regression closes it"))),
    }
}

/// What spans every tenant needs a token scoped to all of them.
fn all_tenants(who: &Principal, what: &str) -> ApiResult<()> {
    match who.scope {
        Scope::All => Ok(()),
        Scope::Tenants(_) => Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", format!("{what} spans every tenant; it needs a token scoped to all tenants (\"*\")"))),
    }
}

// ---- tokens --------------------------------------------------------------------

/// A token to make.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[schema(min_length = 1, max_length = 128)]
    pub name: String,
    pub role: Role,
    /// The tenants it may see, or `["*"]` for all.
    pub tenants: Vec<String>,
    /// Days until it expires; never when absent.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<i64>,
}

/// A new token: `token` is shown only here and stored only as its hash.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenCreated {
    pub id: String,
    pub token: String,
    pub name: String,
    pub role: Role,
    pub tenants: Vec<String>,
    /// Milliseconds since the Unix epoch; null when it does not expire.
    pub expires_at: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenInfo>,
}

/// Make a token (admin). The answer holds the token; nothing else ever will.
#[utoipa::path(post, path = "/internal/tokens", tag = "access",
    request_body = TokenRequest,
    responses(
        (status = 201, description = "The token, shown once", body = TokenCreated),
        (status = 400, description = "Not a token request (name, role, tenants, expiry)", body = ErrorBody),
        (status = 403, description = "Not an admin, or tenants beyond the caller's own", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn create_token(State(app): State<Arc<App>>, Caller(who): Caller, ApiJson(r): ApiJson<TokenRequest>) -> ApiResult<(StatusCode, Json<TokenCreated>)> {
    let scope = Scope::from_list(&r.tenants).map_err(|e| ApiError::bad("invalid_request", format!("tenants: {e}")))?;
    if !who.scope.covers(&scope) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "a token cannot give tenants beyond the caller's own"));
    }
    let expires_in = match r.expires_in_days {
        None => None,
        Some(d) if (1..=3650).contains(&d) => Some(chrono::Duration::days(d)),
        Some(d) => return Err(ApiError::bad("invalid_request", format!("expires_in_days must be 1 to 3650, got {d}"))),
    };
    let new = crate::access::NewToken { name: &r.name, role: r.role, scope, expires_in };
    let (info, token) = crate::access::create_token(&app.store, &app.audit, &who.audit_actor(), new)
        .await
        .map_err(|e| if e.to_string().contains("name") { ApiError::bad("invalid_request", format!("{e:#}")) } else { ApiError::internal(e) })?;
    Ok((StatusCode::CREATED, Json(TokenCreated { id: info.id, token, name: info.name, role: info.role, tenants: info.tenants, expires_at: info.expires_at })))
}

/// Every token (admin): name, role, tenants, expiry and revocation; never the token.
#[utoipa::path(get, path = "/internal/tokens", tag = "access",
    responses((status = 200, description = "The tokens", body = TokenList), (status = 500, description = "The host failed", body = ErrorBody)))]
async fn list_tokens(State(app): State<Arc<App>>) -> ApiResult<Json<TokenList>> {
    Ok(Json(TokenList { tokens: crate::access::list_tokens(&app.store).await? }))
}

/// Revoke a token (admin); it stops working at once.
#[utoipa::path(delete, path = "/internal/tokens/{id}", tag = "access",
    params(("id" = String, Path, description = "The token's id, `tok_...`")),
    responses(
        (status = 200, description = "The revoked token", body = TokenInfo),
        (status = 404, description = "No such token", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn revoke_token(State(app): State<Arc<App>>, Caller(who): Caller, ApiPath(id): ApiPath<String>) -> ApiResult<Json<TokenInfo>> {
    crate::access::revoke_token(&app.store, &app.audit, &who.audit_actor(), &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("unknown_token", format!("no token `{id}`")))
}

/// Masked records sampled for security review.
#[utoipa::path(get, path = "/internal/review", tag = "review", security(("bearer" = [])),
    params(ReviewQuery),
    responses(
        (status = 200, description = "The samples", body = ReviewSamples),
        (status = 401, description = "No bearer token", body = ErrorBody),
        (status = 403, description = "Not the security role's token, or review is disabled", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn review_list(State(app): State<Arc<App>>, Caller(who): Caller, ApiQuery(q): ApiQuery<ReviewQuery>) -> ApiResult<Json<ReviewSamples>> {
    // Filtered to the caller's tenants.
    let samples = match (&who.scope, q.tenant.as_deref()) {
        (scope, Some(t)) if !scope.allows(t) => Vec::new(),
        (Scope::Tenants(mine), None) => {
            let mut all = Vec::new();
            for t in mine {
                all.extend(crate::mask::review::list(&app.store, Some(t), q.status.as_deref(), 1000).await?);
            }
            all
        }
        (_, tenant) => crate::mask::review::list(&app.store, tenant, q.status.as_deref(), 1000).await?,
    };
    Ok(Json(ReviewSamples { samples }))
}

/// A tenant's confirmed misses as test cases (`{"line", "expected_masked"}` per line),
/// for `casefile mask --check`.
#[utoipa::path(get, path = "/internal/review/cases", tag = "review", security(("bearer" = [])),
    params(ReviewQuery),
    responses(
        (status = 200, description = "One case per line", content_type = "application/x-ndjson", body = String),
        (status = 400, description = "No tenant named", body = ErrorBody),
        (status = 401, description = "No bearer token", body = ErrorBody),
        (status = 403, description = "Not the security role's token, or review is disabled", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn review_cases(State(app): State<Arc<App>>, Caller(who): Caller, ApiQuery(q): ApiQuery<ReviewQuery>) -> ApiResult<Response> {
    let tenant = q.tenant.ok_or_else(|| ApiError::bad("invalid_request", "say which tenant: ?tenant=T"))?;
    if !who.scope.allows(&tenant) {
        return Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], String::new()).into_response());
    }
    let body = crate::mask::review::cases(&app.store, &tenant).await?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

/// Mark a review sample: `miss` (naming what should have been masked) or `ok`.
#[utoipa::path(post, path = "/internal/review/{id}", tag = "review", security(("bearer" = [])),
    params(("id" = String, Path, description = "The sample's id")),
    request_body = ReviewVerdict,
    responses(
        (status = 200, description = "The marked sample", body = serde_json::Value),
        (status = 400, description = "Not a verdict", body = ErrorBody),
        (status = 401, description = "No bearer token", body = ErrorBody),
        (status = 403, description = "Not the security role's token, or review is disabled", body = ErrorBody),
        (status = 404, description = "No such sample", body = ErrorBody),
        (status = 500, description = "The host failed", body = ErrorBody),
    ))]
async fn review_mark(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(v): ApiJson<ReviewVerdict>,
) -> ApiResult<Json<Value>> {
    if !matches!(v.verdict.as_str(), "miss" | "ok") {
        return Err(ApiError::bad("invalid_request", format!("verdict must be \"miss\" or \"ok\", got \"{}\"", v.verdict)));
    }
    if v.verdict == "miss" && v.expected_masked.iter().all(|e| e.trim().is_empty()) {
        return Err(ApiError::bad("invalid_request", "a miss names what should have been masked in `expected_masked`"));
    }
    let unknown = || ApiError::not_found("unknown_sample", format!("no review sample `{id}`"));
    match crate::mask::review::tenant_of(&app.store, &id).await? {
        Some(t) if who.scope.allows(&t) => {}
        _ => return Err(unknown()),
    }
    let marked = crate::mask::review::mark(&app.store, &id, &v.verdict, v.note.as_deref(), &v.expected_masked)
        .await?
        .ok_or_else(unknown)?;
    app.audit.append(&app.store, &who.audit_actor(), "review.marked", &id, json!({"verdict": v.verdict})).await?;
    Ok(Json(marked))
}

/// The JSON Schema (draft 2020-12) of the report, generated from its type.
#[utoipa::path(get, path = "/internal/report.schema.json", tag = "diagnosis",
    responses((status = 200, description = "The report's JSON Schema", content_type = "application/schema+json", body = serde_json::Value)))]
async fn report_schema() -> Response {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    let schema = SCHEMA.get_or_init(crate::report::json_schema);
    ([(header::CONTENT_TYPE, "application/schema+json")], Json(schema)).into_response()
}

/// Liveness: answers once the database does.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Healthy", body = Health), (status = 500, description = "The database does not answer", body = ErrorBody)))]
async fn healthz(State(app): State<Arc<App>>) -> ApiResult<Json<Health>> {
    app.store.task_count().await?;
    Ok(Json(Health { status: "ok".into(), host: app.host_id.clone() }))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
async fn metrics(State(app): State<Arc<App>>) -> Response {
    // The auto-close rate comes from the database at each scrape: every host
    // reports the same figure, and it survives restarts.
    match app.store.autoclose_counts().await {
        Ok((ended, delivered)) => {
            metrics::gauge!("debug_ticket_autoclose_attempts").set(ended as f64);
            metrics::gauge!("debug_ticket_autoclosed").set(delivered as f64);
            if ended > 0 {
                metrics::gauge!("debug_ticket_autoclose_rate").set(delivered as f64 / ended as f64);
            }
        }
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "cannot read the auto-close counts"),
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()).into_response()
}

/// This description.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI description", body = serde_json::Value)))]
async fn openapi() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(openapi_document())
}
