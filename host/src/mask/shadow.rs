//! Shadow runs: a candidate masker chain bound in shadow mode masks the same records
//! as the active chain; its output is dropped, and only the differences are kept:
//! counts per rule on each side, how many records only one side changed, and the
//! positions of a few of them, never a value. A shadow that fails is recorded as
//! such and never fails the task.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use super::{mask_batch, Chunking, MaskingSummary};
use crate::model::Batch;
use crate::runtime::bindings::wit;
use crate::runtime::{Loaded, Runtime};
use crate::store::{now_ms, Store};

/// What differs between the active chain (with the leak gate: what left the host)
/// and the shadow chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShadowDiff {
    pub records: usize,
    /// Records both sides changed, or both left as they were.
    pub same: usize,
    /// Records only the active side changed (the shadow would have let them out).
    pub only_active: usize,
    /// Records only the shadow changed (the active side let them out).
    pub only_shadow: usize,
    /// `rule -> {active, shadow}` counts.
    pub rules: BTreeMap<String, RuleCounts>,
    /// Up to 20 records where the sides differ: `logs[3]`, `spans[0]`, ...
    pub differing: Vec<String>,
    /// Why the shadow chain did not finish, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RuleCounts {
    pub active: u64,
    pub shadow: u64,
}

/// One recorded run.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShadowRun {
    pub task_id: String,
    pub tenant: String,
    pub active: Vec<String>,
    pub shadow: Vec<String>,
    pub diff: ShadowDiff,
    pub created_at: i64,
}

const SAMPLES: usize = 20;

/// Runs `shadow` over `original` and compares it with what the active side made.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    runtime: &Arc<Runtime>,
    shadow: &[Arc<Loaded>],
    ctx: &wit::MaskContext,
    key: &Arc<[u8]>,
    original: &Batch,
    active_out: &Batch,
    active_summary: &MaskingSummary,
    chunking: Chunking,
) -> ShadowDiff {
    let mut diff = ShadowDiff { records: original.len(), ..ShadowDiff::default() };
    for (rule, actions) in &active_summary.rules {
        diff.rules.entry(rule.clone()).or_default().active += actions.values().sum::<u64>();
    }
    let mut out = original.clone();
    for masker in shadow {
        match mask_batch(runtime, masker, ctx, key, out, chunking).await {
            Ok((masked, summary)) => {
                out = masked;
                for (rule, actions) in summary.rules {
                    diff.rules.entry(rule).or_default().shadow += actions.values().sum::<u64>();
                }
            }
            Err(e) => {
                diff.error = Some(format!("{e:#}"));
                return diff;
            }
        }
    }
    let mut tally = |what: &str, i: usize, orig_changed_active: bool, orig_changed_shadow: bool| {
        match (orig_changed_active, orig_changed_shadow) {
            (true, false) => diff.only_active += 1,
            (false, true) => diff.only_shadow += 1,
            _ => {
                diff.same += 1;
                return;
            }
        }
        if diff.differing.len() < SAMPLES {
            diff.differing.push(format!("{what}[{i}]"));
        }
    };
    for (i, o) in original.logs.iter().enumerate() {
        tally("logs", i, active_out.logs.get(i) != Some(o), out.logs.get(i) != Some(o));
    }
    for (i, o) in original.spans.iter().enumerate() {
        tally("spans", i, active_out.spans.get(i) != Some(o), out.spans.get(i) != Some(o));
    }
    for (i, o) in original.metrics.iter().enumerate() {
        tally("metrics", i, active_out.metrics.get(i) != Some(o), out.metrics.get(i) != Some(o));
    }
    diff
}

pub async fn record(store: &Store, task_id: &str, tenant: &str, active: &[String], shadow: &[String], diff: &ShadowDiff) -> Result<()> {
    sqlx::query(
        "INSERT INTO shadow_runs (task_id, tenant, active, shadow, diff, created_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (task_id) DO UPDATE SET active = excluded.active, shadow = excluded.shadow, diff = excluded.diff, created_at = excluded.created_at",
    )
    .bind(task_id)
    .bind(tenant)
    .bind(serde_json::to_string(active)?)
    .bind(serde_json::to_string(shadow)?)
    .bind(serde_json::to_string(diff)?)
    .bind(now_ms())
    .execute(&store.pool)
    .await?;
    Ok(())
}

/// The tenant's latest runs, newest first.
pub async fn list(store: &Store, tenant: &str, limit: i64) -> Result<Vec<ShadowRun>> {
    let rows = sqlx::query("SELECT * FROM shadow_runs WHERE tenant = $1 ORDER BY created_at DESC LIMIT $2")
        .bind(tenant)
        .bind(limit)
        .fetch_all(&store.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(ShadowRun {
                task_id: r.try_get("task_id")?,
                tenant: r.try_get("tenant")?,
                active: serde_json::from_str(&r.try_get::<String, _>("active")?)?,
                shadow: serde_json::from_str(&r.try_get::<String, _>("shadow")?)?,
                diff: serde_json::from_str(&r.try_get::<String, _>("diff")?)?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}
