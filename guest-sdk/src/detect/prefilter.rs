//! The cheap first look at a text that decides which rules can match it at all, so that
//! an ordinary log line costs one literal scan and one pass over its bytes instead of
//! forty regexes.
//!
//! Each rule's `Trigger` names the strings it cannot match without (any one of them,
//! ASCII case-insensitively) and/or a test over `Shape`, facts about the text gathered
//! in that one pass. A trigger may fire and the rule then find nothing; it must never
//! stay quiet when the rule would find something. The engine's tests run every rule
//! unfiltered over the corpus and compare, so a trigger that is too narrow fails there.

use super::policy::Policy;

/// A test of the bytes around a literal's occurrence: `near(text, start, end)`.
pub type Near = fn(&[u8], usize, usize) -> bool;

/// When a rule is worth running on a text: when one of `literals` occurs in it (ASCII
/// case-insensitively) and, if there is a `near` test, that test accepts the bytes
/// around the occurrence; or when `shape` says so.
#[derive(Clone, Copy)]
pub struct Trigger {
    pub literals: &'static [&'static str],
    /// `near(text, start, end)` for an occurrence at `text[start..end]`.
    pub near: Option<Near>,
    pub shape: Option<fn(&Shape<'_>) -> bool>,
}

impl Trigger {
    pub const fn literals(literals: &'static [&'static str]) -> Trigger {
        Trigger {
            literals,
            near: None,
            shape: None,
        }
    }

    /// Literals that count only where `near` accepts their surroundings: a word
    /// common in prose (`token`, `key`, `auth`) counts where it is used as a key.
    pub const fn literals_near(literals: &'static [&'static str], near: Near) -> Trigger {
        Trigger {
            literals,
            near: Some(near),
            shape: None,
        }
    }

    pub const fn shape(shape: fn(&Shape<'_>) -> bool) -> Trigger {
        Trigger {
            literals: &[],
            near: None,
            shape: Some(shape),
        }
    }

    pub const fn literals_or_shape(
        literals: &'static [&'static str],
        shape: fn(&Shape<'_>) -> bool,
    ) -> Trigger {
        Trigger {
            literals,
            near: None,
            shape: Some(shape),
        }
    }
}

/// Every trigger literal of the rule table, found in a text by one pass over its bytes.
///
/// Built at compile time from the table (a component instance lives for one call, so
/// an automaton built at run time would cost more than many calls): each distinct
/// literal, folded to lower case, hashes by its first four bytes (three for a
/// three-byte literal) into a bitmap and a chain of literals; a text is scanned with a
/// sliding four-byte window, and a set bit is checked against the literals of its
/// chain, ASCII case-insensitively. Four bytes, not three: `ion_` must not stop at
/// every `-tion`. Each literal
/// lists the rules it triggers (`uses`). Literals of one or two bytes (`@`, `::`) are
/// looked for with `memchr` or a plain comparison.
pub struct TriggerTable<const L: usize, const U: usize> {
    /// One bit per hash of the first three bytes (folded) of every literal of three
    /// bytes or more: most positions of a text fail here, with one hash and one
    /// look-up, before `bitmap4` and `bitmap` are consulted.
    prefix3: [u64; (1 << HASH_BITS) / 64],
    /// One bit per hash of a three-byte literal, eight to a byte: kept in bytes, its
    /// test shares no mask with the test of `prefix3` (in words, the compiler made
    /// the mask for both before the first, on every position: 236 more instructions
    /// per line, callgrind).
    bitmap: [u8; (1 << HASH_BITS) / 8],
    /// One bit per hash of the first four bytes of a longer literal.
    bitmap4: [u64; (1 << HASH_BITS) / 64],
    /// Per hash (three bytes, or four for longer literals: one table, the two kinds
    /// of key hash apart), the first literal (index + 1; 0: none), then `next`.
    heads: [u16; 1 << HASH_BITS],
    next: [u16; L],
    /// Each literal's first four bytes (three for a three-byte literal) folded as the
    /// scan folds a text's: one comparison turns away most of a chain.
    keys: [u32; L],
    /// Distinct literals (ASCII case folded), `literals_len` of them.
    literals: [&'static [u8]; L],
    /// Each literal's first eight bytes (fewer for a shorter one, the rest zero)
    /// with its letters in lower case, and the bits that fold a text's bytes onto
    /// them (`0x20` where the literal has a letter): a text matches the first eight
    /// bytes when its next eight, or-ed with `fold8` and cut to the literal's length,
    /// equal `key8`. One comparison instead of a byte loop.
    key8: [u64; L],
    fold8: [u64; L],
    literals_len: usize,
    /// `uses[first[l]..first[l + 1]]` are the rules literal `l` triggers.
    first: [u16; L],
    uses: [TriggerUse; U],
    /// Literals shorter than three bytes, `short_len` of them.
    short: [u16; L],
    short_len: usize,
    /// A `memmem` finder per short literal of two bytes (built on first use): it
    /// stops only where both bytes stand, where `memchr` stopped at every first byte
    /// (each `:` of a timestamp, each `,` of a JSON object).
    pairs: std::sync::OnceLock<Vec<Option<memchr::memmem::Finder<'static>>>>,
    /// Whether every short literal starts with one of `SHORT_FIRSTS`, so that the
    /// positions a `Shape` kept of those bytes are where to look for them
    /// (`scan_with_shorts`).
    shorts_from_shape: bool,
    /// Per byte of `SHORT_FIRSTS`: whether a one-byte literal is that byte, and the
    /// bytes (a bit each) that follow it in a two-byte literal, both cases of a
    /// letter: most of those bytes in a text (each `:` of a timestamp) start none.
    short_alone: [bool; 3],
    short_next: [[u64; 4]; 3],
}

/// One rule a literal triggers.
#[derive(Clone, Copy, Debug)]
pub struct TriggerUse {
    /// The rule's position in `RULES`.
    pub rule: u16,
    /// Whether the rule's `near` test must accept the occurrence.
    pub near: bool,
}

const HASH_BITS: u32 = 15;

#[inline(always)]
const fn fold3(bytes: &[u8], i: usize) -> u32 {
    // `| 0x20` folds ASCII letters to lower case (and a few punctuation bytes onto
    // others, which only costs a literal comparison).
    (bytes[i] as u32 | (bytes[i + 1] as u32) << 8 | (bytes[i + 2] as u32) << 16) | 0x0020_2020
}

/// The hash of a key's first three bytes (its fourth, if any, is shifted out): the
/// three bytes at the top of a 64-bit word times an odd constant, whose top bits
/// are the hash. At every position of a text this is a shift, a multiplication and
/// a shift, with no masking.
#[inline(always)]
const fn hash3(key: u32) -> usize {
    (((key as u64) << 40).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - HASH_BITS)) as usize
}

#[inline(always)]
const fn fold4(bytes: &[u8], i: usize) -> u32 {
    fold3(bytes, i) | ((bytes[i + 3] | 0x20) as u32) << 24
}

#[inline(always)]
const fn hash4(key: u32) -> usize {
    (key.wrapping_mul(0x85EB_CA77) >> (32 - HASH_BITS)) as usize
}

/// The hash a literal is kept under: of its first four bytes, or of three.
const fn literal_hash(lit: &[u8]) -> usize {
    if lit.len() >= 4 {
        hash4(fold4(lit, 0))
    } else {
        hash3(fold3(lit, 0))
    }
}

const fn eq_folded(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !a[i].eq_ignore_ascii_case(&b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

/// How many trigger literals the rules of `parts` have, all told.
pub const fn count_literals(parts: &[&[super::Rule]]) -> usize {
    let (mut n, mut p) = (0, 0);
    while p < parts.len() {
        let mut i = 0;
        while i < parts[p].len() {
            n += parts[p][i].trigger.literals.len();
            i += 1;
        }
        p += 1;
    }
    n
}

impl<const L: usize, const U: usize> TriggerTable<L, U> {
    /// The table of every literal of every rule of `parts`, rules numbered in order.
    /// `L` is at least the number of distinct literals, `U` the number of (literal,
    /// rule) pairs (`count_literals`).
    pub const fn build(parts: &[&[super::Rule]]) -> TriggerTable<L, U> {
        let mut t = TriggerTable {
            prefix3: [0; (1 << HASH_BITS) / 64],
            bitmap: [0; (1 << HASH_BITS) / 8],
            bitmap4: [0; (1 << HASH_BITS) / 64],
            heads: [0; 1 << HASH_BITS],
            next: [0; L],
            keys: [0; L],
            literals: [b""; L],
            key8: [0; L],
            fold8: [0; L],
            literals_len: 0,
            first: [0; L],
            uses: [TriggerUse {
                rule: 0,
                near: false,
            }; U],
            short: [0; L],
            short_len: 0,
            pairs: std::sync::OnceLock::new(),
            shorts_from_shape: false,
            short_alone: [false; 3],
            short_next: [[0; 4]; 3],
        };
        // One pass over the occurrences: each literal's index (found through its hash
        // chain, or the short list), then the uses grouped by literal (a counting
        // sort), so that building stays linear and compiling stays quick.
        let mut occ_lit = [0u16; U];
        let mut occ_use = [TriggerUse {
            rule: 0,
            near: false,
        }; U];
        let (mut n, mut rule, mut p) = (0usize, 0usize, 0usize);
        while p < parts.len() {
            let mut i = 0;
            while i < parts[p].len() {
                let trigger = &parts[p][i].trigger;
                let mut l = 0;
                while l < trigger.literals.len() {
                    let lit = trigger.literals[l].as_bytes();
                    assert!(!lit.is_empty(), "an empty trigger literal");
                    let mut k = usize::MAX;
                    if lit.len() < 3 {
                        let mut j = 0;
                        while j < t.short_len {
                            if eq_folded(t.literals[t.short[j] as usize], lit) {
                                k = t.short[j] as usize;
                            }
                            j += 1;
                        }
                    } else {
                        let mut at = t.heads[literal_hash(lit)];
                        while at != 0 {
                            if eq_folded(t.literals[at as usize - 1], lit) {
                                k = at as usize - 1;
                            }
                            at = t.next[at as usize - 1];
                        }
                    }
                    if k == usize::MAX {
                        k = t.literals_len;
                        t.literals[k] = lit;
                        t.literals_len += 1;
                        let mut b = 0;
                        while b < lit.len() && b < 8 {
                            let c = lit[b];
                            if c.is_ascii_alphabetic() {
                                t.key8[k] |= ((c | 0x20) as u64) << (8 * b);
                                t.fold8[k] |= 0x20 << (8 * b);
                            } else {
                                t.key8[k] |= (c as u64) << (8 * b);
                            }
                            b += 1;
                        }
                        if lit.len() >= 4 {
                            t.keys[k] = fold4(lit, 0);
                        } else if lit.len() == 3 {
                            t.keys[k] = fold3(lit, 0);
                        }
                        if lit.len() < 3 {
                            t.short[t.short_len] = k as u16;
                            t.short_len += 1;
                        } else {
                            let p = hash3(fold3(lit, 0));
                            t.prefix3[p / 64] |= 1 << (p % 64);
                            let h = literal_hash(lit);
                            if lit.len() >= 4 {
                                t.bitmap4[h / 64] |= 1 << (h % 64);
                            } else {
                                t.bitmap[h / 8] |= 1 << (h % 8);
                            }
                            t.next[k] = t.heads[h];
                            t.heads[h] = k as u16 + 1;
                        }
                    }
                    occ_lit[n] = k as u16;
                    occ_use[n] = TriggerUse {
                        rule: rule as u16,
                        near: trigger.near.is_some(),
                    };
                    n += 1;
                    l += 1;
                }
                rule += 1;
                i += 1;
            }
            p += 1;
        }
        assert!(n == U, "U is the number of (literal, rule) pairs");
        // Counting sort of the uses by literal (a rule that names a literal twice is
        // listed twice, which costs a repeated check and changes nothing).
        let mut count = [0u16; L];
        let mut j = 0;
        while j < n {
            count[occ_lit[j] as usize] += 1;
            j += 1;
        }
        let mut at = 0u16;
        let mut k = 0;
        while k < t.literals_len {
            t.first[k] = at;
            at += count[k];
            count[k] = t.first[k];
            k += 1;
        }
        if t.literals_len < L {
            t.first[t.literals_len] = at;
        }
        let mut j = 0;
        while j < n {
            let k = occ_lit[j] as usize;
            t.uses[count[k] as usize] = occ_use[j];
            count[k] += 1;
            j += 1;
        }
        let mut fits = true;
        let mut j = 0;
        while j < t.short_len {
            let c = t.literals[t.short[j] as usize][0];
            fits &= c == SHORT_FIRSTS[0] || c == SHORT_FIRSTS[1] || c == SHORT_FIRSTS[2];
            let lit = t.literals[t.short[j] as usize];
            let mut f = 0;
            while f < SHORT_FIRSTS.len() {
                if lit[0] == SHORT_FIRSTS[f] {
                    if lit.len() == 1 {
                        t.short_alone[f] = true;
                    } else {
                        let (lower, upper) = (lit[1].to_ascii_lowercase(), lit[1].to_ascii_uppercase());
                        t.short_next[f][(lower / 64) as usize] |= 1 << (lower % 64);
                        t.short_next[f][(upper / 64) as usize] |= 1 << (upper % 64);
                    }
                }
                f += 1;
            }
            j += 1;
        }
        t.shorts_from_shape = fits;
        t
    }

    /// The short literals that start at `text[i]`.
    #[inline(always)]
    fn short_at(
        &self,
        text: &[u8],
        i: usize,
        found: &mut impl FnMut(&[TriggerUse], usize, usize),
    ) {
        let c = text[i];
        for &k in &self.short[..self.short_len] {
            let k = usize::from(k);
            let lit = self.literals[k];
            if lit[0] != c {
                continue;
            }
            // The second byte as the search per literal compares it: exactly, or in
            // either case for a letter.
            if lit.len() == 1 {
                found(self.uses_of(k), i, i + 1);
            } else if text.get(i + 1).is_some_and(|b| b.eq_ignore_ascii_case(&lit[1])) {
                found(self.uses_of(k), i, i + 2);
            }
        }
    }

    /// `scan`, with the positions of every byte of `SHORT_FIRSTS` in `text` (a
    /// shape's `shorts`, `None` when it kept too many): the short literals are looked
    /// for only there, which spares a search over the text per short literal (about
    /// 800 instructions per log line for the four of the table, callgrind).
    #[inline]
    pub fn scan_with_shorts(
        &self,
        text: &[u8],
        shorts: Option<&[u32]>,
        mut found: impl FnMut(&[TriggerUse], usize, usize),
    ) {
        match shorts {
            Some(at) if self.shorts_from_shape => {
                self.scan_long(text, &mut found);
                for &i in at {
                    let i = i as usize;
                    let f = usize::from(SHORT_FIRST_INDEX[usize::from(text[i])]);
                    let next = text.get(i + 1).map_or(0, |&b| usize::from(b));
                    if self.short_alone[f] || self.short_next[f][next / 64] >> (next % 64) & 1 != 0 {
                        self.short_at(text, i, &mut found);
                    }
                }
            }
            _ => self.scan(text, found),
        }
    }

    fn uses_of(&self, k: usize) -> &[TriggerUse] {
        let from = usize::from(self.first[k]);
        let to = if k + 1 < self.literals_len {
            usize::from(self.first[k + 1])
        } else if self.literals_len < L {
            usize::from(self.first[self.literals_len])
        } else {
            U
        };
        &self.uses[from..to]
    }

    #[inline(never)]
    fn check_chain(
        &self,
        text: &[u8],
        i: usize,
        h: usize,
        folded: u32,
        found: &mut impl FnMut(&[TriggerUse], usize, usize),
    ) {
        let mut at = self.heads[h];
        while at != 0 {
            let k = usize::from(at - 1);
            let lit = self.literals[k];
            let key = if lit.len() >= 4 {
                folded
            } else {
                folded & 0x00FF_FFFF
            };
            if key == self.keys[k] && text.len() - i >= lit.len() {
                let matched = match text.get(i..i + 8) {
                    // Eight bytes to read: the first eight compared at once (a byte
                    // of the text or-ed with `0x20` equals a lower-case letter only
                    // when it is that letter in either case), the rest byte by byte.
                    Some(window) => {
                        let window = u64::from_le_bytes(window.try_into().unwrap_or([0; 8]));
                        let len = lit.len().min(8);
                        let keep = if len == 8 { u64::MAX } else { (1u64 << (8 * len)) - 1 };
                        (window | self.fold8[k]) & keep == self.key8[k]
                            && text[i + len..i + lit.len()].eq_ignore_ascii_case(&lit[len..])
                    }
                    None => text[i..i + lit.len()].eq_ignore_ascii_case(lit),
                };
                if matched {
                    found(self.uses_of(k), i, i + lit.len());
                }
            }
            at = self.next[k];
        }
    }

    /// The literals of three bytes or more at `text[i..]`, whose next four bytes
    /// (folded) are `folded`.
    #[inline(always)]
    fn scan_at(
        &self,
        text: &[u8],
        i: usize,
        folded: u32,
        found: &mut impl FnMut(&[TriggerUse], usize, usize),
    ) {
        // Most positions fail here: their first three bytes start no literal.
        let h3 = hash3(folded);
        if self.prefix3[h3 / 64] >> (h3 % 64) & 1 == 0 {
            return;
        }
        let h4 = hash4(folded);
        if self.bitmap4[h4 / 64] >> (h4 % 64) & 1 != 0 && i + 4 <= text.len() {
            self.check_chain(text, i, h4, folded, found);
        }
        if self.bitmap[h3 / 8] >> (h3 % 8) & 1 != 0 {
            self.check_chain(text, i, h3, folded, found);
        }
    }

    /// Calls `found(uses, start, end)` for every occurrence of every literal
    /// (overlapping ones too), ASCII case-insensitively, with the rules it triggers;
    /// short literals last.
    #[inline]
    pub fn scan(&self, text: &[u8], mut found: impl FnMut(&[TriggerUse], usize, usize)) {
        self.scan_long(text, &mut found);
        self.scan_short(text, &mut found);
    }

    /// The literals of three bytes or more.
    #[inline(always)]
    fn scan_long(&self, text: &[u8], found: &mut impl FnMut(&[TriggerUse], usize, usize)) {
        let n = text.len();
        if n >= 3 {
            // Each position's next four bytes as one load (the last position has
            // three: the missing byte is zero, which no literal's fourth byte folds
            // to), folded as `fold4` folds them.
            // Eight bytes a load hold the windows of five positions.
            let mut i = 0;
            while let Some(&[b0, b1, b2, b3, b4, b5, b6, b7]) = text.get(i..i + 8) {
                let x =
                    u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7]) | 0x2020_2020_2020_2020;
                for k in 0..5 {
                    self.scan_at(text, i + k, (x >> (8 * k)) as u32, found);
                }
                i += 5;
            }
            while let Some(&[b0, b1, b2, b3]) = text.get(i..i + 4) {
                let word = u32::from_le_bytes([b0, b1, b2, b3]);
                self.scan_at(text, i, word | 0x2020_2020, found);
                i += 1;
            }
            let word = u32::from_le_bytes([text[n - 3], text[n - 2], text[n - 1], 0]);
            self.scan_at(text, n - 3, word | 0x2020_2020, found);
        }
    }

    /// The literals of one or two bytes.
    #[inline(always)]
    fn scan_short(&self, text: &[u8], found: &mut impl FnMut(&[TriggerUse], usize, usize)) {
        let pairs = self.pairs.get_or_init(|| {
            (self.short[..self.short_len].iter())
                .map(|&k| {
                    let lit = self.literals[usize::from(k)];
                    let exact = lit.len() == 2 && !lit.iter().any(u8::is_ascii_alphabetic);
                    exact.then(|| memchr::memmem::Finder::new(lit))
                })
                .collect()
        });
        for (j, &k) in self.short[..self.short_len].iter().enumerate() {
            let k = usize::from(k);
            let lit = self.literals[k];
            let uses = self.uses_of(k);
            if let Some(finder) = &pairs[j] {
                // Overlapping occurrences too (`:::`), as the byte loop found them.
                let mut at = 0;
                while let Some(i) = finder.find(&text[at..]) {
                    found(uses, at + i, at + i + 2);
                    at += i + 1;
                }
            } else if !lit[0].is_ascii_alphabetic() {
                for i in memchr::memchr_iter(lit[0], text) {
                    if lit.len() == 1 {
                        found(uses, i, i + 1);
                    } else if text
                        .get(i + 1)
                        .is_some_and(|b| b.eq_ignore_ascii_case(&lit[1]))
                    {
                        found(uses, i, i + 2);
                    }
                }
            } else {
                let n = lit.len();
                for i in 0..text.len().saturating_sub(n - 1) {
                    if text[i..i + n].eq_ignore_ascii_case(lit) {
                        found(uses, i, i + n);
                    }
                }
            }
        }
    }
}

// ---- `near` tests: what must surround a literal for a rule to have a chance ----------
//
// Each one skips what the rule's regex allows between the literal and the part it
// needs, generously (a secret word's rest: `pass` + `word`, `auth` + `orization`), and
// checks for that part. Generous is safe; a test that rejects something the regex
// accepts hides a finding, which the engine's equivalence tests catch.

/// Past the rest of a key word after `end`: ASCII letters, `_`, `-` (at most 16).
fn word_rest(text: &[u8], end: usize) -> usize {
    let stop = (end + 16).min(text.len());
    let mut i = end;
    while i < stop && (text[i].is_ascii_alphabetic() || matches!(text[i], b'_' | b'-')) {
        i += 1;
    }
    i
}

fn skip_spaces(text: &[u8], mut i: usize) -> usize {
    while matches!(text.get(i), Some(b' ' | b'\t')) {
        i += 1;
    }
    i
}

/// `secret word` + `\?["']?[ \t]*[:=]`: the word is a key with a value.
pub fn key_then_operator(text: &[u8], _start: usize, end: usize) -> bool {
    let mut i = word_rest(text, end);
    i += usize::from(text.get(i) == Some(&b'\\'));
    i += usize::from(matches!(text.get(i), Some(b'"' | b'\'')));
    // `=`, `:`, `:=`, `=>`, `->`, `==`, `!=`, and the full-width colon (`：`).
    matches!(
        text.get(skip_spaces(text, i)),
        Some(b'=' | b':' | b'-' | b'!' | 0xEF)
    )
}

/// `secret-assignment`'s test: as `key_then_operator`, and the key ends where a secret
/// word does, as that rule's regex wants it (`db_password=`, `client_secret:`, not
/// `max_tokens=` or `password_hash=`): the rest of the word after the literal is one
/// of the ways a secret word goes on.
pub fn secret_key_then_operator(text: &[u8], start: usize, end: usize) -> bool {
    // `contraseña`: the rest of the word is not ASCII.
    let end = if text[end..].starts_with("ña".as_bytes()) {
        end + "ña".len()
    } else {
        end
    };
    let rest = &text[end..word_rest(text, end)];
    let literal = &text[start..end];
    let goes_on: &[&[u8]] = if literal.eq_ignore_ascii_case(b"pass") {
        &[b"word", b"wd", b"phrase", b"code", b"e", b"wort"]
    } else if literal.eq_ignore_ascii_case(b"credential") {
        &[b"s"]
    } else if literal.eq_ignore_ascii_case(b"auth") {
        &[b"orization"]
    } else if literal.eq_ignore_ascii_case(b"session") {
        &[
            b"id", b"_id", b"-id", b"key", b"_key", b"-key", b"token", b"_token", b"-token",
        ]
    } else {
        &[]
    };
    // `key` alone is no secret word: a qualifier comes first (`api_key`, `secretKey`).
    if literal.eq_ignore_ascii_case(b"key") {
        const QUALIFIERS: &[&[u8]] = &[
            b"api",
            b"access",
            b"private",
            b"secret",
            b"signing",
            b"encryption",
            b"master",
            b"client",
            b"app",
            b"account",
            b"shared",
            b"subscription",
            b"license",
            b"functions",
        ];
        let mut q = start;
        if q > 0 && matches!(text[q - 1], b' ' | b'_' | b'-') {
            q -= 1;
        }
        let qualified = QUALIFIERS
            .iter()
            .any(|w| q >= w.len() && text[q - w.len()..q].eq_ignore_ascii_case(w));
        if !qualified {
            return false;
        }
    }
    (rest.is_empty() || goes_on.iter().any(|g| rest.eq_ignore_ascii_case(g)))
        && key_then_operator(text, start, end)
}

/// The bytes of a random value (`secret-near-keyword`'s value class).
static TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'_' | b'-' | b'+' | b'/' | b'.' | b'!' | b'@' | b'#' | b'$'
            )
            || matches!(c, b'%' | b'^' | b'&' | b'*' | b'~');
        b += 1;
    }
    t
};

/// A run of sixteen or more token characters with a digit in it, or letters of both
/// cases, starts within 24 bytes after the word: the `secret-near-keyword` rule.
pub fn random_value_follows(text: &[u8], _start: usize, end: usize) -> bool {
    let token = |b: &u8| TOKEN[*b as usize];
    let stop = (end + 24).min(text.len());
    let mut i = end;
    while i < stop {
        let run = text[i..].iter().take_while(|b| token(b)).count();
        // Drawn at random: a digit in it, or both cases (`b_BrJknjnbjroiLx…`).
        let r = &text[i..i + run];
        let random = r.iter().any(u8::is_ascii_digit)
            || r.iter().any(u8::is_ascii_uppercase) && r.iter().any(u8::is_ascii_lowercase)
            || run >= 20 && consonant_run(r);
        if run >= 16 && random {
            return true;
        }
        i += run.max(1);
    }
    false
}

/// The `secret-near-keyword` rule's test: `random_value_follows`, where the rule's
/// pattern can start at the word. After the keyword the pattern takes a name of at
/// most twelve `[A-Za-z0-9_.-]` (eighteen counted from the literal: `pass` goes on as
/// `password`, and one or two digits may follow), maybe spaces and one or two digits,
/// then at least one of `[ \t:="'`]`, and the value (sixteen token bytes or more)
/// right after them: `auth-svc request_id=req_…` has no value there, since
/// `request_id` is no value.
pub fn keyword_then_random_value(text: &[u8], start: usize, end: usize) -> bool {
    keyword_then_value(text, start, end) && random_value_follows(text, start, end)
}

/// `8-4-4-4-12` hex digits.
fn uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// The `secret-set-command` rule's test: the key around the literal follows `set`
/// (and maybe `-g` or `--global`) at the start of a command: `set apiKey …`, `npm
/// config set -g _authToken …`.
pub fn set_command_before(text: &[u8], start: usize, _end: usize) -> bool {
    let key = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-');
    let mut i = start;
    while i > 0 && key(text[i - 1]) {
        i -= 1;
    }
    let spaces = |mut i: usize| {
        let from = i;
        while i > 0 && matches!(text[i - 1], b' ' | b'\t') {
            i -= 1;
        }
        (i < from).then_some(i)
    };
    let set_at = |i: usize| {
        i >= 3
            && text[i - 3..i].eq_ignore_ascii_case(b"set")
            && (i == 3 || !(text[i - 4].is_ascii_alphanumeric() || text[i - 4] == b'_'))
    };
    let Some(i) = spaces(i) else {
        return false;
    };
    if set_at(i) {
        return true;
    }
    for flag in [&b"-g"[..], &b"--global"[..]] {
        if i >= flag.len() && text[i - flag.len()..i].eq_ignore_ascii_case(flag) {
            if let Some(j) = spaces(i - flag.len()) {
                if set_at(j) {
                    return true;
                }
            }
        }
    }
    false
}

/// The `secret-word-glued` rule's test: the secret word is glued to a name before it
/// (`capsulecrm-SECRET-…`, `bloggerKEY-…`: a letter or digit, maybe one `-`, `_` or `.`),
/// and after at most eight letters or digits a `-` or `.` is followed by sixteen
/// bytes or more of the value class (`[A-Za-z0-9_+/=-]`).
pub fn glued_keyword_then_value(text: &[u8], start: usize, end: usize) -> bool {
    let glued = match start.checked_sub(1).map(|i| text[i]) {
        Some(b) if b.is_ascii_alphanumeric() => true,
        Some(b'-' | b'_' | b'.') => start >= 2 && text[start - 2].is_ascii_alphanumeric(),
        _ => false,
    };
    if !glued {
        return false;
    }
    let value = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'+' | b'/' | b'=' | b'-');
    let mut p = end;
    while p < text.len() && p <= end + 8 {
        if matches!(text[p], b'-' | b'.')
            && text[p + 1..].iter().take_while(|b| value(b)).count() >= 16
        {
            return true;
        }
        if !text[p].is_ascii_alphanumeric() {
            return false;
        }
        p += 1;
    }
    false
}

/// A run of five ASCII consonants (`y` counted as one) or more: letters drawn at
/// random have one, words almost never.
pub fn consonant_run(b: &[u8]) -> bool {
    let mut run = 0;
    for c in b {
        if c.is_ascii_alphabetic() && !matches!(c | 0x20, b'a' | b'e' | b'i' | b'o' | b'u') {
            run += 1;
            if run >= 5 {
                return true;
            }
        } else {
            run = 0;
        }
    }
    false
}

fn keyword_then_value(text: &[u8], start: usize, end: usize) -> bool {
    let name = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    // A key the validator takes no UUID after: a bare `key` (`key=… lag=1`), one that
    // ends in `id` or holds an identifier's word (`idempotency_key=…`).
    let id_key = |key_end: usize| {
        let key_start = start - text[..start].iter().rev().take_while(|b| name(b)).count();
        let key = text[key_start..key_end].to_ascii_lowercase();
        key == b"key"
            || key.ends_with(b"id")
            || key.ends_with(b"ids")
            || super::validate::ID_WORDS
                .iter()
                .any(|w| key.windows(w.len()).any(|k| k == w.as_bytes()))
    };
    let separator = |b: &u8| matches!(b, b' ' | b'\t' | b':' | b'=' | b'"' | b'\'' | b'`');
    // Outside ASCII the pattern's case-insensitive classes take a few more letters
    // (the Kelvin sign): there the test says yes and the pattern decides.
    let other = |i: usize| text.get(i).is_some_and(|b| !b.is_ascii());
    // The separators from `from` on, then a value of sixteen token bytes or more.
    let i = end + text[end..].iter().take_while(|b| name(b)).count();
    let value_after = |from: usize| {
        let at = from
            + text[from.min(text.len())..]
                .iter()
                .take_while(|b| separator(b))
                .count();
        let run = text[at.min(text.len())..]
            .iter()
            .take_while(|b| TOKEN[usize::from(**b)])
            .count();
        // The value is the whole run (what follows it ends it), and the validator
        // turns away a number, a path (`path=/api/v1/items/10`) and a UUID after an
        // id's key, unless base64 padding follows.
        let value = &text[at.min(text.len())..(at + run).min(text.len())];
        let padded = text.get(at + run) == Some(&b'=');
        let path = || {
            value.first() == Some(&b'/')
                && std::str::from_utf8(value).is_ok_and(super::validate::plain_path)
        };
        let turned_away = || {
            !padded
                && (value.iter().all(u8::is_ascii_digit)
                    || from == i && uuid(value) && id_key(i)
                    || path())
        };
        at > from && (run >= 16 && !turned_away() || other(at + run)) || other(at)
    };
    if i - end > 18 {
        return false;
    }
    if other(i) || value_after(i) {
        return true;
    }
    // `Unseal Key 2: …`: spaces and one or two digits before the separator.
    let j = i + text[i..]
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    let digits = text[j..].iter().take_while(|b| b.is_ascii_digit()).count();
    (1..=2).contains(&digits) && value_after(j + digits)
}

/// A digit within the 48 bytes after the word (card and id words).
pub fn digits_follow_within(text: &[u8], _start: usize, end: usize) -> bool {
    text[end.min(text.len())..]
        .iter()
        .take(48)
        .any(u8::is_ascii_digit)
}

/// Whether, within `window` bytes after `end`, a number of at least `min` digits
/// starts (a digit after a byte that is no ASCII letter or digit), its runs one space,
/// dash or dot apart.
pub fn number_within(text: &[u8], end: usize, window: usize, min: usize) -> bool {
    let stop = text.len().min(end.saturating_add(window));
    let mut i = end;
    while i < stop {
        if text[i].is_ascii_digit() && (i == 0 || !text[i - 1].is_ascii_alphanumeric()) {
            let (mut digits, mut j) = (0, i);
            while j < text.len() {
                if text[j].is_ascii_digit() {
                    digits += 1;
                } else if !(matches!(text[j], b' ' | b'-' | b'.')
                    && text.get(j + 1).is_some_and(u8::is_ascii_digit)
                    && text[j - 1].is_ascii_digit())
                {
                    break;
                }
                j += 1;
            }
            if digits >= min {
                return true;
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    false
}

/// The `credit-card` rule's words: a number of twelve digits or more within 160 bytes
/// after the word, and the word where the validator can read it as a card word (it
/// starts a word; `span_id=…` says nothing about cards). Where the word does not start
/// one, the rule still runs for what its validator accepts without a word: a number
/// with a group that starts `18` (the JCB numbers the shape's `card_digits` leaves
/// out), and a number that starts where the validator's forty-byte look back begins
/// at this word, so that it reads the word as starting there.
pub fn card_word_near(text: &[u8], start: usize, end: usize) -> bool {
    // The cheap tests first: the word's start, then the four bytes where the look back
    // would begin at it.
    (starts_word(text, start)
        || number_within(text, start + 37, 4, 12)
        || (EIGHTEEN.find_iter(&text[end.min(text.len())..]))
            .map(|i| end + i)
            .any(|i| i == 0 || !text[i - 1].is_ascii_alphanumeric()))
        && number_within(text, end, 160, 12)
}

/// `18` found with one `memmem` search rather than a byte loop over the rest of the
/// text (`span_id=…` calls `card_word_near` on most log lines).
static EIGHTEEN: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"18"));

/// The literal starts a word: an ASCII letter does not stand before a literal that
/// starts with one.
pub fn starts_word(text: &[u8], start: usize) -> bool {
    !(text[start].is_ascii_alphabetic() && start > 0 && text[start - 1].is_ascii_alphanumeric())
}

/// A password word then, within a few words, a value: the `secret-in-prose` rule.
/// Anything but the end of the text or a line break right after the word.
pub fn word_then_value(text: &[u8], start: usize, end: usize) -> bool {
    // As the regex wants it: the word stands alone (`\b` before it; `password_set`,
    // `--password-stdin` and `passwords` are no sentence), then a space, a tab or a
    // colon.
    let end = if text[end..].starts_with("ña".as_bytes()) {
        end + "ña".len()
    } else {
        end
    };
    let glued = start > 0 && (text[start - 1].is_ascii_alphanumeric() || text[start - 1] == b'_');
    !glued && matches!(text.get(end), Some(b' ' | b'\t' | b':' | 0xEF))
}

/// `password("…")`: the secret word ends a call name, and a quoted argument follows.
pub fn word_then_paren_quote(text: &[u8], _start: usize, end: usize) -> bool {
    let i = skip_spaces(text, word_rest(text, end));
    text.get(i) == Some(&b'(') && matches!(text.get(skip_spaces(text, i + 1)), Some(b'"' | b'\''))
}

/// `name: DB_PASSWORD` then `value:`: the secret word ends a name that a `value` key
/// follows (the `secret-env-entry` rule).
pub fn name_then_value(text: &[u8], _start: usize, end: usize) -> bool {
    let mut i = word_rest(text, end);
    i += usize::from(text.get(i) == Some(&b'\\'));
    i += usize::from(matches!(text.get(i), Some(b'"' | b'\'')));
    i = skip_spaces(text, i);
    i += usize::from(text.get(i) == Some(&b','));
    i = skip_spaces(text, i);
    i += usize::from(text.get(i) == Some(&b'\r'));
    if text.get(i) == Some(&b'\n') {
        i = skip_spaces(text, i + 1);
    }
    i += usize::from(text.get(i) == Some(&b'\\'));
    i += usize::from(matches!(text.get(i), Some(b'"' | b'\'')));
    let rest = &text[i.min(text.len())..];
    let starts =
        |word: &[u8]| rest.len() >= word.len() && rest[..word.len()].eq_ignore_ascii_case(word);
    starts(b"value") || starts(b"parametervalue")
}

/// `variable "…" {` and a `default` later in the text: a Terraform variable's
/// default value, the `secret-terraform-default` rule.
pub fn variable_then_default(text: &[u8], start: usize, end: usize) -> bool {
    let i = skip_spaces(text, end);
    starts_word(text, start)
        && text.get(i) == Some(&b'"')
        && memchr::memmem::find(&text[i..], b"default").is_some()
}

/// `<…secret word…>` or `<…secret word attr="…">`: an XML element named for a secret.
pub fn in_element_name(text: &[u8], start: usize, end: usize) -> bool {
    let mut i = start;
    while i > 0
        && (text[i - 1].is_ascii_alphanumeric() || matches!(text[i - 1], b'_' | b'.' | b'-' | b':'))
    {
        i -= 1;
    }
    let after = word_rest(text, end);
    i > 0 && text[i - 1] == b'<' && matches!(text.get(after), Some(b' ' | b'\t' | b'>'))
}

/// `--password X`, `-token X`: the secret word ends a flag that a value follows; or a
/// command name that takes a secret (`curl`, `sshpass`, `mysql`, `redis-cli`).
pub fn flag_or_command(text: &[u8], start: usize, end: usize) -> bool {
    let literal = &text[start..end];
    if [&b"curl"[..], b"sshpass", b"mysql", b"redis-cli"]
        .iter()
        .any(|c| literal.eq_ignore_ascii_case(c))
    {
        return true;
    }
    let mut i = start;
    while i > 0 && (text[i - 1].is_ascii_alphanumeric() || matches!(text[i - 1], b'_' | b'-')) {
        i -= 1;
    }
    text[i] == b'-' && matches!(text.get(word_rest(text, end)), Some(b' ' | b'\t'))
}

/// `scheme://user:password@`: after `://`, an `@` before any `/`, `?`, `#` or space.
pub fn userinfo_follows(text: &[u8], _start: usize, end: usize) -> bool {
    let rest = &text[end.min(text.len())..];
    let stop = rest
        .iter()
        .position(|b| matches!(b, b'@' | b'/' | b'?' | b'#') || b.is_ascii_whitespace());
    stop.is_some_and(|i| rest[i] == b'@')
}

/// The `db-connection-string` rule: a URL with a password, or `Password=` in a
/// connection string, where the pattern reads it: a `;` and spaces or tabs before the
/// word, spaces or tabs and `=` after it (`…;Password=…`, not `"password_set":true`).
pub fn userinfo_or_pair(text: &[u8], start: usize, end: usize) -> bool {
    if &text[start..end] == b"://" {
        return userinfo_follows(text, start, end);
    }
    let mut before = start;
    while before > 0 && matches!(text[before - 1], b' ' | b'\t') {
        before -= 1;
    }
    before > 0 && text[before - 1] == b';' && text.get(skip_spaces(text, end)) == Some(&b'=')
}

/// `::` inside something that can be an IPv6 address: the letters and digits right
/// before and right after it are hex digits (`fe80::1`, `::ffff:10.1.2.3`); `std::io`
/// and `Foo::bar` are paths. A `::` alone (`[::]:8080`: no letter, digit or colon on
/// either side) is turned away: the rule's one match there is `::` itself, the
/// unspecified address, which its validator takes only under `mask_loopback_ip`, and
/// the rule's shape test (`ipv6_shape`) fires for it under that policy.
pub fn ipv6_colons(text: &[u8], start: usize, end: usize) -> bool {
    let part = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || *b == b':');
    if !part(start.checked_sub(1).and_then(|i| text.get(i))) && !part(text.get(end)) {
        return false;
    }
    let before = text[..start]
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let after = text[end.min(text.len())..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let hex = |run: &[u8]| run.iter().all(u8::is_ascii_hexdigit);
    hex(&text[start - before..start]) && hex(&text[end..end + after])
}

/// The `ipv6` rule's shape test: six colons or more in a run of hex digits, colons and
/// dots (an address written out in full), or, where the policy masks loopback and
/// unspecified addresses, any `::` (two colons in such a run), which `ipv6_colons`
/// leaves to this test when it stands alone.
pub fn ipv6_shape(s: &Shape<'_>) -> bool {
    s.colons_in_hex >= 6 || s.policy.mask_loopback_ip && s.colons_in_hex >= 2
}

/// `PASSWORD '…'`, `IDENTIFIED BY '…'`: a quote after the keyword.
pub fn quoted_after(text: &[u8], _start: usize, end: usize) -> bool {
    let stop = (end + 16).min(text.len());
    let mut i = end;
    while i < stop && (text[i].is_ascii_alphabetic() || matches!(text[i], b' ' | b'\t')) {
        i += 1;
    }
    text.get(i) == Some(&b'\'')
}

/// What a text looks like, gathered in one pass over its bytes. Runs are maximal:
/// `digit_run` of `ab 12345 c 99` is 5.
#[derive(Clone, Debug)]
pub struct Shape<'a> {
    pub text: &'a str,
    pub policy: &'a Policy,
    /// The longest run of ASCII digits.
    pub digit_run: usize,
    /// The most digits in a run where one space or dash may stand between two digits
    /// (`4111 1111 1111 1111` has 16, `2024-05-01 12` has 10).
    pub grouped_digits: usize,
    /// The most digits in a grouped run (as in `grouped_digits`) counted from the
    /// first group that starts with 2-6, the first digits of the card issuers (so
    /// that epoch timestamps, which start with 1, do not count).
    pub card_digits: usize,
    /// The most digits in a grouped run (as in `grouped_digits`) whose first group
    /// starts with `0`: a national number with its trunk prefix (`020 7946 0958`), or
    /// an international one after `00`.
    pub zero_grouped_digits: usize,
    /// Two capitals, six digits (maybe in pairs), a capital (a UK National
    /// Insurance number's shape).
    pub nino_like: bool,
    /// Five capitals, four digits, a capital (an Indian PAN's shape).
    pub pan_like: bool,
    /// `ddd-ddd-dddd`, `ddd.ddd.dddd` or `ddd ddd dddd` somewhere (a NANP number).
    pub nanp_dashed: bool,
    /// Digit groups of 5-5, 2-5-4 or 2-4-4, one space, dash or dot apart.
    pub phone_groups: bool,
    /// 5 when five two-digit groups stand in a row, one space, dot or dash apart (`06
    /// 12 34 56 78`), else 0.
    pub digit_pairs: usize,
    /// `ddd-dd-dddd` somewhere.
    pub ssn_dashed: bool,
    /// A run of exactly eleven digits starting `13`..`19`, or three such digits before
    /// a space or dash (a Chinese mobile number, compact or grouped 3-4-4).
    pub cn_mobile: bool,
    /// Four runs of one to three digits in a row, one dot apart (`10.1.2.3`).
    pub ipv4_like: bool,
    /// The most colons in a run of hex digits, colons and dots (`fe80::1` has 2).
    pub colons_in_hex: usize,
    /// The most dashes in a run of hex digits and dashes (`00-1A-2B-3C-4D-5E` has 5).
    pub dashes_in_hex: usize,
    /// Three runs of four hex digits in a row, one dot apart (`001a.2b3c.4d5e`).
    pub dotted_mac: bool,
    /// Eighteen digits, or seventeen and an `X`, as one word (a Chinese resident id).
    pub resident_id_like: bool,
    /// Some run of base64 characters (`[A-Za-z0-9+/]`) is exactly 40 long and not all
    /// hex digits (forty hex digits are a commit, not an AWS secret key).
    pub base64_run_of_40: bool,
    /// Bit `n` set: some run of exactly `n` ASCII digits stands alone, between
    /// non-alphanumeric bytes (`n` up to 63).
    pub runs: u64,
    /// Bit `n` set: some two or more digit runs in a row, one space or dash apart,
    /// hold `n` digits together (`2217 3914 6548`: bits 8 and 12; `4111-1111`: 8).
    /// With `runs`, a rule whose value is whole runs with optional spaces or dashes
    /// between them (`\b[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}\b`) can only match when
    /// the bit of its digit count is set.
    pub spaced_groups: u64,
    /// The same for runs one dot or dash apart (`1.2.3`: bits 2 and 3), except that
    /// bit 11 is set only for the groups of a Brazilian CPF (`523.366.630-82`).
    pub dotted_groups: u64,
    /// A `+` right before a digit 1-9.
    pub plus_digit: bool,
    /// Two capital letters that start a word, then two digits (`DE89`).
    pub iban_head: bool,
    /// A capitalised word (`[A-Z][a-z]+`), spaces or tabs, and a capital followed by
    /// a lower-case letter: two words of a name (`Jane Doe`).
    pub title_bigram: bool,
    /// The positions of the spaces right after a number (see `number_spaces`).
    number_spaces: [u32; NUMBER_SPACES + 1],
    number_spaces_len: usize,
    /// The `MARK` bits of every byte that has some, or-ed together (`breaks` and
    /// `parens` read them).
    marks: u8,
    /// The positions of the `=` and `:` (see `operators`).
    operators: [u32; OPERATORS],
    operators_len: usize,
    /// The positions of the bytes of `SHORT_FIRSTS` (see `shorts`).
    shorts: [u32; SHORTS],
    shorts_len: usize,
}

/// How many positions of spaces after a number a shape keeps.
const NUMBER_SPACES: usize = 8;
/// How many positions of `=` and `:` a shape keeps.
const OPERATORS: usize = 16;
/// How many positions of the bytes of `SHORT_FIRSTS` a shape keeps.
const SHORTS: usize = 24;
/// The bytes the trigger table's short literals start with (`, `, `::`, `:-`, `@`):
/// the pass over a text keeps where they stand, so that the literal scan looks for
/// those literals only there (`TriggerTable::scan_with_shorts`; a table whose short
/// literals start otherwise searches for them itself).
pub const SHORT_FIRSTS: [u8; 3] = [b',', b':', b'@'];

/// Each byte's index in `SHORT_FIRSTS` (0 for the bytes not in it): one look-up per
/// position a shape kept, not a search of the three.
static SHORT_FIRST_INDEX: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut k = 0;
    while k < SHORT_FIRSTS.len() {
        t[SHORT_FIRSTS[k] as usize] = k as u8;
        k += 1;
    }
    t
};

const DIGIT: u8 = 1;
const LOWER: u8 = 2;
const BASE64: u8 = 4;
const UPPER: u8 = 8;
/// A letter that is not a hex digit (`g`-`z`, `G`-`Z`): the common case, which ends
/// every run but the base64 one.
const PLAIN_LETTER: u8 = 16;
const ALNUM: u8 = 32;
const LETTER: u8 = 64;

/// Byte classes, so that the pass does one table look-up per byte.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut k = 0;
        if c.is_ascii_digit() {
            k |= DIGIT | BASE64 | ALNUM;
        }
        if c.is_ascii_alphabetic() {
            k |= BASE64 | ALNUM | LETTER;
            if !matches!(c, b'a'..=b'f' | b'A'..=b'F') {
                k |= PLAIN_LETTER;
            }
        }
        if c == b'+' || c == b'/' {
            k |= BASE64;
        }
        if c.is_ascii_uppercase() {
            k |= UPPER;
        }
        if c.is_ascii_lowercase() {
            k |= LOWER;
        }
        t[b] = k;
        b += 1;
    }
    t
};

// What a byte between tokens continues (see `Shape::of`).
/// Continues a run of digit groups one space or dash apart.
const SPACE_GROUP: u8 = 1;
/// Continues a run of digit groups one dot or dash apart.
const DOT_GROUP: u8 = 2;
const DOT: u8 = 4;
const COLON: u8 = 8;
const DASH: u8 = 16;
const PLUS: u8 = 32;
const SPACE: u8 = 64;
const TAB: u8 = 128;

static SEPARATOR: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b' ' as usize] = SPACE_GROUP | SPACE;
    t[b'\t' as usize] = TAB;
    t[b'-' as usize] = SPACE_GROUP | DOT_GROUP | DASH;
    t[b'.' as usize] = DOT_GROUP | DOT;
    t[b':' as usize] = COLON;
    t[b'+' as usize] = PLUS;
    t
};

/// Separators that a shape test looks for by position or presence.
const OPERATOR: u8 = 1;
const BREAK: u8 = 2;
/// A byte of `SHORT_FIRSTS`.
const SHORT: u8 = 4;
/// `(`, which `Shape::parens` reports.
const PAREN: u8 = 8;
/// A byte outside ASCII, which `Shape::non_ascii` reports.
const NON_ASCII: u8 = 16;

static MARK: [u8; 256] = {
    let mut t = [0u8; 256];
    t[b'=' as usize] = OPERATOR;
    t[b':' as usize] = OPERATOR;
    t[b'\n' as usize] = BREAK;
    t[b'\\' as usize] = BREAK;
    t[b'|' as usize] = BREAK;
    t[b'>' as usize] = BREAK;
    t[b'(' as usize] = PAREN;
    let mut b = 0x80;
    while b < 256 {
        t[b] = NON_ASCII;
        b += 1;
    }
    let mut k = 0;
    while k < SHORT_FIRSTS.len() {
        t[SHORT_FIRSTS[k] as usize] |= SHORT;
        k += 1;
    }
    t
};

impl<'a> Shape<'a> {
    /// One pass, a token at a time: a token is a run of ASCII letters and digits, and
    /// what matters about it is whether it is all digits, hex, or has other letters.
    /// Digits inside a token with letters are glued to a letter, so they can start or
    /// end none of the digit rules' matches (those want a word boundary); only the
    /// hex and base64 runs see them.
    pub fn of(text: &'a str, policy: &'a Policy) -> Shape<'a> {
        let bytes = text.as_bytes();
        let mut s = Shape {
            text,
            policy,
            digit_run: 0,
            grouped_digits: 0,
            card_digits: 0,
            zero_grouped_digits: 0,
            nanp_dashed: false,
            phone_groups: false,
            nino_like: false,
            pan_like: false,
            digit_pairs: 0,
            ssn_dashed: false,
            cn_mobile: false,
            ipv4_like: false,
            colons_in_hex: 0,
            dashes_in_hex: 0,
            dotted_mac: false,
            resident_id_like: false,
            base64_run_of_40: false,
            runs: 0,
            spaced_groups: 0,
            dotted_groups: 0,
            plus_digit: false,
            iban_head: false,
            title_bigram: false,
            number_spaces: [0; NUMBER_SPACES + 1],
            number_spaces_len: 0,
            marks: 0,
            operators: [0; OPERATORS],
            operators_len: 0,
            shorts: [0; SHORTS],
            shorts_len: 0,
        };
        // The digit counts of the runs in a row ending at the last run (bit `n`: the
        // last few runs hold `n` digits), one space or dash apart, and one dot or dash
        // apart.
        let (mut spaced, mut dotted) = (0u64, 0u64);
        // Current runs.
        let (mut grouped, mut card, mut after_digits) = (0usize, 0usize, false);
        let mut zero = 0usize;
        let (mut hex_colons, mut hex_dashes, mut base64) = (0usize, 0usize, 0usize);
        // Runs in a row, one dot apart: of one to three digits (an IPv4 address's
        // parts), of four hex digits (a dotted MAC address's).
        let (mut quads, mut hex4s, mut after_token) = (0usize, 0usize, false);
        let mut base64_hex_only = true;
        // The last token: `[A-Z][a-z]+` (a capitalised word); digits, maybe with one
        // letter after them (a house number).
        let (mut capitalised, mut house) = (false, false);
        let n = bytes.len();
        let mut i = 0;
        while i < n {
            let b = bytes[i];
            let class = CLASS[b as usize];
            if class & ALNUM != 0 {
                let start = i;
                i += 1;
                let rest;
                (i, rest) = token_end(bytes, i);
                let kinds = class | rest;
                let len = i - start;
                if class & (UPPER | DIGIT) == 0 && kinds & PLAIN_LETTER != 0 {
                    // A word that starts lower case and is no hex (`request`, `id`):
                    // the common token, and one that ends every run but the base64
                    // one, whatever else is in it.
                    (hex4s, quads, grouped, card, zero) = (0, 0, 0, 0, 0);
                    (spaced, dotted, hex_colons, hex_dashes) = (0, 0, 0, 0);
                    (after_token, after_digits, capitalised) = (true, false, false);
                    // Digits after an escaped line break (`\n61 Short Footway`): the
                    // `n` is the escape's, the digits a house number starting a line.
                    house =
                        start > 0 && bytes[start - 1] == b'\\' && escaped_number(bytes, start, i);
                    base64 += len;
                    base64_hex_only = false;
                    if house {
                        continue;
                    }
                    // Prose: more such words, a space or a byte that continues nothing
                    // between them (`"`, `,`, `_`, anything outside ASCII). Every run
                    // but the base64 one is ended and stays so, and no house number can
                    // start (no backslash comes before these words): only the base64
                    // run changes, and a word starts no other fact. This loop keeps
                    // just that; anything else goes back to the full pass, in the
                    // state the full pass would have left.
                    // Keys and values too (`request_id=req_`, `pg-primary.prod.svc`):
                    // `=`, `:`, `.` and `-` between such words add an operator's
                    // position and continue the hex colon and dash runs, as below.
                    while let Some(&b) = bytes.get(i) {
                        let c = CLASS[b as usize];
                        if c & ALNUM == 0 {
                            let (f, mark) = (SEPARATOR[b as usize], MARK[b as usize]);
                            // Not `+`, `/` (base64) nor a break (`\n`, `\\`, `|`, `>`).
                            if c != 0 || mark & BREAK != 0 {
                                break;
                            }
                            if mark != 0 {
                                s.note_mark(mark, i);
                            }
                            s.base64_run_of_40 |= base64 == 40 && !base64_hex_only;
                            (base64, base64_hex_only, after_token) = (0, true, false);
                            // The hex runs as the full pass continues them below,
                            // written out again: shared as an inlined method, the
                            // pass cost 70 more instructions per line (callgrind).
                            if f & (COLON | DOT | DASH) == 0 {
                                (hex_colons, hex_dashes) = (0, 0);
                            } else {
                                if f & COLON != 0 {
                                    hex_colons += 1;
                                    s.colons_in_hex = s.colons_in_hex.max(hex_colons);
                                } else if f & DOT == 0 {
                                    hex_colons = 0;
                                }
                                if f & DASH != 0 {
                                    hex_dashes += 1;
                                    s.dashes_in_hex = s.dashes_in_hex.max(hex_dashes);
                                } else {
                                    hex_dashes = 0;
                                }
                            }
                            i += 1;
                            continue;
                        }
                        if c & (UPPER | DIGIT) != 0 {
                            break;
                        }
                        let (end, rest) = token_end(bytes, i + 1);
                        if rest & PLAIN_LETTER == 0 && c & PLAIN_LETTER == 0 {
                            break;
                        }
                        base64 += end - i;
                        (base64_hex_only, after_token) = (false, true);
                        (hex_colons, hex_dashes) = (0, 0);
                        i = end;
                    }
                    continue;
                }
                // Runs one dot apart (the dot checked where it stood).
                let hex = kinds & PLAIN_LETTER == 0;
                hex4s = if len == 4 && hex { hex4s + 1 } else { 0 };
                s.dotted_mac |= hex4s >= 3;
                quads = if len <= 3 && kinds & LETTER == 0 {
                    quads + 1
                } else {
                    0
                };
                s.ipv4_like |= quads >= 4;
                after_token = true;
                base64 += len;
                base64_hex_only &= kinds & PLAIN_LETTER == 0;
                if class & UPPER != 0 {
                    // A capitalised word after another, spaces between: two words of
                    // a name (`Jane Doe`).
                    let second_lower = len >= 2 && CLASS[bytes[start + 1] as usize] & LOWER != 0;
                    s.title_bigram |= second_lower && capitalised;
                    capitalised = second_lower && rest & (UPPER | DIGIT) == 0;
                    // An IBAN's country and check digits, then twelve characters or
                    // more in this word or in groups after it.
                    if len >= 4 && !s.iban_head {
                        s.iban_head = CLASS[bytes[start + 1] as usize] & UPPER != 0
                            && bytes[start + 2].is_ascii_digit()
                            && bytes[start + 3].is_ascii_digit()
                            && (len >= 12
                                || bytes.get(i) == Some(&b' ')
                                    && bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric));
                    }
                    if len >= 2 && CLASS[bytes[start + 1] as usize] & UPPER != 0 {
                        s.nino_like = s.nino_like || nino_at(bytes, start);
                        s.pan_like = s.pan_like || pan_at(bytes, start);
                    }
                } else {
                    capitalised = false;
                }
                if kinds & LETTER == 0 {
                    // All digits.
                    house = len <= 12;
                    let bit = 1u64 << len.min(63);
                    // A token is a maximal run of ASCII letters and digits: this one
                    // stands alone.
                    s.runs |= bit;
                    let shift = len.min(63) as u32;
                    let more = spaced.checked_shl(shift).unwrap_or(0);
                    s.spaced_groups |= more;
                    spaced = more | bit;
                    let more = dotted.checked_shl(shift).unwrap_or(0);
                    // Eleven digits one dot or dash apart: a CPF only where its
                    // separators stand (`523.366.630-82`), not an OID or a version.
                    s.dotted_groups |= if more & (1 << 11) != 0 {
                        more & !(1 << 11) | cpf_mask(bytes, i)
                    } else {
                        more
                    };
                    dotted = more | bit;
                    grouped += len;
                    if zero > 0 {
                        zero += len;
                    } else if b == b'0' && grouped == len {
                        zero = len;
                    }
                    s.zero_grouped_digits = s.zero_grouped_digits.max(zero);
                    if card > 0 {
                        card += len;
                    } else if matches!(b, b'2'..=b'6') {
                        card = len;
                    }
                    s.grouped_digits = s.grouped_digits.max(grouped);
                    s.card_digits = s.card_digits.max(card);
                    s.end_digit_run(bytes, i, len, bytes.get(i).copied().unwrap_or(0));
                    s.resident_id_like |= len == 18 && b != b'0';
                    after_digits = true;
                    continue;
                }
                // Digits and an extension glued to them (`2671x215`): the digits end
                // a run as a number's last group.
                if class & DIGIT != 0 {
                    let k = bytes[start..i]
                        .iter()
                        .take_while(|c| c.is_ascii_digit())
                        .count();
                    if matches!(bytes[start + k], b'x' | b'X') {
                        s.end_digit_run(bytes, start + k, k, bytes[start + k]);
                    }
                }
                // Digits and one letter after them (`12B`).
                house = class & DIGIT != 0
                    && len <= 13
                    && bytes[i - 1].is_ascii_alphabetic()
                    && bytes[start..i - 1].iter().all(u8::is_ascii_digit);
                (grouped, card, after_digits) = (0, 0, false);
                (zero, spaced, dotted) = (0, 0, 0);
                // The one letter a digit rule takes: a Chinese resident id's check `X`.
                if len == 18
                    && b != b'0'
                    && matches!(bytes[i - 1], b'X' | b'x')
                    && bytes[start..i - 1].iter().all(u8::is_ascii_digit)
                {
                    s.resident_id_like = true;
                    s.digit_run = s.digit_run.max(len - 1);
                }
                if !hex {
                    (hex_colons, hex_dashes) = (0, 0);
                }
                continue;
            }
            // A byte between tokens: what it continues and what it ends. Each fact is
            // tested before it is written, so that the common case (a separator after
            // a word, nothing to continue) costs a few tests and no stores.
            let f = SEPARATOR[b as usize];
            let mark = MARK[b as usize];
            if mark != 0 {
                s.note_mark(mark, i);
            }
            if house {
                // A house number's space (or `, `): where a street may start.
                let comma = b == b',' && bytes.get(i + 1) == Some(&b' ');
                if f & SPACE != 0 || comma {
                    if s.number_spaces_len < NUMBER_SPACES {
                        s.number_spaces[s.number_spaces_len] = (i + usize::from(comma)) as u32;
                    }
                    s.number_spaces_len += 1;
                }
                house = false;
            }
            capitalised &= f & (SPACE | TAB) != 0;
            let keep_spaced = after_digits && f & SPACE_GROUP != 0;
            if !keep_spaced {
                (grouped, card, zero, spaced) = (0, 0, 0, 0);
            }
            if !(after_digits && f & DOT_GROUP != 0) {
                dotted = 0;
            }
            after_digits = false;
            if class & BASE64 != 0 {
                base64 += 1;
                base64_hex_only = false;
            } else {
                s.base64_run_of_40 |= base64 == 40 && !base64_hex_only;
                base64 = 0;
                base64_hex_only = true;
            }
            if !(f & DOT != 0 && after_token) {
                (quads, hex4s) = (0, 0);
            }
            after_token = false;
            if f & (COLON | DOT | DASH) == 0 {
                (hex_colons, hex_dashes) = (0, 0);
            } else {
                if f & COLON != 0 {
                    hex_colons += 1;
                    s.colons_in_hex = s.colons_in_hex.max(hex_colons);
                } else if f & DOT == 0 {
                    hex_colons = 0;
                }
                if f & DASH != 0 {
                    hex_dashes += 1;
                    s.dashes_in_hex = s.dashes_in_hex.max(hex_dashes);
                } else {
                    hex_dashes = 0;
                }
            }
            if f & PLUS != 0 {
                // As the E.164 rule wants it: not glued to a word or another `+` (a
                // time zone's `+05:30` follows digits), or after a written-out `\n`.
                let free = i == 0
                    || !(bytes[i - 1].is_ascii_alphanumeric()
                        || matches!(bytes[i - 1], b'_' | b'+'))
                    || i >= 2
                        && bytes[i - 2] == b'\\'
                        && matches!(bytes[i - 1], b'n' | b'r' | b't');
                s.plus_digit |= free && matches!(bytes.get(i + 1), Some(b'1'..=b'9'));
            }
            i += 1;
        }
        s.base64_run_of_40 |= base64 == 40 && !base64_hex_only;
        s
    }

    /// A line break, a backslash (of a written-out `\n`), `|` or `>`: where a chat
    /// speaker's label may start, other than at the start of the text.
    pub fn breaks(&self) -> bool {
        self.marks & BREAK != 0
    }

    /// A `(` somewhere (an area code's, `(415) 555-2671`): the shape tests that look
    /// for one skip their search of the text without it.
    pub fn parens(&self) -> bool {
        self.marks & PAREN != 0
    }

    /// A byte outside ASCII somewhere (a letter with a diacritic, a Han character):
    /// the rules that read such text ask this rather than scan the text again.
    pub fn non_ascii(&self) -> bool {
        self.marks & NON_ASCII != 0
    }

    /// Keeps where an operator (`=`, `:`) or a short literal's first byte stands
    /// (the first ones only; the counts go on, so `operators` and `shorts` can say
    /// there were more), and that a byte of `mark`'s kind was seen. Inlined into both
    /// places of the hot pass that call it.
    #[inline(always)]
    fn note_mark(&mut self, mark: u8, i: usize) {
        self.marks |= mark;
        if mark & OPERATOR != 0 {
            if self.operators_len < OPERATORS {
                self.operators[self.operators_len] = i as u32;
            }
            self.operators_len += 1;
        }
        if mark & SHORT != 0 {
            if self.shorts_len < SHORTS {
                self.shorts[self.shorts_len] = i as u32;
            }
            self.shorts_len += 1;
        }
    }

    /// The positions of the `=` and `:` in the text, or `None` when there were more
    /// than the shape keeps.
    pub fn operators(&self) -> Option<&[u32]> {
        (self.operators_len <= OPERATORS).then(|| &self.operators[..self.operators_len])
    }

    /// The positions of the bytes of `SHORT_FIRSTS` in the text, in order, or `None`
    /// when there were more than the shape keeps.
    pub fn shorts(&self) -> Option<&[u32]> {
        (self.shorts_len <= SHORTS).then(|| &self.shorts[..self.shorts_len])
    }

    /// The positions of the spaces that follow a number (a house number's shape:
    /// digits, maybe one letter, maybe a comma), or `None` when there were more than
    /// the shape keeps.
    pub fn number_spaces(&self) -> Option<&[u32]> {
        (self.number_spaces_len <= NUMBER_SPACES)
            .then(|| &self.number_spaces[..self.number_spaces_len])
    }

    /// The digit run `bytes[end - len..end]` ended, followed by `next` (0 at the end).
    #[inline(always)]
    fn end_digit_run(&mut self, bytes: &[u8], end: usize, len: usize, next: u8) {
        self.digit_run = self.digit_run.max(len);
        // Every test of `digit_run_tests` is of a run of two to five digits or of
        // eleven: the others (a single digit, a long id) make no call.
        if matches!(len, 2..=5 | 11) {
            self.digit_run_tests(bytes, end, len, next);
        }
    }

    /// `end_digit_run`'s tests of the run's shape and its neighbours.
    #[inline(never)]
    fn digit_run_tests(&mut self, bytes: &[u8], end: usize, len: usize, next: u8) {
        let digit = |i: usize| bytes[i].is_ascii_digit();
        let sep = |i: usize| matches!(bytes[i], b'-' | b'.' | b' ');
        let group = |from: usize, n: usize| from >= n && (from - n..from).all(digit);
        // Each test is of runs of one length: only those of this run's are made (the
        // flags are independent of each other).
        let run = &bytes[end - len..end];
        let mobile_head = || run[0] == b'1' && run.get(1).is_some_and(|d| (b'3'..=b'9').contains(d));
        match len {
            2 => {
                // Pairs: this run is the last of five two-digit groups (`06 12 34 56 78`).
                if end >= 14 && self.digit_pairs < 5 {
                    let sep = bytes[end - 3];
                    let pairs = matches!(sep, b' ' | b'.' | b'-')
                        && [end - 6, end - 9, end - 12]
                            .iter()
                            .all(|&i| bytes[i] == sep)
                        && [
                            end - 14,
                            end - 13,
                            end - 11,
                            end - 10,
                            end - 8,
                            end - 7,
                            end - 5,
                            end - 4,
                        ]
                        .iter()
                        .all(|&i| digit(i))
                        && (end == 14 || !digit(end - 15));
                    if pairs {
                        self.digit_pairs = 5;
                    }
                }
            }
            3 => {
                // The first group of a Chinese mobile number grouped 3-4-4 (the next
                // group's four digits and the separator after them checked here).
                let grouped = matches!(next, b' ' | b'-')
                    && bytes.len() >= end + 10
                    && bytes[end + 1..end + 5].iter().all(u8::is_ascii_digit)
                    && bytes[end + 5] == next
                    && bytes[end + 6..end + 10].iter().all(u8::is_ascii_digit);
                if grouped && mobile_head() {
                    self.cn_mobile = true;
                }
            }
            4 => {
                // `ddd-ddd-dddd`, `ddd.ddd.dddd`, `ddd ddd dddd`: this run is the last
                // four.
                if end >= 12 && !self.nanp_dashed {
                    self.nanp_dashed = sep(end - 5)
                        && sep(end - 9)
                        && (end - 12..end - 9).all(digit)
                        && (end - 8..end - 5).all(digit)
                        && (end == 12 || !digit(end - 13));
                }
                // Groups of 2-5-4 and 2-4-4 (Brazilian and Japanese mobile and
                // landline numbers without their trunk prefix): this run is the last.
                if !self.phone_groups {
                    self.phone_groups = end >= 12
                        && sep(end - 5)
                        && (end >= 13 && group(end - 5, 5) && sep(end - 11) && group(end - 11, 2)
                            || group(end - 5, 4) && sep(end - 10) && group(end - 10, 2));
                }
                // `ddd-dd-dddd`: this run is the last four, two dashes back.
                if end >= 11 {
                    let s = &bytes[end - 11..end - 4];
                    self.ssn_dashed |= s[3] == b'-'
                        && s[6] == b'-'
                        && s[..3].iter().chain(&s[4..6]).all(u8::is_ascii_digit);
                }
            }
            5 => {
                // Groups of 5-5 (Indian mobile numbers): this run is the last.
                if !self.phone_groups {
                    self.phone_groups = end >= 11 && sep(end - 6) && group(end - 6, 5);
                }
            }
            11 => {
                // A compact Chinese mobile number.
                if mobile_head() {
                    self.cn_mobile = true;
                }
            }
            _ => {}
        }
    }
}

/// Where the token (a run of ASCII letters and digits) that goes on at `i` ends, and
/// the classes of its bytes from `i` on, or-ed together.
#[inline(always)]
fn token_end(bytes: &[u8], mut i: usize) -> (usize, u8) {
    let mut rest = 0;
    // Four bytes a step while the token lasts (most tokens are words and ids of
    // several bytes). Where it ends inside a step, the step's own classes say where
    // (one to three tests); the byte loop is left for the last bytes of the text.
    while let Some(&[b0, b1, b2, b3]) = bytes.get(i..i + 4) {
        let c = [
            CLASS[b0 as usize],
            CLASS[b1 as usize],
            CLASS[b2 as usize],
            CLASS[b3 as usize],
        ];
        if c[0] & c[1] & c[2] & c[3] & ALNUM == 0 {
            if c[0] & ALNUM != 0 {
                rest |= c[0];
                i += 1;
                if c[1] & ALNUM != 0 {
                    rest |= c[1];
                    i += 1;
                    if c[2] & ALNUM != 0 {
                        rest |= c[2];
                        i += 1;
                    }
                }
            }
            return (i, rest);
        }
        rest |= c[0] | c[1] | c[2] | c[3];
        i += 4;
    }
    while i < bytes.len() && CLASS[bytes[i] as usize] & ALNUM != 0 {
        rest |= CLASS[bytes[i] as usize];
        i += 1;
    }
    (i, rest)
}

/// `AB123456C` or `AB 12 34 56 C` at `i` (two capitals that start a word): seven
/// bytes past the pair, spaces skipped, six digits and a capital.
fn nino_at(b: &[u8], i: usize) -> bool {
    let mut got = 0;
    for &c in b[i + 2..].iter().take(12) {
        if c == b' ' {
            continue;
        }
        let ok = if got < 6 {
            c.is_ascii_digit()
        } else {
            c.is_ascii_uppercase()
        };
        if !ok {
            return false;
        }
        got += 1;
        if got == 7 {
            return true;
        }
    }
    false
}

/// `1 << 11` when the eleven digits ending at `end` are written as a Brazilian CPF
/// with at least one of its separators (`ddd.ddd.ddd-dd`, dots and dash optional),
/// else 0.
fn cpf_mask(b: &[u8], end: usize) -> u64 {
    // Backwards: two digits, a dash maybe, then three groups of three digits, dots
    // maybe between them.
    let mut i = end;
    let mut separators = 0;
    for (k, group) in [2usize, 3, 3, 3].iter().enumerate() {
        if k > 0 {
            let sep = if k == 1 { b'-' } else { b'.' };
            if i > 0 && b[i - 1] == sep {
                i -= 1;
                separators += 1;
            }
        }
        if i < *group || !b[i - group..i].iter().all(u8::is_ascii_digit) {
            return 0;
        }
        i -= group;
    }
    let boundary = i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
    if separators > 0 && boundary {
        1 << 11
    } else {
        0
    }
}

/// `ABCPE1234F` at `i`: five capitals, four digits, a capital.
fn pan_at(b: &[u8], i: usize) -> bool {
    b.len() >= i + 10
        && b[i..i + 5].iter().all(u8::is_ascii_uppercase)
        && b[i + 5..i + 9].iter().all(u8::is_ascii_digit)
        && b[i + 9].is_ascii_uppercase()
}

/// Whether some `key=` / `key:` pair in the text has a key the policy calls sensitive:
/// the `sensitive-key` rule's trigger. The key is found as that rule's regex finds it:
/// the run of `[A-Za-z0-9_.-]` before the operator, past spaces, a quote and a
/// backslash.
/// `bytes[start..end]` is an escape's letter (`n`, `r`, `t`; the backslash stands
/// before `start`) and then one to twelve digits: a number starting an escaped line.
fn escaped_number(bytes: &[u8], start: usize, end: usize) -> bool {
    matches!(bytes[start], b'n' | b'r' | b't')
        && (2..=13).contains(&(end - start))
        && bytes[start + 1..end].iter().all(u8::is_ascii_digit)
}

pub fn has_sensitive_pair(s: &Shape<'_>) -> bool {
    let bytes = s.text.as_bytes();
    let is_key = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    let default_keys = s.policy.has_default_keys();
    let pair_at = |op: usize| {
        let mut end = op;
        while end > 0 && matches!(bytes[end - 1], b' ' | b'\t') {
            end -= 1;
        }
        if end > 0 && matches!(bytes[end - 1], b'"' | b'\'') {
            end -= 1;
        }
        if end > 0 && bytes[end - 1] == b'\\' {
            end -= 1;
        }
        // The default keys all end with one of a few three-letter tails: most pairs
        // (`ts=`, `12:34`, `user=`) are told apart without walking back over the key.
        if default_keys && (end < 3 || !default_key_tail(&bytes[end - 3..end])) {
            return false;
        }
        // With the default keys, whether the key is sensitive is read from the bytes
        // before its end (see `default_key_end_is_sensitive`), before the walk back
        // to its start, which most keys (`request_id`, `trace_id`) then never take.
        if default_keys && !super::policy::default_key_end_is_sensitive(&bytes[..end]) {
            return false;
        }
        let mut start = end;
        while start > 0 && is_key(bytes[start - 1]) {
            start -= 1;
        }
        // The regex takes at most 64 key characters after a non-key character.
        start < end && end - start <= 64 && s.policy.key_is_sensitive(&s.text[start..end])
    };
    // Most operators follow a byte that ends no default key and is no space, quote
    // or backslash to step over (`12:34`, `ts=`): `pair_at` would turn them away at
    // its first test of the tail, so they are turned away here without the call.
    let quick_no = |op: usize| {
        default_keys
            && op > 0
            && !matches!(bytes[op - 1], b' ' | b'\t' | b'"' | b'\'' | b'\\')
            && !DEFAULT_KEY_LAST[usize::from(bytes[op - 1])]
    };
    match s.operators() {
        Some(ops) => ops
            .iter()
            .any(|&op| !quick_no(op as usize) && pair_at(op as usize)),
        None => memchr::memchr2_iter(b'=', b':', bytes).any(|op| !quick_no(op) && pair_at(op)),
    }
}

/// The `ipv4` rule's test past `ipv4_like`: some place of the text where its pattern
/// can match, four octets one dot apart between ASCII word boundaries, is one that
/// `validate` (the rule's validator) accepts. The pattern's octets
/// (`25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]`, each followed by a dot or a word
/// boundary) are whole runs of digits: 0 to 255 without a leading zero. Every place
/// is tried (overlapping ones too), so the matches the regex takes are among them; the
/// validator reads only the text, the range and the policy. Most dotted quads in logs
/// are versions, product tokens and loopback addresses that it turns away
/// (`MyApp/2.34.91.238`, `X-App-Version: 18.197.186.16`, `127.0.0.1`): the rule, its
/// regex and its validator then run only where one is accepted.
pub fn ipv4_accepted(s: &Shape<'_>, validate: fn(&super::Candidate<'_>) -> bool) -> bool {
    let b = s.text.as_bytes();
    let word = |i: usize| b[i].is_ascii_alphanumeric() || b[i] == b'_';
    // The octet that starts at `i` (a whole run of digits): where it ends.
    let octet = |i: usize| -> Option<usize> {
        let mut e = i;
        while e < b.len() && e - i < 4 && b[e].is_ascii_digit() {
            e += 1;
        }
        let fits = match &b[i..e] {
            [_] => true,
            [x, _] => *x != b'0',
            [x, y, z] => *x == b'1' || *x == b'2' && (*y < b'5' || *y == b'5' && *z <= b'5'),
            _ => false,
        };
        fits.then_some(e)
    };
    // Each place starts with the digits right before a dot: found from the dots.
    for dot in memchr::memchr_iter(b'.', b) {
        let mut start = dot;
        while start > 0 && dot - start < 4 && b[start - 1].is_ascii_digit() {
            start -= 1;
        }
        if start == dot || start > 0 && word(start - 1) || octet(start) != Some(dot) {
            continue;
        }
        let mut end = Some(dot);
        for _ in 0..3 {
            end = end.and_then(|e| if b.get(e) == Some(&b'.') { octet(e + 1) } else { None });
        }
        let Some(end) = end else {
            continue;
        };
        let candidate = super::Candidate {
            haystack: s.text,
            start,
            end,
            key: None,
            policy: s.policy,
        };
        if !(end < b.len() && word(end)) && validate(&candidate) {
            return true;
        }
    }
    false
}

/// The `credit-card` rule's shape test past `card_digits`: its pattern
/// (`\b(?:[0-9][ -]?){11,18}[0-9]\b`) matches digits with one space or dash between
/// two of them, from a word boundary to one. Where no run of digits so grouped that
/// has a space or dash in it holds twelve digits or more, every match is a whole run
/// of twelve to nineteen digits between word boundaries (no boundary stands inside a
/// run): those runs are handed to `validate` (the rule's validator, which reads only
/// the text, the range and the policy), and the test says yes only where one is
/// accepted. Long ids and timestamps in logs (`order_id=5281402119868257`, most
/// failing the Luhn check, with no card word before them) then no longer run the rule.
/// Where grouped digits do hold twelve, it says yes, as before.
pub fn card_runs_accepted(s: &Shape<'_>, validate: fn(&super::Candidate<'_>) -> bool) -> bool {
    let b = s.text.as_bytes();
    // Each run of grouped digits: with a separator and twelve digits it decides (the
    // boolean is the same whatever the order of these pure tests); without one it is
    // a single run, a candidate when it stands between word boundaries.
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let (mut digits, mut separated) = (0, false);
        loop {
            let from = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            digits += i - from;
            if matches!(b.get(i), Some(b' ' | b'-')) && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                separated = true;
                i += 1;
            } else {
                break;
            }
        }
        if separated {
            if digits >= 12 {
                return true;
            }
            continue;
        }
        if (12..=19).contains(&digits) && bounded_run_accepted(s, start, i, validate) {
            return true;
        }
    }
    false
}

/// Whether the digits at `start..end` stand between word boundaries and the rule's
/// validator accepts them as its value.
fn bounded_run_accepted(
    s: &Shape<'_>,
    start: usize,
    end: usize,
    validate: fn(&super::Candidate<'_>) -> bool,
) -> bool {
    let b = s.text.as_bytes();
    let word = |i: usize| b[i].is_ascii_alphanumeric() || b[i] == b'_';
    let bounded = (start == 0 || !word(start - 1)) && (end == b.len() || !word(end));
    bounded
        && validate(&super::Candidate {
            haystack: s.text,
            start,
            end,
            key: None,
            policy: s.policy,
        })
}

/// The `fr-nir` rule's test past its shape (a run of fifteen digits, or runs one
/// space or dash apart that hold fifteen): its pattern matches fifteen digits (or a
/// `2A`/`2B` department) with single spaces between some of them, from a word boundary
/// to one. Where no runs one space or dash apart hold fifteen digits and no `2A` or
/// `2B` stands in the text, every match is a whole run of fifteen digits between word
/// boundaries that starts with 1-4, 7 or 8: those are handed to `validate` (the
/// rule's validator, which reads only the text, the range and the policy), and the
/// test says yes only where one is accepted (`imei=352099001761481` is turned away).
/// Otherwise it says yes, as before.
pub fn nir_runs_accepted(s: &Shape<'_>, validate: fn(&super::Candidate<'_>) -> bool) -> bool {
    let b = s.text.as_bytes();
    if s.spaced_groups & 1 << 15 != 0
        || memchr::memmem::find(b, b"2A").is_some()
        || memchr::memmem::find(b, b"2B").is_some()
    {
        return true;
    }
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i - start == 15
            && matches!(b[start], b'1'..=b'4' | b'7' | b'8')
            && bounded_run_accepted(s, start, i, validate)
        {
            return true;
        }
    }
    false
}

/// The last letters of the default sensitive keys, both cases (see
/// `default_key_tail`).
static DEFAULT_KEY_LAST: [bool; 256] = {
    let mut t = [false; 256];
    let letters = b"sdetnlhyi";
    let mut i = 0;
    while i < letters.len() {
        t[letters[i] as usize] = true;
        t[letters[i].to_ascii_uppercase() as usize] = true;
        i += 1;
    }
    t
};

/// Whether a key ending in `tail` (three bytes) can be one of the default sensitive
/// keys (`policy::DEFAULT_SENSITIVE_KEYS`): the last three letters of each of them.
fn default_key_tail(tail: &[u8]) -> bool {
    // Their last letters first (one look-up turns away `ts=`, `12:34`, `user=`).
    if !DEFAULT_KEY_LAST[usize::from(tail[2])] {
        return false;
    }
    let t = [
        tail[0].to_ascii_lowercase(),
        tail[1].to_ascii_lowercase(),
        tail[2].to_ascii_lowercase(),
    ];
    matches!(
        &t,
        b"ass"
            | b"ord"
            | b"swd"
            | b"ase"
            | b"ode"
            | b"pwd"
            | b"ret"
            | b"ken"
            | b"ial"
            | b"als"
            | b"uth"
            | b"ion"
            | b"nid"
            | b"_id"
            | b"-id"
            | b"kie"
            | b"key"
            | b"api"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Shape::of` as the fields a trigger reads see it (the scratch slots of
    /// `number_spaces` past its length are nobody's business).
    fn seen(s: &Shape<'_>) -> String {
        let mut s = s.clone();
        for slot in s.number_spaces.iter_mut().skip(s.number_spaces_len) {
            *slot = 0;
        }
        // Not kept by the reference (checked in `operators_and_breaks` and below).
        (s.marks, s.operators, s.operators_len) = (0, [0; OPERATORS], 0);
        (s.shorts, s.shorts_len) = ([0; SHORTS], 0);
        format!("{s:?}")
    }

    #[test]
    fn operators_and_breaks() {
        let s = shape("a=1 b: 2 c=3");
        assert_eq!(s.operators(), Some(&[1u32, 5, 10][..]));
        assert!(!s.breaks());
        assert!(shape("x\\ny").breaks() && shape("a | b").breaks() && shape("a\nb").breaks());
        assert_eq!(shape(&"k=v ".repeat(17)).operators(), None);
        assert!(has_sensitive_pair(&shape(&format!(
            "{} password=x",
            "k=v ".repeat(17)
        ))));
    }

    #[test]
    fn the_fast_pass_agrees_with_the_reference() {
        let policy = Policy::default();
        // Bytes that start, end or join the runs the shape measures, and a
        // multi-byte character.
        const PARTS: &[&str] = &[
            "0", "1", "2", "4", "7", "9", "13", "0044", "415", "a", "f", "B", "E", "g", "Z", "x",
            "X", "Jane", "Doe", "DE", "AB", " ", "  ", "-", ".", ":", "::", "+", "/", ",", ", ",
            "\t", "\n", "=", "_", "(", ")", "é", "用", "\\n", "12345", "4111", "ff",
        ];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |n: usize| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) % n as u64) as usize
        };
        for _ in 0..60_000 {
            let parts = next(40);
            let text: String = (0..parts).map(|_| PARTS[next(PARTS.len())]).collect();
            let shape = Shape::of(&text, &policy);
            assert_eq!(
                seen(&shape),
                seen(&Shape::of_reference(&text, &policy)),
                "{text:?}"
            );
            // Every byte a short literal may start with, where the fast pass skipped
            // a word or not.
            let shorts: Vec<u32> = (text.bytes().enumerate())
                .filter(|(_, b)| SHORT_FIRSTS.contains(b))
                .map(|(i, _)| i as u32)
                .collect();
            let kept = (shorts.len() <= SHORTS).then_some(&shorts[..]);
            assert_eq!(shape.shorts(), kept, "{text:?}");
            let breaks = text.bytes().any(|b| matches!(b, b'\n' | b'\\' | b'|' | b'>'));
            assert_eq!(shape.breaks(), breaks, "{text:?}");
            assert_eq!(shape.parens(), text.contains('('), "{text:?}");
            assert_eq!(shape.non_ascii(), !text.is_ascii(), "{text:?}");
        }
    }

    impl<'a> Shape<'a> {
        /// The one-pass shape as it was written before the pass was tuned for speed
        /// (branch-free, a byte at a time): `of` must agree with it on every text.
        /// One pass, a token at a time: a token is a run of ASCII letters and digits, and
        /// what matters about it is whether it is all digits, hex, or has other letters.
        /// Digits inside a token with letters are glued to a letter, so they can start or
        /// end none of the digit rules' matches (those want a word boundary); only the
        /// hex and base64 runs see them.
        fn of_reference(text: &'a str, policy: &'a Policy) -> Shape<'a> {
            let bytes = text.as_bytes();
            let mut s = Shape {
                text,
                policy,
                digit_run: 0,
                grouped_digits: 0,
                card_digits: 0,
                zero_grouped_digits: 0,
                nanp_dashed: false,
                phone_groups: false,
                nino_like: false,
                pan_like: false,
                digit_pairs: 0,
                ssn_dashed: false,
                cn_mobile: false,
                ipv4_like: false,
                colons_in_hex: 0,
                dashes_in_hex: 0,
                dotted_mac: false,
                resident_id_like: false,
                base64_run_of_40: false,
                runs: 0,
                spaced_groups: 0,
                dotted_groups: 0,
                plus_digit: false,
                iban_head: false,
                title_bigram: false,
                number_spaces: [0; NUMBER_SPACES + 1],
                number_spaces_len: 0,
                marks: 0,
                operators: [0; OPERATORS],
                operators_len: 0,
                shorts: [0; SHORTS],
                shorts_len: 0,
            };
            // The digit counts of the runs in a row ending at the last run (bit `n`: the
            // last few runs hold `n` digits), one space or dash apart, and one dot or dash
            // apart.
            let (mut spaced, mut dotted) = (0u64, 0u64);
            // Current runs.
            let (mut grouped, mut card, mut after_digits) = (0usize, 0usize, false);
            let mut zero = 0usize;
            let (mut hex_colons, mut hex_dashes, mut base64) = (0usize, 0usize, 0usize);
            // Runs in a row, one dot apart: of one to three digits (an IPv4 address's
            // parts), of four hex digits (a dotted MAC address's).
            let (mut quads, mut hex4s, mut after_token) = (0usize, 0usize, false);
            let mut base64_hex_only = true;
            // The last token: `[A-Z][a-z]+` (a capitalised word); digits, maybe with one
            // letter after them (a house number).
            let (mut capitalised, mut house) = (false, false);
            let n = bytes.len();
            let mut i = 0;
            while i < n {
                let b = bytes[i];
                let class = CLASS[b as usize];
                if class & ALNUM != 0 {
                    let start = i;
                    i += 1;
                    let mut rest = 0;
                    while i < n && CLASS[bytes[i] as usize] & ALNUM != 0 {
                        rest |= CLASS[bytes[i] as usize];
                        i += 1;
                    }
                    let kinds = class | rest;
                    let len = i - start;
                    // Runs one dot apart (the dot checked where it stood).
                    let hex = kinds & PLAIN_LETTER == 0;
                    hex4s = if len == 4 && hex { hex4s + 1 } else { 0 };
                    s.dotted_mac |= hex4s >= 3;
                    quads = if len <= 3 && kinds & LETTER == 0 {
                        quads + 1
                    } else {
                        0
                    };
                    s.ipv4_like |= quads >= 4;
                    after_token = true;
                    base64 += len;
                    base64_hex_only &= kinds & PLAIN_LETTER == 0;
                    if class & UPPER != 0 {
                        // A capitalised word after another, spaces between: two words of
                        // a name (`Jane Doe`).
                        let second_lower =
                            len >= 2 && CLASS[bytes[start + 1] as usize] & LOWER != 0;
                        s.title_bigram |= second_lower && capitalised;
                        capitalised = second_lower && rest & (UPPER | DIGIT) == 0;
                        // An IBAN's country and check digits, then twelve characters or
                        // more in this word or in groups after it.
                        if len >= 4 && !s.iban_head {
                            s.iban_head = CLASS[bytes[start + 1] as usize] & UPPER != 0
                                && bytes[start + 2].is_ascii_digit()
                                && bytes[start + 3].is_ascii_digit()
                                && (len >= 12
                                    || bytes.get(i) == Some(&b' ')
                                        && bytes.get(i + 1).is_some_and(u8::is_ascii_alphanumeric));
                        }
                        if len >= 2 && CLASS[bytes[start + 1] as usize] & UPPER != 0 {
                            s.nino_like = s.nino_like || nino_at(bytes, start);
                            s.pan_like = s.pan_like || pan_at(bytes, start);
                        }
                    } else {
                        capitalised = false;
                    }
                    if kinds & LETTER == 0 {
                        // All digits.
                        house = len <= 12;
                        let bit = 1u64 << len.min(63);
                        // A token is a maximal run of ASCII letters and digits: this one
                        // stands alone.
                        s.runs |= bit;
                        let shift = len.min(63) as u32;
                        let more = spaced.checked_shl(shift).unwrap_or(0);
                        s.spaced_groups |= more;
                        spaced = more | bit;
                        let more = dotted.checked_shl(shift).unwrap_or(0);
                        // Eleven digits one dot or dash apart: a CPF only where its
                        // separators stand (`523.366.630-82`), not an OID or a version.
                        s.dotted_groups |= if more & (1 << 11) != 0 {
                            more & !(1 << 11) | cpf_mask(bytes, i)
                        } else {
                            more
                        };
                        dotted = more | bit;
                        grouped += len;
                        if zero > 0 {
                            zero += len;
                        } else if b == b'0' && grouped == len {
                            zero = len;
                        }
                        s.zero_grouped_digits = s.zero_grouped_digits.max(zero);
                        if card > 0 {
                            card += len;
                        } else if matches!(b, b'2'..=b'6') {
                            card = len;
                        }
                        s.grouped_digits = s.grouped_digits.max(grouped);
                        s.card_digits = s.card_digits.max(card);
                        s.end_digit_run(bytes, i, len, bytes.get(i).copied().unwrap_or(0));
                        s.resident_id_like |= len == 18 && b != b'0';
                        after_digits = true;
                        continue;
                    }
                    // Digits and an extension glued to them (`2671x215`): the digits end
                    // a run as a number's last group.
                    if class & DIGIT != 0 {
                        let k = bytes[start..i]
                            .iter()
                            .take_while(|c| c.is_ascii_digit())
                            .count();
                        if matches!(bytes[start + k], b'x' | b'X') {
                            s.end_digit_run(bytes, start + k, k, bytes[start + k]);
                        }
                    }
                    // Digits and one letter after them (`12B`), or digits after an
                    // escaped line break (`\n61`).
                    house = class & DIGIT != 0
                        && len <= 13
                        && bytes[i - 1].is_ascii_alphabetic()
                        && bytes[start..i - 1].iter().all(u8::is_ascii_digit)
                        || start > 0
                            && bytes[start - 1] == b'\\'
                            && escaped_number(bytes, start, i);
                    (grouped, card, after_digits) = (0, 0, false);
                    (zero, spaced, dotted) = (0, 0, 0);
                    // The one letter a digit rule takes: a Chinese resident id's check `X`.
                    if len == 18
                        && b != b'0'
                        && matches!(bytes[i - 1], b'X' | b'x')
                        && bytes[start..i - 1].iter().all(u8::is_ascii_digit)
                    {
                        s.resident_id_like = true;
                        s.digit_run = s.digit_run.max(len - 1);
                    }
                    if !hex {
                        (hex_colons, hex_dashes) = (0, 0);
                    }
                    continue;
                }
                // A byte between tokens: what it continues and what it ends, without a
                // branch on which byte it is (separators vary, and a mispredicted branch
                // costs more than these few operations).
                let f = SEPARATOR[b as usize];
                // Written whether or not it counts (the slot is taken only when it does),
                // so that no branch depends on it; the last slot is scratch.
                let comma = b == b',' && bytes.get(i + 1) == Some(&b' ');
                let counts = house && (f & SPACE != 0 || comma);
                s.number_spaces[s.number_spaces_len.min(NUMBER_SPACES)] =
                    (i + usize::from(comma)) as u32;
                s.number_spaces_len += usize::from(counts);
                house = false;
                capitalised &= f & (SPACE | TAB) != 0;
                let keep_spaced = after_digits && f & SPACE_GROUP != 0;
                let keep_dotted = after_digits && f & DOT_GROUP != 0;
                grouped *= usize::from(keep_spaced);
                card *= usize::from(keep_spaced);
                zero *= usize::from(keep_spaced);
                spaced *= u64::from(keep_spaced);
                dotted *= u64::from(keep_dotted);
                after_digits = false;
                let is_base64 = class & BASE64 != 0;
                s.base64_run_of_40 |= !is_base64 && base64 == 40 && !base64_hex_only;
                base64 = (base64 + 1) * usize::from(is_base64);
                base64_hex_only = !is_base64;
                let (dot, colon, dash) = (f & DOT != 0, f & COLON != 0, f & DASH != 0);
                quads *= usize::from(dot && after_token);
                hex4s *= usize::from(dot && after_token);
                after_token = false;
                hex_colons = (hex_colons + usize::from(colon)) * usize::from(colon || dot);
                hex_dashes = (hex_dashes + 1) * usize::from(dash);
                s.colons_in_hex = s.colons_in_hex.max(hex_colons);
                s.dashes_in_hex = s.dashes_in_hex.max(hex_dashes);
                if f & PLUS != 0 {
                    // As the E.164 rule wants it: not glued to a word or another `+` (a
                    // time zone's `+05:30` follows digits), or after a written-out `\n`.
                    let free = i == 0
                        || !(bytes[i - 1].is_ascii_alphanumeric()
                            || matches!(bytes[i - 1], b'_' | b'+'))
                        || i >= 2
                            && bytes[i - 2] == b'\\'
                            && matches!(bytes[i - 1], b'n' | b'r' | b't');
                    s.plus_digit |= free && matches!(bytes.get(i + 1), Some(b'1'..=b'9'));
                }
                i += 1;
            }
            s.base64_run_of_40 |= base64 == 40 && !base64_hex_only;
            s
        }
    }

    fn shape(text: &str) -> Shape<'_> {
        static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
        Shape::of(text, POLICY.get_or_init(Policy::default))
    }

    #[test]
    fn runs_are_measured() {
        let s = shape("card 4111 1111 1111 1111, ts 1700000000000 at 10.1.2.3");
        assert_eq!(s.digit_run, 13);
        assert_eq!(s.grouped_digits, 16);
        assert_eq!(s.card_digits, 16);
        assert_eq!(shape("ts 1700000000000 4111").card_digits, 4);
        assert_eq!(shape("1700 4111 1111 1111 1111").card_digits, 16);
        assert_eq!(shape("tel 020 7946 0958").zero_grouped_digits, 11);
        assert_eq!(shape("ts 2024-05-01 12").zero_grouped_digits, 0);
        assert!(shape("call 415-555-2671").nanp_dashed);
        assert!(shape("415.555.2671").nanp_dashed);
        assert!(!shape("1415-555-2671").nanp_dashed);
        assert!(!shape("10.100.1000").nanp_dashed);
        assert!(shape("415 555 2671").nanp_dashed);
        assert!(shape("call 659.238.0898x165").nanp_dashed);
        assert!(shape("98765 43210").phone_groups);
        assert!(shape("11 91234 5678").phone_groups);
        assert!(shape("35 4423 3443").phone_groups);
        assert!(!shape("2024-05-01 12:34").phone_groups);
        assert_eq!(shape("06 12 34 56 78").digit_pairs, 5);
        assert_eq!(shape("v 15.42.88.37").digit_pairs, 0);
        assert_eq!(shape("at 12:34:56").digit_pairs, 0);
        assert!(s.ipv4_like);
        assert_eq!(shape("123-45-6789").grouped_digits, 9);
        assert_eq!(shape("1 -2").grouped_digits, 1);
        assert!(!shape("version 1.2.3").ipv4_like);
        assert!(!shape("v 1.2.3.4567").ipv4_like);
        assert!(shape("oid 1.3.6.1.4").ipv4_like);
    }

    #[test]
    fn hex_runs() {
        assert_eq!(shape("at 12:34:56").colons_in_hex, 2);
        assert_eq!(shape("hw 00:1a:2b:3c:4d:5e").colons_in_hex, 5);
        assert_eq!(shape("::ffff:10.1.2.3").colons_in_hex, 3);
        assert_eq!(shape("00-1A-2B-3C-4D-5E").dashes_in_hex, 5);
        assert_eq!(
            shape("uuid 123e4567-e89b-12d3-a456-426614174000").dashes_in_hex,
            4
        );
        assert!(shape("hw 001a.2b3c.4d5e").dotted_mac);
        assert!(shape("001a.2b3c.4d5e").dotted_mac);
        assert!(shape("hw 001a.2b3c.4d5e up").dotted_mac);
        assert!(!shape("version 1.2.3.4").dotted_mac);
        assert!(!shape("oid 1.3.6.1.4.1.1554.6.2").dotted_mac);
        assert!(shape("id 11010519491231002X").resident_id_like);
        assert!(shape("CPF 523.366.630-82").dotted_groups & 1 << 11 != 0);
        assert!(shape("cpf 523366630-82").dotted_groups & 1 << 11 != 0);
        assert!(shape("cpf 523.366.63082").dotted_groups & 1 << 11 != 0);
        assert!(shape("oid 3.6.1.4.1.1554.6.2").dotted_groups & 1 << 11 == 0);
        assert!(!shape("ns 1766729912729692804").resident_id_like);
    }

    #[test]
    fn small_flags() {
        assert!(shape("x wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY y").base64_run_of_40);
        assert!(!shape("x wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYZ").base64_run_of_40);
        assert!(!shape("commit 3f786850e387550fdab836ed7e6dc881de23001b").base64_run_of_40);
        assert!(shape("k=3f786850e387550fdab836ed7e6dc881de23001+").base64_run_of_40);
        assert!(shape("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLE123").base64_run_of_40);
        assert!(shape("call +14155552671").plus_digit);
        assert!(!shape("+0800").plus_digit);
        assert!(shape("iban DE89370400440532013000").iban_head);
        assert!(!shape("DE8 x").iban_head);
        assert!(!shape("req_01HX40YXS43GG").iban_head);
        assert!(shape("ssn 123-45-6789").ssn_dashed);
        assert!(!shape("on 2024-05-01").ssn_dashed);
        assert!(shape("手机13812345678，").cn_mobile);
        assert!(shape("138-1234-5678").cn_mobile);
        assert!(!shape("ts 1712345678901").cn_mobile);
    }

    fn near(f: fn(&[u8], usize, usize) -> bool, text: &str, literal: &str) -> bool {
        let start = text.find(literal).expect("literal in text");
        f(text.as_bytes(), start, start + literal.len())
    }

    #[test]
    fn near_tests_look_around_the_literal() {
        assert!(near(key_then_operator, "db_password = x", "pass"));
        assert!(near(key_then_operator, r#"{\"auth\": 1}"#, "auth"));
        assert!(near(key_then_operator, "Authorization: Basic", "Auth"));
        assert!(!near(key_then_operator, "auth-svc started", "auth"));
        assert!(near(secret_key_then_operator, "db_password = x", "pass"));
        assert!(near(
            secret_key_then_operator,
            "Authorization: Basic",
            "Auth"
        ));
        assert!(near(secret_key_then_operator, "contraseña: x", "contrase"));
        assert!(!near(secret_key_then_operator, "max_tokens=989", "token"));
        assert!(near(secret_key_then_operator, "x-api-key: 1", "key"));
        assert!(!near(secret_key_then_operator, "cache_key=1", "key"));
        assert!(!near(secret_key_then_operator, "password_hash=x", "pass"));
        assert!(!near(
            key_then_operator,
            "token expired for user=bob",
            "token"
        ));
        assert!(near(
            name_then_value,
            "- name: DB_PASSWORD\n  value: x",
            "PASS"
        ));
        assert!(near(
            name_then_value,
            r#"{"name":"API_TOKEN","value":"x"}"#,
            "TOKEN"
        ));
        assert!(!near(name_then_value, "name: DB_PASSWORD_FILE", "PASS"));
        assert!(near(in_element_name, "<wsse:Password Type=\"x\">", "Pass"));
        assert!(!near(in_element_name, "<b>token</b> expired", "token"));
        assert!(near(flag_or_command, "tool --api-key abc", "key"));
        assert!(near(flag_or_command, "exec curl -u a:b", "curl"));
        assert!(!near(flag_or_command, "tool --token-file=/x", "token"));
        assert!(!near(flag_or_command, "the token is gone", "token"));
        assert!(near(userinfo_follows, "postgres://u:p@db/x", "://"));
        assert!(!near(userinfo_follows, "https://example.com/a@b", "://"));
        let kv = keyword_then_random_value;
        assert!(near(kv, "Unseal Key 2: AbCdEfGh12345678xyz", "Key"));
        assert!(near(kv, "atera_key = \"0123456789abcdef01\"", "key"));
        assert!(near(kv, "my_password_for_prod=Xy12345678901234", "pass"));
        assert!(!near(
            kv,
            "auth-svc request_id=req_01HGSFAHBG30M984SCZ8B7JH65",
            "auth"
        ));
        assert!(!near(
            kv,
            "token expired for session of user_id=4475998",
            "token"
        ));
        assert!(!near(
            kv,
            "key=4a3ce17e-169a-44d0-adb0-561ca8c22b3a lag=1",
            "key"
        ));
        assert!(near(
            kv,
            "key=4a3ce17e-169a-44d0-adb0-561ca8c22b3a= lag=1",
            "key"
        ));
        assert!(!near(kv, "partition key 1234567890123456789", "key"));
        // A path after the key is no secret; base64 starting with `/` may be one.
        assert!(!near(kv, "in 5 ms path=/api/v1/items/123456 x", "pat"));
        assert!(!near(kv, "secret_file: /run/secrets/db_password", "secret"));
        assert!(near(kv, "api_key=/9j/4AAQSkZJRgABAQ/Xk2mQ9pLr", "key"));
        assert!(near(kv, "path=/api/v1/items/123456==", "pat"));
        assert!(near(userinfo_or_pair, "Server=db;Password=x", "Password"));
        assert!(near(userinfo_or_pair, "Host=db; Pwd = x", "Pwd"));
        assert!(!near(userinfo_or_pair, r#"{"password_set":true}"#, "password"));
        assert!(near(key_then_operator, "Authorization: Bearer x", "Authorization"));
        assert!(!near(key_then_operator, "authorization failed: x", "authorization"));
        assert!(near(quoted_after, "WITH PASSWORD 'x'", "PASSWORD"));
        assert!(near(quoted_after, "IDENTIFIED BY 'x'", "IDENTIFIED"));
        assert!(!near(quoted_after, "password reset sent", "password"));
    }

    #[test]
    fn trigger_table_finds_every_occurrence_case_insensitively() {
        use crate::detect::{Category, Examples, Rule};
        const fn rule(literals: &'static [&'static str]) -> Rule {
            Rule {
                name: "t",
                category: Category::Credential,
                trigger: Trigger::literals(literals),
                pattern: "x",
                validate: None,
                examples: Examples::NONE,
            }
        }
        const PARTS: &[&[Rule]] = &[
            &[rule(&["ghp_", "GLPAT-"]), rule(&["@", "::"])],
            &[rule(&["key", "keyword"]), rule(&["KEY"])],
        ];
        static TABLE: TriggerTable<7, 7> = TriggerTable::build(PARTS);
        assert_eq!(count_literals(PARTS), 7);
        let mut seen = Vec::new();
        let text = "a GHP_x glpat-y b@c std::io KEYWORD";
        TABLE.scan(text.as_bytes(), |uses, s, end| {
            for u in uses {
                seen.push((u.rule, s, end))
            }
        });
        seen.sort();
        // The same with the short literals looked for where a shape saw their bytes.
        let policy = Policy::default();
        let shape = Shape::of(text, &policy);
        let mut with_shorts = Vec::new();
        TABLE.scan_with_shorts(text.as_bytes(), shape.shorts(), |uses, s, end| {
            for u in uses {
                with_shorts.push((u.rule, s, end))
            }
        });
        with_shorts.sort();
        assert_eq!(with_shorts, seen);
        assert_eq!(
            seen,
            [
                (0, 2, 6),
                (0, 8, 14),
                (1, 17, 18),
                (1, 23, 25),
                (2, 28, 31),
                (2, 28, 35),
                (3, 28, 31)
            ]
        );
        let mut none = 0;
        TABLE.scan(b"gh", |_, _, _| none += 1);
        TABLE.scan(b"", |_, _, _| none += 1);
        assert_eq!(none, 0);
    }

    /// A rule's own validator, and whether its own regex and validator find anything
    /// in a text: what a trigger test that calls the validator is checked against.
    fn rule_under_test(
        name: &str,
    ) -> (fn(&crate::detect::Candidate<'_>) -> bool, impl Fn(&str) -> bool) {
        let rule = (crate::detect::RULES.iter())
            .find(|r| r.name == name)
            .expect("the rule");
        let re = regex::Regex::new(&crate::detect::engine::ascii_boundaries(rule.pattern))
            .expect("pattern");
        let validate = rule.validate.expect("validator");
        let finds = move |text: &str| {
            let policy = Policy::default();
            re.find_iter(text).any(|m| {
                validate(&crate::detect::Candidate {
                    haystack: text,
                    start: m.start(),
                    end: m.end(),
                    key: None,
                    policy: &policy,
                })
            })
        };
        (validate, finds)
    }

    #[test]
    fn ipv4_places_agree_with_the_rule() {
        let (validate, finds) = rule_under_test("ipv4");
        for text in [
            "host 10.1.2.3 up",
            "MyApp/2.34.91.238 (iPhone)",
            "X-App-Version: 18.197.186.16",
            "listening on 0.0.0.0:8080 and 127.0.0.1",
            "oid 1.3.6.1.4.1.1554.6.2",
            "1.2.3.4.5",
            "01.2.3.4 and 10.0.0.256 and 10.0.0.255",
            "x_1.2.3.4 1.2.3.4_ a1.2.3.4",
            "doc 192.0.2.1, 198.51.100.7",
            "ip=8.8.8.8. then 1.2.3.4.x",
            "v1.2.3.4 version 4.3.2.1 build 9.9.9.9",
            "255.255.255.255 256.1.1.1 1.1.1.1 1234.1.1.1.1",
            "é10.20.30.40 10.20.30.40é",
        ] {
            let found = finds(text);
            // Never quiet where the rule finds an address (and, on these texts, quiet
            // where it finds none).
            assert_eq!(ipv4_accepted(&shape(text), validate), found, "{text:?}");
        }
    }

    /// The digit-run triggers of `credit-card` and `fr-nir`: never quiet where the
    /// rule finds a number, and quiet on a run their validator refuses.
    #[test]
    fn digit_runs_agree_with_the_rule() {
        type Accepted = fn(&Shape<'_>, fn(&crate::detect::Candidate<'_>) -> bool) -> bool;
        let cases: [(&str, Accepted, &[&str], &str); 2] = [
            (
                "credit-card",
                card_runs_accepted,
                &[
                    "order_id=5281402119868257 settled",
                    "shipment 4111111111111111 for order",
                    "card 4111111111111112 declined",
                    "ts=1729023618904 lag_ms=24449",
                    "x4111111111111111 4111111111111111x 4111111111111111_",
                    "4111 1111 1111 1111",
                    "4111-1111-1111-1111 and 2024-05-01 12",
                    "41111111111111111111 411111111111",
                    "visa 4012888888881881, mastercard 5555555555554444",
                    "é4111111111111111é",
                ],
                "order_id=5281402119868257 settled",
            ),
            (
                "fr-nir",
                nir_runs_accepted,
                &[
                    "NIR 2 87 04 54 395 744 79",
                    "nir 287045439574479 ok",
                    "imei=287045439574479 model=x",
                    "order 287045439574478",
                    "x287045439574479 287045439574479_ 5870454395744791",
                    "1 85 05 2A 123 456 78 and 187052A12345678",
                    "imei=352099001761481 then 287045439574479",
                ],
                "imei=352099001761481 model=x",
            ),
        ];
        for (rule, accepted, texts, quiet) in cases {
            let (validate, finds) = rule_under_test(rule);
            for text in texts {
                assert!(!finds(text) || accepted(&shape(text), validate), "{rule}: {text:?}");
            }
            assert!(!accepted(&shape(quiet), validate), "{rule}: {quiet:?}");
        }
    }

    #[test]
    fn sensitive_pairs() {
        assert!(has_sensitive_pair(&shape("a=1 password=x")));
        assert!(has_sensitive_pair(&shape(r#"{"api_key" : "x"}"#)));
        assert!(has_sensitive_pair(&shape(r#"{\"token\":\"x\"}"#)));
        assert!(!has_sensitive_pair(&shape(
            "user=bob at 12:34:56 token_count=3"
        )));
    }
}
