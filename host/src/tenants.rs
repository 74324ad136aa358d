//! Tenants: those the config declares and those declared through the API
//! (`PUT /internal/tenants/{tenant}`), which inherit the config's `default`
//! bindings and keep their own owners and sources. Every lookup reads the
//! database, so a tenant declared on one host is known to every host at once.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use crate::config::{Bindings, Config, TenantBindings};
use crate::store::{now_ms, Store};

/// What the API declares for a tenant.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// Who gets its tickets; the default's owners when absent.
    #[serde(default)]
    pub owners: Option<Vec<String>>,
    /// Configured sources it collects from; the default's when absent.
    #[serde(default)]
    pub sources: Option<Vec<String>>,
}

/// A tenant as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantInfo {
    pub name: String,
    /// `config` or `api`.
    pub origin: String,
    pub owners: Vec<String>,
    pub sources: Vec<String>,
}

fn row_bindings(r: &sqlx::any::AnyRow) -> Result<(String, Bindings)> {
    let owners: Option<Vec<String>> = Some(serde_json::from_str(&r.try_get::<String, _>("owners")?)?).filter(|o: &Vec<String>| !o.is_empty());
    let sources = r.try_get::<Option<String>, _>("sources")?.map(|s| serde_json::from_str(&s)).transpose()?;
    Ok((r.try_get("name")?, Bindings { owners, sources, ..Bindings::default() }))
}

/// The tenant's bindings with the defaults filled in, if it is declared anywhere.
pub async fn lookup(config: &Config, store: &Store, name: &str) -> Result<Option<TenantBindings>> {
    if let Some(t) = config.tenant(name) {
        return Ok(Some(t));
    }
    let row = sqlx::query("SELECT * FROM tenants WHERE name = $1").bind(name).fetch_optional(&store.pool).await?;
    match row {
        Some(r) => {
            let (name, b) = row_bindings(&r)?;
            Ok(config.with_defaults(&name, &b))
        }
        None => Ok(None),
    }
}

/// Every declared tenant, config first.
pub async fn list(config: &Config, store: &Store) -> Result<Vec<TenantInfo>> {
    let mut out: Vec<TenantInfo> = config
        .tenants
        .keys()
        .filter_map(|n| config.tenant(n))
        .map(|t| TenantInfo { name: t.tenant, origin: "config".into(), owners: t.owners, sources: t.sources })
        .collect();
    for r in sqlx::query("SELECT * FROM tenants ORDER BY name").fetch_all(&store.pool).await? {
        let (name, b) = row_bindings(&r)?;
        if let Some(t) = config.with_defaults(&name, &b) {
            out.push(TenantInfo { name, origin: "api".into(), owners: t.owners, sources: t.sources });
        }
    }
    Ok(out)
}

/// Declares (or updates) a tenant; true when it is new. A tenant the config
/// declares is the config's to change.
pub async fn declare(config: &Config, store: &Store, name: &str, spec: &TenantSpec, actor: &str) -> Result<bool> {
    if config.tenants.contains_key(name) {
        bail!("tenant `{name}` is declared in the config; change it there");
    }
    for s in spec.sources.iter().flatten() {
        if !config.sources.contains_key(s) {
            bail!("sources: `{s}` is not a configured source; configured: {}", config.sources.keys().cloned().collect::<Vec<_>>().join(", "));
        }
    }
    let owners = serde_json::to_string(&spec.owners.clone().unwrap_or_default())?;
    let sources = spec.sources.as_ref().map(serde_json::to_string).transpose()?;
    let now = now_ms();
    let existed = sqlx::query("SELECT name FROM tenants WHERE name = $1").bind(name).fetch_optional(&store.pool).await?.is_some();
    sqlx::query(
        "INSERT INTO tenants (name, owners, sources, actor, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (name) DO UPDATE SET owners = excluded.owners, sources = excluded.sources, actor = excluded.actor, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(owners)
    .bind(sources)
    .bind(actor)
    .bind(now)
    .execute(&store.pool)
    .await?;
    Ok(!existed)
}

/// A tenant name the API accepts: what scopes, paths and audit entries can carry.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.'))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !ok {
        bail!("tenant names are 1 to 64 of a-z, 0-9, `-`, `_`, `.`, starting with a letter or digit; got `{name}`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain() {
        for good in ["acme", "acme-eu.2", "7eleven"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "*", "Acme", "-x", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
