//! Feature flags at runtime. The config gives each flag its first value; a change
//! through the API (`PUT /internal/flags/{name}`, `casefile flag set`) is stored,
//! audited, kept across restarts, and read by every host within a second (each
//! host caches what it read for at most `REFRESH`).
//!
//! - `debug-ticket-bridge`: off hands tickets off manually (reports and bundles only).
//! - `debug-observability-v2`: off accepts diagnoses but calls no connector; the
//!   report holds the trigger's own data and says collection was disabled.
//! - `debug-regression-auto`: off pauses regression runs; they wait, queued, and
//!   run when it is on again.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Result;
use sqlx::Row;

use crate::config::Flags;
use crate::store::{now_ms, Store};

pub const TICKET_BRIDGE: &str = "debug-ticket-bridge";
pub const OBSERVABILITY_V2: &str = "debug-observability-v2";
pub const REGRESSION_AUTO: &str = "debug-regression-auto";
pub const ALL: [&str; 3] = [TICKET_BRIDGE, OBSERVABILITY_V2, REGRESSION_AUTO];

/// How stale a host's view of the flags may be.
const REFRESH: Duration = Duration::from_millis(500);

/// The config's values, then what the database says, cached briefly.
pub struct FlagCache {
    initial: BTreeMap<&'static str, bool>,
    seen: Mutex<Option<(Instant, BTreeMap<String, bool>)>>,
}

impl FlagCache {
    pub fn new(config: &Flags) -> FlagCache {
        let initial = BTreeMap::from([
            (TICKET_BRIDGE, config.ticket_bridge),
            (OBSERVABILITY_V2, config.observability_v2),
            (REGRESSION_AUTO, config.regression_auto),
        ]);
        FlagCache { initial, seen: Mutex::new(None) }
    }

    /// Every flag's value now.
    pub async fn all(&self, store: &Store) -> Result<BTreeMap<String, bool>> {
        if let Ok(guard) = self.seen.lock() {
            if let Some((at, v)) = guard.as_ref() {
                if at.elapsed() < REFRESH {
                    return Ok(v.clone());
                }
            }
        }
        let mut v: BTreeMap<String, bool> = self.initial.iter().map(|(k, b)| (k.to_string(), *b)).collect();
        for r in sqlx::query("SELECT name, enabled FROM flags").fetch_all(&store.pool).await? {
            let name: String = r.try_get("name")?;
            if v.contains_key(&name) {
                v.insert(name, r.try_get::<i64, _>("enabled")? != 0);
            }
        }
        if let Ok(mut guard) = self.seen.lock() {
            *guard = Some((Instant::now(), v.clone()));
        }
        Ok(v)
    }

    /// One flag; a flag the database cannot be asked about keeps its config value.
    pub async fn on(&self, store: &Store, name: &str) -> bool {
        match self.all(store).await {
            Ok(v) => v.get(name).copied().unwrap_or(true),
            Err(e) => {
                tracing::warn!(flag = name, error = %format!("{e:#}"), "cannot read flags; using the config's value");
                self.initial.get(name).copied().unwrap_or(true)
            }
        }
    }

    /// Stores a flag's value; the cache of this host is dropped so it reads it now.
    pub async fn set(&self, store: &Store, name: &str, enabled: bool, actor: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO flags (name, enabled, actor, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled, actor = excluded.actor, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(i64::from(enabled))
        .bind(actor)
        .bind(now_ms())
        .execute(&store.pool)
        .await?;
        if let Ok(mut guard) = self.seen.lock() {
            *guard = None;
        }
        Ok(())
    }
}
