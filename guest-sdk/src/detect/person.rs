//! Person names and street addresses (filled in below).

use super::Rule;

pub const RULES: &[Rule] = &[];
