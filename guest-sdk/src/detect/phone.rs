//! Phone numbers (filled in below).

use super::Rule;

pub const RULES: &[Rule] = &[];
