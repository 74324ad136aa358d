//! Documents kept as versions per tenant (masking policies, report templates): the
//! config seeds version 1, every change is the next version, checked before it is
//! stored, and rollback writes a new version that repeats the one before, so history
//! is never rewritten. A task reads the newest version when it starts.

use anyhow::{bail, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::Row;

use super::{now_ms, Store};

/// A document with its own table of `(tenant, version, <column>, actor, created_at)`.
pub trait Document: Serialize + DeserializeOwned + Clone + PartialEq {
    /// The table and the column holding the document's JSON (fixed names, never input).
    const TABLE: &'static str;
    const COLUMN: &'static str;
    /// Refuses what would fail later, naming the field and why.
    fn check(&self) -> Result<()>;
}

/// One stored (or seeded) version.
#[derive(Debug, Clone)]
pub struct Version<D> {
    pub tenant: String,
    pub version: i64,
    pub document: D,
    /// Who set it: a token's `{token_id, name, role}`, or `config` for the seed.
    pub actor: serde_json::Value,
    /// 0 for the config's seed that was never stored.
    pub created_at: i64,
}

fn row<D: Document>(r: &sqlx::any::AnyRow) -> Result<Version<D>> {
    let actor: String = r.try_get("actor")?;
    Ok(Version {
        tenant: r.try_get("tenant")?,
        version: r.try_get("version")?,
        document: serde_json::from_str(&r.try_get::<String, _>(D::COLUMN)?)?,
        actor: serde_json::from_str(&actor).unwrap_or(serde_json::Value::String(actor)),
        created_at: r.try_get("created_at")?,
    })
}

/// Every stored version, newest first (empty until the first change).
pub async fn history<D: Document>(store: &Store, tenant: &str) -> Result<Vec<Version<D>>> {
    let sql = format!("SELECT * FROM {} WHERE tenant = $1 ORDER BY version DESC", D::TABLE);
    let rows = sqlx::query(&sql).bind(tenant).fetch_all(&store.pool).await?;
    rows.iter().map(row).collect()
}

/// The version in force: the newest stored one, else `seed` (the config's) as version 1.
pub async fn current<D: Document>(store: &Store, seed: &D, tenant: &str) -> Result<Version<D>> {
    let sql = format!("SELECT * FROM {} WHERE tenant = $1 ORDER BY version DESC LIMIT 1", D::TABLE);
    match sqlx::query(&sql).bind(tenant).fetch_optional(&store.pool).await? {
        Some(r) => row(&r),
        None => Ok(seeded(seed, tenant)),
    }
}

fn seeded<D: Document>(seed: &D, tenant: &str) -> Version<D> {
    Version {
        tenant: tenant.to_string(),
        version: 1,
        document: seed.clone(),
        actor: serde_json::Value::String("config".into()),
        created_at: 0,
    }
}

async fn insert<D: Document>(store: &Store, tenant: &str, version: i64, document: &D, actor: &str) -> Result<bool> {
    let sql = format!(
        "INSERT INTO {} (tenant, version, {}, actor, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, version) DO NOTHING",
        D::TABLE,
        D::COLUMN
    );
    let done = sqlx::query(&sql)
        .bind(tenant)
        .bind(version)
        .bind(serde_json::to_string(document)?)
        .bind(actor)
        .bind(now_ms())
        .execute(&store.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores `document` as the next version (checked first). The seed is stored as
/// version 1 the first time, so history and rollback include it. Two writers racing
/// for one version number: the primary key lets one win, the other takes the next.
pub async fn set<D: Document>(store: &Store, seed: &D, tenant: &str, document: &D, actor: &str) -> Result<Version<D>> {
    document.check()?;
    for _ in 0..5 {
        let now = current(store, seed, tenant).await?;
        if now.created_at == 0 {
            insert(store, tenant, 1, seed, "config").await?;
        }
        if insert(store, tenant, now.version + 1, document, actor).await? {
            return current(store, seed, tenant).await;
        }
    }
    bail!("could not store the {} of `{tenant}`: other writers kept taking the next version", D::TABLE)
}

/// Writes a new version repeating the newest one that differs from the current one;
/// `None` when there is none.
pub async fn rollback<D: Document>(store: &Store, seed: &D, tenant: &str, actor: &str) -> Result<Option<Version<D>>> {
    let all = history::<D>(store, tenant).await?;
    let Some(now) = all.first() else { return Ok(None) };
    let Some(before) = all.iter().skip(1).find(|v| v.document != now.document) else { return Ok(None) };
    Ok(Some(set(store, seed, tenant, &before.document, actor).await?))
}
