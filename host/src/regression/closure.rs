//! What a passing regression closes besides the ticket: the Alertmanager alert that
//! opened the task, and the task's audit trail, archived as one record.

use anyhow::Result;
use serde_json::{json, Value};

use crate::app::App;
use crate::model::{AlertOrigin, TaskState};
use crate::outbound::HttpGrant;
use crate::store::TaskRow;

/// Runs once the task is closed after a passing regression. Neither step may undo
/// the close: a failure is said on the task, logged and counted.
pub async fn after_pass(app: &App, task: &TaskRow) {
    if let Err(e) = resolve_alert(app, task).await {
        tracing::warn!(task = %task.id, error = %format!("{e:#}"), "could not record the alert's resolution");
    }
    match app.audit.archive_task(&app.store, &task.id, &task.tenant).await {
        Ok(_) => metrics::counter!("casefile_audit_archives_total", "outcome" => "archived").increment(1),
        Err(e) => {
            metrics::counter!("casefile_audit_archives_total", "outcome" => "failed").increment(1);
            tracing::warn!(task = %task.id, error = %format!("{e:#}"), "could not archive the task's audit trail");
        }
    }
}

/// Marks the alert that opened the task resolved in Alertmanager, and says on the
/// task what happened to it (once). Tasks not opened by an alert have nothing to do.
async fn resolve_alert(app: &App, task: &TaskRow) -> Result<()> {
    let Some(alert) = &task.request.alert else { return Ok(()) };
    let name = alert.labels.get("alertname").map(String::as_str).unwrap_or("the alert");
    let Some(base) = app.config.alerts.alertmanager() else {
        let detail = format!("alert: {name} left to Alertmanager (alerts.alertmanager_url is not set)");
        app.store.note_once(&task.id, TaskState::Closed, "alert:", &detail).await?;
        return Ok(());
    };
    let now = chrono::Utc::now();
    let (outcome, detail) = match post_resolved(app, base, alert, now).await {
        Ok(()) => ("resolved", format!("alert: {name} marked resolved in Alertmanager at {}", now.to_rfc3339())),
        Err(e) => ("failed", format!("alert: {name} could not be marked resolved in Alertmanager ({e}); it ends when its rule stops firing")),
    };
    metrics::counter!("casefile_alerts_resolved_total", "outcome" => outcome).increment(1);
    if app.store.note_once(&task.id, TaskState::Closed, "alert:", &detail).await? {
        app.audit
            .append(&app.store, "pipeline", "alert.marked_resolved", &task.id, json!({"tenant": task.tenant, "alertname": name, "outcome": outcome}))
            .await?;
    }
    Ok(())
}

/// Alertmanager ends an alert when it is posted again with the same labels and an
/// `endsAt` that has passed (API v2, `POST /api/v2/alerts`).
async fn post_resolved(app: &App, base: &str, alert: &AlertOrigin, now: chrono::DateTime<chrono::Utc>) -> Result<(), String> {
    let url = format!("{}/api/v2/alerts", base.trim_end_matches('/'));
    let grant = HttpGrant::for_url(&url)?;
    let body = serde_json::to_vec(&resolved_body(alert, now)).map_err(|e| e.to_string())?;
    let headers = [("content-type".to_string(), "application/json".to_string())];
    let answer = app
        .outbound
        .send(&grant, reqwest::Method::POST, &url, &headers, body)
        .await
        .map_err(|e| crate::telemetry::scrub(&e.to_string()))?;
    if (200..300).contains(&answer.status) {
        Ok(())
    } else {
        Err(format!("Alertmanager answered {}", answer.status))
    }
}

/// The postable alert that ends `alert` at `now`.
fn resolved_body(alert: &AlertOrigin, now: chrono::DateTime<chrono::Utc>) -> Value {
    let mut a = json!({
        "labels": alert.labels,
        "annotations": {"casefile": "regression passed; resolved by casefile"},
        "endsAt": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    if let Some(s) = &alert.starts_at {
        a["startsAt"] = json!(s);
    }
    if let Some(g) = &alert.generator_url {
        a["generatorURL"] = json!(g);
    }
    json!([a])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resolving_post_repeats_the_labels_and_ends_now() {
        let alert = AlertOrigin {
            labels: [("alertname".to_string(), "PluginErrors".to_string()), ("plugin".to_string(), "checkout".to_string())].into(),
            starts_at: Some("2026-12-01T05:00:00Z".into()),
            generator_url: None,
        };
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-01T06:00:00Z").unwrap().with_timezone(&chrono::Utc);
        let body = resolved_body(&alert, now);
        assert_eq!(body[0]["labels"], json!({"alertname": "PluginErrors", "plugin": "checkout"}));
        assert_eq!(body[0]["startsAt"], "2026-12-01T05:00:00Z");
        assert_eq!(body[0]["endsAt"], "2026-12-01T06:00:00.000Z");
        assert!(body[0].get("generatorURL").is_none());
    }
}
