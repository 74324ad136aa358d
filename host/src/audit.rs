//! An append-only, hash-chained audit log: each entry's hash covers the previous
//! entry's hash, so editing or dropping an entry breaks the chain from there on.

use anyhow::Result;
use sqlx::Row;
use tokio::sync::Mutex;

use crate::store::{now_ms, sha256_hex, Store};

#[derive(Default)]
pub struct Audit {
    // Appends are serialised in this process; the primary key on `seq` refuses a
    // second writer's duplicate (another host that took the same chain head), which
    // then retries on the new head.
    lock: Mutex<()>,
}

/// How often an append re-reads the chain head after losing it to another writer.
const HEAD_CONFLICT_TRIES: usize = 5;

/// Whether an insert failed because another writer already took this `seq` (the
/// primary key): the only failure an append retries.
fn is_head_conflict(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

pub(crate) fn entry_hash(prev: &str, seq: i64, at: i64, actor: &str, action: &str, subject: &str, detail: &str) -> String {
    sha256_hex(format!("{prev}\n{seq}\n{at}\n{actor}\n{action}\n{subject}\n{detail}").as_bytes())
}

impl Audit {
    pub async fn append(&self, store: &Store, actor: &str, action: &str, subject: &str, detail: serde_json::Value) -> Result<()> {
        let _g = self.lock.lock().await;
        // The task an entry is about besides its subject (a ticket's entries name
        // theirs), kept apart so a task's trail is found by index.
        let task_ref = detail.get("task_id").and_then(serde_json::Value::as_str).map(str::to_owned);
        let detail = detail.to_string();
        for _ in 0..HEAD_CONFLICT_TRIES {
            let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetch_optional(&store.pool).await?;
            let (seq, prev) = match last {
                Some(r) => (r.try_get::<i64, _>("seq")? + 1, r.try_get::<String, _>("hash")?),
                None => (1, "0".repeat(64)),
            };
            let at = now_ms();
            let hash = entry_hash(&prev, seq, at, actor, action, subject, &detail);
            let res = sqlx::query(
                "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash, task_ref) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
            )
            .bind(seq)
            .bind(at)
            .bind(actor)
            .bind(action)
            .bind(subject)
            .bind(&detail)
            .bind(&prev)
            .bind(&hash)
            .bind(&task_ref)
            .execute(&store.pool)
            .await;
            match res {
                Ok(_) => return Ok(()),
                // Another writer appended `seq` first: read the new head and retry.
                Err(e) if is_head_conflict(&e) => continue,
                Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot append `{action}` to the audit log"))),
            }
        }
        anyhow::bail!(
            "could not append `{action}` to the audit log: {HEAD_CONFLICT_TRIES} times another writer took the chain head first"
        )
    }

    /// Entries in order, with a flag saying whether the chain holds up to each.
    pub async fn entries(store: &Store, limit: i64) -> Result<Vec<serde_json::Value>> {
        let rows = sqlx::query("SELECT * FROM audit ORDER BY seq LIMIT $1").bind(limit).fetch_all(&store.pool).await?;
        let mut prev = "0".repeat(64);
        let mut out = Vec::new();
        for r in rows {
            let e = StoredEntry::from_row(&r)?;
            let intact = e.prev_hash == prev && e.holds();
            prev = e.hash.clone();
            let mut shown = e.shown();
            shown["chain_intact"] = serde_json::Value::Bool(intact);
            out.push(shown);
        }
        Ok(out)
    }
}

/// One audit entry exactly as stored, so that its hash can be checked again from
/// an archive without the rest of the chain.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl StoredEntry {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<StoredEntry> {
        Ok(StoredEntry {
            seq: r.try_get("seq")?,
            at: r.try_get("at")?,
            actor: r.try_get("actor")?,
            action: r.try_get("action")?,
            subject: r.try_get("subject")?,
            detail: r.try_get("detail")?,
            prev_hash: r.try_get("prev_hash")?,
            hash: r.try_get("hash")?,
        })
    }

    /// The entry as the API shows it: the actor and detail as JSON.
    fn shown(&self) -> serde_json::Value {
        serde_json::json!({
            "seq": self.seq, "at": self.at, "actor": actor_json(&self.actor), "action": self.action, "subject": self.subject,
            "detail": serde_json::from_str::<serde_json::Value>(&self.detail).unwrap_or(serde_json::Value::Null),
            "hash": self.hash,
        })
    }

    fn holds(&self) -> bool {
        entry_hash(&self.prev_hash, self.seq, self.at, &self.actor, &self.action, &self.subject, &self.detail) == self.hash
    }
}

/// A task's archived audit trail as the API shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ArchiveView {
    pub task_id: String,
    pub tenant: String,
    /// Milliseconds since the Unix epoch.
    pub archived_at: i64,
    /// SHA-256 of the archived entries (as stored); the audit log's `audit.archived`
    /// entry for the task holds the same value.
    pub sha256: String,
    /// True when the entries still hash to `sha256` and every entry's own hash holds.
    pub intact: bool,
    /// The entries, oldest first, as `GET /internal/audit` shows them.
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<serde_json::Value>,
}

impl Audit {
    /// Archives every audit entry about `task_id` as one record (those whose
    /// subject it is, and those about its ticket that name it as `task_id`) and
    /// says so in the audit log. Once per task: a second call keeps the first
    /// archive and returns None.
    pub async fn archive_task(&self, store: &Store, task_id: &str, tenant: &str) -> Result<Option<String>> {
        let rows = sqlx::query("SELECT * FROM audit WHERE subject = $1 OR task_ref = $1 ORDER BY seq")
            .bind(task_id)
            .fetch_all(&store.pool)
            .await?;
        let entries = rows.iter().map(StoredEntry::from_row).collect::<Result<Vec<_>>>()?;
        let text = serde_json::to_string(&entries)?;
        let sha = sha256_hex(text.as_bytes());
        let n = sqlx::query(
            "INSERT INTO audit_archives (task_id, tenant, archived_at, entries, sha256) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (task_id) DO NOTHING",
        )
        .bind(task_id)
        .bind(tenant)
        .bind(now_ms())
        .bind(&text)
        .bind(&sha)
        .execute(&store.pool)
        .await?
        .rows_affected();
        if n == 0 {
            return Ok(None);
        }
        let last = entries.last().map(|e| e.seq);
        self.append(store, "pipeline", "audit.archived", task_id, serde_json::json!({"tenant": tenant, "entries": entries.len(), "through_seq": last, "sha256": sha}))
            .await?;
        Ok(Some(sha))
    }

    /// The archive of a task's audit trail, checked as it is read.
    pub async fn archive(store: &Store, task_id: &str) -> Result<Option<ArchiveView>> {
        let Some(r) = sqlx::query("SELECT * FROM audit_archives WHERE task_id = $1").bind(task_id).fetch_optional(&store.pool).await? else {
            return Ok(None);
        };
        let text: String = r.try_get("entries")?;
        let sha: String = r.try_get("sha256")?;
        let entries: Vec<StoredEntry> = serde_json::from_str(&text).unwrap_or_default();
        let intact = sha256_hex(text.as_bytes()) == sha && entries.iter().all(StoredEntry::holds);
        let shown = entries
            .iter()
            .map(|e| {
                let mut shown = e.shown();
                shown["prev_hash"] = serde_json::Value::String(e.prev_hash.clone());
                shown["holds"] = serde_json::Value::Bool(e.holds());
                shown
            })
            .collect();
        Ok(Some(ArchiveView { task_id: r.try_get("task_id")?, tenant: r.try_get("tenant")?, archived_at: r.try_get("archived_at")?, sha256: sha, intact, entries: shown }))
    }
}

/// An actor as the API shows it: a token's `{token_id, name, role}` (stored as JSON),
/// or the name of a part of the host (`pipeline`, `config`, `cli`, ...).
fn actor_json(actor: &str) -> serde_json::Value {
    match serde_json::from_str::<serde_json::Value>(actor) {
        Ok(v) if v.is_object() => v,
        _ => serde_json::Value::String(actor.to_string()),
    }
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Verification {
    /// Entries checked.
    pub entries: i64,
    pub intact: bool,
    /// The first entry whose hash or link does not hold; every later one depends on it.
    pub first_broken: Option<BrokenEntry>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct BrokenEntry {
    pub seq: i64,
    pub action: String,
    /// What does not hold: `hash` (the entry was edited), `link` (the entry before it
    /// was dropped or edited) or `gap` (a sequence number is missing).
    pub reason: String,
}

impl Audit {
    /// Checks every entry's hash and its link to the one before, oldest first, and
    /// names the first that does not hold.
    pub async fn verify(store: &Store) -> Result<Verification> {
        let mut prev = "0".repeat(64);
        let mut expected_seq = 1i64;
        let mut count = 0i64;
        let mut after = 0i64;
        loop {
            let rows = sqlx::query("SELECT * FROM audit WHERE seq > $1 ORDER BY seq LIMIT 1000").bind(after).fetch_all(&store.pool).await?;
            if rows.is_empty() {
                return Ok(Verification { entries: count, intact: true, first_broken: None });
            }
            for r in rows {
                let StoredEntry { seq, at, actor, action, subject, detail, prev_hash, hash } = StoredEntry::from_row(&r)?;
                count += 1;
                let reason = if seq != expected_seq {
                    Some("gap")
                } else if prev_hash != prev {
                    Some("link")
                } else if entry_hash(&prev, seq, at, &actor, &action, &subject, &detail) != hash {
                    Some("hash")
                } else {
                    None
                };
                if let Some(reason) = reason {
                    return Ok(Verification { entries: count, intact: false, first_broken: Some(BrokenEntry { seq, action, reason: reason.into() }) });
                }
                prev = hash;
                expected_seq = seq + 1;
                after = seq;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chain_detects_an_edited_entry() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Store::default_url(dir.path()), dir.path()).await.unwrap();
        let audit = Audit::default();
        for i in 0..3 {
            audit.append(&store, "test", "thing.done", &format!("s{i}"), serde_json::json!({"i": i})).await.unwrap();
        }
        let e = Audit::entries(&store, 10).await.unwrap();
        assert!(e.iter().all(|x| x["chain_intact"] == true));
        sqlx::query("UPDATE audit SET subject = 'forged' WHERE seq = 2").execute(&store.pool).await.unwrap();
        let e = Audit::entries(&store, 10).await.unwrap();
        assert_eq!(e.iter().map(|x| x["chain_intact"].as_bool().unwrap()).collect::<Vec<_>>(), vec![true, false, true]);
        let v = Audit::verify(&store).await.unwrap();
        assert!(!v.intact);
        assert_eq!(v.first_broken, Some(BrokenEntry { seq: 2, action: "thing.done".into(), reason: "hash".into() }));
    }

    #[tokio::test]
    async fn verify_names_the_first_dropped_or_relinked_entry() {
        let (_dir, store) = store().await;
        let audit = Audit::default();
        for i in 0..4 {
            audit.append(&store, r#"{"token_id":"tok_1","name":"n","role":"admin"}"#, "thing.done", &format!("s{i}"), serde_json::json!({})).await.unwrap();
        }
        assert_eq!(Audit::verify(&store).await.unwrap(), Verification { entries: 4, intact: true, first_broken: None });
        assert_eq!(Audit::entries(&store, 1).await.unwrap()[0]["actor"]["role"], "admin", "a token actor is shown as an object");
        sqlx::query("DELETE FROM audit WHERE seq = 3").execute(&store.pool).await.unwrap();
        let v = Audit::verify(&store).await.unwrap();
        assert_eq!(v.first_broken.map(|b| (b.seq, b.reason)), Some((4, "gap".to_string())));
        sqlx::query("DELETE FROM audit WHERE seq = 1").execute(&store.pool).await.unwrap();
        let v = Audit::verify(&store).await.unwrap();
        assert_eq!(v.first_broken.map(|b| (b.seq, b.reason)), Some((2, "gap".to_string())));
    }

    #[tokio::test]
    async fn a_tasks_trail_is_archived_once_and_checked_when_read() {
        let (_dir, store) = store().await;
        let audit = Audit::default();
        audit.append(&store, "api", "task.created", "tsk_1", serde_json::json!({"tenant": "acme"})).await.unwrap();
        audit.append(&store, "api", "task.created", "tsk_2", serde_json::json!({})).await.unwrap();
        audit.append(&store, r#"{"token_id":"tok_1","name":"dev","role":"developer"}"#, "report.read", "tsk_1", serde_json::json!({})).await.unwrap();
        audit.append(&store, "pipeline", "ticket.create", "PLAT-1", serde_json::json!({"task_id": "tsk_1"})).await.unwrap();
        audit.append(&store, "pipeline", "ticket.update", "PLAT-1", serde_json::json!({"task_id": "tsk_11"})).await.unwrap();
        audit.append(&store, "pipeline", "ticket.update", "PLAT-2", serde_json::json!({"task_id": "tskX1"})).await.unwrap();
        audit.append(&store, "pipeline", "task.closed", "tsk_1", serde_json::json!({"regression": "42 tests"})).await.unwrap();
        let sha = audit.archive_task(&store, "tsk_1", "acme").await.unwrap().expect("archived");
        assert_eq!(audit.archive_task(&store, "tsk_1", "acme").await.unwrap(), None, "once per task");
        let a = Audit::archive(&store, "tsk_1").await.unwrap().expect("stored");
        assert!(a.intact);
        assert_eq!(a.sha256, sha);
        let actions: Vec<&str> = a.entries.iter().map(|e| e["action"].as_str().unwrap()).collect();
        assert_eq!(actions, ["task.created", "report.read", "ticket.create", "task.closed"], "only this task's entries, in order");
        assert_eq!(a.entries[1]["actor"]["role"], "developer");
        let log = Audit::entries(&store, 100).await.unwrap();
        let said = log.iter().find(|e| e["action"] == "audit.archived").expect("the archive is in the log");
        assert_eq!((said["subject"].as_str(), said["detail"]["sha256"].as_str(), said["detail"]["entries"].as_i64()), (Some("tsk_1"), Some(sha.as_str()), Some(4)));
        assert!(Audit::archive(&store, "tsk_2").await.unwrap().is_none());
        // An archive edited after the fact no longer holds.
        let text: String = sqlx::query_scalar("SELECT entries FROM audit_archives WHERE task_id = 'tsk_1'").fetch_one(&store.pool).await.unwrap();
        sqlx::query("UPDATE audit_archives SET entries = $1").bind(text.replace("42 tests", "41 tests")).execute(&store.pool).await.unwrap();
        assert!(!Audit::archive(&store, "tsk_1").await.unwrap().unwrap().intact);
    }

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Store::default_url(dir.path()), dir.path()).await.unwrap();
        (dir, store)
    }

    /// An insert that another writer beat to the chain head fails with a unique
    /// violation on `seq`, and only that is retried.
    #[tokio::test]
    async fn only_a_taken_chain_head_is_a_conflict() {
        let (_dir, store) = store().await;
        let audit = Audit::default();
        audit.append(&store, "test", "first", "s", serde_json::json!({})).await.unwrap();
        let dup = sqlx::query("INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES (1, 0, 'other', 'other.host', 's', '{}', 'p', 'h')")
            .execute(&store.pool)
            .await
            .unwrap_err();
        assert!(is_head_conflict(&dup), "{dup}");
        let missing = sqlx::query("INSERT INTO audit (seq) VALUES (9)").execute(&store.pool).await.unwrap_err();
        assert!(!is_head_conflict(&missing), "a NOT NULL violation is not a conflict: {missing}");
        let no_table = sqlx::query("SELECT * FROM no_such_table").execute(&store.pool).await.unwrap_err();
        assert!(!is_head_conflict(&no_table));
    }

    #[tokio::test]
    async fn append_fails_at_once_on_other_errors() {
        let (_dir, store) = store().await;
        sqlx::query("CREATE TRIGGER refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'disk says no'); END")
            .execute(&store.pool)
            .await
            .unwrap();
        let e = format!("{:#}", Audit::default().append(&store, "test", "thing.done", "s", serde_json::json!({})).await.unwrap_err());
        assert!(e.contains("disk says no") && e.contains("thing.done") && !e.contains("times"), "{e}");
    }
}
