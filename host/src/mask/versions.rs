//! A tenant's masking policy as versioned data: the config (the report template's
//! `masking` section) seeds version 1, every change through the API is the next
//! version, checked before it is stored, and rollback writes a new version that
//! repeats the one before. A task reads the newest version when it starts and its
//! report names that version.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use utoipa::ToSchema;

use super::policy::{MaskingPolicy, MaskingTemplate};
use crate::store::{now_ms, Store};

/// What a tenant's policy holds: the detectors' policy (fields, rules, actions, see
/// guest-sdk/src/detect/policy.rs) and the host's own settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantPolicy {
    /// The detectors' policy as JSON; `{}` means the built-in defaults.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
    /// Hold the report back when the leak gate finds what the masker missed.
    #[serde(default)]
    pub fail_closed: bool,
    /// Fraction (0..=1) of masked log records kept for security review.
    #[serde(default)]
    pub review_sample_rate: f64,
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// One version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PolicyVersion {
    pub tenant: String,
    pub version: i64,
    #[serde(flatten)]
    pub policy: TenantPolicy,
    /// Who set it: a token's `{token_id, name, role}`, or `config` for the seed.
    #[schema(value_type = Object)]
    pub actor: serde_json::Value,
    pub created_at: i64,
}

impl TenantPolicy {
    fn from_config(m: &MaskingPolicy) -> TenantPolicy {
        TenantPolicy {
            policy: serde_json::from_str(&m.policy_json).unwrap_or_else(|_| empty_object()),
            fail_closed: m.fail_closed,
            review_sample_rate: m.review_sample_rate,
        }
    }

    /// Refuses what the masker or the gate would refuse, naming the field and why.
    pub fn check(&self) -> Result<()> {
        if !self.policy.is_object() {
            bail!("policy: must be a JSON object (the detectors' policy), got {}", self.policy);
        }
        casefile_guest::detect::Policy::from_json(&self.policy.to_string()).map_err(|e| anyhow::anyhow!("{e}"))?;
        if !(0.0..=1.0).contains(&self.review_sample_rate) {
            bail!("review_sample_rate: {} must be between 0 and 1", self.review_sample_rate);
        }
        Ok(())
    }

    pub fn as_masking(&self) -> MaskingPolicy {
        MaskingPolicy { policy_json: self.policy.to_string(), fail_closed: self.fail_closed, review_sample_rate: self.review_sample_rate }
    }
}

fn row(r: &sqlx::any::AnyRow) -> Result<PolicyVersion> {
    let actor: String = r.try_get("actor")?;
    Ok(PolicyVersion {
        tenant: r.try_get("tenant")?,
        version: r.try_get("version")?,
        policy: serde_json::from_str(&r.try_get::<String, _>("policy")?)?,
        actor: serde_json::from_str(&actor).unwrap_or(serde_json::Value::String(actor)),
        created_at: r.try_get("created_at")?,
    })
}

/// Every stored version, newest first (empty until the first change).
pub async fn history(store: &Store, tenant: &str) -> Result<Vec<PolicyVersion>> {
    let rows = sqlx::query("SELECT * FROM policies WHERE tenant = $1 ORDER BY version DESC").bind(tenant).fetch_all(&store.pool).await?;
    rows.iter().map(row).collect()
}

/// The policy in force: the newest stored version, else the config's as version 1.
pub async fn current(store: &Store, template: &MaskingTemplate, tenant: &str) -> Result<PolicyVersion> {
    let row = sqlx::query("SELECT * FROM policies WHERE tenant = $1 ORDER BY version DESC LIMIT 1")
        .bind(tenant)
        .fetch_optional(&store.pool)
        .await?;
    match row {
        Some(r) => self::row(&r),
        None => Ok(seed(template, tenant)),
    }
}

fn seed(template: &MaskingTemplate, tenant: &str) -> PolicyVersion {
    PolicyVersion {
        tenant: tenant.to_string(),
        version: 1,
        policy: TenantPolicy::from_config(&template.for_tenant(tenant)),
        actor: serde_json::Value::String("config".into()),
        created_at: 0,
    }
}

async fn insert(store: &Store, tenant: &str, version: i64, policy: &TenantPolicy, actor: &str) -> Result<bool> {
    let done = sqlx::query("INSERT INTO policies (tenant, version, policy, actor, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, version) DO NOTHING")
        .bind(tenant)
        .bind(version)
        .bind(serde_json::to_string(policy)?)
        .bind(actor)
        .bind(now_ms())
        .execute(&store.pool)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Stores `policy` as the next version (checked first). The config's version is
/// stored as version 1 the first time, so history and rollback include it.
pub async fn set(store: &Store, template: &MaskingTemplate, tenant: &str, policy: &TenantPolicy, actor: &str) -> Result<PolicyVersion> {
    policy.check()?;
    for _ in 0..5 {
        let now = current(store, template, tenant).await?;
        if now.created_at == 0 {
            let seed = seed(template, tenant);
            insert(store, tenant, 1, &seed.policy, "config").await?;
        }
        if insert(store, tenant, now.version + 1, policy, actor).await? {
            return current(store, template, tenant).await;
        }
    }
    bail!("could not store the policy of `{tenant}`: other writers kept taking the next version")
}

/// Writes a new version repeating the one before the current one.
pub async fn rollback(store: &Store, template: &MaskingTemplate, tenant: &str, actor: &str) -> Result<Option<PolicyVersion>> {
    let all = history(store, tenant).await?;
    let Some(now) = all.first() else { return Ok(None) };
    let Some(before) = all.iter().skip(1).find(|v| v.policy != now.policy) else { return Ok(None) };
    Ok(Some(set(store, template, tenant, &before.policy, actor).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_is_checked_field_by_field() {
        let ok = TenantPolicy { policy: serde_json::json!({"fields": ["customer.id"]}), fail_closed: true, review_sample_rate: 0.1 };
        assert!(ok.check().is_ok());
        let bad_field = TenantPolicy { policy: serde_json::json!({"fields": ["customer..id"]}), ..ok.clone() };
        assert!(bad_field.check().unwrap_err().to_string().contains("fields[0]"));
        let bad_rule = TenantPolicy { policy: serde_json::json!({"rules": [{"name": "x", "pattern": "(", "category": "credential"}]}), ..ok.clone() };
        assert!(bad_rule.check().is_err());
        let bad_rate = TenantPolicy { review_sample_rate: 2.0, ..ok.clone() };
        assert!(bad_rate.check().unwrap_err().to_string().contains("review_sample_rate"));
        let not_object = TenantPolicy { policy: serde_json::json!([1]), ..ok };
        assert!(not_object.check().is_err());
    }
}
