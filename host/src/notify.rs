//! Telling owners: who owns a failure (routing by plugin, tenant and environment)
//! and a webhook message when a ticket is created or reopened, when one cannot be
//! created, when a diagnosis fails, and when the ticket bridge is off (manual
//! hand-off with the report and bundle links). The message is Slack-compatible
//! (`{"text": ...}`) or plain JSON; it carries titles and links, which come from the
//! masked report, and every text in it is scrubbed again before it leaves.
//!
//! Delivery is best effort, off the task's path: a receiver that is down costs a
//! log line and a metric, never a diagnosis.

use serde_json::{json, Value};

use crate::app::App;
use crate::config::{NotifyConfig, NotifyFormat, OwnerRoute};
use crate::outbound::HttpGrant;
use crate::store::TaskRow;

/// What happened, for the owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    TicketCreated,
    TicketReopened,
    TicketRejected,
    DiagnosisFailed,
    ManualHandOff,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::TicketCreated => "ticket.created",
            Event::TicketReopened => "ticket.reopened",
            Event::TicketRejected => "ticket.rejected",
            Event::DiagnosisFailed => "diagnosis.failed",
            Event::ManualHandOff => "ticket.manual",
        }
    }

    fn headline(self) -> &'static str {
        match self {
            Event::TicketCreated => "New ticket",
            Event::TicketReopened => "Ticket reopened (the failure came back)",
            Event::TicketRejected => "The ticket system refused the ticket",
            Event::DiagnosisFailed => "Diagnosis failed",
            Event::ManualHandOff => "Ticket bridge is off: hand this report off by hand",
        }
    }
}

/// The owners of a plugin's failure: the most specific route that matches
/// (plugin, tenant and environment set beats fewer), else the tenant's owners,
/// else the default queue.
/// The most specific route for a failure: plugin, then tenant and environment.
pub fn route_for<'a>(routes: &'a [OwnerRoute], plugin: &str, tenant: &str, environments: &[String]) -> Option<&'a OwnerRoute> {
    let matches = |r: &OwnerRoute| {
        r.plugin == plugin
            && r.tenant.as_deref().is_none_or(|t| t == tenant)
            && r.environment.as_deref().is_none_or(|e| environments.iter().any(|x| x == e))
    };
    let specificity = |r: &OwnerRoute| usize::from(r.tenant.is_some()) + usize::from(r.environment.is_some());
    routes.iter().filter(|r| matches(r)).max_by_key(|r| specificity(r))
}

pub fn owners_for(routes: &[OwnerRoute], default_queue: &[String], tenant_owners: &[String], plugin: &str, tenant: &str, environments: &[String]) -> Vec<String> {
    if let Some(best) = route_for(routes, plugin, tenant, environments) {
        return best.owners.clone();
    }
    if !tenant_owners.is_empty() {
        return tenant_owners.to_vec();
    }
    default_queue.to_vec()
}

/// The owners of `task`'s failure, for its ticket and its notifications: the
/// routes, then the tenant's owners (config or API tenant), then the default queue.
pub async fn owners(app: &App, task: &TaskRow) -> Vec<String> {
    let tenant_owners = match crate::tenants::lookup(&app.config, &app.store, &task.tenant).await {
        Ok(t) => t.map(|t| t.owners).unwrap_or_default(),
        Err(e) => {
            tracing::warn!(task = %task.id, error = %format!("{e:#}"), "cannot read the tenant's owners; routing without them");
            Vec::new()
        }
    };
    owners_for(&app.config.owners.routes, &app.config.owners.default_queue, &tenant_owners, &task.request.plugin.id, &task.tenant, &task.request.environments)
}

/// Sends `event` about `task` to the configured receiver, in the background.
pub async fn send(app: &App, event: Event, task: &TaskRow, ticket: Option<(&str, Option<&str>)>, detail: Option<&str>) {
    let Some(cfg) = app.config.notify.clone().filter(|c| c.url.as_deref().is_some_and(|u| !u.is_empty())) else { return };
    let owners = owners(app, task).await;
    let message = message(app, &cfg, event, task, &owners, ticket, detail);
    let outbound = app.outbound.clone();
    tokio::spawn(async move {
        let outcome = deliver(&outbound, &cfg, &message).await;
        let label = if outcome.is_ok() { "sent" } else { "failed" };
        metrics::counter!("casefile_notifications_total", "event" => event.as_str(), "outcome" => label).increment(1);
        if let Err(e) = outcome {
            tracing::warn!(event = event.as_str(), error = %e, "could not notify the owners");
        }
    });
}

fn message(app: &App, cfg: &NotifyConfig, event: Event, task: &TaskRow, owners: &[String], ticket: Option<(&str, Option<&str>)>, detail: Option<&str>) -> Value {
    let base = app.config.server.public_url.clone().unwrap_or_default();
    let base = base.trim_end_matches('/');
    let report_url = format!("{base}/internal/debug/report/{}", task.id);
    let bundle_url = format!("{report_url}/bundle");
    let title = task.report.as_ref().and_then(|r| r["title"].as_str()).map(crate::telemetry::scrub);
    let detail = detail.map(crate::telemetry::scrub);
    let body = json!({
        "event": event.as_str(),
        "task_id": task.id,
        "tenant": task.tenant,
        "plugin": task.request.plugin.id,
        "environments": task.request.environments,
        "owners": owners,
        "title": title,
        "ticket": ticket.map(|(id, url)| json!({"id": id, "url": url})),
        "report_url": report_url,
        "bundle_url": bundle_url,
        "detail": detail,
    });
    match cfg.format {
        NotifyFormat::Json => body,
        NotifyFormat::Slack => {
            let mut text = format!("*{}* — {} in tenant {} (owners: {})", event.headline(), task.request.plugin.id, task.tenant, owners.join(", "));
            if let Some(t) = &title {
                text.push_str(&format!("\n{t}"));
            }
            if let Some((id, url)) = ticket {
                text.push_str(&format!("\nTicket: {}", url.map(|u| format!("<{u}|{id}>")).unwrap_or_else(|| id.to_string())));
            }
            if let Some(d) = &detail {
                text.push_str(&format!("\n{d}"));
            }
            text.push_str(&format!("\nReport: <{report_url}|{}> · Bundle: <{bundle_url}|download>", task.id));
            json!({"text": text})
        }
    }
}

async fn deliver(outbound: &crate::outbound::Outbound, cfg: &NotifyConfig, message: &Value) -> Result<(), String> {
    let url = cfg.url.as_deref().unwrap_or_default();
    let grant = HttpGrant::for_url(url).map_err(|e| format!("notify.url: {e}"))?;
    let body = serde_json::to_vec(message).map_err(|e| e.to_string())?;
    let headers = [("content-type".to_string(), "application/json".to_string())];
    let answer = outbound
        .send(&grant, reqwest::Method::POST, url, &headers, body)
        .await
        .map_err(|e| e.to_string())?;
    if (200..300).contains(&answer.status) {
        Ok(())
    } else {
        Err(format!("the receiver answered {}", answer.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(plugin: &str, tenant: Option<&str>, env: Option<&str>, owners: &[&str]) -> OwnerRoute {
        OwnerRoute {
            plugin: plugin.into(),
            tenant: tenant.map(Into::into),
            environment: env.map(Into::into),
            owners: owners.iter().map(|o| o.to_string()).collect(),
            ticket_settings: Default::default(),
        }
    }

    #[test]
    fn the_most_specific_route_wins_then_the_tenant_then_the_queue() {
        let routes = vec![
            route("checkout", None, None, &["team-checkout"]),
            route("checkout", Some("acme"), None, &["acme-checkout"]),
            route("checkout", Some("acme"), Some("prod"), &["acme-checkout-oncall"]),
        ];
        let queue = vec!["triage".to_string()];
        let envs = |e: &[&str]| e.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(owners_for(&routes, &queue, &[], "checkout", "acme", &envs(&["prod"])), ["acme-checkout-oncall"]);
        assert_eq!(owners_for(&routes, &queue, &[], "checkout", "acme", &envs(&["staging"])), ["acme-checkout"]);
        assert_eq!(owners_for(&routes, &queue, &[], "checkout", "globex", &[]), ["team-checkout"]);
        assert_eq!(owners_for(&routes, &queue, &["globex-team".into()], "billing", "globex", &[]), ["globex-team"]);
        assert_eq!(owners_for(&routes, &queue, &[], "billing", "globex", &[]), ["triage"]);
    }
}
