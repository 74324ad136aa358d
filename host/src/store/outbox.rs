//! The ticket outbox: every ticket action is a row here before it is sent, and the
//! tickets table's key (tenant, fingerprint) is what keeps one ticket per failure.
//! The decisions that must not race (create or comment, reopen or replace) are
//! taken inside one transaction that holds the fingerprint's ticket row.

use anyhow::{Context, Result};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now_ms, ticket_from_row, Backend, Store, TicketRow};

/// One ticket action as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    pub id: i64,
    pub key: String,
    pub tenant: String,
    pub fingerprint: String,
    pub task_id: String,
    /// `create`, `comment`, `reopen` or `close`.
    pub action: String,
    pub comment: String,
    /// `pending`, `delivered`, `rejected` or `cancelled`.
    pub state: String,
    pub attempts: i64,
    pub next_at: i64,
    /// The last failure, or for a rejected entry the ticket system's answer.
    pub answer: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

/// What a diagnosis did to its fingerprint's ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    /// The task's own outbox entry (the one its ticketing stage waits for).
    pub entry: OutboxEntry,
    /// Whether this call wrote it (false: a retry found the one written before).
    pub new: bool,
}

fn entry_from_row(r: &AnyRow) -> Result<OutboxEntry> {
    Ok(OutboxEntry {
        id: r.try_get("id")?,
        key: r.try_get("key")?,
        tenant: r.try_get("tenant")?,
        fingerprint: r.try_get("fingerprint")?,
        task_id: r.try_get("task_id")?,
        action: r.try_get("action")?,
        comment: r.try_get("comment")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        next_at: r.try_get("next_at")?,
        answer: r.try_get("answer")?,
        created_at: r.try_get("created_at")?,
        delivered_at: r.try_get("delivered_at")?,
    })
}

/// The key of the entry a task's ticketing stage writes (one per task).
pub fn diagnosis_key(task_id: &str) -> String {
    format!("{task_id}:ticket")
}

const INSERT_ENTRY: &str = "INSERT INTO ticket_outbox (key, tenant, fingerprint, task_id, action, comment, state, attempts, next_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7)";

impl Store {
    fn for_update(&self) -> &'static str {
        // SQLite has one writer and the transaction already holds it; PostgreSQL
        // needs the row lock so a racing host waits for this decision.
        match self.backend {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }

    /// The fingerprint's current ticket (never one it replaced).
    pub async fn ticket(&self, tenant: &str, fingerprint: &str) -> Result<Option<TicketRow>> {
        let row = sqlx::query("SELECT * FROM tickets WHERE tenant = $1 AND fingerprint = $2")
            .bind(tenant)
            .bind(fingerprint)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| ticket_from_row(&r)).transpose()
    }

    /// Records a diagnosis of `fingerprint` and the ticket action it calls for, in one
    /// transaction: the first diagnosis inserts the ticket row (state `pending`) and a
    /// `create`; a later one, also one racing on another host, finds that row and
    /// adds an occurrence and a `comment`; on a closed ticket it `reopen`s it within
    /// `reopen_window_ms` of its closing, else starts a new ticket that links the old.
    /// Idempotent per task.
    pub async fn enqueue_diagnosis(
        &self,
        tenant: &str,
        fingerprint: &str,
        task_id: &str,
        error_event_id: &str,
        reopen_window_ms: i64,
    ) -> Result<Enqueued> {
        let now = now_ms();
        let key = diagnosis_key(task_id);
        let mut tx = self.pool.begin().await?;
        // Written first so SQLite takes its write lock at once (a read that later
        // writes could fail with SQLITE_BUSY instead of waiting).
        let inserted = sqlx::query(
            "INSERT INTO tickets (tenant, fingerprint, ticket_id, url, state, task_id, created_at, updated_at, occurrences)
             VALUES ($1, $2, '', NULL, 'pending', $3, $4, $4, 1)
             ON CONFLICT (tenant, fingerprint) DO NOTHING",
        )
        .bind(tenant)
        .bind(fingerprint)
        .bind(task_id)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        let sql = format!("SELECT * FROM tickets WHERE tenant = $1 AND fingerprint = $2{}", self.for_update());
        let ticket = ticket_from_row(&sqlx::query(&sql).bind(tenant).bind(fingerprint).fetch_one(&mut *tx).await?)?;
        if let Some(r) = sqlx::query("SELECT * FROM ticket_outbox WHERE key = $1").bind(&key).fetch_optional(&mut *tx).await? {
            // A retry of this task: its action was decided and written before.
            let entry = entry_from_row(&r)?;
            tx.commit().await?;
            return Ok(Enqueued { entry, new: false });
        }
        if !inserted && ticket.task_id == task_id && !ticket.ticket_id.is_empty() {
            // This task created the ticket before the outbox existed (a release
            // without it, stopped mid-stage): record that instead of commenting on
            // its own ticket.
            sqlx::query(&format!("{INSERT_ENTRY} ON CONFLICT (key) DO NOTHING"))
                .bind(&key)
                .bind(tenant)
                .bind(fingerprint)
                .bind(task_id)
                .bind("create")
                .bind("")
                .bind(now)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE ticket_outbox SET state = 'delivered', delivered_at = $2 WHERE key = $1").bind(&key).bind(now).execute(&mut *tx).await?;
            sqlx::query("UPDATE tasks SET ticket_id = $2 WHERE id = $1 AND ticket_id IS NULL").bind(task_id).bind(&ticket.ticket_id).execute(&mut *tx).await?;
            let entry = entry_from_row(&sqlx::query("SELECT * FROM ticket_outbox WHERE key = $1").bind(&key).fetch_one(&mut *tx).await?)?;
            tx.commit().await?;
            return Ok(Enqueued { entry, new: false });
        }
        let seen = format!("task {task_id}, error event {error_event_id}");
        let mut extra: Option<(&str, String)> = None;
        let (action, comment) = if inserted {
            ("create", String::new())
        } else if ticket.state == "rejected" {
            // The last create was refused or cancelled: there is no ticket to update.
            self.restart_ticket(&mut tx, &ticket, task_id, now, false).await?;
            ("create", String::new())
        } else if ticket.state == "closed" {
            let closed_at = ticket.closed_at.unwrap_or(0);
            // A window of 0 never reopens: every recurrence gets a new ticket.
            if reopen_window_ms > 0 && now - closed_at <= reopen_window_ms {
                sqlx::query(
                    "UPDATE tickets SET state = 'open', closed_at = NULL, occurrences = occurrences + 1, updated_at = $3
                     WHERE tenant = $1 AND fingerprint = $2",
                )
                .bind(tenant)
                .bind(fingerprint)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                ("reopen", format!("Regression: this failure came back after the ticket was closed ({seen})."))
            } else {
                self.restart_ticket(&mut tx, &ticket, task_id, now, true).await?;
                let old = match &ticket.url {
                    Some(url) => format!("{} ({url})", ticket.ticket_id),
                    None => ticket.ticket_id.clone(),
                };
                extra = Some((
                    "comment",
                    format!("Regression of closed ticket {old}: it was closed longer ago than the reopen window, so this is a new ticket ({seen})."),
                ));
                ("create", String::new())
            }
        } else {
            // Open, waiting for its create, or in a state of the ticket system's own.
            sqlx::query("UPDATE tickets SET occurrences = occurrences + 1, updated_at = $3 WHERE tenant = $1 AND fingerprint = $2")
                .bind(tenant)
                .bind(fingerprint)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            ("comment", format!("Seen again: occurrence {} ({seen}).", ticket.occurrences + 1))
        };
        for (k, a, c) in std::iter::once((key.clone(), action, comment)).chain(extra.map(|(a, c)| (format!("{task_id}:link"), a, c))) {
            sqlx::query(INSERT_ENTRY)
                .bind(&k)
                .bind(tenant)
                .bind(fingerprint)
                .bind(task_id)
                .bind(a)
                .bind(&c)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        let entry = entry_from_row(&sqlx::query("SELECT * FROM ticket_outbox WHERE key = $1").bind(&key).fetch_one(&mut *tx).await?)?;
        tx.commit().await?;
        Ok(Enqueued { entry, new: true })
    }

    /// Makes the fingerprint's row a new, not yet created ticket of `task_id`,
    /// remembering the closed one it replaces when `link` is set.
    async fn restart_ticket(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>, old: &TicketRow, task_id: &str, now: i64, link: bool) -> Result<()> {
        let (prev_id, prev_url) = if link { (Some(old.ticket_id.clone()), old.url.clone()) } else { (old.previous_ticket_id.clone(), old.previous_url.clone()) };
        sqlx::query(
            "UPDATE tickets SET ticket_id = '', url = NULL, state = 'pending', task_id = $3, occurrences = 1, closed_at = NULL,
                previous_ticket_id = $4, previous_url = $5, created_at = $6, updated_at = $6
             WHERE tenant = $1 AND fingerprint = $2",
        )
        .bind(&old.tenant)
        .bind(&old.fingerprint)
        .bind(task_id)
        .bind(prev_id)
        .bind(prev_url)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Queues `close` (or a `comment`) on the ticket `ticket_id` of the fingerprint.
    /// A close marks the row closed at once, so a recurrence after it reopens (and
    /// its reopen is delivered after the close). Nothing is queued when `ticket_id` is
    /// no longer the fingerprint's ticket, or for a close of a closed ticket; the
    /// `key` makes a repeat a no-op. Returns whether an entry was written.
    pub async fn enqueue_transition(&self, key: &str, task_id: &str, tenant: &str, fingerprint: &str, ticket_id: &str, action: &str, comment: &str) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let current = if action == "close" {
            sqlx::query(
                "UPDATE tickets SET state = 'closed', closed_at = $4, updated_at = $4
                 WHERE tenant = $1 AND fingerprint = $2 AND ticket_id = $3 AND state <> 'closed'",
            )
            .bind(tenant)
            .bind(fingerprint)
            .bind(ticket_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        } else {
            sqlx::query("SELECT 1 AS one FROM tickets WHERE tenant = $1 AND fingerprint = $2 AND ticket_id = $3 AND state <> 'closed'")
                .bind(tenant)
                .bind(fingerprint)
                .bind(ticket_id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some()
        };
        if !current {
            tx.commit().await?;
            return Ok(false);
        }
        let n = sqlx::query(&format!("{INSERT_ENTRY} ON CONFLICT (key) DO NOTHING"))
            .bind(key)
            .bind(tenant)
            .bind(fingerprint)
            .bind(task_id)
            .bind(action)
            .bind(comment)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    pub async fn outbox_entry(&self, key: &str) -> Result<Option<OutboxEntry>> {
        let row = sqlx::query("SELECT * FROM ticket_outbox WHERE key = $1").bind(key).fetch_optional(&self.pool).await?;
        row.map(|r| entry_from_row(&r)).transpose()
    }

    /// The task's entries, oldest first.
    pub async fn outbox_of_task(&self, task_id: &str) -> Result<Vec<OutboxEntry>> {
        let rows = sqlx::query("SELECT * FROM ticket_outbox WHERE task_id = $1 ORDER BY id").bind(task_id).fetch_all(&self.pool).await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Claims the next due entry, by lease so that several workers and hosts can
    /// share the outbox; an entry waits while an older one of its fingerprint is
    /// pending, so a ticket's actions reach the ticket system in the order written.
    pub async fn claim_outbox(&self, owner: &str, lease_ms: i64) -> Result<Option<OutboxEntry>> {
        let now = now_ms();
        let skip_locked = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // The lease test is repeated outside the subquery: PostgreSQL re-checks it on
        // the row a concurrent claim just committed, so only one of them wins.
        let sql = format!(
            "UPDATE ticket_outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3
             WHERE id = (SELECT o.id FROM ticket_outbox o
                          WHERE o.state = 'pending' AND o.next_at <= $3 AND (o.lease_until IS NULL OR o.lease_until < $3)
                            AND NOT EXISTS (SELECT 1 FROM ticket_outbox e WHERE e.tenant = o.tenant AND e.fingerprint = o.fingerprint
                                              AND e.state = 'pending' AND e.id < o.id)
                          ORDER BY o.next_at, o.id LIMIT 1{skip_locked})
               AND state = 'pending' AND (lease_until IS NULL OR lease_until < $3)
             RETURNING *"
        );
        let row = sqlx::query(&sql).bind(owner).bind(now + lease_ms).bind(now).fetch_optional(&self.pool).await?;
        row.map(|r| entry_from_row(&r)).transpose()
    }

    /// Marks a claimed entry delivered; a `create` gives the fingerprint's row the
    /// ticket's id. The entry's task learns the ticket id and, if it waits in
    /// `ticketing`, is made due at once. False when the lease was lost meanwhile.
    pub async fn outbox_delivered(&self, e: &OutboxEntry, owner: &str, created: Option<(&str, Option<&str>)>) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(
            "UPDATE ticket_outbox SET state = 'delivered', delivered_at = $3, updated_at = $3, lease_owner = NULL, lease_until = NULL, answer = NULL
             WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
        )
        .bind(e.id)
        .bind(owner)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n != 1 {
            tx.commit().await?;
            return Ok(false);
        }
        if let Some((id, url)) = created {
            sqlx::query(
                "UPDATE tickets SET ticket_id = $3, url = $4, state = 'open', updated_at = $5
                 WHERE tenant = $1 AND fingerprint = $2 AND state = 'pending' AND ticket_id = ''",
            )
            .bind(&e.tenant)
            .bind(&e.fingerprint)
            .bind(id)
            .bind(url)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE tasks SET ticket_id = (SELECT ticket_id FROM tickets WHERE tenant = $2 AND fingerprint = $3)
             WHERE id = $1 AND ticket_id IS NULL",
        )
        .bind(&e.task_id)
        .bind(&e.tenant)
        .bind(&e.fingerprint)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.wake_ticketing(&e.task_id).await?;
        Ok(true)
    }

    /// Gives a claimed entry back, due again in `delay_ms`, with why it failed.
    pub async fn outbox_retry(&self, e: &OutboxEntry, owner: &str, delay_ms: i64, why: &str) -> Result<()> {
        let now = now_ms();
        sqlx::query(
            "UPDATE ticket_outbox SET next_at = $3, answer = $4, lease_owner = NULL, lease_until = NULL, updated_at = $5
             WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
        )
        .bind(e.id)
        .bind(owner)
        .bind(now + delay_ms)
        .bind(why)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Ends an entry that will not be sent again: `rejected` (with the answer) or
    /// `cancelled`. A create that ends so leaves the fingerprint without a ticket:
    /// its row becomes `rejected`, and the next diagnosis starts a new one.
    async fn outbox_end(&self, id: i64, owner: Option<&str>, state: &str, answer: &str) -> Result<bool> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE ticket_outbox SET state = $2, answer = $3, lease_owner = NULL, lease_until = NULL, updated_at = $4
             WHERE id = $1 AND state = 'pending' AND ($5 = '' OR lease_owner = $5)
             RETURNING *",
        )
        .bind(id)
        .bind(state)
        .bind(answer)
        .bind(now)
        .bind(owner.unwrap_or(""))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(false);
        };
        let e = entry_from_row(&row)?;
        if e.action == "create" {
            sqlx::query(
                "UPDATE tickets SET state = 'rejected', updated_at = $3
                 WHERE tenant = $1 AND fingerprint = $2 AND state = 'pending' AND ticket_id = ''",
            )
            .bind(&e.tenant)
            .bind(&e.fingerprint)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.wake_ticketing(&e.task_id).await?;
        Ok(true)
    }

    pub async fn outbox_rejected(&self, e: &OutboxEntry, owner: &str, answer: &str) -> Result<bool> {
        self.outbox_end(e.id, Some(owner), "rejected", answer).await
    }

    /// A person gives up on the task's pending ticket actions. Returns how many.
    pub async fn outbox_cancel_task(&self, task_id: &str, who: &str) -> Result<usize> {
        let mut n = 0;
        for e in self.outbox_of_task(task_id).await?.into_iter().filter(|e| e.state == "pending") {
            if self.outbox_end(e.id, None, "cancelled", &format!("cancelled by {who}")).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Pending entries and the creation time of the oldest (for the gauges).
    pub async fn outbox_backlog(&self) -> Result<(i64, Option<i64>)> {
        let r = sqlx::query("SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM ticket_outbox WHERE state = 'pending'")
            .fetch_one(&self.pool)
            .await?;
        Ok((r.try_get("n")?, r.try_get("oldest").context("oldest outbox entry")?))
    }

    /// A task waiting for its entry (`ticketing`, or `verifying` for a close) is made
    /// due now: the entry just ended.
    async fn wake_ticketing(&self, task_id: &str) -> Result<()> {
        sqlx::query("UPDATE tasks SET lease_until = NULL WHERE id = $1 AND state IN ('ticketing', 'verifying') AND lease_owner IS NULL")
            .bind(task_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Closes after a passing regression (outbox keys `{task}:close:{n}`) that ended:
    /// (all that ended, those the ticket system took). Read from the database, so the
    /// auto-close rate is the same on every host and survives restarts.
    pub async fn autoclose_counts(&self) -> Result<(i64, i64)> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS ended, COALESCE(SUM(CASE WHEN state = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered
             FROM ticket_outbox WHERE action = 'close' AND key LIKE '%:close:%' AND state <> 'pending'",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((r.try_get("ended")?, r.try_get("delivered")?))
    }

    /// Puts a task back without counting the attempt: waiting for the ticket system
    /// is not a failure of the task, however long the outage.
    pub async fn wait(&self, id: &str, owner: &str, delay_ms: i64) -> Result<()> {
        sqlx::query("UPDATE tasks SET lease_owner = NULL, lease_until = $1, attempts = 0 WHERE id = $2 AND lease_owner = $3")
            .bind(now_ms() + delay_ms)
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::{drop_postgres, fresh_postgres};

    const DAY: i64 = 86_400_000;

    async fn on_both<F, Fut>(check: F)
    where
        F: Fn(Store) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let dir = tempfile::tempdir().unwrap();
        check(Store::open(&Store::default_url(dir.path()), dir.path()).await.unwrap()).await;
        let (admin, db, url) = fresh_postgres().await;
        let store = Store::open(&url, dir.path()).await.unwrap();
        check(store.clone()).await;
        store.pool.close().await;
        drop_postgres(admin, &db).await;
    }

    /// Claims the next entry and marks it delivered, as the ticket system took it.
    async fn deliver_next(store: &Store, id: &str) -> OutboxEntry {
        let e = store.claim_outbox("w", 60_000).await.unwrap().expect("an entry is due");
        let created = (e.action == "create").then_some((id, None));
        assert!(store.outbox_delivered(&e, "w", created).await.unwrap());
        e
    }

    /// Diagnoses of one fingerprint racing on separate connections (as on separate
    /// hosts) queue one create; every other one adds an occurrence and a comment.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn racing_diagnoses_of_one_fingerprint_queue_one_create() {
        on_both(|store| async move {
            let runs = (0..8).map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.enqueue_diagnosis("acme", "fp", &format!("t{i}"), &format!("e{i}"), 30 * DAY).await.unwrap() })
            });
            let mut actions = Vec::new();
            for r in runs {
                actions.push(r.await.unwrap().entry.action);
            }
            actions.sort();
            assert_eq!(actions, ["comment"; 7].iter().chain(["create"].iter()).map(|s| s.to_string()).collect::<Vec<_>>());
            assert_eq!(store.ticket("acme", "fp").await.unwrap().unwrap().occurrences, 8);
            // A retried task finds its entry instead of adding another occurrence.
            let again = store.enqueue_diagnosis("acme", "fp", "t3", "e3", 30 * DAY).await.unwrap();
            assert!(!again.new);
            assert_eq!(store.ticket("acme", "fp").await.unwrap().unwrap().occurrences, 8);
        })
        .await;
    }

    /// A fingerprint's entries go out in order, one claimer at a time: the comments
    /// wait for the create, and an entry leased by one worker is not given to another.
    #[tokio::test]
    async fn entries_of_a_fingerprint_are_delivered_in_order_and_claimed_once() {
        on_both(|store| async move {
            store.enqueue_diagnosis("acme", "fp", "t1", "e1", 30 * DAY).await.unwrap();
            store.enqueue_diagnosis("acme", "fp", "t2", "e2", 30 * DAY).await.unwrap();
            let first = store.claim_outbox("w", 60_000).await.unwrap().unwrap();
            assert_eq!((first.action.as_str(), first.task_id.as_str(), first.attempts), ("create", "t1", 1));
            assert_eq!(store.claim_outbox("other", 60_000).await.unwrap(), None, "the comment waits for its create");
            // The create fails once: it is due again after the delay, not at once.
            store.outbox_retry(&first, "w", 60_000, "503").await.unwrap();
            assert_eq!(store.claim_outbox("w", 60_000).await.unwrap(), None);
            assert_eq!(store.outbox_backlog().await.unwrap().0, 2);
            sqlx::query("UPDATE ticket_outbox SET next_at = 0").execute(&store.pool).await.unwrap();
            let first = store.claim_outbox("w", 60_000).await.unwrap().unwrap();
            assert_eq!((first.action.as_str(), first.attempts, first.answer.as_deref()), ("create", 2, Some("503")));
            assert!(!store.outbox_delivered(&first, "not-the-owner", Some(("T-1", None))).await.unwrap());
            assert!(store.outbox_delivered(&first, "w", Some(("T-1", Some("http://t/T-1")))).await.unwrap());
            let t = store.ticket("acme", "fp").await.unwrap().unwrap();
            assert_eq!((t.ticket_id.as_str(), t.state.as_str(), t.occurrences), ("T-1", "open", 2));
            let comment = deliver_next(&store, "T-1").await;
            assert_eq!((comment.action.as_str(), comment.task_id.as_str()), ("comment", "t2"));
            assert!(comment.comment.contains("occurrence 2"), "{}", comment.comment);
            assert_eq!(store.outbox_backlog().await.unwrap(), (0, None));
        })
        .await;
    }

    /// Closed within the window: reopened with a regression comment. Closed longer
    /// ago: a new ticket that links the old one, and the old one is never the
    /// fingerprint's ticket again (a close aimed at it does nothing).
    #[tokio::test]
    async fn a_recurrence_reopens_within_the_window_and_replaces_after_it() {
        on_both(|store| async move {
            store.enqueue_diagnosis("acme", "fp", "t1", "e1", 30 * DAY).await.unwrap();
            deliver_next(&store, "T-1").await;
            assert!(store.enqueue_transition("t1:close:1", "t1", "acme", "fp", "T-1", "close", "passed").await.unwrap());
            assert!(!store.enqueue_transition("t1:close:1", "t1", "acme", "fp", "T-1", "close", "passed").await.unwrap(), "closed once");
            assert_eq!(deliver_next(&store, "T-1").await.action, "close");

            let reopen = store.enqueue_diagnosis("acme", "fp", "t2", "e2", 30 * DAY).await.unwrap().entry;
            assert_eq!(reopen.action, "reopen");
            assert!(reopen.comment.contains("Regression"), "{}", reopen.comment);
            assert_eq!(store.ticket("acme", "fp").await.unwrap().unwrap().state, "open");
            deliver_next(&store, "T-1").await;

            store.enqueue_transition("t2:close:1", "t2", "acme", "fp", "T-1", "close", "passed").await.unwrap();
            deliver_next(&store, "T-1").await;
            sqlx::query("UPDATE tickets SET closed_at = closed_at - $1").bind(31 * DAY).execute(&store.pool).await.unwrap();
            let new = store.enqueue_diagnosis("acme", "fp", "t3", "e3", 30 * DAY).await.unwrap().entry;
            assert_eq!(new.action, "create");
            let t = store.ticket("acme", "fp").await.unwrap().unwrap();
            assert_eq!((t.ticket_id.as_str(), t.state.as_str(), t.previous_ticket_id.as_deref()), ("", "pending", Some("T-1")));
            assert!(!store.enqueue_transition("t1:close:2", "t1", "acme", "fp", "T-1", "close", "again").await.unwrap(), "the old ticket is not the fingerprint's");
            deliver_next(&store, "T-2").await;
            let link = deliver_next(&store, "T-2").await;
            assert_eq!(link.key, "t3:link");
            assert!(link.comment.contains("T-1"), "{}", link.comment);
            assert_eq!(store.ticket("acme", "fp").await.unwrap().unwrap().ticket_id, "T-2");
        })
        .await;
    }

    /// A task that created its ticket before the outbox existed (stopped between
    /// sending and moving on) is not told to comment on its own ticket.
    #[tokio::test]
    async fn a_ticket_created_before_the_outbox_counts_as_delivered() {
        on_both(|store| async move {
            sqlx::query(
                "INSERT INTO tickets (tenant, fingerprint, ticket_id, url, state, task_id, created_at, updated_at)
                 VALUES ('acme', 'fp', 'T-9', NULL, 'open', 't1', 1, 1)",
            )
            .execute(&store.pool)
            .await
            .unwrap();
            let got = store.enqueue_diagnosis("acme", "fp", "t1", "e1", 30 * DAY).await.unwrap().entry;
            assert_eq!((got.action.as_str(), got.state.as_str()), ("create", "delivered"));
            assert_eq!(store.claim_outbox("w", 60_000).await.unwrap(), None, "nothing to send");
            assert_eq!(store.enqueue_diagnosis("acme", "fp", "t2", "e2", 30 * DAY).await.unwrap().entry.action, "comment");
        })
        .await;
    }

    /// A refused create leaves no ticket behind: the next diagnosis creates again.
    #[tokio::test]
    async fn a_rejected_create_lets_the_next_diagnosis_create() {
        on_both(|store| async move {
            store.enqueue_diagnosis("acme", "fp", "t1", "e1", 30 * DAY).await.unwrap();
            let e = store.claim_outbox("w", 60_000).await.unwrap().unwrap();
            assert!(store.outbox_rejected(&e, "w", "400: no such project").await.unwrap());
            let e = store.outbox_entry(&diagnosis_key("t1")).await.unwrap().unwrap();
            assert_eq!((e.state.as_str(), e.answer.as_deref()), ("rejected", Some("400: no such project")));
            assert_eq!(store.ticket("acme", "fp").await.unwrap().unwrap().state, "rejected");
            assert_eq!(store.enqueue_diagnosis("acme", "fp", "t2", "e2", 30 * DAY).await.unwrap().entry.action, "create");
            assert_eq!(store.outbox_cancel_task("t2", "tok_1").await.unwrap(), 1);
            assert_eq!(store.outbox_entry(&diagnosis_key("t2")).await.unwrap().unwrap().state, "cancelled");
            assert_eq!(store.claim_outbox("w", 60_000).await.unwrap(), None);
        })
        .await;
    }
}
