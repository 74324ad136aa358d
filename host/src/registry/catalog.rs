//! The components table: one row per SHA-256, with what review needs to see (world,
//! imports, what it asks for, uploader, signature) and where it stands in its
//! lifecycle: `pending` → `approved` | `rejected`, and `approved` → `revoked`.

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::Row;
use utoipa::ToSchema;

use crate::store::{now_ms, Store};

/// Where a component stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Revoked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Rejected => "rejected",
            Status::Revoked => "revoked",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "pending" => Status::Pending,
            "rejected" => Status::Rejected,
            "revoked" => Status::Revoked,
            // Rows from before the lifecycle were config-declared, hence approved.
            _ => Status::Approved,
        }
    }
}

/// A component as review sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComponentRecord {
    pub sha256: String,
    /// `masker`, `connector` or `ticket-mapper`.
    pub kind: String,
    pub name: String,
    pub version: Option<String>,
    pub status: Status,
    /// The WIT world it implements, e.g. `casefile:plugin/masker@0.2.0`.
    pub world: String,
    /// Every interface it imports.
    pub imports: Vec<String>,
    /// What it can be granted beyond its arguments, read off its imports (the
    /// grant itself is set per source in the config).
    pub grants: Vec<String>,
    /// Who uploaded it: a token's `{token_id, name, role}`, or `config`.
    #[schema(value_type = Object)]
    pub uploader: serde_json::Value,
    /// `none` or `valid` (an invalid signature is refused at upload).
    pub signature: String,
    #[schema(value_type = Option<Object>)]
    pub reviewer: Option<serde_json::Value>,
    pub reviewed_at: Option<i64>,
    /// Why it was rejected or revoked.
    pub reason: Option<String>,
    pub size: i64,
    pub created_at: i64,
    /// Where it is bound now.
    pub bound: Vec<BoundAt>,
}

/// One place a component is bound.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BoundAt {
    pub tenant: String,
    pub slot: String,
    pub mode: String,
    pub version: i64,
}

/// A new row.
pub struct NewComponent<'a> {
    pub sha256: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub version: Option<&'a str>,
    pub status: Status,
    pub world: &'a str,
    pub imports: &'a [String],
    pub uploader: &'a str,
    pub signature: Option<&'a str>,
    pub signature_status: &'a str,
    pub size: usize,
}

/// Inserts the row unless the hash is known; true when it was new.
pub async fn insert(store: &Store, c: &NewComponent<'_>) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO components (sha256, kind, name, size, created_at, version, status, world, imports, uploader, signature, signature_status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(c.sha256)
    .bind(c.kind)
    .bind(c.name)
    .bind(c.size as i64)
    .bind(now_ms())
    .bind(c.version)
    .bind(c.status.as_str())
    .bind(c.world)
    .bind(serde_json::to_string(c.imports)?)
    .bind(c.uploader)
    .bind(c.signature)
    .bind(c.signature_status)
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Fills in world and imports for a row made before they were recorded.
pub async fn describe(store: &Store, sha: &str, world: &str, imports: &[String]) -> Result<()> {
    sqlx::query("UPDATE components SET world = $1, imports = $2 WHERE sha256 = $3 AND world = ''")
        .bind(world)
        .bind(serde_json::to_string(imports)?)
        .bind(sha)
        .execute(&store.pool)
        .await?;
    Ok(())
}

/// Moves a component from `from` to `to`; false when it was not in `from`.
pub async fn transition(store: &Store, sha: &str, from: &[Status], to: Status, reviewer: &str, reason: Option<&str>) -> Result<bool> {
    let allowed: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    // The states are few and fixed: an IN list built from them, never from input.
    let list = allowed.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(", ");
    let done = sqlx::query(&format!(
        "UPDATE components SET status = $1, reviewer = $2, reviewed_at = $3, reason = $4 WHERE sha256 = $5 AND status IN ({list})"
    ))
    .bind(to.as_str())
    .bind(reviewer)
    .bind(now_ms())
    .bind(reason)
    .bind(sha)
    .execute(&store.pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

fn grants_of(imports: &[String]) -> Vec<String> {
    let has = |p: &str| imports.iter().any(|i| i.starts_with(p));
    let mut g = Vec::new();
    if has("casefile:plugin/host-http") {
        g.push("outbound HTTP through the host, to the hosts a source's grant.allow_hosts lists".to_string());
    }
    if has("wasi:filesystem/preopens") {
        g.push("read-only files under /data, when a source's grant.dir names a directory".to_string());
    }
    if has("casefile:plugin/pseudonyms") {
        g.push("keyed pseudonyms from the host (the key stays in the host)".to_string());
    }
    g
}

fn actor(text: &str) -> serde_json::Value {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) if v.is_object() => v,
        _ => serde_json::Value::String(text.to_string()),
    }
}

fn record(r: &sqlx::any::AnyRow) -> Result<ComponentRecord> {
    let imports: Vec<String> = serde_json::from_str(&r.try_get::<String, _>("imports")?).unwrap_or_default();
    Ok(ComponentRecord {
        sha256: r.try_get("sha256")?,
        kind: r.try_get("kind")?,
        name: r.try_get("name")?,
        version: r.try_get("version")?,
        status: Status::parse(&r.try_get::<String, _>("status")?),
        world: r.try_get("world")?,
        grants: grants_of(&imports),
        imports,
        uploader: actor(&r.try_get::<String, _>("uploader")?),
        signature: r.try_get("signature_status")?,
        reviewer: r.try_get::<Option<String>, _>("reviewer")?.map(|a| actor(&a)),
        reviewed_at: r.try_get("reviewed_at")?,
        reason: r.try_get("reason")?,
        size: r.try_get("size")?,
        created_at: r.try_get("created_at")?,
        bound: Vec::new(),
    })
}

const COLUMNS: &str =
    "sha256, kind, name, version, status, world, imports, uploader, signature_status, reviewer, reviewed_at, reason, size, created_at";

pub async fn get(store: &Store, sha: &str) -> Result<Option<ComponentRecord>> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM components WHERE sha256 = $1"))
        .bind(sha)
        .fetch_optional(&store.pool)
        .await?;
    row.as_ref().map(record).transpose().context("reading a component row")
}

pub async fn list(store: &Store) -> Result<Vec<ComponentRecord>> {
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM components ORDER BY created_at, sha256")).fetch_all(&store.pool).await?;
    rows.iter().map(record).collect()
}

/// Hashes that may not run: pending, rejected or revoked.
pub async fn blocked(store: &Store) -> Result<std::collections::HashSet<String>> {
    let rows = sqlx::query("SELECT sha256 FROM components WHERE status <> 'approved'").fetch_all(&store.pool).await?;
    rows.iter().map(|r| Ok(r.try_get::<String, _>("sha256")?)).collect()
}
