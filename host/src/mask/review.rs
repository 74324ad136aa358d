//! Sampling for manual review. Masking rules lag behind new kinds of content, so a
//! tenant can keep a fraction of its masked log records in a review queue that only
//! the security role reads. A reviewer marks a record as a miss (naming what should
//! have been masked); marked misses are exported as test cases for the policy
//! (`casefile mask --tenant T --check < cases.jsonl`).

use anyhow::Result;
use rand::Rng;
use serde_json::{json, Value};
use sqlx::Row;

use crate::model::LogRecord;
use crate::store::{now_ms, Store};

/// Picks about `rate` of the records, independently each.
pub fn sample<'a>(logs: &'a [LogRecord], rate: f64) -> Vec<&'a LogRecord> {
    if rate <= 0.0 {
        return Vec::new();
    }
    let mut rng = rand::rng();
    logs.iter().filter(|_| rng.random_bool(rate.min(1.0))).collect()
}

pub async fn enqueue(store: &Store, tenant: &str, task_id: &str, records: &[&LogRecord]) -> Result<()> {
    for r in records {
        sqlx::query(
            "INSERT INTO review_queue (id, tenant, task_id, record, status, created_at) VALUES ($1, $2, $3, $4, 'pending', $5)",
        )
        .bind(format!("rev_{}", uuid::Uuid::new_v4().simple()))
        .bind(tenant)
        .bind(task_id)
        .bind(serde_json::to_string(r)?)
        .bind(now_ms())
        .execute(&store.pool)
        .await?;
    }
    metrics::counter!("casefile_review_sampled_total", "tenant" => tenant.to_string()).increment(records.len() as u64);
    Ok(())
}

fn row_json(r: &sqlx::any::AnyRow) -> Result<Value> {
    let record: String = r.try_get("record")?;
    let expected: Option<String> = r.try_get("expected")?;
    Ok(json!({
        "id": r.try_get::<String, _>("id")?,
        "tenant": r.try_get::<String, _>("tenant")?,
        "task_id": r.try_get::<String, _>("task_id")?,
        "record": serde_json::from_str::<Value>(&record)?,
        "status": r.try_get::<String, _>("status")?,
        "note": r.try_get::<Option<String>, _>("note")?,
        "expected_masked": expected.map(|e| serde_json::from_str::<Value>(&e)).transpose()?,
        "created_at": r.try_get::<i64, _>("created_at")?,
    }))
}

pub async fn list(store: &Store, tenant: Option<&str>, status: Option<&str>, limit: i64) -> Result<Vec<Value>> {
    let rows = sqlx::query(
        "SELECT * FROM review_queue WHERE ($1 = '' OR tenant = $1) AND ($2 = '' OR status = $2) ORDER BY created_at LIMIT $3",
    )
    .bind(tenant.unwrap_or(""))
    .bind(status.unwrap_or(""))
    .bind(limit)
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(row_json).collect()
}

/// The tenant a sample belongs to; None when there is no such sample.
pub async fn tenant_of(store: &Store, id: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT tenant FROM review_queue WHERE id = $1").bind(id).fetch_optional(&store.pool).await?;
    Ok(row.map(|r| r.try_get("tenant")).transpose()?)
}

/// Records a reviewer's verdict; None when there is no such sample.
pub async fn mark(store: &Store, id: &str, verdict: &str, note: Option<&str>, expected: &[String]) -> Result<Option<Value>> {
    let n = sqlx::query("UPDATE review_queue SET status = $1, note = $2, expected = $3, reviewed_at = $4 WHERE id = $5")
        .bind(verdict)
        .bind(note)
        .bind(serde_json::to_string(expected)?)
        .bind(now_ms())
        .bind(id)
        .execute(&store.pool)
        .await?
        .rows_affected();
    if n == 0 {
        return Ok(None);
    }
    metrics::counter!("casefile_review_marked_total", "verdict" => verdict.to_string()).increment(1);
    let row = sqlx::query("SELECT * FROM review_queue WHERE id = $1").bind(id).fetch_one(&store.pool).await?;
    Ok(Some(row_json(&row)?))
}

/// Marked misses as test cases: one JSON object per line with the record's text and
/// the values that must come out masked.
pub async fn cases(store: &Store, tenant: &str) -> Result<String> {
    let mut out = String::new();
    for c in list(store, Some(tenant), Some("miss"), 100_000).await? {
        let line = json!({
            "line": c["record"]["message"],
            "expected_masked": c["expected_masked"],
            "note": c["note"],
            "review_id": c["id"],
            "tenant": tenant,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    Ok(out)
}
