//! Reconcile: compares tasks, the ticket outbox and the tickets as last synced, and
//! repairs the drift between them (`casefile reconcile`, `POST
//! /internal/debug/reconcile`). Four checks:
//!
//! - an outbox entry stuck: leased by a worker whose lease ran out (it died
//!   mid-send), or due long ago, first in line for its ticket and held by nobody:
//!   released, due now;
//! - a ticket open while every task on it is closed: a close is queued;
//! - a task waiting for its fix on a ticket that is closed (by a person, as last
//!   synced, or by casefile for another task of the same failure): the task is
//!   closed, `closed (manual)` when no close of casefile's explains it;
//! - a task with a report that never got its ticket (the bridge was off, or an
//!   older release gave up while the ticket system was down): the create is queued
//!   and the task waits in `ticketing` for it like any other.
//!
//! Ticket states are the ones the host last synced (the `tickets` table, kept by
//! the outbox's deliveries and by `POST /internal/ticket/events`): the
//! ticket-mapper world has no action that reads a ticket, so the ticket system is
//! not asked. A failure whose ticket actions are still in the outbox is left to the
//! outbox. Every repair is audited (`reconcile.<kind>`); a dry run finds the same
//! and changes nothing; a second run finds nothing the first one repaired.

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::json;
use sqlx::Row;
use utoipa::ToSchema;

use crate::access::Scope;
use crate::app::App;
use crate::model::TaskState;
use crate::store::{now_ms, Store};

/// Where the ticket states reconcile compares come from, said in every answer.
pub const TICKET_STATES: &str = "last synced state (the host's tickets table, kept by deliveries and by POST /internal/ticket/events); the ticket-mapper world has no read action, so the ticket system itself is not asked";

/// One drift found, and what was (or in a dry run would be) done about it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Repair {
    /// `release_entry`, `close_ticket`, `close_task` or `create_ticket`.
    pub kind: String,
    pub tenant: String,
    /// The task the repair acts for.
    pub task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
    /// The outbox entry released or queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<i64>,
    /// What was found.
    pub found: String,
    /// What is done about it.
    pub action: String,
    /// Done (false in a dry run, or when the state moved on before the repair).
    pub applied: bool,
}

/// Drift found that reconcile does not repair, and why.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Left {
    pub tenant: String,
    pub task_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<String>,
    pub reason: String,
}

/// What was looked at.
#[derive(Debug, Clone, Default, Serialize, ToSchema, PartialEq)]
pub struct Checked {
    pub tasks: i64,
    pub tickets: i64,
    pub pending_entries: i64,
    /// Tasks with a report and no ticket that cannot get one now (bridge off, no
    /// ticket endpoint or mapper): left to manual hand-off.
    pub manual_hand_off: i64,
}

/// The answer of one run.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
pub struct Reconciled {
    pub dry_run: bool,
    pub checked: Checked,
    /// Where the ticket states compared come from.
    pub ticket_states: String,
    pub repairs: Vec<Repair>,
    pub left: Vec<Left>,
}

/// An entry nobody delivers.
#[derive(Debug, Clone, PartialEq)]
pub struct StuckEntry {
    pub id: i64,
    pub tenant: String,
    pub task_id: String,
    pub action: String,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub next_at: i64,
}

/// Pending entries leased by a worker whose lease has run out, and entries due
/// before `due_before` that nobody holds and nothing of their ticket waits ahead of
/// (an entry behind an older one of its ticket waits by design).
pub async fn stuck_entries(store: &Store, now: i64, due_before: i64) -> Result<Vec<StuckEntry>> {
    let rows = sqlx::query(
        "SELECT id, tenant, task_id, action, lease_owner, lease_until, next_at FROM ticket_outbox o
         WHERE o.state = 'pending' AND (
             (o.lease_owner IS NOT NULL AND o.lease_until < $1)
          OR (o.lease_owner IS NULL AND o.next_at < $2
              AND NOT EXISTS (SELECT 1 FROM ticket_outbox e WHERE e.tenant = o.tenant AND e.fingerprint = o.fingerprint
                                AND e.state = 'pending' AND e.id < o.id)))
         ORDER BY o.id",
    )
    .bind(now)
    .bind(due_before)
    .fetch_all(&store.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(StuckEntry {
                id: r.try_get("id")?,
                tenant: r.try_get("tenant")?,
                task_id: r.try_get("task_id")?,
                action: r.try_get("action")?,
                lease_owner: r.try_get("lease_owner")?,
                lease_until: r.try_get("lease_until")?,
                next_at: r.try_get("next_at")?,
            })
        })
        .collect()
}

/// Frees a stuck entry and makes it due now; false when it moved on meanwhile (a
/// live worker claimed or delivered it).
pub async fn release_entry(store: &Store, id: i64, now: i64, due_before: i64) -> Result<bool> {
    let n = sqlx::query(
        "UPDATE ticket_outbox SET lease_owner = NULL, lease_until = NULL, next_at = $2, updated_at = $2
         WHERE id = $1 AND state = 'pending'
           AND ((lease_owner IS NOT NULL AND lease_until < $2) OR (lease_owner IS NULL AND next_at < $3))",
    )
    .bind(id)
    .bind(now)
    .bind(due_before)
    .execute(&store.pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// An open ticket none of whose tasks is still open.
#[derive(Debug, Clone, PartialEq)]
pub struct OrphanTicket {
    pub tenant: String,
    pub fingerprint: String,
    pub ticket_id: String,
    /// The closed task the close is sent for (the latest that still has its report).
    pub task_id: Option<String>,
}

/// Open tickets whose tasks are all closed, with nothing of theirs in the outbox
/// and no diagnosis of their failure under way.
pub async fn orphan_tickets(store: &Store) -> Result<Vec<OrphanTicket>> {
    let active = TaskState::ACTIVE.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(",");
    let rows = sqlx::query(&format!(
        "SELECT t.tenant, t.fingerprint, t.ticket_id FROM tickets t
         WHERE t.state = 'open' AND t.ticket_id <> ''
           AND NOT EXISTS (SELECT 1 FROM ticket_outbox o WHERE o.tenant = t.tenant AND o.fingerprint = t.fingerprint AND o.state = 'pending')
           AND EXISTS (SELECT 1 FROM tasks k WHERE k.tenant = t.tenant AND k.ticket_id = t.ticket_id)
           AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.tenant = t.tenant AND k.ticket_id = t.ticket_id AND k.state <> 'closed')
           AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.tenant = t.tenant AND k.fingerprint = t.fingerprint AND k.state IN ({active}))
         ORDER BY t.tenant, t.ticket_id"
    ))
    .fetch_all(&store.pool)
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let (tenant, ticket_id): (String, String) = (r.try_get("tenant")?, r.try_get("ticket_id")?);
        let task_id = sqlx::query("SELECT id FROM tasks WHERE tenant = $1 AND ticket_id = $2 AND report IS NOT NULL ORDER BY updated_at DESC LIMIT 1")
            .bind(&tenant)
            .bind(&ticket_id)
            .fetch_optional(&store.pool)
            .await?
            .map(|r| r.try_get::<String, _>("id"))
            .transpose()?;
        out.push(OrphanTicket { tenant, fingerprint: r.try_get("fingerprint")?, ticket_id, task_id });
    }
    Ok(out)
}

/// A task waiting for its fix on a ticket that is closed.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitingOnClosed {
    pub tenant: String,
    pub task_id: String,
    pub ticket_id: String,
    /// The task's state detail: `closed (manual): ...` unless casefile closed it.
    pub detail: String,
}

/// Tasks in `awaiting_fix` whose ticket is closed as last synced, or was closed and
/// then replaced by a new ticket of the same failure.
pub async fn waiting_on_closed(store: &Store) -> Result<Vec<WaitingOnClosed>> {
    let rows = sqlx::query(
        "SELECT k.id, k.tenant, k.fingerprint, k.ticket_id, t.ticket_id AS current_id, t.closed_at
         FROM tasks k JOIN tickets t ON t.tenant = k.tenant AND t.fingerprint = k.fingerprint
         WHERE k.state = 'awaiting_fix' AND k.ticket_id IS NOT NULL
           AND ((t.ticket_id = k.ticket_id AND t.state = 'closed') OR (t.previous_ticket_id = k.ticket_id AND t.ticket_id <> k.ticket_id))
           AND NOT EXISTS (SELECT 1 FROM ticket_outbox o WHERE o.tenant = t.tenant AND o.fingerprint = t.fingerprint AND o.state = 'pending')
         ORDER BY k.created_at",
    )
    .fetch_all(&store.pool)
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let (tenant, fingerprint, task_id, ticket_id): (String, String, String, String) =
            (r.try_get("tenant")?, r.try_get("fingerprint")?, r.try_get("id")?, r.try_get("ticket_id")?);
        let current: String = r.try_get("current_id")?;
        let closed_at: Option<i64> = r.try_get("closed_at")?;
        let detail = if current != ticket_id {
            format!("closed: its ticket {ticket_id} was closed and has been replaced by {current}; found by reconcile")
        } else {
            // casefile's own close writes closed_at and the entry's time together; a
            // person's close (synced) comes without an entry of casefile's.
            let last_close = sqlx::query(
                "SELECT task_id, state, created_at FROM ticket_outbox WHERE tenant = $1 AND fingerprint = $2 AND action = 'close' ORDER BY id DESC LIMIT 1",
            )
            .bind(&tenant)
            .bind(&fingerprint)
            .fetch_optional(&store.pool)
            .await?;
            let by_casefile = match (&last_close, closed_at) {
                (Some(c), Some(at)) => c.try_get::<String, _>("state")? == "delivered" && c.try_get::<i64, _>("created_at")? >= at,
                _ => false,
            };
            match last_close.filter(|_| by_casefile) {
                Some(c) => format!("closed: its ticket {ticket_id} was closed by casefile for task {}; found by reconcile", c.try_get::<String, _>("task_id")?),
                None => format!("closed (manual): ticket {ticket_id} is closed in the ticket system (last synced state); found by reconcile"),
            }
        };
        out.push(WaitingOnClosed { tenant, task_id, ticket_id, detail });
    }
    Ok(out)
}

/// A task with a report whose ticket was never asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct MissingTicket {
    pub tenant: String,
    pub task_id: String,
    pub state: TaskState,
}

/// Tasks with a report and a fingerprint, no ticket and no ticket action ever
/// queued: waiting for a fix (the bridge was off, or no endpoint was set), or
/// failed by an older release that gave up on the ticket system
/// (`retries_exhausted`). A cancelled or refused action counts as asked for: a
/// person or the ticket system has decided.
pub async fn missing_tickets(store: &Store) -> Result<Vec<MissingTicket>> {
    let rows = sqlx::query(
        "SELECT k.id, k.tenant, k.state, k.error FROM tasks k
         WHERE k.ticket_id IS NULL AND k.fingerprint IS NOT NULL AND k.report IS NOT NULL
           AND k.state IN ('awaiting_fix', 'failed')
           AND NOT EXISTS (SELECT 1 FROM ticket_outbox o WHERE o.task_id = k.id)
         ORDER BY k.created_at",
    )
    .fetch_all(&store.pool)
    .await?;
    let mut out = Vec::new();
    for r in &rows {
        let state: String = r.try_get("state")?;
        let state = if state == "failed" {
            let error: Option<String> = r.try_get("error")?;
            let code = error.and_then(|e| serde_json::from_str::<serde_json::Value>(&e).ok()).and_then(|e| e["code"].as_str().map(str::to_string));
            if code.as_deref() != Some("retries_exhausted") {
                continue;
            }
            TaskState::Failed
        } else {
            TaskState::AwaitingFix
        };
        out.push(MissingTicket { tenant: r.try_get("tenant")?, task_id: r.try_get("id")?, state });
    }
    Ok(out)
}

async fn count(store: &Store, sql: &str) -> Result<i64> {
    Ok(sqlx::query(sql).fetch_one(&store.pool).await?.try_get("n")?)
}

/// How long a due entry may wait unclaimed before it counts as stuck: a running
/// host claims a due entry within its poll (under a second), and a backing-off
/// entry is not due.
fn stuck_after_ms(app: &App) -> i64 {
    60_000 + app.config.ticket.retry_max_ms as i64
}

/// Finds the drift in the tenants `scope` lets through and, unless `dry_run`,
/// repairs it, auditing each repair as `actor`.
pub async fn run(app: &App, scope: &Scope, actor: &str, dry_run: bool) -> Result<Reconciled> {
    let store = &app.store;
    let now = now_ms();
    let due_before = now - stuck_after_ms(app);
    let mut checked = Checked {
        tasks: count(store, "SELECT COUNT(*) AS n FROM tasks").await?,
        tickets: count(store, "SELECT COUNT(*) AS n FROM tickets").await?,
        pending_entries: count(store, "SELECT COUNT(*) AS n FROM ticket_outbox WHERE state = 'pending'").await?,
        manual_hand_off: 0,
    };
    let mut repairs = Vec::new();
    let mut left = Vec::new();

    for e in stuck_entries(store, now, due_before).await?.into_iter().filter(|e| scope.allows(&e.tenant)) {
        let found = match (&e.lease_owner, e.lease_until) {
            (Some(owner), Some(until)) => format!("{} entry {} leased by {owner}, whose lease ran out {} s ago (the worker died mid-send)", e.action, e.id, (now - until) / 1000),
            _ => format!("{} entry {} due for {} s and claimed by no worker", e.action, e.id, (now - e.next_at) / 1000),
        };
        let applied = !dry_run && release_entry(store, e.id, now, due_before).await?;
        repairs.push(Repair {
            kind: "release_entry".into(),
            tenant: e.tenant,
            task_id: e.task_id,
            ticket_id: None,
            entry_id: Some(e.id),
            found,
            action: "released: no lease, due now, so the next free worker delivers it".into(),
            applied,
        });
    }

    for o in orphan_tickets(store).await?.into_iter().filter(|o| scope.allows(&o.tenant)) {
        let Some(task_id) = o.task_id else {
            left.push(Left {
                tenant: o.tenant,
                task_id: String::new(),
                ticket_id: Some(o.ticket_id.clone()),
                reason: format!("ticket {} is open while its tasks are closed, but their reports were purged (retention), so casefile cannot build the close: close it by hand", o.ticket_id),
            });
            continue;
        };
        let task = store.task(&task_id).await?.with_context(|| format!("task {task_id} vanished"))?;
        let why = store.task_events(&task_id).await?.into_iter().rev().find(|(_, s, _)| s == "closed").and_then(|(_, _, d)| d).unwrap_or_default();
        let found = format!("ticket {} is open while every task on it is closed (task {task_id}: closed{})", o.ticket_id, if why.is_empty() { String::new() } else { format!(", {why}") });
        let mut repair = Repair {
            kind: "close_ticket".into(),
            tenant: o.tenant.clone(),
            task_id: task_id.clone(),
            ticket_id: Some(o.ticket_id.clone()),
            entry_id: None,
            found,
            action: "queue a close of the ticket in the outbox".into(),
            applied: false,
        };
        if !dry_run {
            // Not `{task}:close:{n}`: this close does not count as closed after a
            // passing regression.
            let key = format!("{task_id}:reconcile-close:{now}");
            let comment = format!("Closed by casefile reconcile: task {task_id} is closed{}, and this ticket had stayed open.", if why.is_empty() { String::new() } else { format!(" ({why})") });
            repair.applied = super::enqueue_transition(app, &task, &key, "close", &comment).await?;
            repair.entry_id = store.outbox_entry(&key).await?.map(|e| e.id);
        }
        repairs.push(repair);
    }

    for w in waiting_on_closed(store).await?.into_iter().filter(|w| scope.allows(&w.tenant)) {
        let applied = !dry_run && store.transition(&w.task_id, &[TaskState::AwaitingFix], TaskState::Closed, Some(&w.detail)).await?;
        repairs.push(Repair {
            kind: "close_task".into(),
            tenant: w.tenant,
            task_id: w.task_id,
            ticket_id: Some(w.ticket_id.clone()),
            entry_id: None,
            found: format!("the task waits for a fix on ticket {}, which is closed", w.ticket_id),
            action: format!("close the task: {}", w.detail),
            applied,
        });
    }

    let (missing, manual) = queue_missing(app, scope, dry_run).await?;
    repairs.extend(missing);
    checked.manual_hand_off = manual;

    if !dry_run {
        audit(app, actor, &repairs).await?;
    }
    Ok(Reconciled { dry_run, checked, ticket_states: TICKET_STATES.into(), repairs, left })
}

/// Audits the repairs done and wakes the workers and the outbox for them.
async fn audit(app: &App, actor: &str, repairs: &[Repair]) -> Result<()> {
    for r in repairs.iter().filter(|r| r.applied) {
        app.audit
            .append(&app.store, actor, &format!("reconcile.{}", r.kind), r.ticket_id.as_deref().unwrap_or(&r.task_id), json!(r))
            .await?;
    }
    if repairs.iter().any(|r| r.applied) {
        app.wake.notify_waiters();
    }
    Ok(())
}

/// What switching `debug-ticket-bridge` back on does: the tasks handed off while
/// it was off get their ticket actions queued (one ticket per failure, as ever).
/// The other checks wait for `reconcile`.
pub async fn after_bridge_on(app: &App, actor: &str) -> Result<Vec<Repair>> {
    let (repairs, _) = queue_missing(app, &Scope::All, false).await?;
    audit(app, actor, &repairs).await?;
    Ok(repairs)
}

/// Queues the ticket action of every task that never got one and can get one now;
/// also returns how many cannot (no target: manual hand-off).
async fn queue_missing(app: &App, scope: &Scope, dry_run: bool) -> Result<(Vec<Repair>, i64)> {
    let store = &app.store;
    let mut repairs = Vec::new();
    let mut manual = 0;
    for m in missing_tickets(store).await?.into_iter().filter(|m| scope.allows(&m.tenant)) {
        let task = store.task(&m.task_id).await?.with_context(|| format!("task {} vanished", m.task_id))?;
        if super::target(app, &task).await?.is_none() {
            manual += 1;
            continue;
        }
        let found = match m.state {
            TaskState::Failed => "the task failed while the ticket system was down (an older release gave up) and has no ticket".to_string(),
            _ => "the task waits for a fix without a ticket: no ticket action was ever queued for it (the bridge was off or no endpoint was set)".to_string(),
        };
        let mut repair = Repair {
            kind: "create_ticket".into(),
            tenant: m.tenant.clone(),
            task_id: m.task_id.clone(),
            ticket_id: None,
            entry_id: None,
            found,
            action: "queue the ticket action of its diagnosis (a create, or a comment on its failure's open ticket); the task waits in ticketing for it".into(),
            applied: false,
        };
        if !dry_run {
            let detail = format!("reconcile: {}; its ticket is queued", repair.found);
            if store.transition(&m.task_id, &[m.state], TaskState::Ticketing, Some(&detail)).await? {
                sqlx::query("UPDATE tasks SET error = NULL, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND state = 'ticketing'")
                    .bind(&m.task_id)
                    .execute(&store.pool)
                    .await?;
                let entry = super::enqueue(app, &task).await?;
                repair.entry_id = Some(entry.id);
                repair.action = format!("queued `{}` (entry {}); the task waits in ticketing for it", entry.action, entry.id);
                repair.applied = true;
            }
        }
        repairs.push(repair);
    }

    Ok((repairs, manual))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    /// Runs `check` on a fresh SQLite and a fresh PostgreSQL database.
    async fn on_both<F, Fut>(check: F)
    where
        F: Fn(Store) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let dir = tempfile::tempdir().unwrap();
        check(Store::open(&Store::default_url(dir.path()), dir.path()).await.unwrap()).await;
        let (admin, db, url) = crate::store::tests::fresh_postgres().await;
        let store = Store::open(&url, dir.path()).await.unwrap();
        check(store.clone()).await;
        store.pool.close().await;
        crate::store::tests::drop_postgres(admin, &db).await;
    }

    /// An entry whose worker died holding it, and one due long ago that nobody
    /// claimed, are stuck; one behind its ticket's create, one backing off and one
    /// freshly leased are not. Released once, they are not found again.
    #[tokio::test]
    async fn stuck_entries_are_found_released_and_not_found_again() {
        on_both(|store| async move {
            store.enqueue_diagnosis("acme", "fp-a", "t1", "e1", 30 * DAY).await.unwrap();
            store.enqueue_diagnosis("acme", "fp-a", "t2", "e2", 30 * DAY).await.unwrap();
            store.enqueue_diagnosis("acme", "fp-b", "t3", "e3", 30 * DAY).await.unwrap();
            store.enqueue_diagnosis("acme", "fp-c", "t4", "e4", 30 * DAY).await.unwrap();
            let now = now_ms();
            let set = |sql: &'static str, task: &'static str, a: i64| {
                let store = store.clone();
                async move { sqlx::query(sql).bind(a).bind(task).execute(&store.pool).await.unwrap() }
            };
            // t1's create: leased by a dead worker. t2's comment: due long ago, but it
            // waits for t1's create. t3: due long ago, nobody holds it. t4: live lease.
            set("UPDATE ticket_outbox SET lease_owner = 'dead/outbox', lease_until = $1 WHERE task_id = $2", "t1", now - 5_000).await;
            set("UPDATE ticket_outbox SET next_at = $1 WHERE task_id = $2", "t2", now - 10 * 60_000).await;
            set("UPDATE ticket_outbox SET next_at = $1 WHERE task_id = $2", "t3", now - 10 * 60_000).await;
            set("UPDATE ticket_outbox SET lease_owner = 'live/outbox', lease_until = $1 WHERE task_id = $2", "t4", now + 60_000).await;
            let due_before = now - 60_000;
            let stuck = stuck_entries(&store, now, due_before).await.unwrap();
            assert_eq!(stuck.iter().map(|e| e.task_id.as_str()).collect::<Vec<_>>(), ["t1", "t3"], "{stuck:?}");
            assert_eq!(stuck[0].lease_owner.as_deref(), Some("dead/outbox"));
            for e in &stuck {
                assert!(release_entry(&store, e.id, now, due_before).await.unwrap());
                assert!(!release_entry(&store, e.id, now, due_before).await.unwrap(), "released once");
            }
            assert!(stuck_entries(&store, now, due_before).await.unwrap().is_empty());
            // Released means claimable at once, by a live worker.
            let claimed = store.claim_outbox("w", 60_000).await.unwrap().expect("due now");
            assert_eq!(claimed.task_id, "t1");
        })
        .await;
    }

    /// A task that has a report, no ticket and no ticket action is found; one whose
    /// action was cancelled by a person, or that failed for another reason, is not.
    #[tokio::test]
    async fn tasks_without_a_ticket_action_are_found() {
        on_both(|store| async move {
            let req = |event: &str| crate::model::DiagnosisRequest {
                error_event_id: event.into(),
                tenant: "acme".into(),
                plugin: crate::model::PluginRef { id: "p".into(), version: None },
                environments: vec![],
                window: crate::model::Window { start: chrono::Utc::now() - chrono::Duration::minutes(5), end: chrono::Utc::now() },
                trace_ids: vec![],
                message: None,
                regression: crate::model::RegressionStrategy::Webhook,
                alert: None,
            };
            for (id, state, error) in [
                ("manual", TaskState::AwaitingFix, None),
                ("gave-up", TaskState::Failed, Some(json!({"code": "retries_exhausted", "message": "ticket system down"}))),
                ("masking", TaskState::Failed, Some(json!({"code": "masking_violation", "message": "held back"}))),
                ("cancelled", TaskState::AwaitingFix, None),
            ] {
                store.create_task(id, &req(id)).await.unwrap();
                store.save_report(id, &json!({}), "md", "sha", &format!("fp-{id}"), &json!([])).await.unwrap();
                match error {
                    Some(e) => store.fail_task(id, &e).await.unwrap(),
                    None => store.set_state(id, state, None).await.unwrap(),
                }
            }
            store.enqueue_diagnosis("acme", "fp-cancelled", "cancelled", "cancelled", 30 * DAY).await.unwrap();
            store.outbox_cancel_task("cancelled", "ana").await.unwrap();
            let found = missing_tickets(&store).await.unwrap();
            assert_eq!(
                found.iter().map(|m| (m.task_id.as_str(), m.state)).collect::<Vec<_>>(),
                [("manual", TaskState::AwaitingFix), ("gave-up", TaskState::Failed)]
            );
        })
        .await;
    }
}
