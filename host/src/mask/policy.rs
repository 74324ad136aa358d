//! The masking policy's configuration: defaults for every tenant and per-tenant
//! overrides (written in the report template file under `masking`), checked when
//! it is loaded so a policy the masker would reject stops the start.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use serde::Deserialize;
use serde_json::Value;

/// The masking policy: defaults for every tenant, and per-tenant overrides.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaskingTemplate {
    /// The policy handed to every tenant's masker and gate, as JSON (see
    /// guest-sdk/src/detect/policy.rs); empty means the built-in defaults.
    pub policy: Value,
    /// Hold the report back when the leak gate finds anything the masker missed.
    pub fail_closed: bool,
    /// Fraction (0..=1) of masked log records kept for security review.
    pub review_sample_rate: f64,
    pub tenants: BTreeMap<String, TenantMasking>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TenantMasking {
    /// Replaces the default policy for this tenant.
    pub policy: Option<Value>,
    pub fail_closed: Option<bool>,
    pub review_sample_rate: Option<f64>,
}

/// One tenant's masking settings with the defaults filled in.
#[derive(Debug, Clone)]
pub struct MaskingPolicy {
    pub policy_json: String,
    pub fail_closed: bool,
    pub review_sample_rate: f64,
}

impl MaskingTemplate {
    /// A policy that the masker would reject, or a sample rate outside 0..=1, is an
    /// error now instead of at the first incident.
    pub fn check(&self) -> Result<()> {
        let policies = std::iter::once(("default".to_string(), Some(&self.policy)))
            .chain(self.tenants.iter().map(|(k, v)| (k.clone(), v.policy.as_ref())));
        for (tenant, p) in policies {
            if let Some(p) = p.filter(|p| !p.is_null()) {
                casefile_guest::detect::Policy::from_json(&p.to_string())
                    .map_err(|e| anyhow::anyhow!("masking policy of `{tenant}`: {e}"))?;
            }
        }
        let rates = std::iter::once(self.review_sample_rate).chain(self.tenants.values().filter_map(|v| v.review_sample_rate));
        for r in rates {
            if !(0.0..=1.0).contains(&r) {
                bail!("review_sample_rate {r} must be between 0 and 1");
            }
        }
        Ok(())
    }

    /// One tenant's settings with the defaults filled in.
    pub fn for_tenant(&self, tenant: &str) -> MaskingPolicy {
        let t = self.tenants.get(tenant);
        let p = t.and_then(|t| t.policy.as_ref()).unwrap_or(&self.policy);
        MaskingPolicy {
            policy_json: if p.is_null() { "{}".into() } else { p.to_string() },
            fail_closed: t.and_then(|t| t.fail_closed).unwrap_or(self.fail_closed),
            review_sample_rate: t.and_then(|t| t.review_sample_rate).unwrap_or(self.review_sample_rate),
        }
    }
}
