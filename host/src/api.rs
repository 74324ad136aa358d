//! The HTTP API. Every error is `{"error": {"code", "message"}}` with a 4xx/5xx
//! status and a message that says what is wrong and what to do.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::App;
use crate::config::ComponentKind;
use crate::model::{DiagnosisRequest, PluginRef, RegressionStrategy, TaskState, Window};
use crate::registry::Registry;

pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }
    fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }
    fn internal(e: anyhow::Error) -> ApiError {
        tracing::error!(error = %format!("{e:#}"), "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; see its log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": {"code": self.code, "message": self.message}}))).into_response()
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        ApiError::internal(e)
    }
}

type ApiResult<T> = Result<T, ApiError>;

pub fn router(app: Arc<App>) -> Router {
    let max_body = app.config.server.max_body_bytes;
    let max_component = app.config.server.max_component_bytes;
    Router::new()
        .route("/internal/debug/report", post(create_report))
        .route("/internal/debug/report/{task_id}", get(get_report))
        .route("/internal/debug/report/{task_id}/bundle", get(get_bundle))
        .route("/internal/debug/report/{task_id}/markdown", get(get_markdown))
        .route("/internal/debug/report/{task_id}/regression", post(start_regression))
        .route("/internal/debug/events", post(create_from_event))
        .route("/internal/debug/alerts", post(create_from_alertmanager))
        .route(
            "/internal/components",
            get(list_components).post(upload_component).layer(DefaultBodyLimit::max(max_component)),
        )
        .route("/internal/audit", get(audit_entries))
        .route("/internal/review", get(review_list))
        .route("/internal/review/cases", get(review_cases))
        .route("/internal/review/{id}", post(review_mark))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint; see /openapi.json") })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(app)
}

/// Reads a body, turning axum's plain-text rejections into our error shape.
fn body(b: Result<Bytes, BytesRejection>) -> ApiResult<Bytes> {
    b.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("request body is over the limit: {}", r.body_text()))
        } else {
            ApiError::new(r.status(), "bad_body", r.body_text())
        }
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::bad("invalid_json", format!("request body is not valid JSON: {e}")))?;
    serde_json::from_value(v).map_err(|e| ApiError::bad("invalid_request", format!("request body does not match the schema: {e}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    pub error_event_id: String,
    pub tenant: String,
    pub plugin: PluginRef,
    #[serde(default)]
    pub environments: Option<Vec<String>>,
    #[serde(default)]
    pub window: Option<WindowIn>,
    #[serde(default)]
    pub trace_ids: Option<Vec<String>>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub regression: Option<RegressionIn>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowIn {
    pub start: String,
    pub end: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegressionIn {
    pub strategy: RegressionStrategy,
}

fn rfc3339(field: &str, s: &str) -> ApiResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| ApiError::bad("invalid_window", format!("window.{field} `{s}` is not an RFC 3339 time ({e}); e.g. 2026-01-02T03:04:05Z")))
}

fn id_ok(what: &str, s: &str) -> ApiResult<()> {
    if s.trim().is_empty() {
        return Err(ApiError::bad("invalid_request", format!("{what} must not be empty")));
    }
    if s.len() > 256 || s.chars().any(char::is_control) {
        return Err(ApiError::bad("invalid_request", format!("{what} must be at most 256 printable characters")));
    }
    Ok(())
}

/// Checks a request against the config and turns it into a stored request.
pub fn validate(app: &App, r: ReportRequest, now: DateTime<Utc>) -> ApiResult<DiagnosisRequest> {
    id_ok("error_event_id", &r.error_event_id)?;
    id_ok("plugin.id", &r.plugin.id)?;
    if app.config.tenant(&r.tenant).is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_tenant",
            format!("tenant `{}` is not declared in the config; declared: {}", r.tenant, app.config.tenants.keys().cloned().collect::<Vec<_>>().join(", ")),
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
        None => Window { start: now - chrono::Duration::minutes(app.config.pipeline.default_window_minutes), end: now },
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
    })
}

/// Creates the task (or finds the one for the same tenant and error event).
pub async fn submit(app: &App, req: DiagnosisRequest) -> ApiResult<(String, bool, TaskState)> {
    let id = format!("tsk_{}", uuid::Uuid::new_v4().simple());
    let (id, created) = app.store.create_task(&id, &req).await?;
    if created {
        app.audit
            .append(&app.store, "api", "task.created", &id, json!({"tenant": req.tenant, "plugin": req.plugin.id, "error_event_id": req.error_event_id}))
            .await?;
        app.wake.notify_waiters();
    }
    let state = app.store.task(&id).await?.map(|t| t.state).unwrap_or(TaskState::Queued);
    Ok((id, created, state))
}

fn created_response(id: String, created: bool, state: TaskState) -> Response {
    let status = if created { StatusCode::ACCEPTED } else { StatusCode::OK };
    (status, Json(json!({"task_id": id, "state": state}))).into_response()
}

async fn create_report(State(app): State<Arc<App>>, b: Result<Bytes, BytesRejection>) -> ApiResult<Response> {
    let r: ReportRequest = parse_json(&body(b)?)?;
    let req = validate(&app, r, Utc::now())?;
    let (id, created, state) = submit(&app, req).await?;
    Ok(created_response(id, created, state))
}

/// `plugin.debug.alert` events carry the report request's fields plus `type`.
async fn create_from_event(State(app): State<Arc<App>>, b: Result<Bytes, BytesRejection>) -> ApiResult<Response> {
    let mut v: Value = parse_json(&body(b)?)?;
    let Some(obj) = v.as_object_mut() else { return Err(ApiError::bad("invalid_request", "the event must be a JSON object")) };
    match obj.remove("type") {
        Some(Value::String(t)) if t == "plugin.debug.alert" => {}
        other => {
            return Err(ApiError::bad("invalid_event", format!("event type must be \"plugin.debug.alert\", got {}", other.map_or("nothing".into(), |t| t.to_string()))))
        }
    }
    let r: ReportRequest = serde_json::from_value(v).map_err(|e| ApiError::bad("invalid_request", format!("event does not match the schema: {e}")))?;
    let req = validate(&app, r, Utc::now())?;
    let (id, created, state) = submit(&app, req).await?;
    Ok(created_response(id, created, state))
}

/// Prometheus Alertmanager webhook (version 4): one task per firing alert that
/// names a plugin (label `plugin` or `plugin_id`).
async fn create_from_alertmanager(State(app): State<Arc<App>>, b: Result<Bytes, BytesRejection>) -> ApiResult<Response> {
    let v: Value = parse_json(&body(b)?)?;
    if v.get("version").and_then(Value::as_str) != Some("4") {
        return Err(ApiError::bad("invalid_alert", "expected an Alertmanager webhook payload with \"version\": \"4\""));
    }
    let alerts = v.get("alerts").and_then(Value::as_array).ok_or_else(|| ApiError::bad("invalid_alert", "payload has no `alerts` list"))?;
    let mut tasks = Vec::new();
    let mut skipped = Vec::new();
    let mut rejected = Vec::new();
    for a in alerts {
        let label = |k: &str| a.get("labels").and_then(|l| l.get(k)).and_then(Value::as_str).map(str::to_string);
        if a.get("status").and_then(Value::as_str) == Some("resolved") {
            continue;
        }
        let Some(plugin) = label("plugin").or_else(|| label("plugin_id")) else {
            skipped.push(label("alertname").unwrap_or_default());
            continue;
        };
        let starts = a.get("startsAt").and_then(Value::as_str).and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|d| d.with_timezone(&Utc));
        let now = Utc::now();
        let start = starts.map(|s| s - chrono::Duration::minutes(5)).unwrap_or(now - chrono::Duration::minutes(app.config.pipeline.default_window_minutes));
        let fp = a.get("fingerprint").and_then(Value::as_str).unwrap_or("nofp");
        let r = ReportRequest {
            error_event_id: format!("alert:{fp}:{}", a.get("startsAt").and_then(Value::as_str).unwrap_or("")),
            tenant: label("tenant").unwrap_or_else(|| "default".into()),
            plugin: PluginRef { id: plugin, version: label("plugin_version") },
            environments: label("environment").or_else(|| label("env")).map(|e| vec![e]),
            window: Some(WindowIn { start: start.to_rfc3339(), end: now.max(start + chrono::Duration::seconds(1)).to_rfc3339() }),
            trace_ids: None,
            message: a.get("annotations").and_then(|x| x.get("summary").or_else(|| x.get("description"))).and_then(Value::as_str).map(str::to_string),
            regression: None,
        };
        // One bad alert (say, an undeclared tenant label) must not drop the others.
        match validate(&app, r, now) {
            Ok(req) => {
                let (id, created, state) = submit(&app, req).await?;
                tasks.push(json!({"task_id": id, "state": state, "created": created}));
            }
            Err(e) => rejected.push(json!({"alertname": label("alertname"), "error": {"code": e.code, "message": e.message}})),
        }
    }
    Ok((StatusCode::ACCEPTED, Json(json!({"tasks": tasks, "skipped_without_plugin_label": skipped, "rejected": rejected}))).into_response())
}

async fn load_task(app: &App, id: &str) -> ApiResult<crate::store::TaskRow> {
    app.store
        .task(id)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown_task", format!("no task `{id}`")))
}

async fn get_report(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let t = load_task(&app, &id).await?;
    let ticket = match &t.ticket_id {
        Some(tid) => app.store.ticket_by_id(&t.tenant, tid).await?.map(|r| json!({"id": r.ticket_id, "url": r.url, "state": r.state})),
        None => None,
    };
    let components: Vec<Value> = t
        .components
        .as_array()
        .map(|a| a.iter().map(|c| json!({"kind": c["kind"], "name": c["name"], "sha256": c["sha256"]})).collect())
        .unwrap_or_default();
    Ok(Json(json!({
        "task_id": t.id,
        "state": t.state,
        "tenant": t.tenant,
        "plugin": t.request.plugin,
        "error_event_id": t.request.error_event_id,
        "report": t.report,
        "ticket": ticket,
        "components": components,
        "error": t.error,
        "bundle_sha256": t.bundle_sha256,
        "history": app.store.task_events(&t.id).await?.into_iter().map(|(at, s, d)| json!({"at": at, "state": s, "detail": d})).collect::<Vec<_>>(),
    })))
}

async fn get_bundle(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Response> {
    let t = load_task(&app, &id).await?;
    let Some(sha) = t.bundle_sha256 else {
        return Err(ApiError::new(StatusCode::CONFLICT, "report_not_ready", format!("task is `{}`; the bundle exists once the report is written", t.state)));
    };
    let bytes = app.store.get_blob(&sha)?.ok_or_else(|| anyhow::anyhow!("bundle blob {sha} is missing"))?;
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

async fn get_markdown(State(app): State<Arc<App>>, Path(id): Path<String>) -> ApiResult<Response> {
    let t = load_task(&app, &id).await?;
    let md = t.report_md.ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "report_not_ready", format!("task is `{}`", t.state)))?;
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], md).into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RegressionRequest {
    #[serde(default, rename = "ref")]
    git_ref: Option<String>,
}

async fn start_regression(State(app): State<Arc<App>>, Path(id): Path<String>, b: Result<Bytes, BytesRejection>) -> ApiResult<Response> {
    let bytes = body(b)?;
    let r: RegressionRequest = if bytes.iter().all(u8::is_ascii_whitespace) { RegressionRequest::default() } else { parse_json(&bytes)? };
    if let Some(x) = &r.git_ref {
        id_ok("ref", x)?;
    }
    let t = load_task(&app, &id).await?;
    if t.request.regression == RegressionStrategy::None {
        return Err(ApiError::new(StatusCode::CONFLICT, "no_regression", "the task was created with regression strategy `none`"));
    }
    app.store.set_regression_ref(&id, r.git_ref.as_deref()).await?;
    if !app.store.transition(&id, &[TaskState::AwaitingFix], TaskState::Verifying).await? {
        let now = load_task(&app, &id).await?;
        if now.state == TaskState::Verifying {
            return Ok((StatusCode::ACCEPTED, Json(json!({"task_id": id, "state": now.state}))).into_response());
        }
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_awaiting_fix",
            format!("task is `{}`; regression runs once the report and ticket are done (state awaiting_fix)", now.state),
        ));
    }
    app.audit.append(&app.store, "api", "regression.requested", &id, json!({"ref": r.git_ref})).await?;
    app.wake.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(json!({"task_id": id, "state": TaskState::Verifying}))).into_response())
}

#[derive(Deserialize)]
struct UploadQuery {
    kind: Option<String>,
    name: Option<String>,
}

async fn upload_component(State(app): State<Arc<App>>, Query(q): Query<UploadQuery>, b: Result<Bytes, BytesRejection>) -> ApiResult<Response> {
    let bytes = body(b)?;
    let kind_s = q.kind.ok_or_else(|| ApiError::bad("invalid_request", "say which world the component implements: ?kind=masker|connector|ticket-mapper"))?;
    let kind = ComponentKind::parse(&kind_s).ok_or_else(|| ApiError::bad("invalid_request", format!("unknown kind `{kind_s}`; use masker, connector or ticket-mapper")))?;
    let name = q.name.unwrap_or_else(|| format!("uploaded-{}", kind.as_str()));
    id_ok("name", &name)?;
    match Registry::upload(&app.runtime, &app.store, &app.audit, &name, kind, &bytes).await {
        Ok(sha) => Ok((StatusCode::CREATED, Json(json!({"sha256": sha, "kind": kind.as_str(), "name": name, "size": bytes.len()}))).into_response()),
        Err(e) => Err(ApiError::bad("invalid_component", format!("{e:#}"))),
    }
}

async fn list_components(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"components": app.store.components().await?})))
}

async fn audit_entries(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    Ok(Json(json!({"entries": crate::audit::Audit::entries(&app.store, 10_000).await?})))
}

/// The review queue holds records whose masking may have missed something: only the
/// security role (its bearer token from `auth.security_token`) reads it.
fn require_security(app: &App, headers: &axum::http::HeaderMap) -> ApiResult<()> {
    use sha2::{Digest, Sha256};
    let Some(expected) = app.config.auth.security_token.as_deref().filter(|t| !t.is_empty()) else {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "the review queue is disabled: no auth.security_token is configured"));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "send the security role's token as `Authorization: Bearer <token>`"))?;
    // Comparing digests keeps the comparison time independent of where they differ.
    if Sha256::digest(given.as_bytes()) != Sha256::digest(expected.as_bytes()) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "this token does not belong to the security role"));
    }
    Ok(())
}

#[derive(Deserialize)]
struct ReviewQuery {
    tenant: Option<String>,
    status: Option<String>,
}

async fn review_list(State(app): State<Arc<App>>, headers: axum::http::HeaderMap, Query(q): Query<ReviewQuery>) -> ApiResult<Json<Value>> {
    require_security(&app, &headers)?;
    let items = crate::mask::review::list(&app.store, q.tenant.as_deref(), q.status.as_deref(), 1000).await?;
    Ok(Json(json!({"samples": items})))
}

async fn review_cases(State(app): State<Arc<App>>, headers: axum::http::HeaderMap, Query(q): Query<ReviewQuery>) -> ApiResult<Response> {
    require_security(&app, &headers)?;
    let tenant = q.tenant.ok_or_else(|| ApiError::bad("invalid_request", "say which tenant: ?tenant=T"))?;
    let body = crate::mask::review::cases(&app.store, &tenant).await?;
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewVerdict {
    verdict: String,
    #[serde(default)]
    note: Option<String>,
    /// What should have been masked, for a miss.
    #[serde(default)]
    expected_masked: Vec<String>,
}

async fn review_mark(State(app): State<Arc<App>>, headers: axum::http::HeaderMap, Path(id): Path<String>, b: Result<Bytes, BytesRejection>) -> ApiResult<Json<Value>> {
    require_security(&app, &headers)?;
    let v: ReviewVerdict = parse_json(&body(b)?)?;
    if !matches!(v.verdict.as_str(), "miss" | "ok") {
        return Err(ApiError::bad("invalid_request", format!("verdict must be \"miss\" or \"ok\", got \"{}\"", v.verdict)));
    }
    if v.verdict == "miss" && v.expected_masked.iter().all(|e| e.trim().is_empty()) {
        return Err(ApiError::bad("invalid_request", "a miss names what should have been masked in `expected_masked`"));
    }
    let marked = crate::mask::review::mark(&app.store, &id, &v.verdict, v.note.as_deref(), &v.expected_masked)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "unknown_sample", format!("no review sample `{id}`")))?;
    app.audit.append(&app.store, "security", "review.marked", &id, json!({"verdict": v.verdict})).await?;
    Ok(Json(marked))
}

async fn healthz(State(app): State<Arc<App>>) -> ApiResult<Json<Value>> {
    app.store.task_count().await?;
    Ok(Json(json!({"status": "ok", "host": app.host_id})))
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], app.metrics.render()).into_response()
}

async fn openapi() -> Json<Value> {
    Json(crate::openapi::spec())
}
