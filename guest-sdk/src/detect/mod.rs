//! Masking detectors, in the manner of Sentry Relay's `relay-pii`: the rules are data
//! (`rules::RULES`), the validators that confirm a match are plain functions
//! (`validate`), the tenant's choices are a serde struct (`Policy`), and one engine
//! (`engine`) applies all three. Each rule also names its trigger (`prefilter`): the
//! literals or the shape a text must have for the rule to be worth running, so an
//! ordinary log line costs one literal scan and one byte pass, not forty regexes. The
//! host's leak gate runs the same table natively.
//!
//! How well it does is measured, not asserted in prose: `tests/corpus.rs` (a labeled,
//! generated corpus: recall per category and the false-positive rate over hard
//! negatives), `tests/eval.rs` and `examples/eval.rs` (a held-out evaluation built from
//! material the rules were not written from, `data/eval`), `tests/props.rs` and
//! `tests/planted.rs` (properties over generated input: no planted example of any rule
//! survives masking), and `examples/throughput.rs` (MB/s and start-up time). Where the
//! formats and word lists come from: `SOURCES.md`.
//!
//! ```
//! use casefile_guest::detect::{mask_text, Counts, HmacPseudonyms, Policy};
//! let policy = Policy::default();
//! let mut counts = Counts::default();
//! let mut pseudonyms = HmacPseudonyms::new(b"tenant-key");
//! let out = mask_text(&policy, &mut pseudonyms, "login password=hunter2", &mut counts);
//! assert_eq!(out, "login password=[MASKED:secret-assignment]");
//! assert_eq!(counts.get("secret-assignment", "mask"), 1);
//! ```

pub mod custom;
mod engine;
pub mod examples;
pub mod govid;
pub mod keyed;
pub mod person;
pub mod phone;
mod policy;
pub mod prefilter;
pub mod render;
pub mod rules;
pub mod selectors;
pub mod tokens;
pub mod validate;
mod wordset;

pub use custom::{CustomRule, CustomValidator};
pub use engine::{
    find, find_unfiltered, fired_rules, mask, mask_field, mask_field_value, mask_text, trigger_hits,
    CleanTexts, Finding,
};
pub use policy::{Action, Actions, Policy, PolicyError};
pub use prefilter::{Shape, Trigger};
pub use render::{is_mask_output, render, Counts, HmacPseudonyms, Pseudonyms};
pub use rules::RULES;

use serde::{Deserialize, Serialize};

/// What kind of data a rule finds; the policy picks an action per category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    Credential,
    Payment,
    GovernmentId,
    Contact,
    Network,
    /// Person names and street addresses in free text.
    Person,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Credential,
        Category::Payment,
        Category::GovernmentId,
        Category::Contact,
        Category::Network,
        Category::Person,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Credential => "credential",
            Category::Payment => "payment",
            Category::GovernmentId => "government-id",
            Category::Contact => "contact",
            Category::Network => "network",
            Category::Person => "person",
        }
    }
}

/// One built-in detector.
///
/// `pattern` finds candidates. When it has capture groups whose names start with `v`,
/// the first one that took part in the match is what gets masked (so `password=` stays
/// readable and only the value goes); otherwise the whole match is. A group named `k`
/// is handed to the validator as the key of a key/value pair. `validate` then confirms
/// or rejects the candidate (check digits, context, neighbours). `trigger` is the cheap
/// test that decides whether `pattern` is worth running on a text at all (see
/// `prefilter`); it must fire on every text the rule can find something in.
/// `examples` are the rule's own tests, kept with it as data (see `examples`).
#[derive(Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    pub category: Category,
    pub trigger: Trigger,
    pub pattern: &'static str,
    pub validate: Option<fn(&Candidate<'_>) -> bool>,
    pub examples: Examples,
}

/// A rule's examples: `masks` are templates of values the rule must find whole
/// (`glptt-{h40}`: see `examples::expand`; a template never holds a real-looking
/// secret, so no secret scanner flags this repository), `keeps` are texts it must leave
/// alone.
#[derive(Clone, Copy, Debug)]
pub struct Examples {
    pub masks: &'static [&'static str],
    pub keeps: &'static [&'static str],
}

impl Examples {
    pub const NONE: Examples = Examples {
        masks: &[],
        keeps: &[],
    };
}

impl std::fmt::Debug for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rule")
            .field("name", &self.name)
            .field("category", &self.category)
            .finish_non_exhaustive()
    }
}

/// A match waiting for its rule's validator: the value's byte range in the haystack,
/// the key when the rule captured one, and the policy (IP ranges, key patterns).
pub struct Candidate<'a> {
    pub haystack: &'a str,
    pub start: usize,
    pub end: usize,
    pub key: Option<&'a str>,
    pub policy: &'a Policy,
}

impl<'a> Candidate<'a> {
    pub fn value(&self) -> &'a str {
        &self.haystack[self.start..self.end]
    }

    /// Up to `max` bytes right before the value (shortened to a char boundary).
    pub fn before(&self, max: usize) -> &'a str {
        let mut from = self.start.saturating_sub(max);
        while !self.haystack.is_char_boundary(from) {
            from += 1;
        }
        &self.haystack[from..self.start]
    }

    /// Up to `max` bytes right after the value (shortened to a char boundary).
    pub fn after(&self, max: usize) -> &'a str {
        let mut to = (self.end + max).min(self.haystack.len());
        while !self.haystack.is_char_boundary(to) {
            to -= 1;
        }
        &self.haystack[self.end..to]
    }

    pub fn char_before(&self) -> Option<char> {
        self.haystack[..self.start].chars().next_back()
    }

    pub fn char_after(&self) -> Option<char> {
        self.haystack[self.end..].chars().next()
    }
}
