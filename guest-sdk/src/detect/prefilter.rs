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
    /// One bit per pair of first two bytes (folded) of a literal of three bytes or
    /// more: most positions of a text fail here, with one look-up.
    pairs: [u64; 65536 / 64],
    /// One bit per hash of a three-byte literal.
    bitmap: [u64; (1 << HASH_BITS) / 64],
    /// One bit per hash of the first four bytes of a longer literal.
    bitmap4: [u64; (1 << HASH_BITS) / 64],
    /// Per hash (three bytes, or four for longer literals: one table, the two kinds
    /// of key hash apart), the first literal (index + 1; 0: none), then `next`.
    heads: [u16; 1 << HASH_BITS],
    next: [u16; L],
    /// Distinct literals (ASCII case folded), `literals_len` of them.
    literals: [&'static [u8]; L],
    literals_len: usize,
    /// `uses[first[l]..first[l + 1]]` are the rules literal `l` triggers.
    first: [u16; L],
    uses: [TriggerUse; U],
    /// Literals shorter than three bytes, `short_len` of them.
    short: [u16; L],
    short_len: usize,
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

#[inline(always)]
const fn hash3(key: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
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
        if a[i].to_ascii_lowercase() != b[i].to_ascii_lowercase() {
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
            pairs: [0; 65536 / 64],
            bitmap: [0; (1 << HASH_BITS) / 64],
            bitmap4: [0; (1 << HASH_BITS) / 64],
            heads: [0; 1 << HASH_BITS],
            next: [0; L],
            literals: [b""; L],
            literals_len: 0,
            first: [0; L],
            uses: [TriggerUse {
                rule: 0,
                near: false,
            }; U],
            short: [0; L],
            short_len: 0,
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
                        if lit.len() < 3 {
                            t.short[t.short_len] = k as u16;
                            t.short_len += 1;
                        } else {
                            let pair = ((lit[0] | 0x20) as usize) | ((lit[1] | 0x20) as usize) << 8;
                            t.pairs[pair / 64] |= 1 << (pair % 64);
                            let h = literal_hash(lit);
                            if lit.len() >= 4 {
                                t.bitmap4[h / 64] |= 1 << (h % 64);
                            } else {
                                t.bitmap[h / 64] |= 1 << (h % 64);
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
        t
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
        found: &mut impl FnMut(&[TriggerUse], usize, usize),
    ) {
        let mut at = self.heads[h];
        while at != 0 {
            let k = usize::from(at - 1);
            let lit = self.literals[k];
            if text.len() - i >= lit.len() && text[i..i + lit.len()].eq_ignore_ascii_case(lit) {
                found(self.uses_of(k), i, i + lit.len());
            }
            at = self.next[k];
        }
    }

    /// Calls `found(uses, start, end)` for every occurrence of every literal
    /// (overlapping ones too), ASCII case-insensitively, with the rules it triggers;
    /// short literals last.
    #[inline]
    pub fn scan(&self, text: &[u8], mut found: impl FnMut(&[TriggerUse], usize, usize)) {
        if text.len() >= 3 {
            // A sliding window of the next four bytes from `i`, folded as `fold4`
            // folds: one load per byte. Near the end the missing bytes are zero, which
            // no literal's fourth byte folds to.
            let mut window =
                u32::from(text[0]) << 8 | u32::from(text[1]) << 16 | u32::from(text[2]) << 24;
            let n = text.len();
            for i in 0..n - 2 {
                let next = text.get(i + 3).copied().unwrap_or(0);
                window = (window >> 8) | u32::from(next) << 24;
                let folded = window | 0x2020_2020;
                let pair = (folded & 0xFFFF) as usize;
                if self.pairs[pair / 64] & (1 << (pair % 64)) == 0 {
                    continue;
                }
                let h4 = hash4(folded);
                if self.bitmap4[h4 / 64] & (1 << (h4 % 64)) != 0 && i + 4 <= n {
                    self.check_chain(text, i, h4, &mut found);
                }
                let h3 = hash3(folded & 0x00FF_FFFF);
                if self.bitmap[h3 / 64] & (1 << (h3 % 64)) != 0 {
                    self.check_chain(text, i, h3, &mut found);
                }
            }
        }
        for &k in &self.short[..self.short_len] {
            let k = usize::from(k);
            let lit = self.literals[k];
            let uses = self.uses_of(k);
            if !lit[0].is_ascii_alphabetic() {
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

/// A run of sixteen or more token characters with a digit in it starts within 24
/// bytes after the word: the `secret-near-keyword` rule.
pub fn random_value_follows(text: &[u8], _start: usize, end: usize) -> bool {
    let token = |b: &u8| b.is_ascii_alphanumeric() || b"_-+/.!@#$%^&*~=".contains(b);
    let stop = (end + 24).min(text.len());
    let mut i = end;
    while i < stop {
        let run = text[i..].iter().take_while(|b| token(b)).count();
        if run >= 16 && text[i..i + run].iter().any(u8::is_ascii_digit) {
            return true;
        }
        i += run.max(1);
    }
    false
}

/// A digit within the 48 bytes after the word (card and id words).
pub fn digits_follow_within(text: &[u8], _start: usize, end: usize) -> bool {
    text[end.min(text.len())..]
        .iter()
        .take(48)
        .any(u8::is_ascii_digit)
}

/// A password word then, within a few words, a value: the `secret-in-prose` rule.
/// Anything but the end of the text or a line break right after the word.
pub fn word_then_value(text: &[u8], _start: usize, end: usize) -> bool {
    let i = skip_spaces(text, word_rest(text, end));
    i < text.len() && !matches!(text[i], b'\n' | b'\r')
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
/// connection string.
pub fn userinfo_or_key_operator(text: &[u8], start: usize, end: usize) -> bool {
    if &text[start..end] == b"://" {
        userinfo_follows(text, start, end)
    } else {
        key_then_operator(text, start, end)
    }
}

/// `::` inside something that can be an IPv6 address: the letters and digits right
/// before and right after it are hex digits (`fe80::1`, `::ffff:10.1.2.3`, `[::]`);
/// `std::io` and `Foo::bar` are paths.
pub fn ipv6_colons(text: &[u8], start: usize, end: usize) -> bool {
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
    /// `ddd-ddd-dddd` or `ddd.ddd.dddd` somewhere (a NANP number).
    pub nanp_dashed: bool,
    /// 5 when five two-digit groups stand in a row, one space, dot or dash apart (`06
    /// 12 34 56 78`), else 0.
    pub digit_pairs: usize,
    /// `ddd-dd-dddd` somewhere.
    pub ssn_dashed: bool,
    /// A run of exactly eleven digits starting `13`..`19`, or three such digits before
    /// a space or dash (a Chinese mobile number, compact or grouped 3-4-4).
    pub cn_mobile: bool,
    /// The most dots in a run of digits and dots (`10.1.2.3` has 3).
    pub dots_in_number: usize,
    /// The most colons in a run of hex digits, colons and dots (`fe80::1` has 2).
    pub colons_in_hex: usize,
    /// The most dashes in a run of hex digits and dashes (`00-1A-2B-3C-4D-5E` has 5).
    pub dashes_in_hex: usize,
    /// A run of hex digits and dots at least 14 long with two dots or more
    /// (`001a.2b3c.4d5e`).
    pub long_dotted_hex: bool,
    /// Some run of base64 characters (`[A-Za-z0-9+/]`) is exactly 40 long and not all
    /// hex digits (forty hex digits are a commit, not an AWS secret key).
    pub base64_run_of_40: bool,
    /// A `+` right before a digit 1-9.
    pub plus_digit: bool,
    /// Two capital letters that start a word, then two digits (`DE89`).
    pub iban_head: bool,
}

const DIGIT: u8 = 1;
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
        t[b] = k;
        b += 1;
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
            nino_like: false,
            pan_like: false,
            digit_pairs: 0,
            ssn_dashed: false,
            cn_mobile: false,
            dots_in_number: 0,
            colons_in_hex: 0,
            dashes_in_hex: 0,
            long_dotted_hex: false,
            base64_run_of_40: false,
            plus_digit: false,
            iban_head: false,
        };
        // Current runs.
        let (mut grouped, mut card, mut after_digits) = (0usize, 0usize, false);
        let mut zero = 0usize;
        let (mut number_dots, mut hex_colons, mut hex_dashes) = (0usize, 0usize, 0usize);
        let (mut dotted_len, mut dotted_dots, mut base64) = (0usize, 0usize, 0usize);
        let mut base64_hex_only = true;
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let class = CLASS[b as usize];
            if class & ALNUM != 0 {
                let start = i;
                let mut kinds = 0;
                while i < bytes.len() && CLASS[bytes[i] as usize] & ALNUM != 0 {
                    kinds |= CLASS[bytes[i] as usize];
                    i += 1;
                }
                let len = i - start;
                base64 += len;
                base64_hex_only &= kinds & PLAIN_LETTER == 0;
                if class & UPPER != 0 && !s.iban_head && len >= 4 {
                    s.iban_head = CLASS[bytes[start + 1] as usize] & UPPER != 0
                        && bytes[start + 2].is_ascii_digit()
                        && bytes[start + 3].is_ascii_digit();
                }
                if kinds & LETTER == 0 {
                    // All digits.
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
                    dotted_len += len;
                    after_digits = true;
                    continue;
                }
                (grouped, card, after_digits, number_dots) = (0, 0, false, 0);
                zero = 0;
                // The one letter a digit rule takes: a Chinese resident id's check `X`.
                if len >= 18
                    && matches!(bytes[i - 1], b'X' | b'x')
                    && bytes[start..i - 1].iter().all(u8::is_ascii_digit)
                {
                    s.digit_run = s.digit_run.max(len - 1);
                }
                if kinds & PLAIN_LETTER == 0 {
                    // Hex digits: the hex runs go on.
                    dotted_len += len;
                } else {
                    s.long_dotted_hex |= dotted_dots >= 2 && dotted_len >= 14;
                    (hex_colons, hex_dashes, dotted_len, dotted_dots) = (0, 0, 0, 0);
                }
                continue;
            }
            // A byte between tokens.
            if !(after_digits && matches!(b, b' ' | b'-')) {
                (grouped, card, zero) = (0, 0, 0);
            }
            after_digits = false;
            if class & BASE64 != 0 {
                base64 += 1;
                base64_hex_only = false;
            } else {
                s.base64_run_of_40 |= base64 == 40 && !base64_hex_only;
                (base64, base64_hex_only) = (0, true);
            }
            if b != b'.' {
                s.long_dotted_hex |= dotted_dots >= 2 && dotted_len >= 14;
            }
            match b {
                b'.' => {
                    number_dots += 1;
                    dotted_len += 1;
                    dotted_dots += 1;
                    hex_dashes = 0;
                    s.dots_in_number = s.dots_in_number.max(number_dots);
                }
                b':' => {
                    hex_colons += 1;
                    (number_dots, hex_dashes, dotted_len, dotted_dots) = (0, 0, 0, 0);
                    s.colons_in_hex = s.colons_in_hex.max(hex_colons);
                }
                b'-' => {
                    hex_dashes += 1;
                    (number_dots, hex_colons, dotted_len, dotted_dots) = (0, 0, 0, 0);
                    s.dashes_in_hex = s.dashes_in_hex.max(hex_dashes);
                }
                _ => {
                    (number_dots, hex_colons, hex_dashes, dotted_len, dotted_dots) =
                        (0, 0, 0, 0, 0);
                    s.plus_digit |= b == b'+' && matches!(bytes.get(i + 1), Some(b'1'..=b'9'));
                }
            }
            i += 1;
        }
        s.long_dotted_hex |= dotted_dots >= 2 && dotted_len >= 14;
        s.base64_run_of_40 |= base64 == 40 && !base64_hex_only;
        s.nino_like = nino_like(bytes);
        s.pan_like = pan_like(bytes);
        s
    }

    /// The digit run `bytes[end - len..end]` ended, followed by `next` (0 at the end).
    fn end_digit_run(&mut self, bytes: &[u8], end: usize, len: usize, next: u8) {
        self.digit_run = self.digit_run.max(len);
        let run = &bytes[end - len..end];
        let mobile_head = run[0] == b'1' && run.get(1).is_some_and(|d| (b'3'..=b'9').contains(d));
        // Compact, or the first group of 3-4-4 (the next group's four digits and the
        // separator after them checked here).
        let grouped = len == 3
            && matches!(next, b' ' | b'-')
            && bytes.len() >= end + 10
            && bytes[end + 1..end + 5].iter().all(u8::is_ascii_digit)
            && bytes[end + 5] == next
            && bytes[end + 6..end + 10].iter().all(u8::is_ascii_digit);
        if mobile_head && (len == 11 || grouped) {
            self.cn_mobile = true;
        }
        let digit = |i: usize| bytes[i].is_ascii_digit();
        // `ddd-ddd-dddd` / `ddd.ddd.dddd`: this run is the last four.
        if len == 4 && end >= 12 && !self.nanp_dashed {
            let sep = bytes[end - 5];
            self.nanp_dashed = matches!(sep, b'-' | b'.')
                && bytes[end - 9] == sep
                && (end - 12..end - 9).all(digit)
                && (end - 8..end - 5).all(digit)
                && (end == 12 || !digit(end - 13));
        }
        // Pairs: this run is the last of five two-digit groups (`06 12 34 56 78`).
        if len == 2 && end >= 14 && self.digit_pairs < 5 {
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
        // `ddd-dd-dddd`: this run is the last four, two dashes back.
        if len == 4 && end >= 11 {
            let s = &bytes[end - 11..end - 4];
            self.ssn_dashed |= s[3] == b'-'
                && s[6] == b'-'
                && s[..3].iter().chain(&s[4..6]).all(u8::is_ascii_digit);
        }
    }
}

/// `AB123456C` or `AB 12 34 56 C`: at each capital pair starting a word.
fn nino_like(b: &[u8]) -> bool {
    (0..b.len().saturating_sub(8)).any(|i| {
        (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && b[i].is_ascii_uppercase()
            && b[i + 1].is_ascii_uppercase()
            && {
                let rest: Vec<u8> = b[i + 2..]
                    .iter()
                    .take(12)
                    .copied()
                    .filter(|c| *c != b' ')
                    .collect();
                rest.len() >= 7
                    && rest[..6].iter().all(u8::is_ascii_digit)
                    && rest[6].is_ascii_uppercase()
            }
    })
}

/// `ABCPE1234F`: five capitals, four digits, a capital.
fn pan_like(b: &[u8]) -> bool {
    b.windows(10).enumerate().any(|(i, w)| {
        (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && w[..5].iter().all(u8::is_ascii_uppercase)
            && w[5..9].iter().all(u8::is_ascii_digit)
            && w[9].is_ascii_uppercase()
    })
}

/// Whether some `key=` / `key:` pair in the text has a key the policy calls sensitive:
/// the `sensitive-key` rule's trigger. The key is found as that rule's regex finds it:
/// the run of `[A-Za-z0-9_.-]` before the operator, past spaces, a quote and a
/// backslash.
pub fn has_sensitive_pair(s: &Shape<'_>) -> bool {
    let bytes = s.text.as_bytes();
    let is_key = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-');
    let default_keys = s.policy.has_default_keys();
    memchr::memchr2_iter(b'=', b':', bytes).any(|op| {
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
        let mut start = end;
        while start > 0 && is_key(bytes[start - 1]) {
            start -= 1;
        }
        // The regex takes at most 64 key characters after a non-key character.
        start < end && end - start <= 64 && s.policy.key_is_sensitive(&s.text[start..end])
    })
}

/// Whether a key ending in `tail` (three bytes) can be one of the default sensitive
/// keys (`policy::DEFAULT_SENSITIVE_KEYS`): the last three letters of each of them.
fn default_key_tail(tail: &[u8]) -> bool {
    const TAILS: &[&[u8; 3]] = &[
        b"ass", b"ord", b"swd", b"ase", b"ode", b"pwd", b"ret", b"ken", b"ial", b"als", b"uth",
        b"ion", b"nid", b"_id", b"-id", b"kie", b"key", b"api",
    ];
    let t = [
        tail[0].to_ascii_lowercase(),
        tail[1].to_ascii_lowercase(),
        tail[2].to_ascii_lowercase(),
    ];
    TAILS.iter().any(|x| **x == t)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(shape("06 12 34 56 78").digit_pairs, 5);
        assert_eq!(shape("v 15.42.88.37").digit_pairs, 0);
        assert_eq!(shape("at 12:34:56").digit_pairs, 0);
        assert_eq!(s.dots_in_number, 3);
        assert_eq!(shape("123-45-6789").grouped_digits, 9);
        assert_eq!(shape("1 -2").grouped_digits, 1);
        assert_eq!(shape("version 1.2.3").dots_in_number, 2);
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
        assert!(shape("hw 001a.2b3c.4d5e").long_dotted_hex);
        assert!(shape("001a.2b3c.4d5e").long_dotted_hex);
        assert!(shape("hw 001a.2b3c.4d5e up").long_dotted_hex);
        assert!(!shape("version 1.2.3.4").long_dotted_hex);
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
        TABLE.scan(b"a GHP_x glpat-y b@c std::io KEYWORD", |uses, s, end| {
            for u in uses {
                seen.push((u.rule, s, end))
            }
        });
        seen.sort();
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
