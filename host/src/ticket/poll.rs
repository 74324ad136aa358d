//! Polling the ticket system for what people changed: the safety net beside the
//! webhook (sync.rs), and the only path for a ticket system without webhooks
//! (Redmine). Every `ticket.poll_interval_secs`, for each mapper that exports
//! `ticket-poll`, the host asks for the tickets changed since its cursor and applies
//! what differs from its own rows through `sync::apply`, the webhook's code: a
//! ticket closed by a person closes its tasks as `closed (manual)`, a reopened one
//! puts the latest back to `awaiting_fix`, a reassignment is recorded.
//!
//! Times are the ticket system's own (Redmine's are to the second), so each poll
//! asks from the latest time seen, inclusive, and skips what it already applied at
//! that time: keyed on (id, updated) and what the host reads (state, assignee), as
//! two changes within one second share their `updated`. A ticket whose own actions are in flight (an outbox entry
//! pending, or delivered while the poll ran) is left for the next poll: the answer
//! may predate casefile's own close or reopen, and must not undo it.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde_json::json;
use sqlx::Row;
use sha2::Digest as _;

use super::sync::{self, Applied, Change, TicketEvent};
use crate::app::App;
use crate::runtime::bindings::wit;
use crate::runtime::{convert, Loaded, TicketStatus};
use crate::store::now_ms;

/// How far before the oldest ticket's creation the first poll starts: the ticket
/// system's clock may differ from ours.
const FIRST_POLL_MARGIN_MS: i64 = 10 * 60 * 1000;
/// Pages read in one poll; the rest comes in the next one.
const MAX_PAGES: usize = 50;

/// Polls for the life of the host (not at all when `ticket.poll_interval_secs` is 0).
pub async fn poll_forever(app: Arc<App>) {
    let every = app.config.ticket.poll_interval_secs;
    if every == 0 {
        return;
    }
    let owner = format!("{}/poll", app.host_id);
    loop {
        tokio::time::sleep(Duration::from_secs(every)).await;
        match poll_once(&app, &owner).await {
            Ok(applied) if !applied.is_empty() => tracing::info!(changes = applied.len(), "ticket poll applied changes"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "ticket poll failed; trying again at the next interval"),
        }
    }
}

/// One poll of every polling mapper whose tenants have tickets. Returns what changed.
pub async fn poll_once(app: &App, owner: &str) -> Result<Vec<Applied>> {
    if !app.flag(crate::flags::TICKET_BRIDGE).await {
        return Ok(Vec::new());
    }
    let Some(endpoint) = app.config.ticket.endpoint.clone().filter(|e| !e.is_empty()) else { return Ok(Vec::new()) };
    // Every place tickets go: the base settings and each route's own (another
    // project or repository is listed with its own request and cursor).
    let mut targets: Vec<(String, wit::TicketTarget)> = vec![(String::new(), wit::TicketTarget { endpoint: endpoint.clone(), settings: app.config.ticket.settings_json() })];
    for route in app.config.owners.routes.iter().filter(|r| !r.ticket_settings.is_empty()) {
        let settings = app.config.ticket.settings_with(&route.ticket_settings);
        if targets.iter().all(|(_, t)| t.settings != settings) {
            let tag = format!("@{}", &hex::encode(sha2::Sha256::digest(settings.as_bytes()))[..12]);
            targets.push((tag, wit::TicketTarget { endpoint: endpoint.clone(), settings }));
        }
    }
    let tenants: Vec<String> = sqlx::query("SELECT DISTINCT tenant FROM tickets WHERE ticket_id <> ''")
        .fetch_all(&app.store.pool)
        .await?
        .iter()
        .map(|r| r.try_get("tenant"))
        .collect::<Result<_, _>>()?;
    let mut by_mapper: BTreeMap<String, (Arc<Loaded>, Vec<String>)> = BTreeMap::new();
    for tenant in tenants {
        let mapper = match app.registry.resolve(&app.config, &app.runtime, &app.store, &tenant).await {
            Ok(r) => r.mapper,
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %format!("{e:#}"), "cannot resolve the tenant's ticket mapper to poll");
                continue;
            }
        };
        if let Some(m) = mapper.filter(|m| m.can_poll()) {
            by_mapper.entry(m.sha256.clone()).or_insert_with(|| (m.clone(), Vec::new())).1.push(tenant);
        }
    }
    let mut applied = Vec::new();
    let mut failures = Vec::new();
    let mut rounds = Vec::new();
    for (m, tenants) in by_mapper.values() {
        for (tag, t) in &targets {
            rounds.push((m, tenants, format!("{}{tag}", m.sha256), t));
        }
    }
    for (mapper, tenants, key, target) in rounds {
        match poll_mapper(app, owner, &key, target, mapper, tenants).await {
            Ok(mut a) => {
                metrics::counter!("casefile_ticket_polls_total", "outcome" => "ok").increment(1);
                applied.append(&mut a);
            }
            Err(e) => {
                metrics::counter!("casefile_ticket_polls_total", "outcome" => "error").increment(1);
                let why = format!("ticket mapper {}: {e:#}", mapper.name);
                sqlx::query("UPDATE ticket_poll SET last_error = $2 WHERE mapper_sha256 = $1")
                    .bind(&key)
                    .bind(crate::telemetry::scrub(&why))
                    .execute(&app.store.pool)
                    .await?;
                failures.push(why);
            }
        }
    }
    if !failures.is_empty() {
        return Err(anyhow!("{}", failures.join("; ")));
    }
    Ok(applied)
}

/// Where one mapper's polling got to.
struct Cursor {
    since: String,
    /// (what was seen, its `updated`) for those at or after `since`.
    seen: BTreeSet<(String, String)>,
}

/// What the poll acts on in one listed ticket: a change of any of it within the
/// same second as the last one is news.
fn seen_key(t: &TicketStatus) -> String {
    format!("{}\u{1f}{}\u{1f}{}", t.id, convert::ticket_state_word(&t.state), t.assignee.as_deref().unwrap_or(""))
}

/// Takes the mapper's turn (None when another host polled it within the interval).
async fn claim(app: &App, owner: &str, sha: &str) -> Result<Option<Cursor>> {
    let now = now_ms();
    sqlx::query("INSERT INTO ticket_poll (mapper_sha256) VALUES ($1) ON CONFLICT (mapper_sha256) DO NOTHING").bind(sha).execute(&app.store.pool).await?;
    // Slightly short of the interval, so this host's own next round finds it free.
    let lease = (app.config.ticket.poll_interval_secs.max(1) * 1000) as i64 * 9 / 10;
    let n = sqlx::query("UPDATE ticket_poll SET lease_owner = $2, lease_until = $3 WHERE mapper_sha256 = $1 AND (lease_until < $4 OR lease_owner = $2)")
        .bind(sha)
        .bind(owner)
        .bind(now + lease)
        .bind(now)
        .execute(&app.store.pool)
        .await?
        .rows_affected();
    if n != 1 {
        return Ok(None);
    }
    let row = sqlx::query("SELECT cursor, seen FROM ticket_poll WHERE mapper_sha256 = $1").bind(sha).fetch_one(&app.store.pool).await?;
    let seen: Vec<(String, String)> = serde_json::from_str(&row.try_get::<String, _>("seen")?).unwrap_or_default();
    Ok(Some(Cursor { since: row.try_get("cursor")?, seen: seen.into_iter().collect() }))
}

/// One poll of one mapper at one target; `key` names its cursor (the mapper's
/// SHA-256, with a tag for a route's own settings).
async fn poll_mapper(app: &App, owner: &str, key: &str, target: &wit::TicketTarget, mapper: &Loaded, tenants: &[String]) -> Result<Vec<Applied>> {
    let Some(mut cursor) = claim(app, owner, key).await? else { return Ok(Vec::new()) };
    if cursor.since.is_empty() {
        // Never polled: from a little before the oldest ticket of these tenants.
        let Some(oldest) = oldest_ticket(app, tenants).await? else { return Ok(Vec::new()) };
        let from = chrono::DateTime::from_timestamp_millis(oldest - FIRST_POLL_MARGIN_MS).context("ticket creation time")?;
        cursor.since = from.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    }
    let started = now_ms();
    let tickets = fetch(app, target, mapper, &cursor.since).await?;

    let mut applied = Vec::new();
    let mut latest = cursor.since.clone();
    let mut deferred: Option<String> = None;
    let mut done = Vec::new();
    for t in &tickets {
        let pair = (seen_key(t), t.updated.clone());
        if cursor.seen.contains(&pair) {
            continue;
        }
        match reconcile(app, t, tenants, started).await? {
            Some(mut a) => {
                applied.append(&mut a);
                done.push(pair);
            }
            None => {
                if deferred.as_ref().is_none_or(|d| time_cmp(&t.updated, d) == Ordering::Less) {
                    deferred = Some(t.updated.clone());
                }
            }
        }
        if time_cmp(&t.updated, &latest) == Ordering::Greater {
            latest = t.updated.clone();
        }
    }
    // Not past a ticket left for later, so the next poll sees it again.
    let next = match deferred {
        Some(d) if time_cmp(&d, &latest) == Ordering::Less => d,
        _ => latest,
    };
    tracing::debug!(mapper = %mapper.name, since = %cursor.since, next = %next, listed = tickets.len(), applied = applied.len(), "ticket poll");
    cursor.seen.extend(done);
    let seen: Vec<&(String, String)> = cursor.seen.iter().filter(|(_, u)| time_cmp(u, &next) != Ordering::Less).collect();
    sqlx::query("UPDATE ticket_poll SET cursor = $2, seen = $3, polled_at = $4, last_error = NULL WHERE mapper_sha256 = $1 AND lease_owner = $5")
        .bind(key)
        .bind(&next)
        .bind(serde_json::to_string(&seen)?)
        .bind(now_ms())
        .bind(owner)
        .execute(&app.store.pool)
        .await?;
    Ok(applied)
}

async fn oldest_ticket(app: &App, tenants: &[String]) -> Result<Option<i64>> {
    let mut oldest: Option<i64> = None;
    for t in tenants {
        let r = sqlx::query("SELECT MIN(created_at) AS oldest FROM tickets WHERE tenant = $1 AND ticket_id <> ''").bind(t).fetch_one(&app.store.pool).await?;
        if let Some(at) = r.try_get::<Option<i64>, _>("oldest")? {
            oldest = Some(oldest.map_or(at, |o| o.min(at)));
        }
    }
    Ok(oldest)
}

/// Every page of tickets changed since `since`, as the mapper reads them.
async fn fetch(app: &App, target: &wit::TicketTarget, mapper: &Loaded, since: &str) -> Result<Vec<TicketStatus>> {
    let grant = super::ticket_grant(app, target)?;
    let mut page: Option<String> = None;
    let mut all = Vec::new();
    for _ in 0..MAX_PAGES {
        let req = app.runtime.build_ticket_poll(mapper, target, since, page.as_deref()).await?;
        super::request_url(target, &req)?;
        let headers: Vec<(String, String)> = req.headers.iter().map(|f| (f.key.clone(), f.value.clone())).collect();
        let answer = app
            .outbound
            .send(&grant, convert::method(req.method), &req.url, &headers, req.body)
            .await
            .map_err(|e| anyhow!("the ticket system at {} did not answer the poll: {e}", target.endpoint))?;
        let headers = answer.headers.into_iter().map(|(key, value)| wit::Field { key, value }).collect();
        let response = wit::HttpResponse { status: answer.status, headers, body: answer.body };
        let got = app.runtime.parse_ticket_poll(mapper, &response).await?;
        all.extend(got.tickets);
        match got.next_page {
            Some(next) if page.as_deref() != Some(next.as_str()) => page = Some(next),
            _ => break,
        }
    }
    Ok(all)
}

/// Applies what differs between the ticket system's word and the host's rows for
/// this ticket. None: left for the next poll (casefile's own action is in flight).
async fn reconcile(app: &App, t: &TicketStatus, tenants: &[String], poll_started: i64) -> Result<Option<Vec<Applied>>> {
    let rows = sqlx::query("SELECT tenant, fingerprint, state, assignee FROM tickets WHERE ticket_id = $1").bind(&t.id).fetch_all(&app.store.pool).await?;
    let mut applied = Vec::new();
    for r in &rows {
        let tenant: String = r.try_get("tenant")?;
        let state: String = r.try_get("state")?;
        if !tenants.contains(&tenant) || matches!(state.as_str(), "pending" | "rejected") {
            continue;
        }
        let mut changes = Vec::new();
        match (&t.state, state == "closed") {
            (wit::TicketState::Closed, false) => changes.push(Change::Closed),
            (wit::TicketState::Open, true) => changes.push(Change::Reopened),
            _ => {}
        }
        if !changes.is_empty() {
            let fingerprint: String = r.try_get("fingerprint")?;
            let busy = sqlx::query(
                "SELECT 1 AS one FROM ticket_outbox WHERE tenant = $1 AND fingerprint = $2 AND (state = 'pending' OR delivered_at >= $3)",
            )
            .bind(&tenant)
            .bind(&fingerprint)
            .bind(poll_started)
            .fetch_optional(&app.store.pool)
            .await?
            .is_some();
            if busy {
                return Ok(None);
            }
        }
        let known: Option<String> = r.try_get("assignee")?;
        let now = t.assignee.clone().unwrap_or_default();
        if known.unwrap_or_default() != now {
            changes.push(Change::Assigned(now));
        }
        for change in changes {
            let event = TicketEvent { ticket_id: t.id.clone(), tenant: Some(tenant.clone()), change, by: None };
            let Some(a) = sync::apply(app, &event, &crate::access::Scope::All).await? else { continue };
            if a.effect == "unchanged" {
                continue;
            }
            metrics::counter!("casefile_ticket_poll_changes_total", "effect" => a.effect.clone()).increment(1);
            app.audit
                .append(
                    &app.store,
                    "ticket-system",
                    &format!("ticket.{}", a.effect),
                    &a.ticket_id,
                    json!({"task_id": a.task_id, "by": null, "change": format!("{:?}", event.change), "via": "poll", "updated": t.updated}),
                )
                .await?;
            applied.push(a);
        }
    }
    Ok(Some(applied))
}

/// Orders two of the ticket system's times: as RFC 3339 instants when both are,
/// else as text (ISO forms of one system sort as text too).
fn time_cmp(a: &str, b: &str) -> Ordering {
    match (chrono::DateTime::parse_from_rfc3339(a), chrono::DateTime::parse_from_rfc3339(b)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_compare_as_instants_when_they_are_rfc3339() {
        assert_eq!(time_cmp("2026-11-30T22:37:25Z", "2026-11-30T22:37:31Z"), Ordering::Less);
        assert_eq!(time_cmp("2026-11-30T23:37:25+01:00", "2026-11-30T22:37:25Z"), Ordering::Equal);
        assert_eq!(time_cmp("2026-11-30T22:37:25Z", "2026-11-30T22:37:25Z"), Ordering::Equal);
        assert_eq!(time_cmp("b", "a"), Ordering::Greater);
    }

    /// Two changes within one second share `updated`: the second is still news.
    #[test]
    fn a_second_change_in_the_same_second_is_not_taken_for_a_repeat() {
        let t = |state, assignee: Option<&str>| TicketStatus { id: "7".into(), state, assignee: assignee.map(str::to_string), updated: "2026-11-30T22:37:25Z".into() };
        let reopened = seen_key(&t(wit::TicketState::Open, None));
        assert_ne!(reopened, seen_key(&t(wit::TicketState::Open, Some("Ana"))));
        assert_ne!(reopened, seen_key(&t(wit::TicketState::Closed, None)));
        assert_eq!(reopened, seen_key(&t(wit::TicketState::Open, None)));
    }
}
