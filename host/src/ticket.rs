//! Ticket: the tenant's ticket mapper turns the (masked) report into the ticket
//! system's request; the host sends it, but only to the configured endpoint's host.
//! One ticket per (tenant, fingerprint): a repeat failure comments on it or reopens
//! it. Every action goes through the outbox (store/outbox.rs): written first, then
//! delivered by `deliver_forever` with backoff until the ticket system takes it.

pub mod poll;
pub mod reconcile;
pub mod sync;

use std::time::Duration;

use anyhow::{anyhow, Context, Result};

use crate::app::App;
use crate::model::FailureKind;
use crate::outbound::HttpGrant;
use crate::report::Report;
use crate::runtime::bindings::wit;
use crate::runtime::{convert, CallError, Loaded};
use crate::store::{OutboxEntry, TaskRow};

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
    // The route of the task's plugin may send its tickets elsewhere (a project,
    // a repository, labels of its own).
    let settings = match crate::notify::route_for(&app.config.owners.routes, &task.request.plugin.id, &task.tenant, &task.request.environments) {
        Some(route) => app.config.ticket.settings_with(&route.ticket_settings),
        None => app.config.ticket.settings_json(),
    };
    Ok(Some(Target { target: wit::TicketTarget { endpoint, settings }, mapper }))
}

async fn summary(app: &App, task: &TaskRow) -> Result<wit::ReportSummary> {
    let report = Report::from_stored(task.report.as_ref().context("the task has no report yet")?)?;
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
        owners: crate::notify::owners(app, task).await,
        markdown: task.report_md.clone().unwrap_or_default(),
        report_url,
    })
}

/// How one attempt to deliver an outbox entry ended.
#[derive(Debug)]
enum Attempt {
    /// Sent and accepted; for a create, the new ticket's id and URL.
    Delivered(Option<(String, Option<String>)>),
    /// Worth sending again later (outage, 5xx, 408, 429, a mapper that is unavailable).
    Retry(String),
    /// The ticket system (4xx but 408/429) or the mapper (invalid input, denied) says
    /// this action is wrong: sending it again would get the same answer.
    Rejected(String),
}

/// The ticketing stage's part: records this diagnosis of the task's fingerprint and
/// the ticket action it calls for in the outbox (create, an occurrence comment, a
/// reopen, or a new ticket linking a closed one), decided by the database so that
/// racing diagnoses cannot both create. Returns the task's own entry.
pub async fn enqueue(app: &App, task: &TaskRow) -> Result<OutboxEntry> {
    let fp = task.fingerprint.clone().context("the task has no fingerprint yet")?;
    let window = app.config.ticket.reopen_window_ms();
    let got = app.store.enqueue_diagnosis(&task.tenant, &fp, &task.id, &task.request.error_event_id, window).await?;
    if got.new {
        metrics::counter!("casefile_tickets_total", "action" => got.entry.action.clone()).increment(1);
        app.wake.notify_waiters();
    }
    Ok(got.entry)
}

/// What a task waiting on its ticket action says (history and view).
pub fn waiting_detail(e: &OutboxEntry) -> String {
    let since = chrono::DateTime::from_timestamp_millis(e.created_at).map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).unwrap_or_default();
    format!("ticketing: waiting for the ticket system since {since} ({} attempts so far, last: {})", e.attempts, e.answer.as_deref().unwrap_or("none"))
}

/// Queues `close` (regression passed) or a `comment` (regression failed) on the
/// task's ticket. `key` names the verification so a retried stage queues it once.
/// False when there was nothing to do (no ticket, or it is closed or replaced).
pub async fn enqueue_transition(app: &App, task: &TaskRow, key: &str, action: &str, comment: &str) -> Result<bool> {
    let (Some(fp), Some(id)) = (&task.fingerprint, &task.ticket_id) else { return Ok(false) };
    let queued = app.store.enqueue_transition(key, &task.id, &task.tenant, fp, id, action, comment).await?;
    if queued {
        metrics::counter!("casefile_tickets_total", "action" => action.to_string()).increment(1);
        app.wake.notify_waiters();
    }
    Ok(queued)
}

/// Delivers the outbox on this host: claims due entries (by lease, so hosts sharing
/// a database never send one entry twice at once), sends them, and on failure puts
/// them back with exponential backoff. Runs for the life of the host.
pub async fn deliver_forever(app: std::sync::Arc<App>) {
    let owner = format!("{}/outbox", app.host_id);
    // Longer than one send can take, so a live sender keeps its entry.
    let lease_ms = (app.config.runtime.http_timeout_ms + app.config.runtime.call_timeout_ms * 2) as i64 + 30_000;
    loop {
        if let Err(e) = report_backlog(&app).await {
            tracing::warn!(error = %format!("{e:#}"), "cannot read the ticket outbox backlog");
        }
        match app.store.claim_outbox(&owner, lease_ms).await {
            Ok(Some(entry)) => {
                if let Err(e) = deliver(&app, &owner, &entry).await {
                    // The store failed, not the ticket system: the lease runs out and
                    // the entry is claimed again.
                    tracing::error!(entry = entry.id, error = %format!("{e:#}"), "cannot record a ticket delivery");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            Ok(None) => {
                // Woken when something is queued; the poll catches entries coming due
                // and those queued by other hosts.
                let poll = app.config.ticket.retry_base_ms.clamp(50, 500);
                let _ = tokio::time::timeout(Duration::from_millis(poll), app.wake.notified()).await;
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "cannot claim ticket outbox entries");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn report_backlog(app: &App) -> Result<()> {
    let (depth, oldest) = app.store.outbox_backlog().await?;
    metrics::gauge!("casefile_ticket_outbox_depth").set(depth as f64);
    let age = oldest.map(|t| (crate::store::now_ms() - t).max(0) as f64 / 1000.0).unwrap_or(0.0);
    metrics::gauge!("casefile_ticket_outbox_oldest_age_seconds").set(age);
    Ok(())
}

fn delivered_metric(action: &str, outcome: &'static str) {
    metrics::counter!("casefile_ticket_deliveries_total", "action" => action.to_string(), "outcome" => outcome).increment(1);
}

/// One attempt at one claimed entry, and what is recorded of it.
async fn deliver(app: &App, owner: &str, e: &OutboxEntry) -> Result<()> {
    let attempt = attempt(app, e).await;
    match attempt {
        Attempt::Delivered(created) => {
            let created_ref = created.as_ref().map(|(id, url)| (id.as_str(), url.as_deref()));
            if app.store.outbox_delivered(e, owner, created_ref).await? {
                delivered_metric(&e.action, "delivered");
                let ticket = app.store.ticket(&e.tenant, &e.fingerprint).await?.map(|t| t.ticket_id).unwrap_or_default();
                app.audit
                    .append(&app.store, "pipeline", &format!("ticket.{}", e.action), &ticket, serde_json::json!({"task_id": e.task_id, "fingerprint": e.fingerprint, "attempts": e.attempts, "comment": e.comment}))
                    .await?;
                let event = match e.action.as_str() {
                    "create" => Some(crate::notify::Event::TicketCreated),
                    "reopen" => Some(crate::notify::Event::TicketReopened),
                    _ => None,
                };
                if let (Some(event), Some(task)) = (event, app.store.task(&e.task_id).await?) {
                    let row = app.store.ticket(&e.tenant, &e.fingerprint).await?;
                    let url = row.as_ref().and_then(|r| r.url.clone());
                    crate::notify::send(app, event, &task, Some((&ticket, url.as_deref())), None).await;
                }
                app.wake.notify_waiters();
            }
        }
        Attempt::Retry(why) => {
            let delay = app.config.ticket.retry_delay_ms(e.attempts);
            tracing::warn!(entry = e.id, task = %e.task_id, action = %e.action, attempt = e.attempts, delay_ms = delay, error = %why, "ticket system unavailable; will retry");
            delivered_metric(&e.action, "retry");
            app.store.outbox_retry(e, owner, delay, &why).await?;
        }
        Attempt::Rejected(answer) => {
            tracing::error!(entry = e.id, task = %e.task_id, action = %e.action, answer = %answer, "ticket action rejected; not retried");
            if app.store.outbox_rejected(e, owner, &answer).await? {
                delivered_metric(&e.action, "rejected");
                app.audit
                    .append(&app.store, "pipeline", "ticket.rejected", &e.task_id, serde_json::json!({"action": e.action, "fingerprint": e.fingerprint, "answer": answer}))
                    .await?;
                notify_owners_of_rejection(app, e, &answer).await;
                app.wake.notify_waiters();
            }
        }
    }
    Ok(())
}

/// Tells the owners that a ticket action was refused (besides the host's log, the
/// audit log's `ticket.rejected` and the task's view).
async fn notify_owners_of_rejection(app: &App, e: &OutboxEntry, answer: &str) {
    match app.store.task(&e.task_id).await {
        Ok(Some(task)) => crate::notify::send(app, crate::notify::Event::TicketRejected, &task, None, Some(&format!("{} refused: {answer}", e.action))).await,
        Ok(None) => {}
        Err(err) => tracing::warn!(task = %e.task_id, error = %format!("{err:#}"), "cannot notify the owners of a refused ticket action"),
    }
}

async fn attempt(app: &App, e: &OutboxEntry) -> Attempt {
    let task = match app.store.task(&e.task_id).await {
        Ok(Some(t)) => t,
        Ok(None) => return Attempt::Rejected(format!("task {} no longer exists", e.task_id)),
        Err(err) => return Attempt::Retry(format!("{err:#}")),
    };
    let t = match target(app, &task).await {
        Ok(Some(t)) => t,
        // Held, not dropped: turning the bridge or the endpoint back on delivers it.
        Ok(None) => return Attempt::Retry("the ticket bridge is off or no ticket endpoint/mapper is set".into()),
        Err(err) => return Attempt::Retry(format!("{err:#}")),
    };
    let summary = match summary(app, &task).await {
        Ok(s) => s,
        Err(err) => return Attempt::Rejected(format!("{err:#}")),
    };
    let current = match app.store.ticket(&e.tenant, &e.fingerprint).await {
        Ok(c) => c,
        Err(err) => return Attempt::Retry(format!("{err:#}")),
    };
    let (action, ticket) = match (e.action.as_str(), current) {
        ("create", _) => (wit::TicketAction::Create, None),
        (_, Some(row)) if !row.ticket_id.is_empty() => {
            // WIT has no `comment` action: a comment is an update that keeps the state.
            let action = match e.action.as_str() {
                "close" => wit::TicketAction::Close,
                "reopen" => wit::TicketAction::Reopen,
                _ => wit::TicketAction::Update,
            };
            // The state the ticket system has it in before this action.
            let state = match action {
                wit::TicketAction::Reopen => "closed",
                _ => "open",
            };
            (action, Some(wit::TicketRef { id: row.ticket_id, url: row.url, state: convert::ticket_state(state) }))
        }
        _ => return Attempt::Rejected(format!("no ticket to {}: its create was never delivered", e.action)),
    };
    send(app, &t, action, &summary, ticket.as_ref(), &e.comment).await
}

/// The only place a mapper's requests may go: the ticket endpoint's host and port. A
/// mapper builds requests; it does not choose where report data goes.
fn endpoint_grant(target: &wit::TicketTarget) -> Result<HttpGrant> {
    HttpGrant::for_url(&target.endpoint).map_err(|e| anyhow!("ticket endpoint: {e}"))
}

/// The endpoint grant with the host's ticket credentials (`ticket.credentials`),
/// read for every request so a rotated secret file takes effect.
pub fn ticket_grant(app: &App, target: &wit::TicketTarget) -> Result<HttpGrant> {
    let credential = match &app.config.ticket.credentials {
        Some(src) => Some(crate::outbound::Credential::resolve(src, &|p| app.config.resolve_path(p)).context("ticket.credentials")?),
        None => None,
    };
    Ok(endpoint_grant(target)?.with_credential(credential))
}

/// Checks a mapper's request against the endpoint grant, saying why it is refused.
pub fn request_url(target: &wit::TicketTarget, req: &wit::HttpRequest) -> Result<reqwest::Url> {
    endpoint_grant(target)?
        .check(&req.url)
        .map_err(|e| anyhow!("built a request outside the ticket endpoint {}: {e}", target.endpoint))
}

async fn send(app: &App, t: &Target, action: wit::TicketAction, s: &wit::ReportSummary, ticket: Option<&wit::TicketRef>, comment: &str) -> Attempt {
    let req = match app.runtime.build_ticket_request(&t.mapper, &t.target, action, s, ticket, comment).await {
        Ok(r) => r,
        Err(e) => return mapper_failure(anyhow::Error::from(e).context(format!("ticket mapper {}", t.mapper.name))),
    };
    let response = match exchange(app, t, req).await {
        Ok(r) => r,
        Err(a) => return a,
    };
    let decided = by_status(response.status, &response.headers, &response.body);
    if let Some(retry @ Attempt::Retry(_)) = decided {
        return retry;
    }
    let parsed = app.runtime.parse_ticket_response(&t.mapper, action, &response).await;
    match judged(t, response.status, decided, parsed) {
        Err(a) => a,
        Ok(got) if matches!(action, wit::TicketAction::Create) => {
            if got.id.is_empty() {
                Attempt::Retry("the ticket system did not say which ticket it opened".into())
            } else {
                Attempt::Delivered(Some((got.id, got.url)))
            }
        }
        Ok(_) => {
            // A mapper whose state changes cannot carry a comment (`ticket-comments`)
            // gets it sent on its own, after the state change: the delivery counts
            // only when both went through, and a retry repeats the (idempotent)
            // state change before the comment.
            let apart = matches!(action, wit::TicketAction::Close | wit::TicketAction::Reopen) && t.mapper.comments_apart() && !comment.trim().is_empty();
            match ticket.filter(|_| apart) {
                Some(ticket) => comment_apart(app, t, ticket, comment).await,
                None => Attempt::Delivered(None),
            }
        }
    }
}

/// Sends the comment of a close or reopen as a request of its own.
async fn comment_apart(app: &App, t: &Target, ticket: &wit::TicketRef, comment: &str) -> Attempt {
    let req = match app.runtime.build_ticket_comment(&t.mapper, &t.target, ticket, comment).await {
        Ok(r) => r,
        Err(e) => return mapper_failure(anyhow::Error::from(e).context(format!("ticket mapper {} (comment)", t.mapper.name))),
    };
    let response = match exchange(app, t, req).await {
        Ok(r) => r,
        Err(a) => return a,
    };
    let decided = by_status(response.status, &response.headers, &response.body);
    if let Some(retry @ Attempt::Retry(_)) = decided {
        return retry;
    }
    let parsed = app.runtime.parse_ticket_comment(&t.mapper, &response).await;
    match judged(t, response.status, decided, parsed) {
        Ok(()) => Attempt::Delivered(None),
        Err(a) => a,
    }
}

/// Sends a request a mapper built, within the ticket endpoint and with the host's
/// credentials; the answer whatever its status.
async fn exchange(app: &App, t: &Target, req: wit::HttpRequest) -> Result<wit::HttpResponse, Attempt> {
    // Refused here with the mapper's name in the message; outbound checks the same
    // grant again as it sends, as for every outbound request.
    if let Err(e) = request_url(&t.target, &req) {
        return Err(Attempt::Rejected(format!("ticket mapper {}: {e:#}", t.mapper.name)));
    }
    let grant = match ticket_grant(app, &t.target) {
        Ok(g) => g,
        // The endpoint is a URL (request_url passed): the credentials failed, which
        // a fixed variable or file mends.
        Err(e) => return Err(Attempt::Retry(format!("{e:#}"))),
    };
    let headers: Vec<(String, String)> = req.headers.iter().map(|f| (f.key.clone(), f.value.clone())).collect();
    let answer = match app.outbound.send(&grant, convert::method(req.method), &req.url, &headers, req.body).await {
        Ok(a) => a,
        Err(e) => return Err(Attempt::Retry(format!("ticket system at {} did not answer: {e}", t.target.endpoint))),
    };
    let headers = answer.headers.into_iter().map(|(key, value)| wit::Field { key, value }).collect();
    Ok(wit::HttpResponse { status: answer.status, headers, body: answer.body })
}

/// What an answer means. Its status decides first: an outage (`decided` a retry)
/// is retried without asking the mapper; a refusal keeps the mapper's reading
/// `parsed` when that says why in the ticket system's terms (Redmine's 422
/// `errors`, for one); otherwise the mapper's reading is the answer.
fn judged<T>(t: &Target, status: u16, decided: Option<Attempt>, parsed: Result<T, CallError>) -> Result<T, Attempt> {
    match decided {
        Some(Attempt::Rejected(host_words)) => Err(match parsed {
            Err(CallError::Plugin { error: wit::PluginError::InvalidInput(m) | wit::PluginError::Denied(m), .. }) => {
                let words: String = crate::telemetry::scrub(&m).chars().take(500).collect();
                Attempt::Rejected(format!("the ticket system answered {status}: {words}"))
            }
            _ => Attempt::Rejected(host_words),
        }),
        Some(v) => Err(v),
        None => parsed.map_err(|e| mapper_failure(anyhow::Error::from(e).context(format!("ticket mapper {}", t.mapper.name)))),
    }
}

/// The ticket system's status decides before the mapper reads the answer: a 4xx
/// other than 408 (timeout) and 429 (too many requests) is a refusal of this
/// request, any other error status a passing outage. None: let the mapper judge.
fn by_status(status: u16, headers: &[wit::Field], body: &[u8]) -> Option<Attempt> {
    let answer = || {
        let text = String::from_utf8_lossy(&body[..body.len().min(2000)]);
        // The answer may echo the request; scrubbed like everything the host keeps.
        let text: String = crate::telemetry::scrub(text.trim()).chars().take(500).collect();
        format!("the ticket system answered {status}: {text}")
    };
    // GitHub answers a rate limit with 403 (and GitLab, some proxies, with other
    // 4xx): when the answer says to wait, it is a passing limit, not a refusal.
    let header = |name: &str| headers.iter().find(|f| f.key.eq_ignore_ascii_case(name)).map(|f| f.value.trim());
    let limited = header("retry-after").is_some() || header("x-ratelimit-remaining") == Some("0") || header("ratelimit-remaining") == Some("0");
    match status {
        408 | 429 => Some(Attempt::Retry(answer())),
        400..=499 if limited => Some(Attempt::Retry(answer())),
        400..=499 => Some(Attempt::Rejected(answer())),
        500..=599 => Some(Attempt::Retry(answer())),
        _ => None,
    }
}

/// A mapper that says the input is wrong or refuses by policy will say the same on
/// every retry; anything else (unavailable, a trap, a deadline) may pass next time.
fn mapper_failure(e: anyhow::Error) -> Attempt {
    match e.downcast_ref::<CallError>().map(CallError::kind) {
        Some(FailureKind::InvalidInput | FailureKind::Denied) => Attempt::Rejected(format!("{e:#}")),
        _ => Attempt::Retry(format!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_that_are_refusals_are_not_retried() {
        assert!(matches!(by_status(400, &[], b"bad project"), Some(Attempt::Rejected(a)) if a.contains("400") && a.contains("bad project")));
        assert!(matches!(by_status(404, &[], b""), Some(Attempt::Rejected(_))));
        assert!(matches!(by_status(408, &[], b""), Some(Attempt::Retry(_))));
        assert!(matches!(by_status(429, &[], b""), Some(Attempt::Retry(_))));
        assert!(matches!(by_status(503, &[], b""), Some(Attempt::Retry(_))));
        assert!(by_status(200, &[], b"{}").is_none());
        assert!(by_status(201, &[], b"{}").is_none());
        // A rate limit answered with 403 (GitHub) waits; a plain 403 is a refusal.
        let field = |k: &str, v: &str| wit::Field { key: k.into(), value: v.into() };
        assert!(matches!(by_status(403, &[field("X-RateLimit-Remaining", "0")], b"API rate limit exceeded"), Some(Attempt::Retry(_))));
        assert!(matches!(by_status(403, &[field("retry-after", "60")], b"secondary rate limit"), Some(Attempt::Retry(_))));
        assert!(matches!(by_status(403, &[field("X-RateLimit-Remaining", "4999")], b"Resource not accessible"), Some(Attempt::Rejected(_))));
    }

    #[test]
    fn a_mapper_that_refuses_its_input_is_not_retried() {
        let refused = |error| anyhow::Error::from(CallError::Plugin { component: "m".into(), error }).context("ticket mapper m");
        assert!(matches!(mapper_failure(refused(wit::PluginError::InvalidInput("no project".into()))), Attempt::Rejected(m) if m.contains("no project")));
        assert!(matches!(mapper_failure(refused(wit::PluginError::Denied("x".into()))), Attempt::Rejected(_)));
        assert!(matches!(mapper_failure(refused(wit::PluginError::Unavailable("down".into()))), Attempt::Retry(_)));
        assert!(matches!(mapper_failure(anyhow::anyhow!("ticket system did not answer")), Attempt::Retry(_)));
    }
}
