//! Bindings: which components fill a tenant's slots. A slot is `masker` (an ordered
//! chain), `ticket-mapper`, or `source:<name>` (the connector of a named source).
//! Every change is a new row with the next version for its (tenant, slot, mode); the
//! newest row is in force, so a switch is one insert (atomic for the next task) and
//! history is never rewritten: rollback writes a new row repeating an older one.
//! A row with no components means "inherit": the tenant falls back to the config
//! and then to the default (`*`).

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use crate::config::ComponentKind;
use crate::store::{now_ms, Store};

/// The tenant name under which the default bindings (every tenant's fallback) are
/// kept: the same word a token uses for "all tenants".
pub const DEFAULT_TENANT: &str = "*";

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Slot {
    Masker,
    TicketMapper,
    Source(String),
}

impl Slot {
    pub fn parse(s: &str) -> Result<Slot, String> {
        match s {
            "masker" => Ok(Slot::Masker),
            "ticket-mapper" => Ok(Slot::TicketMapper),
            _ => match s.strip_prefix("source:") {
                Some(name) if !name.is_empty() => Ok(Slot::Source(name.to_string())),
                _ => Err(format!("unknown slot `{s}`; slots are `masker`, `ticket-mapper` and `source:<name>`")),
            },
        }
    }

    pub fn kind(&self) -> ComponentKind {
        match self {
            Slot::Masker => ComponentKind::Masker,
            Slot::TicketMapper => ComponentKind::TicketMapper,
            Slot::Source(_) => ComponentKind::Connector,
        }
    }

    /// Only the masker slot holds a chain.
    pub fn max_components(&self) -> usize {
        match self {
            Slot::Masker => 8,
            _ => 1,
        }
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Slot::Masker => f.write_str("masker"),
            Slot::TicketMapper => f.write_str("ticket-mapper"),
            Slot::Source(n) => write!(f, "source:{n}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Runs for the tenant's tasks.
    #[default]
    Active,
    /// Runs beside the active masker; its output is discarded, its differences kept.
    Shadow,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Active => "active",
            Mode::Shadow => "shadow",
        }
    }
}

/// One version of a binding.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Binding {
    pub tenant: String,
    pub slot: String,
    pub mode: Mode,
    pub version: i64,
    /// Component hashes, in chain order; empty means "inherit".
    pub components: Vec<String>,
    #[schema(value_type = Object)]
    pub actor: serde_json::Value,
    pub created_at: i64,
}

fn binding(r: &sqlx::any::AnyRow) -> Result<Binding> {
    let actor: String = r.try_get("actor")?;
    Ok(Binding {
        tenant: r.try_get("tenant")?,
        slot: r.try_get("slot")?,
        mode: if r.try_get::<String, _>("mode")? == "shadow" { Mode::Shadow } else { Mode::Active },
        version: r.try_get("version")?,
        components: serde_json::from_str(&r.try_get::<String, _>("components")?)?,
        actor: serde_json::from_str(&actor).unwrap_or(serde_json::Value::String(actor)),
        created_at: r.try_get("created_at")?,
    })
}

/// Writes the next version. Two writers racing for the same version: the primary
/// key lets one in, and the other takes the next number.
pub async fn put(store: &Store, tenant: &str, slot: &Slot, mode: Mode, components: &[String], actor: &str) -> Result<Binding> {
    let slot_s = slot.to_string();
    for _ in 0..5 {
        let next: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 AS v FROM bindings WHERE tenant = $1 AND slot = $2 AND mode = $3")
            .bind(tenant)
            .bind(&slot_s)
            .bind(mode.as_str())
            .fetch_one(&store.pool)
            .await?
            .try_get("v")?;
        let inserted = sqlx::query(
            "INSERT INTO bindings (tenant, slot, mode, version, components, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (tenant, slot, mode, version) DO NOTHING",
        )
        .bind(tenant)
        .bind(&slot_s)
        .bind(mode.as_str())
        .bind(next)
        .bind(serde_json::to_string(components)?)
        .bind(actor)
        .bind(now_ms())
        .execute(&store.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return history(store, tenant, &slot_s, mode).await?.into_iter().find(|b| b.version == next).ok_or_else(|| anyhow::anyhow!("binding vanished"));
        }
    }
    bail!("could not write binding {tenant}/{slot_s}: other writers kept taking the next version")
}

/// Every version of one slot, newest first.
pub async fn history(store: &Store, tenant: &str, slot: &str, mode: Mode) -> Result<Vec<Binding>> {
    let rows = sqlx::query("SELECT * FROM bindings WHERE tenant = $1 AND slot = $2 AND mode = $3 ORDER BY version DESC")
        .bind(tenant)
        .bind(slot)
        .bind(mode.as_str())
        .fetch_all(&store.pool)
        .await?;
    rows.iter().map(binding).collect()
}

/// The binding in force for each slot and mode of these tenants.
pub async fn current(store: &Store, tenants: &[&str]) -> Result<Vec<Binding>> {
    let mut out = Vec::new();
    for t in tenants {
        let rows = sqlx::query(
            "SELECT b.* FROM bindings b
             WHERE b.tenant = $1 AND b.version = (SELECT MAX(version) FROM bindings x WHERE x.tenant = b.tenant AND x.slot = b.slot AND x.mode = b.mode)
             ORDER BY b.slot, b.mode",
        )
        .bind(*t)
        .fetch_all(&store.pool)
        .await?;
        for r in &rows {
            out.push(binding(r)?);
        }
    }
    Ok(out)
}

/// Every binding in force anywhere (for "where is this bound" and revocation).
pub async fn all_current(store: &Store) -> Result<Vec<Binding>> {
    let rows = sqlx::query(
        "SELECT b.* FROM bindings b
         WHERE b.version = (SELECT MAX(version) FROM bindings x WHERE x.tenant = b.tenant AND x.slot = b.slot AND x.mode = b.mode)
         ORDER BY b.tenant, b.slot, b.mode",
    )
    .fetch_all(&store.pool)
    .await?;
    rows.iter().map(binding).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_parse_and_print() {
        for s in ["masker", "ticket-mapper", "source:loki"] {
            assert_eq!(Slot::parse(s).unwrap().to_string(), s);
        }
        assert_eq!(Slot::parse("source:loki").unwrap().kind(), ComponentKind::Connector);
        assert!(Slot::parse("source:").is_err());
        assert!(Slot::parse("mapper").unwrap_err().contains("ticket-mapper"));
    }
}
