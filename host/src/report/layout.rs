//! A tenant's report layout (the template's sections and limits) as versioned data
//! (`store::versions`): the template file seeds version 1, the API and `casefile
//! template` replace it without a restart, and a task uses the version in force
//! when it starts (its report names it).

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{default_sections, Limits, Template, ALL_SECTIONS};
use crate::store::versions::{self, Document, Version};
use crate::store::Store;

/// What a report holds and how much of it: the template file's `sections` and
/// `limits` (its `masking` section is the masking policy, versioned on its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    /// Sections in the order the report JSON and Markdown show them; one left out is
    /// dropped. Known: summary, sources, errors, timeline, traces, metrics, masking.
    #[serde(default = "default_sections")]
    pub sections: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
}

/// Upper bounds that keep a report readable and a ticket within what ticket
/// systems accept; the bundle keeps everything.
const MAX_LINES: usize = 10_000;
const MAX_ITEMS: usize = 1_000;
const MAX_MESSAGE_CHARS: usize = 100_000;

impl Layout {
    pub fn check(&self) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for (i, s) in self.sections.iter().enumerate() {
            if !ALL_SECTIONS.contains(&s.as_str()) {
                bail!("sections[{i}]: unknown section `{s}`; known: {}", ALL_SECTIONS.join(", "));
            }
            if !seen.insert(s) {
                bail!("sections[{i}]: `{s}` is named twice");
            }
        }
        let l = &self.limits;
        for (name, value, max) in [
            ("timeline", l.timeline, MAX_LINES),
            ("errors", l.errors, MAX_LINES),
            ("traces", l.traces, MAX_ITEMS),
            ("metrics", l.metrics, MAX_ITEMS),
            ("message_chars", l.message_chars, MAX_MESSAGE_CHARS),
        ] {
            if value > max {
                bail!("limits.{name}: {value} is over the most a report holds ({max}); the bundle keeps every record");
            }
        }
        if l.message_chars == 0 {
            bail!("limits.message_chars: 0 would empty every message; leave the `timeline` and `errors` sections out instead");
        }
        Ok(())
    }
}

impl Document for Layout {
    const TABLE: &'static str = "report_templates";
    const COLUMN: &'static str = "template";

    fn check(&self) -> Result<()> {
        Layout::check(self)
    }
}

impl Template {
    /// The file's sections and limits: every tenant's version 1.
    pub fn layout(&self) -> Layout {
        Layout { sections: self.sections.clone(), limits: self.limits.clone() }
    }

    /// This template with another layout (its masking part unchanged).
    pub fn with_layout(&self, layout: &Layout) -> Template {
        Template { sections: layout.sections.clone(), limits: layout.limits.clone(), masking: self.masking.clone() }
    }
}

/// One version of a tenant's layout.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LayoutVersion {
    pub tenant: String,
    pub version: i64,
    #[serde(flatten)]
    pub layout: Layout,
    /// Who set it: a token's `{token_id, name, role}`, or `config` for the seed.
    #[schema(value_type = Object)]
    pub actor: serde_json::Value,
    pub created_at: i64,
}

impl From<Version<Layout>> for LayoutVersion {
    fn from(v: Version<Layout>) -> LayoutVersion {
        LayoutVersion { tenant: v.tenant, version: v.version, layout: v.document, actor: v.actor, created_at: v.created_at }
    }
}

pub async fn history(store: &Store, tenant: &str) -> Result<Vec<LayoutVersion>> {
    Ok(versions::history::<Layout>(store, tenant).await?.into_iter().map(LayoutVersion::from).collect())
}

pub async fn current(store: &Store, template: &Template, tenant: &str) -> Result<LayoutVersion> {
    Ok(versions::current(store, &template.layout(), tenant).await?.into())
}

pub async fn set(store: &Store, template: &Template, tenant: &str, layout: &Layout, actor: &str) -> Result<LayoutVersion> {
    Ok(versions::set(store, &template.layout(), tenant, layout, actor).await?.into())
}

pub async fn rollback(store: &Store, template: &Template, tenant: &str, actor: &str) -> Result<Option<LayoutVersion>> {
    Ok(versions::rollback(store, &template.layout(), tenant, actor).await?.map(LayoutVersion::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_layout_is_checked_field_by_field() {
        let ok = Layout { sections: vec!["summary".into(), "errors".into()], limits: Limits::default() };
        assert!(ok.check().is_ok());
        let unknown = Layout { sections: vec!["summary".into(), "secrets".into()], ..ok.clone() };
        assert!(unknown.check().unwrap_err().to_string().starts_with("sections[1]: unknown section `secrets`"));
        let twice = Layout { sections: vec!["errors".into(), "errors".into()], ..ok.clone() };
        assert!(twice.check().unwrap_err().to_string().contains("named twice"));
        let huge = Layout { limits: Limits { timeline: 1_000_000, ..Limits::default() }, ..ok.clone() };
        assert!(huge.check().unwrap_err().to_string().starts_with("limits.timeline"));
        let empty = Layout { limits: Limits { message_chars: 0, ..Limits::default() }, ..ok };
        assert!(empty.check().unwrap_err().to_string().starts_with("limits.message_chars"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let e = serde_json::from_str::<Layout>(r#"{"sections": [], "limit": {}}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `limit`"));
        let e = serde_json::from_str::<Layout>(r#"{"limits": {"timelines": 5}}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `timelines`"));
    }
}
