//! Vendor token formats (filled in below).

use super::prefilter::Trigger;
use super::{Category::Credential, Examples, Rule};

pub const TOKENS: &[Rule] = &[Rule {
    name: "gitlab-pipeline-trigger-token",
    category: Credential,
    trigger: Trigger::literals(&["glptt-"]),
    pattern: r"\bglptt-[0-9a-f]{40}\b",
    validate: None,
    examples: Examples {
        masks: &["glptt-{h40}"],
        keeps: &["glptt-0123"],
    },
}];
