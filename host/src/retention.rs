//! Retention: the report, Markdown, bundle and review samples of a task closed more
//! than `retention.days` ago are purged. The audit chain keeps, per task, a SHA-256
//! over what was purged, so an auditor holding a copy can still prove it matches,
//! and the purge itself is an audited action.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::audit::Audit;
use crate::store::{now_ms, Store};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Purges what is older than `days` (0 keeps everything); returns the tasks purged.
pub async fn purge(store: &Store, audit: &Audit, days: u64, actor: &str) -> Result<usize> {
    if days == 0 {
        return Ok(0);
    }
    let cutoff = now_ms() - (days as i64).saturating_mul(DAY_MS);
    let tasks = store.purgeable(cutoff).await?;
    for (id, tenant, report, report_md, bundle) in &tasks {
        let mut h = Sha256::new();
        for part in [report, report_md, bundle] {
            h.update(part.as_deref().unwrap_or("").as_bytes());
            h.update([0u8]);
        }
        let purged_sha256 = hex::encode(h.finalize());
        let samples = store.purge_task(id, bundle.as_deref()).await?;
        audit
            .append(
                store,
                actor,
                "retention.purged",
                id,
                json!({"tenant": tenant, "purged_sha256": purged_sha256, "bundle_sha256": bundle, "review_samples": samples, "days": days}),
            )
            .await?;
    }
    if !tasks.is_empty() {
        tracing::info!(tasks = tasks.len(), days, "purged the data of old closed tasks");
    }
    Ok(tasks.len())
}

/// Runs the purge once an hour in `serve`.
pub fn spawn(app: Arc<App>) {
    tokio::spawn(async move {
        loop {
            if let Err(e) = purge(&app.store, &app.audit, app.config.retention.days, "retention").await {
                tracing::warn!(error = %format!("{e:#}"), "retention purge failed; will try again");
            }
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn old_closed_tasks_lose_their_data_and_the_audit_keeps_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Store::default_url(dir.path()), dir.path()).await.unwrap();
        let audit = Audit::default();
        let bundle = store.put_blob(b"bundle bytes").unwrap();
        let old = now_ms() - 100 * DAY_MS;
        for (id, state, at) in [("old-closed", "closed", old), ("new-closed", "closed", now_ms()), ("old-open", "awaiting_fix", old)] {
            sqlx::query(
                "INSERT INTO tasks (id, tenant, error_event_id, plugin_id, request, state, report, report_md, bundle_sha256, components, attempts, created_at, updated_at)
                 VALUES ($1, 'acme', $1, 'p', '{}', $2, '{\"title\":\"x\"}', '# x', $3, '[]', 0, $4, $4)",
            )
            .bind(id)
            .bind(state)
            .bind(if id == "old-closed" { Some(bundle.clone()) } else { None })
            .bind(at)
            .execute(&store.pool)
            .await
            .unwrap();
        }
        sqlx::query("INSERT INTO review_queue (id, tenant, task_id, record, status, created_at) VALUES ('r1', 'acme', 'old-closed', '{}', 'pending', 0)")
            .execute(&store.pool)
            .await
            .unwrap();

        assert_eq!(purge(&store, &audit, 0, "test").await.unwrap(), 0, "0 days keeps everything");
        assert_eq!(purge(&store, &audit, 90, "test").await.unwrap(), 1);
        let kept = |id: &'static str| {
            let pool = store.pool.clone();
            async move {
                let r = sqlx::query("SELECT report, report_md, bundle_sha256 FROM tasks WHERE id = $1").bind(id).fetch_one(&pool).await.unwrap();
                let get = |c: &str| sqlx::Row::try_get::<Option<String>, _>(&r, c).unwrap().is_some();
                (get("report"), get("report_md"), get("bundle_sha256"))
            }
        };
        assert_eq!(kept("old-closed").await, (false, false, false));
        assert!(store.get_blob(&bundle).unwrap().is_none(), "the bundle bytes are gone");
        assert_eq!(kept("new-closed").await, (true, true, false));
        assert_eq!(kept("old-open").await, (true, true, false), "only closed tasks are purged");
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM review_queue").fetch_one(&store.pool).await.unwrap();
        assert_eq!(left, 0);
        let entry = sqlx::query("SELECT actor, detail FROM audit WHERE action = 'retention.purged'").fetch_one(&store.pool).await.unwrap();
        let detail: serde_json::Value = serde_json::from_str(&sqlx::Row::try_get::<String, _>(&entry, "detail").unwrap()).unwrap();
        assert_eq!(detail["review_samples"], 1);
        assert_eq!(detail["purged_sha256"].as_str().unwrap().len(), 64);
        assert_eq!(purge(&store, &audit, 90, "test").await.unwrap(), 0, "a purge runs once per task");
    }
}
