//! Ticket: the tenant's ticket mapper turns the (masked) report into the ticket
//! system's request; the host sends it, but only to the configured endpoint's host.
//! One ticket per (tenant, fingerprint): a repeat failure updates or reopens it.

use anyhow::{anyhow, Context, Result};

use crate::app::App;
use crate::report::Report;
use crate::runtime::bindings::wit;
use crate::outbound::HttpGrant;
use crate::runtime::{convert, Loaded};
use crate::store::{TaskRow, TicketRow};

/// Where tickets go for this tenant, or None when tickets are handed off manually.
pub struct Target {
    pub target: wit::TicketTarget,
    pub mapper: std::sync::Arc<Loaded>,
}

/// The task's ticket target: the mapper it was diagnosed with (its report lists
/// it), unless that one has been revoked since; then the mapper bound now.
pub async fn target(app: &App, task: &TaskRow) -> Result<Option<Target>> {
    if !app.flag(crate::flags::TICKET_BRIDGE).await {
        return Ok(None);
    }
    let Some(endpoint) = app.config.ticket.endpoint.clone().filter(|e| !e.is_empty()) else { return Ok(None) };
    let recorded = task
        .components
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["slot"] == "ticket-mapper")
        .and_then(|c| c["sha256"].as_str().map(str::to_string));
    let mapper = match recorded {
        Some(sha) if crate::registry::allowed(&app.store, &sha).await? => {
            Some(app.registry.load_sha(&app.store, &app.runtime, &sha, crate::config::ComponentKind::TicketMapper).await?)
        }
        _ => app.registry.resolve(&app.config, &app.runtime, &app.store, &task.tenant).await?.mapper,
    };
    let Some(mapper) = mapper else { return Ok(None) };
    Ok(Some(Target { target: wit::TicketTarget { endpoint, settings: app.config.ticket.settings_json() }, mapper }))
}

fn ticket_ref(row: &TicketRow) -> wit::TicketRef {
    wit::TicketRef { id: row.ticket_id.clone(), url: row.url.clone(), state: convert::ticket_state(&row.state) }
}

async fn summary(app: &App, task: &TaskRow) -> Result<wit::ReportSummary> {
    let report = Report::from_stored(task.report.as_ref().context("the task has no report yet")?)?;
    let tenant = crate::tenants::lookup(&app.config, &app.store, &task.tenant).await?;
    let report_url = app
        .config
        .server
        .public_url
        .as_ref()
        .map(|u| format!("{}/internal/debug/report/{}", u.trim_end_matches('/'), task.id));
    Ok(wit::ReportSummary {
        task_id: task.id.clone(),
        tenant: task.tenant.clone(),
        plugin_id: task.request.plugin.id.clone(),
        plugin_version: task.request.plugin.version.clone(),
        error_event_id: task.request.error_event_id.clone(),
        fingerprint: task.fingerprint.clone().unwrap_or_default(),
        title: report.title,
        severity: report.severity.wit(),
        environments: task.request.environments.clone(),
        owners: tenant.map(|t| t.owners).unwrap_or_default(),
        markdown: task.report_md.clone().unwrap_or_default(),
        report_url,
    })
}

/// Opens the ticket for the task's fingerprint, or updates/reopens the one there is.
pub async fn open_or_update(app: &App, t: &Target, task: &TaskRow) -> Result<TicketRow> {
    let fp = task.fingerprint.clone().context("the task has no fingerprint yet")?;
    let existing = app.store.ticket(&task.tenant, &fp).await?;
    let s = summary(app, task).await?;
    let (action, current, comment) = match &existing {
        // This task already opened it (a retry after a crash): nothing to send.
        Some(row) if row.task_id == task.id => return Ok(row.clone()),
        Some(row) if row.state == "closed" => (
            wit::TicketAction::Reopen,
            Some(row),
            format!("The failure came back (task {}, error event {}).", task.id, task.request.error_event_id),
        ),
        Some(row) => (
            wit::TicketAction::Update,
            Some(row),
            format!("Seen again (task {}, error event {}).", task.id, task.request.error_event_id),
        ),
        None => (wit::TicketAction::Create, None, String::new()),
    };
    let current_ref = current.map(ticket_ref);
    let got = send(app, t, action, &s, current_ref.as_ref(), &comment).await?;
    let row = TicketRow {
        tenant: task.tenant.clone(),
        fingerprint: fp,
        ticket_id: if got.id.is_empty() { current_ref.map(|r| r.id).unwrap_or_default() } else { got.id },
        url: got.url.or_else(|| current.and_then(|r| r.url.clone())),
        state: convert::ticket_state_word(&got.state),
        task_id: task.id.clone(),
    };
    if row.ticket_id.is_empty() {
        return Err(anyhow!("the ticket system did not say which ticket it opened"));
    }
    app.store.upsert_ticket(&row).await?;
    app.store.set_task_ticket(&task.id, &row.ticket_id).await?;
    metrics::counter!("casefile_tickets_total", "action" => action_name(action)).increment(1);
    app.audit
        .append(&app.store, "pipeline", &format!("ticket.{}", action_name(action)), &row.ticket_id, serde_json::json!({"task_id": task.id, "fingerprint": row.fingerprint}))
        .await?;
    Ok(row)
}

/// Moves the task's ticket to closed (`close`) or back to open (`reopen`).
pub async fn transition(app: &App, t: &Target, task: &TaskRow, action: wit::TicketAction, comment: &str) -> Result<Option<TicketRow>> {
    let Some(id) = &task.ticket_id else { return Ok(None) };
    let Some(mut row) = app.store.ticket_by_id(&task.tenant, id).await? else { return Ok(None) };
    let s = summary(app, task).await?;
    let current = ticket_ref(&row);
    let got = send(app, t, action, &s, Some(&current), comment).await?;
    row.state = convert::ticket_state_word(&got.state);
    app.store.upsert_ticket(&row).await?;
    metrics::counter!("casefile_tickets_total", "action" => action_name(action)).increment(1);
    app.audit
        .append(&app.store, "pipeline", &format!("ticket.{}", action_name(action)), &row.ticket_id, serde_json::json!({"task_id": task.id, "comment": comment}))
        .await?;
    Ok(Some(row))
}

/// The only place a mapper's requests may go: the ticket endpoint's host and port. A
/// mapper builds requests; it does not choose where report data goes.
fn endpoint_grant(target: &wit::TicketTarget) -> Result<HttpGrant> {
    let endpoint = &target.endpoint;
    let endpoint_host = reqwest::Url::parse(endpoint)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
        .with_context(|| format!("ticket endpoint `{endpoint}` is not a URL"))?;
    Ok(HttpGrant::endpoint(&endpoint_host))
}

/// Checks a mapper's request against the endpoint grant, saying why it is refused.
pub fn request_url(target: &wit::TicketTarget, req: &wit::HttpRequest) -> Result<reqwest::Url> {
    endpoint_grant(target)?
        .check(&req.url)
        .map_err(|e| anyhow!("built a request outside the ticket endpoint {}: {e}", target.endpoint))
}

fn action_name(a: wit::TicketAction) -> &'static str {
    match a {
        wit::TicketAction::Create => "create",
        wit::TicketAction::Update => "update",
        wit::TicketAction::Close => "close",
        wit::TicketAction::Reopen => "reopen",
    }
}

async fn send(
    app: &App,
    t: &Target,
    action: wit::TicketAction,
    s: &wit::ReportSummary,
    ticket: Option<&wit::TicketRef>,
    comment: &str,
) -> Result<wit::TicketRef> {
    let req = app.runtime.build_ticket_request(&t.mapper, &t.target, action, s, ticket, comment).await?;
    let endpoint = &t.target.endpoint;
    // Refused here with the mapper's name in the message; outbound checks the same
    // grant again as it sends, as for every outbound request.
    request_url(&t.target, &req).with_context(|| format!("ticket mapper {}", t.mapper.name))?;
    let grant = endpoint_grant(&t.target)?;
    let headers: Vec<(String, String)> = req.headers.iter().map(|f| (f.key.clone(), f.value.clone())).collect();
    let answer = app
        .outbound
        .send(&grant, convert::method(req.method), &req.url, &headers, req.body)
        .await
        .with_context(|| format!("ticket system at {endpoint} did not answer"))?;
    let headers = answer.headers.into_iter().map(|(key, value)| wit::Field { key, value }).collect();
    let (status, body) = (answer.status, answer.body);
    Ok(app.runtime.parse_ticket_response(&t.mapper, action, &wit::HttpResponse { status, headers, body }).await?)
}
