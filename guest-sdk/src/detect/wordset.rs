//! Fixed word lists looked up by hashing instead of by a scan: `NOT_NAMES` has some
//! four hundred words, and a `contains` over the slice compared the word with each of
//! them. A set is built once per process from the list (the list stays the source,
//! and its order and contents are unchanged), hashed by a small multiply-rotate
//! hasher: the keys are a fixed table's, so a hasher keyed against flooding (the
//! standard one) buys nothing and costs a SipHash per look-up.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// Eight bytes a step (FxHash's mix): a word of a list is hashed in one to three
/// steps.
#[derive(Default, Clone, Copy)]
pub(crate) struct WordHasher(u64);

const K: u64 = 0x517c_c1b7_2722_0a95;

impl WordHasher {
    #[inline(always)]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for WordHasher {
    #[inline]
    fn write(&mut self, mut bytes: &[u8]) {
        while let Some((head, rest)) = bytes.split_first_chunk::<8>() {
            self.add(u64::from_le_bytes(*head));
            bytes = rest;
        }
        if !bytes.is_empty() {
            let mut last = [0u8; 8];
            last[..bytes.len()].copy_from_slice(bytes);
            self.add(u64::from_le_bytes(last) ^ (bytes.len() as u64) << 59);
        }
    }

    #[inline]
    fn write_u8(&mut self, b: u8) {
        self.add(u64::from(b));
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type WordBuild = BuildHasherDefault<WordHasher>;

/// A word list and the set built from it the first time it is asked.
pub(crate) struct WordSet {
    words: &'static [&'static str],
    set: OnceLock<HashSet<&'static str, WordBuild>>,
}

impl WordSet {
    pub(crate) const fn new(words: &'static [&'static str]) -> WordSet {
        WordSet {
            words,
            set: OnceLock::new(),
        }
    }

    /// Whether `word` is one of the list's words, exactly (as `list.contains`).
    #[inline]
    pub(crate) fn contains(&self, word: &str) -> bool {
        self.set
            .get_or_init(|| self.words.iter().copied().collect())
            .contains(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_list() {
        static LIST: &[&str] = &["will", "may", "june", "", "a-very-long-word-of-a-list", "é"];
        static SET: WordSet = WordSet::new(LIST);
        for w in ["will", "may", "june", "", "a-very-long-word-of-a-list", "é", "wil", "willl", "Will", "a-very-long-word-of-a-lis", "e"] {
            assert_eq!(SET.contains(w), LIST.contains(&w), "{w:?}");
        }
    }
}
