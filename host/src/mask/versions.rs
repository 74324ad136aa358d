//! A tenant's masking policy as versioned data (`store::versions`): the config (the
//! report template's `masking` section) seeds version 1. A task reads the newest
//! version when it starts and its report names that version.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::policy::{MaskingPolicy, MaskingTemplate};
use crate::store::versions::{self, Document, Version};
use crate::store::Store;

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

impl Document for TenantPolicy {
    const TABLE: &'static str = "policies";
    const COLUMN: &'static str = "policy";

    fn check(&self) -> Result<()> {
        TenantPolicy::check(self)
    }
}

impl From<Version<TenantPolicy>> for PolicyVersion {
    fn from(v: Version<TenantPolicy>) -> PolicyVersion {
        PolicyVersion { tenant: v.tenant, version: v.version, policy: v.document, actor: v.actor, created_at: v.created_at }
    }
}

fn seed(template: &MaskingTemplate, tenant: &str) -> TenantPolicy {
    TenantPolicy::from_config(&template.for_tenant(tenant))
}

/// Every stored version, newest first (empty until the first change).
pub async fn history(store: &Store, tenant: &str) -> Result<Vec<PolicyVersion>> {
    Ok(versions::history::<TenantPolicy>(store, tenant).await?.into_iter().map(PolicyVersion::from).collect())
}

/// The policy in force: the newest stored version, else the config's as version 1.
pub async fn current(store: &Store, template: &MaskingTemplate, tenant: &str) -> Result<PolicyVersion> {
    Ok(versions::current(store, &seed(template, tenant), tenant).await?.into())
}

/// Stores `policy` as the next version (checked first).
pub async fn set(store: &Store, template: &MaskingTemplate, tenant: &str, policy: &TenantPolicy, actor: &str) -> Result<PolicyVersion> {
    Ok(versions::set(store, &seed(template, tenant), tenant, policy, actor).await?.into())
}

/// Writes a new version repeating the one before the current one.
pub async fn rollback(store: &Store, template: &MaskingTemplate, tenant: &str, actor: &str) -> Result<Option<PolicyVersion>> {
    Ok(versions::rollback(store, &seed(template, tenant), tenant, actor).await?.map(PolicyVersion::from))
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
