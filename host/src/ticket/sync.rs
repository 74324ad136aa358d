//! The ticket system's side of the story: `POST /internal/ticket/events` takes its
//! webhook when a person closes, reopens or reassigns a ticket, authenticated by an
//! HMAC-SHA256 signature over the body (`X-Hub-Signature-256: sha256=<hex>`, as
//! GitHub signs, with `ticket.webhook_secret`) or a service token. A ticket closed
//! by a person closes its task as `closed (manual)`; a reopened ticket puts a
//! closed task back to `awaiting_fix`; a reassignment is recorded.

use anyhow::Result;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use sqlx::Row;

use crate::app::App;
use crate::model::TaskState;
use crate::store::now_ms;

/// What a webhook says happened to which ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketEvent {
    pub ticket_id: String,
    pub tenant: Option<String>,
    pub change: Change,
    /// Who did it, as the ticket system names them.
    pub by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Closed,
    Reopened,
    Assigned(String),
}

/// Reads the platform's shape (`{"ticket_id", "state": "closed"|"open",
/// "assignee"?, "actor"?, "tenant"?}`), GitHub's issues event (`{"action":
/// "closed"|"reopened"|"assigned", "issue": {"number"}, "assignee"?: {"login"},
/// "sender": {"login"}}`) or GitLab's issue event (`{"object_kind": "issue",
/// "object_attributes": {"iid", "action": "close"|"reopen"|"update"}, "changes"?:
/// {"assignees"?: {"current": [{"username"}]}}, "user": {"username"}}`).
pub fn parse(body: &Value) -> Result<TicketEvent, String> {
    if body["object_kind"] == "issue" {
        return parse_gitlab(body);
    }
    if let Some(issue) = body.get("issue") {
        let id = match &issue["number"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return Err("issue.number is missing".into()),
        };
        let change = match body["action"].as_str() {
            Some("closed") => Change::Closed,
            Some("reopened") => Change::Reopened,
            Some("assigned") => Change::Assigned(body["assignee"]["login"].as_str().unwrap_or_default().to_string()),
            other => return Err(format!("action {other:?} is not one casefile follows (closed, reopened, assigned)")),
        };
        return Ok(TicketEvent { ticket_id: id, tenant: None, change, by: body["sender"]["login"].as_str().map(str::to_string) });
    }
    let id = body["ticket_id"].as_str().filter(|s| !s.is_empty()).ok_or("ticket_id is missing")?.to_string();
    let change = match (body["state"].as_str(), body["assignee"].as_str()) {
        (_, Some(who)) => Change::Assigned(who.to_string()),
        (Some("closed"), _) => Change::Closed,
        (Some("open" | "reopened"), _) => Change::Reopened,
        (other, None) => return Err(format!("state {other:?} is not one casefile follows (closed, open) and there is no assignee")),
    };
    Ok(TicketEvent {
        ticket_id: id,
        tenant: body["tenant"].as_str().map(str::to_string),
        change,
        by: body["actor"].as_str().map(str::to_string),
    })
}

/// GitLab's issue event; the ticket id is the issue's `iid`, as the GitLab mapper
/// keeps it. An `update` counts only when it changed the assignees.
fn parse_gitlab(body: &Value) -> Result<TicketEvent, String> {
    let attrs = &body["object_attributes"];
    let id = match &attrs["iid"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => return Err("object_attributes.iid is missing".into()),
    };
    let assignees = body.pointer("/changes/assignees/current").and_then(Value::as_array);
    let change = match (attrs["action"].as_str(), assignees) {
        (Some("close"), _) => Change::Closed,
        (Some("reopen"), _) => Change::Reopened,
        (Some("update"), Some(now)) => Change::Assigned(now.iter().filter_map(|a| a["username"].as_str()).collect::<Vec<_>>().join(", ")),
        (other, _) => return Err(format!("action {other:?} is not one casefile follows (close, reopen, an update of the assignees)")),
    };
    Ok(TicketEvent { ticket_id: id, tenant: None, change, by: body["user"]["username"].as_str().map(str::to_string) })
}

/// Whether GitLab's `X-Gitlab-Token` header is the configured secret (GitLab sends
/// the secret itself, not a signature), compared in constant time.
pub fn gitlab_token_matches(secret: &str, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    secret.len() == token.len() && bool::from(secret.as_bytes().ct_eq(token.as_bytes()))
}

/// Whether `signature` (`sha256=<hex>`) is the HMAC-SHA256 of `body` under `secret`,
/// compared in constant time.
pub fn signed(secret: &str, body: &[u8], signature: &str) -> bool {
    let Some(hex_sig) = signature.trim().strip_prefix("sha256=") else { return false };
    let Ok(expected) = hex::decode(hex_sig) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// What applying an event did, for the answer and the audit log.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Applied {
    pub ticket_id: String,
    pub tenant: String,
    pub task_id: String,
    /// The task's state afterwards.
    pub task_state: String,
    /// `closed`, `reopened`, `assigned` or `unchanged`.
    pub effect: String,
}

/// Applies an event to the ticket row and its tasks. None when no ticket has that id
/// (in the tenants `scope` lets through). A change the row already reflects (the
/// ticket system telling of casefile's own close or reopen) is `unchanged`.
///
/// A ticket can carry several tasks: the one that opened it and the recurrences
/// that commented on or reopened it (each learns the ticket id when its action is
/// delivered). A close closes every one of them still waiting for a fix; a reopen
/// puts back the latest closed one.
pub async fn apply(app: &App, e: &TicketEvent, scope: &crate::access::Scope) -> Result<Option<Applied>> {
    let rows = sqlx::query("SELECT tenant, task_id, state, assignee FROM tickets WHERE ticket_id = $1").bind(&e.ticket_id).fetch_all(&app.store.pool).await?;
    let mut found = Vec::new();
    for r in &rows {
        let tenant: String = r.try_get("tenant")?;
        if scope.allows(&tenant) && e.tenant.as_deref().is_none_or(|t| t == tenant) {
            found.push((tenant, r.try_get::<String, _>("task_id")?, r.try_get::<String, _>("state")?, r.try_get::<Option<String>, _>("assignee")?));
        }
    }
    let Some((tenant, first_task, state, assignee)) = found.into_iter().next() else { return Ok(None) };
    let by = e.by.clone().unwrap_or_else(|| "a person".into());
    let mut task_id = first_task.clone();
    let effect = match &e.change {
        Change::Closed if state != "closed" => {
            sqlx::query("UPDATE tickets SET state = 'closed', closed_at = $1, updated_at = $1 WHERE tenant = $2 AND ticket_id = $3")
                .bind(now_ms())
                .bind(&tenant)
                .bind(&e.ticket_id)
                .execute(&app.store.pool)
                .await?;
            let detail = format!("closed (manual): ticket {} closed by {by}", e.ticket_id);
            let waiting = [TaskState::AwaitingFix, TaskState::Verifying];
            for id in tasks_of(app, &tenant, &e.ticket_id, &first_task, &waiting).await? {
                if app.store.transition(&id, &waiting, TaskState::Closed, Some(&detail)).await? {
                    task_id = id;
                }
            }
            "closed"
        }
        Change::Reopened if state == "closed" => {
            sqlx::query("UPDATE tickets SET state = 'open', closed_at = NULL, updated_at = $1 WHERE tenant = $2 AND ticket_id = $3")
                .bind(now_ms())
                .bind(&tenant)
                .bind(&e.ticket_id)
                .execute(&app.store.pool)
                .await?;
            let detail = format!("ticket {} reopened by {by}", e.ticket_id);
            if let Some(id) = tasks_of(app, &tenant, &e.ticket_id, &first_task, &[TaskState::Closed]).await?.into_iter().next() {
                app.store.transition(&id, &[TaskState::Closed], TaskState::AwaitingFix, Some(&detail)).await?;
                task_id = id;
            }
            "reopened"
        }
        Change::Assigned(who) if assignee.as_deref().unwrap_or("") != who.as_str() => {
            sqlx::query("UPDATE tickets SET assignee = $1, updated_at = $2 WHERE tenant = $3 AND ticket_id = $4")
                .bind(Some(who.as_str()).filter(|w| !w.is_empty()))
                .bind(now_ms())
                .bind(&tenant)
                .bind(&e.ticket_id)
                .execute(&app.store.pool)
                .await?;
            "assigned"
        }
        _ => "unchanged",
    };
    let task_state = app.store.task(&task_id).await?.map(|t| t.state.as_str().to_string()).unwrap_or_default();
    Ok(Some(Applied { ticket_id: e.ticket_id.clone(), tenant, task_id, task_state, effect: effect.into() }))
}

/// The ticket's tasks in one of `states`, latest first: those that learned its id,
/// and the one that opened it.
async fn tasks_of(app: &App, tenant: &str, ticket_id: &str, opener: &str, states: &[TaskState]) -> Result<Vec<String>> {
    let list = states.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(",");
    let rows = sqlx::query(&format!(
        "SELECT id FROM tasks WHERE tenant = $1 AND (ticket_id = $2 OR id = $3) AND state IN ({list}) ORDER BY created_at DESC, id DESC"
    ))
    .bind(tenant)
    .bind(ticket_id)
    .bind(opener)
    .fetch_all(&app.store.pool)
    .await?;
    rows.iter().map(|r| Ok(r.try_get::<String, _>("id")?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_parse() {
        let gh = serde_json::json!({"action": "closed", "issue": {"number": 42}, "sender": {"login": "ana"}});
        assert_eq!(parse(&gh).unwrap(), TicketEvent { ticket_id: "42".into(), tenant: None, change: Change::Closed, by: Some("ana".into()) });
        let platform = serde_json::json!({"ticket_id": "PLAT-1", "state": "open", "tenant": "acme"});
        assert_eq!(parse(&platform).unwrap().change, Change::Reopened);
        assert!(parse(&serde_json::json!({"action": "labeled", "issue": {"number": 1}})).is_err());
        assert!(parse(&serde_json::json!({"state": "closed"})).is_err());
    }

    #[test]
    fn gitlab_issue_events_parse() {
        // Trimmed from GitLab's documented issue event.
        let close = serde_json::json!({"object_kind": "issue", "event_type": "issue", "user": {"username": "root"},
            "object_attributes": {"id": 301, "iid": 23, "action": "close", "state": "closed"}});
        assert_eq!(parse(&close).unwrap(), TicketEvent { ticket_id: "23".into(), tenant: None, change: Change::Closed, by: Some("root".into()) });
        let reopen = serde_json::json!({"object_kind": "issue", "object_attributes": {"iid": 23, "action": "reopen"}});
        assert_eq!(parse(&reopen).unwrap().change, Change::Reopened);
        let assigned = serde_json::json!({"object_kind": "issue", "object_attributes": {"iid": 23, "action": "update"},
            "changes": {"assignees": {"previous": [], "current": [{"username": "user1"}, {"username": "user2"}]}}});
        assert_eq!(parse(&assigned).unwrap().change, Change::Assigned("user1, user2".into()));
        // A title edit is no news for casefile; nor is an event without the iid.
        assert!(parse(&serde_json::json!({"object_kind": "issue", "object_attributes": {"iid": 23, "action": "update"}, "changes": {"title": {}}})).is_err());
        assert!(parse(&serde_json::json!({"object_kind": "issue", "object_attributes": {"action": "close"}})).is_err());
        assert!(gitlab_token_matches("s3cret", "s3cret"));
        assert!(!gitlab_token_matches("s3cret", "s3creT") && !gitlab_token_matches("s3cret", "s3cret2") && !gitlab_token_matches("s3cret", ""));
    }

    #[test]
    fn only_the_right_signature_passes() {
        let body = br#"{"x":1}"#;
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert!(signed("s3cret", body, &good));
        assert!(!signed("other", body, &good));
        assert!(!signed("s3cret", br#"{"x":2}"#, &good));
        assert!(!signed("s3cret", body, "sha1=00"));
    }
}
