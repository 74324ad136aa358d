//! Persistence through sqlx: SQLite (one file in the data dir) by default, PostgreSQL
//! when several hosts share one database. Queries stick to SQL both understand.
//! Large blobs (bundles, component bytes) live in a directory addressed by SHA-256.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};

use crate::keys::MasterKey;
use crate::model::{DiagnosisRequest, TaskState};

mod outbox;
pub mod versions;
pub use outbox::{Enqueued, OutboxEntry};

/// Versioned schema migrations, one set per backend (host/migrations/<backend>/),
/// run at every start and by `casefile migrate`.
///
/// 0001 is the schema that casefile 0.1.0 created at start, and a database made by
/// that release has those tables but no `_sqlx_migrations`. It is baselined by
/// making 0001 idempotent (`CREATE ... IF NOT EXISTS`) rather than by writing a
/// row into `_sqlx_migrations` ourselves: sqlx stays the only writer of its own
/// bookkeeping table (whose columns and checksum format are its business), old and
/// new databases go through the one code path, and a start interrupted halfway
/// (migrations run in a transaction, and on PostgreSQL under sqlx's advisory lock)
/// just runs again. Later migrations must not be idempotent tricks: they run once.
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The two databases casefile speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of(database_url: &str) -> Result<Backend> {
        if database_url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if database_url.starts_with("postgres:") || database_url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            anyhow::bail!(
                "database URL {} is neither sqlite://... nor postgres://... (set --database-url or CASEFILE_DATABASE_URL)",
                redact_url(database_url)
            )
        }
    }

    fn migrator(self) -> &'static sqlx::migrate::Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }
}

/// What `migrate` found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationOutcome {
    /// Versions applied by this run.
    pub applied: Vec<i64>,
    /// The database predates versioned migrations (0.1.0) and was baselined.
    pub baselined: bool,
    /// Newest version the database is at now.
    pub version: Option<i64>,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Clone)]
pub struct Store {
    pub pool: AnyPool,
    blob_dir: PathBuf,
    backend: Backend,
}

/// A task as stored.
#[derive(Debug, Clone)]
pub struct TaskRow {
    pub id: String,
    pub tenant: String,
    pub request: DiagnosisRequest,
    pub state: TaskState,
    pub report: Option<serde_json::Value>,
    pub report_md: Option<String>,
    pub bundle_sha256: Option<String>,
    pub fingerprint: Option<String>,
    pub ticket_id: Option<String>,
    pub components: serde_json::Value,
    pub error: Option<serde_json::Value>,
    pub regression_ref: Option<String>,
    pub attempts: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TicketRow {
    pub tenant: String,
    pub fingerprint: String,
    pub ticket_id: String,
    pub url: Option<String>,
    pub state: String,
    pub task_id: String,
    /// Diagnoses that found this ticket (the first one included).
    pub occurrences: i64,
    pub closed_at: Option<i64>,
    /// The closed ticket this one replaced after the reopen window.
    pub previous_ticket_id: Option<String>,
    pub previous_url: Option<String>,
}

impl Store {
    /// Opens (creating if needed) the database and the blob directory.
    pub async fn open(database_url: &str, data_dir: &Path) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let blob_dir = data_dir.join("blobs");
        std::fs::create_dir_all(&blob_dir)
            .with_context(|| format!("cannot create blob directory {}", blob_dir.display()))?;
        let backend = Backend::of(database_url)?;
        let sqlite = backend == Backend::Sqlite;
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 4 } else { 10 })
            .connect(database_url)
            .await
            .with_context(|| format!("cannot open database {}", redact_url(database_url)))?;
        if sqlite {
            // WAL lets the API read while a worker writes.
            sqlx::query("PRAGMA journal_mode=WAL").execute(&pool).await?;
        }
        let outcome = migrate_pool(&pool, backend).await?;
        if outcome.baselined {
            tracing::info!("database predates versioned migrations; its 0.1.0 schema is recorded as migration 1");
        }
        if !outcome.applied.is_empty() {
            tracing::info!(applied = ?outcome.applied, version = ?outcome.version, "database schema migrated");
        }
        Ok(Store { pool, blob_dir, backend })
    }

    /// Brings the database at `database_url` to the newest schema without starting
    /// anything else (`casefile migrate`).
    pub async fn migrate(database_url: &str) -> Result<MigrationOutcome> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of(database_url)?;
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(database_url)
            .await
            .with_context(|| format!("cannot open database {}", redact_url(database_url)))?;
        let outcome = migrate_pool(&pool, backend).await;
        pool.close().await;
        outcome
    }

    /// The default database: a SQLite file in the data dir.
    pub fn default_url(data_dir: &Path) -> String {
        format!("sqlite://{}?mode=rwc", data_dir.join("casefile.db").display())
    }

    // ---- tasks -------------------------------------------------------------

    /// Inserts the task unless (tenant, error_event_id) exists; returns the task id
    /// and whether it was created now.
    pub async fn create_task(&self, id: &str, req: &DiagnosisRequest) -> Result<(String, bool)> {
        let now = now_ms();
        let inserted = sqlx::query(
            "INSERT INTO tasks (id, tenant, error_event_id, plugin_id, request, state, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (tenant, error_event_id) DO NOTHING",
        )
        .bind(id)
        .bind(&req.tenant)
        .bind(&req.error_event_id)
        .bind(&req.plugin.id)
        .bind(serde_json::to_string(req)?)
        .bind(TaskState::Queued.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            self.record_event(id, TaskState::Queued, None).await?;
            return Ok((id.to_string(), true));
        }
        let existing: String = sqlx::query("SELECT id FROM tasks WHERE tenant = $1 AND error_event_id = $2")
            .bind(&req.tenant)
            .bind(&req.error_event_id)
            .fetch_one(&self.pool)
            .await?
            .try_get("id")?;
        Ok((existing, false))
    }

    pub async fn task(&self, id: &str) -> Result<Option<TaskRow>> {
        let row = sqlx::query("SELECT * FROM tasks WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        row.map(|r| task_from_row(&r)).transpose()
    }

    /// The task of a tenant's error event, if there is one.
    pub async fn task_by_event(&self, tenant: &str, error_event_id: &str) -> Result<Option<TaskRow>> {
        let row = sqlx::query("SELECT * FROM tasks WHERE tenant = $1 AND error_event_id = $2")
            .bind(tenant)
            .bind(error_event_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| task_from_row(&r)).transpose()
    }

    /// Adds `detail` to the task's history at its current state, unless the history
    /// already holds a detail starting with `kind` (a trigger that repeats itself,
    /// with a later time in it, is noted once); true when added.
    pub async fn note_once(&self, id: &str, state: TaskState, kind: &str, detail: &str) -> Result<bool> {
        let n = sqlx::query(
            "INSERT INTO task_events (task_id, at, state, detail)
             SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM task_events WHERE task_id = $1 AND substr(detail, 1, $5) = $6)",
        )
        .bind(id)
        .bind(now_ms())
        .bind(state.as_str())
        .bind(detail)
        .bind(kind.len() as i32)
        .bind(kind)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    pub async fn task_count(&self) -> Result<i64> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM tasks").fetch_one(&self.pool).await?.try_get("n")?)
    }

    /// Claims the oldest task with work to do whose lease is free or expired.
    /// The lease test is repeated in the outer WHERE so that two hosts racing for
    /// the same row cannot both win (PostgreSQL re-checks it after the first commits).
    pub async fn claim_task(&self, owner: &str, lease_ms: i64) -> Result<Option<String>> {
        let now = now_ms();
        let active: Vec<&str> = TaskState::ACTIVE.iter().map(|s| s.as_str()).collect();
        let states = active.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(",");
        let sql = format!(
            "UPDATE tasks SET lease_owner = $1, lease_until = $2, attempts = attempts + 1
             WHERE id = (SELECT id FROM tasks WHERE state IN ({states})
                           AND (lease_until IS NULL OR lease_until < $3)
                         ORDER BY created_at LIMIT 1)
               AND (lease_until IS NULL OR lease_until < $3)
             RETURNING id"
        );
        let row = sqlx::query(&sql)
            .bind(owner)
            .bind(now + lease_ms)
            .bind(now)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    /// Extends the lease; false when another host has taken the task over.
    pub async fn renew_lease(&self, id: &str, owner: &str, lease_ms: i64) -> Result<bool> {
        let n = sqlx::query("UPDATE tasks SET lease_until = $1 WHERE id = $2 AND lease_owner = $3")
            .bind(now_ms() + lease_ms)
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Gives the task back to be retried no earlier than `delay_ms` from now.
    pub async fn defer(&self, id: &str, owner: &str, delay_ms: i64) -> Result<()> {
        sqlx::query("UPDATE tasks SET lease_owner = NULL, lease_until = $1 WHERE id = $2 AND lease_owner = $3")
            .bind(now_ms() + delay_ms)
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn release_lease(&self, id: &str, owner: &str) -> Result<()> {
        sqlx::query("UPDATE tasks SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2")
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Moves a task to `state`, recording the transition.
    pub async fn set_state(&self, id: &str, state: TaskState, detail: Option<&str>) -> Result<()> {
        // A task at rest starts its next piece of work with a fresh attempt count.
        let reset = if TaskState::ACTIVE.contains(&state) { "" } else { ", attempts = 0" };
        // One transaction: a worker that sees the new state sees its event too (the
        // verifying stage names its close by the events).
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!("UPDATE tasks SET state = $1, updated_at = $2{reset} WHERE id = $3"))
            .bind(state.as_str())
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Self::insert_event(&mut tx, id, state, detail).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Moves a task to `state` only if it is in `from`; false otherwise. Like
    /// `set_state`, a task coming to rest starts its next work with a fresh
    /// attempt count, and the move is recorded with `detail`.
    pub async fn transition(&self, id: &str, from: &[TaskState], to: TaskState, detail: Option<&str>) -> Result<bool> {
        let list = from.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(",");
        let reset = if TaskState::ACTIVE.contains(&to) { "" } else { ", attempts = 0" };
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query(&format!(
            "UPDATE tasks SET state = $1, updated_at = $2{reset} WHERE id = $3 AND state IN ({list})"
        ))
        .bind(to.as_str())
        .bind(now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if n == 1 {
            Self::insert_event(&mut tx, id, to, detail).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn insert_event(tx: &mut sqlx::Transaction<'_, sqlx::Any>, id: &str, state: TaskState, detail: Option<&str>) -> Result<()> {
        sqlx::query("INSERT INTO task_events (task_id, at, state, detail) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(now_ms())
            .bind(state.as_str())
            .bind(detail)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn record_event(&self, id: &str, state: TaskState, detail: Option<&str>) -> Result<()> {
        sqlx::query("INSERT INTO task_events (task_id, at, state, detail) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(now_ms())
            .bind(state.as_str())
            .bind(detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn task_events(&self, id: &str) -> Result<Vec<(i64, String, Option<String>)>> {
        let rows = sqlx::query("SELECT at, state, detail FROM task_events WHERE task_id = $1 ORDER BY at")
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("at")?, r.try_get("state")?, r.try_get("detail")?)))
            .collect()
    }

    /// Puts a failed task back in the queue to run its diagnosis again, with a fresh
    /// attempt count; false when it is not failed.
    pub async fn retry_failed(&self, id: &str) -> Result<bool> {
        let n = sqlx::query(
            "UPDATE tasks SET state = $1, attempts = 0, error = NULL, lease_owner = NULL, lease_until = NULL, updated_at = $2
             WHERE id = $3 AND state = $4",
        )
        .bind(TaskState::Queued.as_str())
        .bind(now_ms())
        .bind(id)
        .bind(TaskState::Failed.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        if n == 1 {
            self.record_event(id, TaskState::Queued, Some("retried")).await?;
        }
        Ok(n == 1)
    }

    pub async fn fail_task(&self, id: &str, error: &serde_json::Value) -> Result<()> {
        sqlx::query("UPDATE tasks SET error = $1 WHERE id = $2")
            .bind(error.to_string())
            .bind(id)
            .execute(&self.pool)
            .await?;
        self.set_state(id, TaskState::Failed, error.get("message").and_then(|m| m.as_str())).await
    }

    pub async fn save_report(
        &self,
        id: &str,
        report: &serde_json::Value,
        markdown: &str,
        bundle_sha256: &str,
        fingerprint: &str,
        components: &serde_json::Value,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE tasks SET report = $1, report_md = $2, bundle_sha256 = $3, fingerprint = $4,
                              components = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(report.to_string())
        .bind(markdown)
        .bind(bundle_sha256)
        .bind(fingerprint)
        .bind(components.to_string())
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_regression_ref(&self, id: &str, r: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE tasks SET regression_ref = $1 WHERE id = $2").bind(r).bind(id).execute(&self.pool).await?;
        Ok(())
    }

    // ---- tickets -----------------------------------------------------------

    pub async fn ticket_by_id(&self, tenant: &str, ticket_id: &str) -> Result<Option<TicketRow>> {
        let row = sqlx::query("SELECT * FROM tickets WHERE tenant = $1 AND ticket_id = $2")
            .bind(tenant)
            .bind(ticket_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| ticket_from_row(&r)).transpose()
    }

    /// The tasks of `tenant` on ticket `ticket_id` in `state`, but `except`.
    pub async fn tasks_on_ticket(&self, tenant: &str, ticket_id: &str, state: TaskState, except: &str) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM tasks WHERE tenant = $1 AND ticket_id = $2 AND state = $3 AND id <> $4 ORDER BY created_at")
            .bind(tenant)
            .bind(ticket_id)
            .bind(state.as_str())
            .bind(except)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("id")?)).collect()
    }

    // ---- components and keys -------------------------------------------------

    pub async fn record_component(&self, sha: &str, kind: &str, name: &str, size: usize) -> Result<()> {
        sqlx::query(
            "INSERT INTO components (sha256, kind, name, size, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha)
        .bind(kind)
        .bind(name)
        .bind(size as i64)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn components(&self) -> Result<Vec<serde_json::Value>> {
        let rows = sqlx::query("SELECT sha256, kind, name, size, created_at FROM components ORDER BY created_at")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(serde_json::json!({
                    "sha256": r.try_get::<String, _>("sha256")?,
                    "kind": r.try_get::<String, _>("kind")?,
                    "name": r.try_get::<String, _>("name")?,
                    "size": r.try_get::<i64, _>("size")?,
                }))
            })
            .collect()
    }

    /// The tenant's pseudonym key, generated and kept on first use.
    /// The tenant's pseudonym key, made on first use; stored sealed under the master
    /// key (`keys`). A key stored in the clear by an earlier release is sealed now.
    pub async fn tenant_key(&self, tenant: &str, master: &MasterKey) -> Result<Vec<u8>> {
        let select = || sqlx::query("SELECT key_hex FROM tenant_keys WHERE tenant = $1").bind(tenant);
        let stored: String = match select().fetch_optional(&self.pool).await? {
            Some(row) => row.try_get("key_hex")?,
            None => {
                // Another worker may make it at the same moment: whichever insert
                // lands first is the key, and both read it back.
                let fresh: [u8; 32] = rand::random();
                sqlx::query("INSERT INTO tenant_keys (tenant, key_hex) VALUES ($1, $2) ON CONFLICT (tenant) DO NOTHING")
                    .bind(tenant)
                    .bind(master.seal(tenant, &fresh)?)
                    .execute(&self.pool)
                    .await?;
                select().fetch_one(&self.pool).await?.try_get("key_hex")?
            }
        };
        let key = master.open(tenant, &stored)?;
        if !MasterKey::is_sealed(&stored) {
            sqlx::query("UPDATE tenant_keys SET key_hex = $1 WHERE tenant = $2 AND key_hex = $3")
                .bind(master.seal(tenant, &key)?)
                .bind(tenant)
                .bind(&stored)
                .execute(&self.pool)
                .await?;
        }
        Ok(key)
    }

    /// Re-seals every tenant key from `old` to `new` in one transaction: all or none.
    pub async fn reseal_keys(&self, old: &MasterKey, new: &MasterKey) -> Result<usize> {
        let mut tx = self.pool.begin().await?;
        let rows = sqlx::query("SELECT tenant, key_hex FROM tenant_keys").fetch_all(&mut *tx).await?;
        for row in &rows {
            let tenant: String = row.try_get("tenant")?;
            let stored: String = row.try_get("key_hex")?;
            let key = old.open(&tenant, &stored)?;
            sqlx::query("UPDATE tenant_keys SET key_hex = $1 WHERE tenant = $2")
                .bind(new.seal(&tenant, &key)?)
                .bind(&tenant)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    // ---- retention -----------------------------------------------------------

    /// Closed tasks last changed before `cutoff_ms` that still hold a report, a
    /// bundle or review samples: `(id, tenant, report, report_md, bundle_sha256)`.
    pub async fn purgeable(&self, cutoff_ms: i64) -> Result<Vec<(String, String, Option<String>, Option<String>, Option<String>)>> {
        let rows = sqlx::query(
            "SELECT id, tenant, report, report_md, bundle_sha256 FROM tasks
             WHERE state = 'closed' AND updated_at < $1
               AND (report IS NOT NULL OR report_md IS NOT NULL OR bundle_sha256 IS NOT NULL
                    OR id IN (SELECT task_id FROM review_queue))",
        )
        .bind(cutoff_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("tenant")?, r.try_get("report")?, r.try_get("report_md")?, r.try_get("bundle_sha256")?)))
            .collect()
    }

    /// Drops a task's report, Markdown, bundle (unless another task's manifest names
    /// the same bytes) and review samples; returns how many samples went.
    pub async fn purge_task(&self, id: &str, bundle_sha256: Option<&str>) -> Result<u64> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE tasks SET report = NULL, report_md = NULL, bundle_sha256 = NULL WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let samples = sqlx::query("DELETE FROM review_queue WHERE task_id = $1").bind(id).execute(&mut *tx).await?.rows_affected();
        sqlx::query("DELETE FROM shadow_runs WHERE task_id = $1").bind(id).execute(&mut *tx).await?;
        let shared = match bundle_sha256 {
            Some(sha) => sqlx::query("SELECT id FROM tasks WHERE bundle_sha256 = $1").bind(sha).fetch_optional(&mut *tx).await?.is_some(),
            None => true,
        };
        tx.commit().await?;
        if let (Some(sha), false) = (bundle_sha256, shared) {
            if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                match std::fs::remove_file(self.blob_path(sha)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e).with_context(|| format!("cannot remove bundle {sha}")),
                }
            }
        }
        Ok(samples)
    }

    // ---- blobs ---------------------------------------------------------------

    /// Stores bytes under their SHA-256 and returns it. Written to a temporary
    /// file first so a crash never leaves a half blob under a valid name.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String> {
        let sha = sha256_hex(bytes);
        let path = self.blob_path(&sha);
        if !path.exists() {
            let dir = path.parent().context("blob path has no parent")?;
            std::fs::create_dir_all(dir)?;
            let tmp = dir.join(format!(".{sha}.{}", uuid::Uuid::new_v4()));
            std::fs::write(&tmp, bytes).with_context(|| format!("cannot write blob {}", tmp.display()))?;
            std::fs::rename(&tmp, &path)?;
        }
        Ok(sha)
    }

    pub fn get_blob(&self, sha: &str) -> Result<Option<Vec<u8>>> {
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        match std::fs::read(self.blob_path(sha)) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn blob_path(&self, sha: &str) -> PathBuf {
        self.blob_dir.join(&sha[..2]).join(sha)
    }
}

/// Runs the pending migrations and says which ran.
async fn migrate_pool(pool: &AnyPool, backend: Backend) -> Result<MigrationOutcome> {
    let had_bookkeeping = table_exists(pool, backend, "_sqlx_migrations").await?;
    let before = if had_bookkeeping { applied_versions(pool).await? } else { Vec::new() };
    let baselined = !had_bookkeeping && table_exists(pool, backend, "tasks").await?;
    backend.migrator().run(pool).await.map_err(|e| match e {
        sqlx::migrate::MigrateError::VersionMissing(v) => anyhow::anyhow!(
            "the database has migration {v} applied, which this casefile does not know: it was migrated by a newer release; run that release (or newer)"
        ),
        sqlx::migrate::MigrateError::VersionMismatch(v) => anyhow::anyhow!(
            "migration {v} applied to the database differs from the one this casefile ships; do not edit released migrations, add a new one"
        ),
        e => anyhow::Error::new(e).context("cannot migrate the database schema"),
    })?;
    let after = applied_versions(pool).await?;
    Ok(MigrationOutcome {
        applied: after.iter().copied().filter(|v| !before.contains(v)).collect(),
        baselined,
        version: after.last().copied(),
    })
}

async fn applied_versions(pool: &AnyPool) -> Result<Vec<i64>> {
    let rows = sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version")
        .fetch_all(pool)
        .await
        .context("cannot read the applied migrations")?;
    rows.iter().map(|r| Ok(r.try_get::<i64, _>("version")?)).collect()
}

/// Whether a table exists, in the current schema (PostgreSQL) or the main database (SQLite).
async fn table_exists(pool: &AnyPool, backend: Backend, name: &str) -> Result<bool> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
        }
        Backend::Sqlite => "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = $1",
    };
    let n: i64 = sqlx::query(sql).bind(name).fetch_one(pool).await?.try_get("n")?;
    Ok(n > 0)
}

fn json_col(r: &AnyRow, col: &str) -> Result<Option<serde_json::Value>> {
    let s: Option<String> = r.try_get(col)?;
    s.map(|s| serde_json::from_str(&s).with_context(|| format!("column {col} is not JSON"))).transpose()
}

fn task_from_row(r: &AnyRow) -> Result<TaskRow> {
    let state: String = r.try_get("state")?;
    let request: String = r.try_get("request")?;
    Ok(TaskRow {
        id: r.try_get("id")?,
        tenant: r.try_get("tenant")?,
        request: serde_json::from_str(&request).context("stored request is not valid")?,
        state: TaskState::parse(&state).with_context(|| format!("unknown stored state {state}"))?,
        report: json_col(r, "report")?,
        report_md: r.try_get("report_md")?,
        bundle_sha256: r.try_get("bundle_sha256")?,
        fingerprint: r.try_get("fingerprint")?,
        ticket_id: r.try_get("ticket_id")?,
        components: json_col(r, "components")?.unwrap_or_else(|| serde_json::json!([])),
        error: json_col(r, "error")?,
        regression_ref: r.try_get("regression_ref")?,
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at")?,
    })
}

pub(crate) fn ticket_from_row(r: &AnyRow) -> Result<TicketRow> {
    Ok(TicketRow {
        tenant: r.try_get("tenant")?,
        fingerprint: r.try_get("fingerprint")?,
        ticket_id: r.try_get("ticket_id")?,
        url: r.try_get("url")?,
        state: r.try_get("state")?,
        task_id: r.try_get("task_id")?,
        occurrences: r.try_get("occurrences")?,
        closed_at: r.try_get("closed_at")?,
        previous_ticket_id: r.try_get("previous_ticket_id")?,
        previous_url: r.try_get("previous_url")?,
    })
}

/// A database URL fit for logs: the password replaced.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{PluginRef, RegressionStrategy, Window};

    fn request(event: &str) -> DiagnosisRequest {
        DiagnosisRequest {
            error_event_id: event.into(),
            tenant: "default".into(),
            plugin: PluginRef { id: "p".into(), version: None },
            environments: vec!["prod".into()],
            window: Window { start: chrono::Utc::now(), end: chrono::Utc::now() },
            trace_ids: vec![],
            message: None,
            regression: RegressionStrategy::Webhook,
            alert: None,
        }
    }

    /// A fresh PostgreSQL database of its own (the machine's PostgreSQL, trust auth;
    /// CASEFILE_TEST_POSTGRES overrides): (admin pool, database name, URL).
    pub(crate) async fn fresh_postgres() -> (sqlx::AnyPool, String, String) {
        sqlx::any::install_default_drivers();
        let admin_url = std::env::var("CASEFILE_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let admin = sqlx::AnyPool::connect(&admin_url).await.expect("PostgreSQL on 127.0.0.1:5432 (see README)");
        let db = format!("casefile_t_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {db}")).execute(&admin).await.unwrap();
        let url = format!("{}/{db}", admin_url.rsplit_once('/').unwrap().0);
        (admin, db, url)
    }

    pub(crate) async fn drop_postgres(admin: sqlx::AnyPool, db: &str) {
        // FORCE: a pooled connection may still be closing.
        sqlx::query(&format!("DROP DATABASE {db} WITH (FORCE)")).execute(&admin).await.unwrap();
    }

    /// The schema 0.1.0 created, kept as it was: what a database of that release holds.
    const PRE_MIGRATION_SCHEMA: &str = include_str!("../testdata/pre_migration_schema.sql");

    /// Builds a database as casefile 0.1.0 left it (its schema, no `_sqlx_migrations`)
    /// holding a task with a report, a ticket, a tenant key and a valid audit chain,
    /// all written through SQL.
    async fn create_release_0_1_database(url: &str) {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(url).await.unwrap();
        let ddl: String = PRE_MIGRATION_SCHEMA.lines().filter(|l| !l.starts_with("--")).collect::<Vec<_>>().join("\n");
        for stmt in ddl.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::query(stmt).execute(&pool).await.unwrap();
        }
        sqlx::query(
            "INSERT INTO tasks (id, tenant, error_event_id, plugin_id, request, state, report, report_md, bundle_sha256,
                                fingerprint, ticket_id, components, attempts, created_at, updated_at)
             VALUES ('old-task', 'default', 'e-old', 'p', $1, 'awaiting_fix', $2, '# old report', $3, 'fp-old', 'T-1',
                     '[{\"kind\":\"masker\"}]', 0, 1000, 2000)",
        )
        .bind(serde_json::to_string(&request("e-old")).unwrap())
        .bind(r#"{"title":"old report","fingerprint":"fp-old"}"#)
        .bind("ab".repeat(32))
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO task_events (task_id, at, state, detail) VALUES ('old-task', 1000, 'queued', NULL)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO tickets (tenant, fingerprint, ticket_id, url, state, task_id, created_at, updated_at)
             VALUES ('default', 'fp-old', 'T-1', 'http://t/T-1', 'open', 'old-task', 1500, 1500)",
        )
        .execute(&pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO tenant_keys (tenant, key_hex) VALUES ('default', $1)")
            .bind("11".repeat(32))
            .execute(&pool)
            .await
            .unwrap();
        let mut prev = "0".repeat(64);
        for seq in 1..=3i64 {
            // The third is about the task's ticket and names the task in its detail.
            let (at, subject, detail) = match seq {
                3 => (1000 + seq, "T-1", format!("{{\"n\":{seq},\"task_id\":\"old-task\"}}")),
                _ => (1000 + seq, "old-task", format!("{{\"n\":{seq}}}")),
            };
            let hash = crate::audit::entry_hash(&prev, seq, at, "test", "thing.done", subject, &detail);
            sqlx::query(
                "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash)
                 VALUES ($1, $2, 'test', 'thing.done', $3, $4, $5, $6)",
            )
            .bind(seq)
            .bind(at)
            .bind(subject)
            .bind(&detail)
            .bind(&prev)
            .bind(&hash)
            .execute(&pool)
            .await
            .unwrap();
            prev = hash;
        }
        pool.close().await;
    }

    /// Opens the 0.1.0 database with today's Store and checks nothing was lost.
    async fn open_release_0_1_database(url: &str, data_dir: &Path) {
        let all: Vec<i64> = SQLITE_MIGRATIONS.iter().map(|m| m.version).collect();
        let latest = all.last().copied();
        assert_eq!(
            Store::migrate(url).await.unwrap(),
            MigrationOutcome { applied: all, baselined: true, version: latest },
            "a 0.1.0 database is baselined at migration 1 and gets the later ones"
        );
        let store = Store::open(url, data_dir).await.unwrap();
        let t = store.task("old-task").await.unwrap().expect("the old task survives");
        assert_eq!(t.state, TaskState::AwaitingFix);
        assert_eq!(t.request.error_event_id, "e-old");
        assert_eq!(t.report.as_ref().unwrap()["title"], "old report");
        assert_eq!(t.report_md.as_deref(), Some("# old report"));
        assert_eq!(t.ticket_id.as_deref(), Some("T-1"));
        assert_eq!(store.task_events("old-task").await.unwrap().len(), 1);
        assert_eq!(store.ticket("default", "fp-old").await.unwrap().unwrap().url.as_deref(), Some("http://t/T-1"));
        let master = crate::keys::MasterKey::generate();
        assert_eq!(store.tenant_key("default", &master).await.unwrap(), vec![0x11; 32], "the tenant key must not be regenerated");
        // The chain verifies and keeps growing from the old head.
        let audit = crate::audit::Audit::default();
        audit.append(&store, "test", "after.upgrade", "s", serde_json::json!({})).await.unwrap();
        let entries = crate::audit::Audit::entries(&store, 10).await.unwrap();
        assert_eq!(entries.len(), 4);
        assert!(entries.iter().all(|e| e["chain_intact"] == true), "{entries:?}");
        // Entries written before migration 11 are found by the task they name.
        audit.archive_task(&store, "old-task", "default").await.unwrap().expect("archived");
        let archived = crate::audit::Audit::archive(&store, "old-task").await.unwrap().expect("stored");
        let subjects: Vec<&str> = archived.entries.iter().filter_map(|e| e["subject"].as_str()).collect();
        assert_eq!(subjects, ["old-task", "old-task", "T-1"], "{archived:?}");
        assert!(archived.intact);
        // The old idempotency key still holds.
        assert_eq!(store.create_task("new", &request("e-old")).await.unwrap(), ("old-task".to_string(), false));
        store.pool.close().await;
        let again = Store::migrate(url).await.unwrap();
        assert_eq!(again, MigrationOutcome { applied: vec![], baselined: false, version: latest });
    }

    #[tokio::test]
    async fn release_0_1_database_opens_intact_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = Store::default_url(dir.path());
        create_release_0_1_database(&url).await;
        open_release_0_1_database(&url, dir.path()).await;
    }

    #[tokio::test]
    async fn release_0_1_database_opens_intact_on_postgres() {
        let (admin, db, url) = fresh_postgres().await;
        let dir = tempfile::tempdir().unwrap();
        create_release_0_1_database(&url).await;
        open_release_0_1_database(&url, dir.path()).await;
        drop_postgres(admin, &db).await;
    }

    #[tokio::test]
    async fn fresh_database_gets_every_migration() {
        let dir = tempfile::tempdir().unwrap();
        let url = Store::default_url(dir.path());
        let latest = SQLITE_MIGRATIONS.iter().map(|m| m.version).max();
        let outcome = Store::migrate(&url).await.unwrap();
        assert_eq!(outcome, MigrationOutcome { applied: SQLITE_MIGRATIONS.iter().map(|m| m.version).collect(), baselined: false, version: latest });
        assert_eq!(
            POSTGRES_MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>(),
            SQLITE_MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>(),
            "each migration exists for both backends"
        );
        let e = Store::migrate("mysql://x").await.unwrap_err().to_string();
        assert!(e.contains("neither sqlite"), "{e}");
    }

    /// Keys at rest: a new tenant key is stored sealed, a key from an earlier
    /// release (plain hex) is sealed when read, rotation re-seals all of them, and the
    /// old master key opens none afterwards.
    #[tokio::test]
    async fn tenant_keys_are_sealed_at_rest_and_rotate() {
        use crate::keys::MasterKey;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Store::default_url(dir.path()), dir.path()).await.unwrap();
        let stored = |tenant: &'static str| {
            let pool = store.pool.clone();
            async move {
                let row = sqlx::query("SELECT key_hex FROM tenant_keys WHERE tenant = $1").bind(tenant).fetch_one(&pool).await.unwrap();
                row.try_get::<String, _>("key_hex").unwrap()
            }
        };
        let old = MasterKey::generate();
        let acme = store.tenant_key("acme", &old).await.unwrap();
        assert_eq!(store.tenant_key("acme", &old).await.unwrap(), acme, "made once, then the same");
        let row = stored("acme").await;
        assert!(MasterKey::is_sealed(&row) && !row.contains(&hex::encode(&acme)), "{row}");
        sqlx::query("INSERT INTO tenant_keys (tenant, key_hex) VALUES ('legacy', $1)").bind("22".repeat(32)).execute(&store.pool).await.unwrap();
        assert_eq!(store.tenant_key("legacy", &old).await.unwrap(), vec![0x22; 32]);
        assert!(MasterKey::is_sealed(&stored("legacy").await), "a plain key is sealed when read");

        let new = MasterKey::generate();
        assert_eq!(store.reseal_keys(&old, &new).await.unwrap(), 2);
        assert_eq!(store.tenant_key("acme", &new).await.unwrap(), acme);
        assert_eq!(store.tenant_key("legacy", &new).await.unwrap(), vec![0x22; 32]);
        let e = store.tenant_key("acme", &old).await.unwrap_err().to_string();
        assert!(e.contains("does not open"), "{e}");
        // A failed rotation (a key the given master cannot open) changes nothing.
        assert!(store.reseal_keys(&old, &MasterKey::generate()).await.is_err());
        assert_eq!(store.tenant_key("acme", &new).await.unwrap(), acme);
    }

    #[tokio::test]
    async fn create_is_idempotent_and_claims_are_exclusive_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Store::default_url(dir.path()), dir.path()).await.unwrap();
        exercise(&store).await;
    }

    /// The same queries on PostgreSQL, the backend for several hosts, in a database
    /// of its own (the machine's PostgreSQL, trust auth; CASEFILE_TEST_POSTGRES overrides).
    #[tokio::test]
    async fn create_is_idempotent_and_claims_are_exclusive_on_postgres() {
        let (admin, db, url) = fresh_postgres().await;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&url, dir.path()).await.unwrap();
        exercise(&store).await;
        store.pool.close().await;
        drop_postgres(admin, &db).await;
    }

    async fn exercise(store: &Store) {
        let (a, created) = store.create_task("t1", &request("e1")).await.unwrap();
        assert!(created);
        let (b, created) = store.create_task("t2", &request("e1")).await.unwrap();
        assert_eq!((a.as_str(), created), ("t1", false));
        assert_eq!(b, "t1");
        assert_eq!(store.task_count().await.unwrap(), 1);

        assert_eq!(store.claim_task("w1", 60_000).await.unwrap().as_deref(), Some("t1"));
        assert_eq!(store.claim_task("w2", 60_000).await.unwrap(), None, "leased task must not be claimed twice");
        assert!(!store.renew_lease("t1", "w2", 1000).await.unwrap());
        // An expired lease is taken over.
        assert!(store.renew_lease("t1", "w1", -1).await.unwrap());
        assert_eq!(store.claim_task("w2", 60_000).await.unwrap().as_deref(), Some("t1"));
        let t = store.task("t1").await.unwrap().unwrap();
        assert_eq!(t.attempts, 2);

        // A trigger's task is found by its event; a note repeated is kept once.
        assert_eq!(store.task_by_event("default", "e1").await.unwrap().map(|t| t.id).as_deref(), Some("t1"));
        assert!(store.task_by_event("other", "e1").await.unwrap().is_none());
        assert!(store.note_once("t1", t.state, "alert resolved", "alert resolved at X").await.unwrap());
        assert!(!store.note_once("t1", t.state, "alert resolved", "alert resolved at Y").await.unwrap());
        let notes = store.task_events("t1").await.unwrap().into_iter().filter(|e| e.2.as_deref().is_some_and(|d| d.starts_with("alert resolved"))).count();
        assert_eq!(notes, 1);
    }

    #[test]
    fn redacts_database_passwords() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
