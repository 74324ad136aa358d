//! Phone numbers as people write them: national formats with parentheses, spaces,
//! dots and dashes, extensions (`ext. 215`, `x215`), and international ones with `+`,
//! `00` or `011`. A candidate is checked against the numbering plans of Google's
//! libphonenumber (its metadata, Apache-2.0: `data/phone/plans.tsv`, made by
//! `scripts/eval/phone_plans.py`): the country code, the national prefix, the possible
//! lengths and the pattern of a national number. National formats are checked against
//! the plans of the US and Canada, the UK, Germany, France, India, China, Japan,
//! Brazil and Australia (and a few more); international ones against every plan.
//!
//! What keeps versions, timestamps, ports, ids and amounts out: a national number must
//! be grouped the way phone numbers are (parentheses around an area code, a trunk
//! prefix `0`, `ddd-ddd-dddd`, pairs), or follow a word that says it is a phone
//! (`tel`, `call`, `mobile`, `phone`, `电话`, ...); dotted quads, dates and versions are
//! refused by shape; and a bare run of digits counts only after such a word.

use super::prefilter::{Shape, Trigger};
use super::{Candidate, Category::Contact, Examples, Rule};
use regex::Regex;
use std::sync::OnceLock;

/// Words after which a number is a phone number (ASCII case-insensitively), as a
/// macro so the national rule's list can extend it (const slices do not concatenate).
macro_rules! phone_words_before {
    ($($more:literal),*) => {
        &[
            "phone",
            "tel.",
            "tel:",
            "tel ",
            "call",
            "mobile",
            "cell",
            "fax",
            "sms",
            "whatsapp",
            "contact",
            "reach",
            "dial",
            "telefon",
            "téléphone",
            "portable",
            "celular",
            "telefone",
            "handy",
            "móvil",
            "movil",
            "number is",
            // `callback` alone names a function in code (`callback 2 of 3`); with
            // `number` after it, a phone number follows.
            "callback number",
            "call-back number",
            "电话",
            "手机",
            "電話",
            "携帯",
            "联系"
            $(, $more)*
        ]
    };
}

/// Words after which a number is a phone number, and the trigger of the national rule
/// (with the shapes below).
const PHONE_WORDS: &[&str] = phone_words_before!();

/// Words after a number that make it a phone number (`… 2671 (office)`); the trigger
/// looks for a digit right before them.
const PHONE_WORDS_AFTER: &[&str] = &[
    "office", "fax", "mobile", "cell", "home", "work", "tel", "phone", "landline",
];

/// The national rule's trigger words: those before a number and those after one.
const NATIONAL_WORDS: &[&str] = phone_words_before!("office", "home", "work", "tel", "landline");

/// One numbering plan: a region of libphonenumber's metadata.
pub struct Plan {
    pub region: &'static str,
    pub country_code: u16,
    pub national_prefix: &'static str,
    lengths: Vec<u8>,
    pattern: &'static str,
    regex: OnceLock<Option<Regex>>,
}

impl Plan {
    /// Whether `national` (digits only, no trunk prefix) is a number of this plan.
    pub fn accepts(&self, national: &str) -> bool {
        let len = national.len();
        if !self.lengths.iter().any(|&l| usize::from(l) == len) {
            return false;
        }
        self.regex
            .get_or_init(|| Regex::new(&format!("^(?:{})$", self.pattern)).ok())
            .as_ref()
            .is_some_and(|re| re.is_match(national))
    }
}

/// Every plan of the table, parsed the first time a phone candidate needs one.
pub fn plans() -> &'static [Plan] {
    static PLANS: OnceLock<Vec<Plan>> = OnceLock::new();
    PLANS.get_or_init(|| {
        include_str!("../../data/phone/plans.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let mut f = l.split('\t');
                let (region, cc, prefix, lengths, pattern) =
                    (f.next()?, f.next()?, f.next()?, f.next()?, f.next()?);
                Some(Plan {
                    region,
                    country_code: cc.parse().ok()?,
                    national_prefix: prefix,
                    lengths: lengths.split(',').filter_map(|n| n.parse().ok()).collect(),
                    pattern,
                    regex: OnceLock::new(),
                })
            })
            .collect()
    })
}

/// The regions whose national formats a number without a country code is checked
/// against.
const NATIONAL_REGIONS: &[&str] = &[
    "US", "CA", "GB", "DE", "FR", "IN", "CN", "JP", "BR", "AU", "ES", "IT", "NL", "MX", "KR",
];

/// Whether `digits` (with its country code) is a number of some plan: the country
/// code is one to three digits, the rest a national number of that country (the
/// national prefix, a `0` some write as `(0)` after the code, dropped).
pub fn international_ok(digits: &str) -> bool {
    if !(7..=15).contains(&digits.len()) {
        return false;
    }
    let mut known_code = false;
    for cc_len in 1..=3 {
        let Ok(cc) = digits[..cc_len].parse::<u16>() else {
            continue;
        };
        let national = &digits[cc_len..];
        for plan in plans().iter().filter(|p| p.country_code == cc) {
            known_code = true;
            if plan.accepts(national) {
                return true;
            }
            if let Some(rest) = national.strip_prefix(plan.national_prefix) {
                if !plan.national_prefix.is_empty() && plan.accepts(rest) {
                    return true;
                }
            }
        }
    }
    // A code no plan knows: the E.164 length alone.
    !known_code && (8..=15).contains(&digits.len())
}

/// Whether `digits` (as written, trunk prefix included) is a national number of one of
/// `NATIONAL_REGIONS`.
pub fn national_ok(digits: &str) -> bool {
    plans()
        .iter()
        .filter(|p| NATIONAL_REGIONS.contains(&p.region))
        .any(|p| {
            let bare = p.accepts(digits)
                && (p.national_prefix.is_empty()
                    || p.region == "US"
                    || p.region == "CA"
                    || !digits.starts_with(p.national_prefix));
            let with_prefix = !p.national_prefix.is_empty()
                && digits
                    .strip_prefix(p.national_prefix)
                    .is_some_and(|rest| p.accepts(rest));
            bare || with_prefix
        })
}

/// A candidate split into its number and extension: the digits of the number, the
/// lengths of its digit groups, whether the first group was in parentheses, and the
/// separators used.
struct Written {
    digits: String,
    groups: Vec<usize>,
    paren_first: bool,
    separators: Vec<u8>,
}

fn written(value: &str) -> Written {
    // Drop the extension: `ext. 215`, `x215`, `#215`, `extension 215`.
    // The first of `ext`, `x` (either case), `#` or `доб` after a digit, found in one
    // pass over the bytes (no lower-case copy, no searcher per marker).
    let bytes = value.as_bytes();
    let cut = (bytes.iter().position(u8::is_ascii_digit))
        .and_then(|digit| {
            (digit + 1..bytes.len()).find(|&i| {
                let rest = &bytes[i..];
                matches!(rest[0], b'x' | b'X' | b'#')
                    || rest
                        .get(..3)
                        .is_some_and(|w| w.eq_ignore_ascii_case(b"ext"))
                    || rest.starts_with("доб".as_bytes())
            })
        })
        .unwrap_or(value.len());
    let number = value[..cut].trim_end();
    let mut w = Written {
        digits: String::new(),
        groups: Vec::new(),
        paren_first: false,
        separators: Vec::new(),
    };
    let mut run = 0;
    for (i, b) in number.bytes().enumerate() {
        if b.is_ascii_digit() {
            w.digits.push(b as char);
            run += 1;
            continue;
        }
        if run > 0 {
            w.groups.push(run);
            run = 0;
        }
        if b == b'(' && w.groups.is_empty() && number[i..].contains(')') {
            w.paren_first = true;
        }
        if matches!(b, b' ' | b'-' | b'.' | b'/') && !w.separators.contains(&b) {
            w.separators.push(b);
        }
    }
    if run > 0 {
        w.groups.push(run);
    }
    w
}

/// A word after a number that says it is a phone's (`… office`, `… fax`).
fn phone_word_after(after: &str) -> bool {
    let a = after
        .trim_start_matches([' ', '\t', '(', '[', ','])
        .to_ascii_lowercase();
    PHONE_WORDS_AFTER.iter().any(|w| {
        a.starts_with(w)
            && !a[w.len()..]
                .chars()
                .next()
                .is_some_and(char::is_alphanumeric)
    })
}

/// A phone word within the 40 bytes before the candidate, as a word of its own (not
/// `callback`, `cancelled`): the same test as the trigger's.
fn phone_context(before: &str) -> bool {
    // The first bytes of the words (both cases): most positions start none, and are
    // passed over with one look-up instead of a comparison per word.
    static FIRST: [bool; 256] = {
        let mut t = [false; 256];
        let mut k = 0;
        while k < PHONE_WORDS.len() {
            let c = PHONE_WORDS[k].as_bytes()[0];
            t[c.to_ascii_lowercase() as usize] = true;
            t[c.to_ascii_uppercase() as usize] = true;
            k += 1;
        }
        t
    };
    let b = before.as_bytes();
    (0..b.len()).filter(|&i| FIRST[usize::from(b[i])]).any(|i| {
        PHONE_WORDS.iter().any(|w| {
            let w = w.trim_end().as_bytes();
            i + w.len() <= b.len()
                && b[i..i + w.len()].eq_ignore_ascii_case(w)
                && phone_word_at(b, i, i + w.len())
        })
    })
}

/// A phone word at `start..end` stands as a word: no letter right before it, and at
/// most one or two letters after it (`phones`, `calls`, `called` are; `callback`,
/// `cancelled` are not). CJK words stand anywhere.
fn phone_word_at(text: &[u8], start: usize, end: usize) -> bool {
    if text[start] >= 0x80 {
        return true;
    }
    let escaped_break =
        start >= 2 && text[start - 2] == b'\\' && matches!(text[start - 1], b'n' | b'r' | b't');
    let before_ok = start == 0 || !text[start - 1].is_ascii_alphabetic() || escaped_break;
    let tail = text[end.min(text.len())..]
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    before_ok && tail <= 2
}

/// The trigger's test: a phone word standing as a word, with a digit within the 40
/// bytes after it (the validator looks 40 bytes back from a number for the word).
fn phone_word_near(text: &[u8], start: usize, end: usize) -> bool {
    let lit = &text[start..end];
    let is = |words: &[&str]| words.iter().any(|w| lit.eq_ignore_ascii_case(w.as_bytes()));
    // The word lists are read only where the word stands as a word, and the list of
    // words after a number only where no letter follows and a digit stands before
    // (each part is a test without side effects: the order changes only the cost).
    phone_word_at(text, start, end)
        && (is(PHONE_WORDS)
            && text[end.min(text.len())..]
                .iter()
                .take(40)
                .any(u8::is_ascii_digit)
            || !text.get(end).is_some_and(u8::is_ascii_alphabetic)
                && text[start.saturating_sub(16)..start]
                    .iter()
                    .any(u8::is_ascii_digit)
                && is(PHONE_WORDS_AFTER)
                && number_just_before(text, start, end - start))
}

/// A number (its last digit, or the `)` after an area code's digits) ends right before the word of
/// `word_len` bytes at `start`, with only spaces, tabs, `(`, `[` and `,` between, so
/// that the validator's sixteen-byte look after the number (`phone_word_after`)
/// reaches the word's end: `… 2671 (office)`, not `74297039 bytes), phone_verified`.
fn number_just_before(text: &[u8], start: usize, word_len: usize) -> bool {
    let gap = text[..start]
        .iter()
        .rev()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'(' | b'[' | b','))
        .count();
    let Some(last) = start.checked_sub(gap + 1) else {
        return false;
    };
    let digit_at = |i: usize| text[i].is_ascii_digit();
    gap + word_len <= 16 && (digit_at(last) || text[last] == b')' && last > 0 && digit_at(last - 1))
}

/// What the candidate is not, whatever follows: a dotted quad, a date, a version.
fn not_a_number_of_another_kind(w: &Written, value: &str) -> bool {
    let dots = w.separators.contains(&b'.');
    // `10.20.30.40`, `1.2.3`, `10.0.19041.1`: dotted groups that are not pairs or
    // a NANP `ddd.ddd.dddd`.
    if dots {
        let pairs = w.groups.len() == 5 && w.groups.iter().all(|&g| g == 2);
        let nanp = w.groups == [3, 3, 4] || w.groups == [1, 3, 3, 4];
        if !(pairs || nanp || w.paren_first) {
            return true;
        }
    }
    // Dates, and dates with a time after them: 2024-05-01, 01/05/2024, 2024/05/01 12.
    let g = &w.groups;
    let date = g.len() >= 3
        && (g[..3] == [4, 2, 2] || g[..3] == [2, 2, 4])
        && value
            .bytes()
            .filter(|b| matches!(b, b'-' | b'/' | b'.'))
            .count()
            >= 2;
    if date {
        return true;
    }
    // A social security number's shape.
    if w.groups == [3, 2, 4] {
        return true;
    }
    // One digit over and over (`0000 0000`), or nothing but a counting run
    // (`0123456789`, `1234 5678 90`). A number that only holds one (`01512 3456789`,
    // the plans' own example numbers, which people copy into forms) is still a number.
    let d = w.digits.as_bytes();
    if d.iter().all(|b| *b == d[0]) || d.windows(2).all(|p| p[1] == b'0' + (p[0] - b'0' + 1) % 10) {
        return true;
    }
    // A range or a ratio written with a slash and small groups (`3/4`, `10/100`).
    if w.separators.contains(&b'/') && w.groups.len() == 2 && w.groups.iter().all(|&g| g <= 3) {
        return true;
    }
    let _ = value;
    false
}

/// The national rule's validator.
pub fn phone_national(c: &Candidate<'_>) -> bool {
    let value = c.value();
    // Most candidates are short numbers (`8004`, `200`): fewer than seven digits in
    // all can leave no seven in the number, so they go before anything is allocated.
    if value.bytes().filter(u8::is_ascii_digit).count() < 7 {
        return false;
    }
    let w = written(value);
    let n = w.digits.len();
    if !(7..=13).contains(&n)
        || not_a_number_of_another_kind(&w, value) && !written_as_a_phone_after_a_word(&w, c)
    {
        return false;
    }
    // Glued to something numeric or to a `+` (the international rule's).
    let before = c.before(40);
    if before.ends_with(['+', '.', ':', '/', '-', '_', '$', '€', '£', '#', '='])
        && !before.ends_with(": ")
        && !before.trim_end().ends_with([':', '='])
    {
        return false;
    }
    let context = phone_context(before) || phone_word_after(c.after(16));
    let groups = w.groups.len();
    let digits = w.digits.as_str();
    // NANP: (415) 555-2671, 415-555-2671, 415.555.2671, 1-415-555-2671.
    let nanp_shape = w.groups == [3, 3, 4] || w.groups == [1, 3, 3, 4] && digits.starts_with('1');
    if nanp_shape && w.separators.len() <= 2 {
        let national = if n == 11 { &digits[1..] } else { digits };
        let area_ok = national.as_bytes()[0] >= b'2';
        return area_ok || context;
    }
    // Grouped with a trunk prefix or an area code in parentheses, or in pairs, or a
    // Brazilian / Indian mobile grouping; checked against the plans.
    let pairs = w.groups.len() == 5 && w.groups.iter().all(|&g| g == 2) && w.separators.len() == 1;
    // Without a phone word, the groups stand one space, dash or dot apart (the shapes
    // the trigger looks for).
    let phone_like = groups >= 2
        && single_separators(value)
        && !super::validate::version_context(before)
        && (digits.starts_with('0') && n >= 9
            || w.paren_first
            || pairs
            || w.groups == [5, 5]
            || w.groups == [2, 5, 4]
            || w.groups == [2, 4, 4]);
    if phone_like && national_ok(digits) {
        return true;
    }
    // Otherwise only after a phone word: grouped numbers of a plausible length, and
    // runs of digits that a plan accepts.
    context && ((groups >= 2 && n >= 8) || national_ok(digits) || international_ok(digits))
}

/// Shapes `not_a_number_of_another_kind` turns away that are a phone number's when a
/// phone word stands before or after them and a plan accepts the digits: dotted
/// groups after a trunk `0` (`callback number 0446.479.519`: no version or address
/// starts so), and a counting run written in groups (`call 01 23 45 67 89`, the
/// example number people type into forms; `phone: 0123456789` stays).
fn written_as_a_phone_after_a_word(w: &Written, c: &Candidate<'_>) -> bool {
    let d = w.digits.as_bytes();
    let zero_dotted = w.separators == [b'.']
        && d.first() == Some(&b'0')
        && w.groups.len() >= 3
        && w.groups[0] >= 2
        && d.len() >= 9
        && !w.paren_first;
    let counting_grouped = w.groups.len() >= 4
        && w.separators == [b' ']
        && d.len() >= 2
        && d[0] != d[1]
        && d.windows(2).all(|p| p[1] == b'0' + (p[0] - b'0' + 1) % 10);
    (zero_dotted || counting_grouped)
        && national_ok(&w.digits)
        && (phone_context(c.before(40)) || phone_word_after(c.after(16)))
}

/// Between the groups of `value` (its extension aside), one space, dash or dot; an
/// area code in parentheses may have a space after it.
fn single_separators(value: &str) -> bool {
    let b = value.as_bytes();
    let end = b
        .iter()
        .position(|c| matches!(c, b'x' | b'X' | b'#' | b'e' | b'E'))
        .unwrap_or(b.len());
    let b = &b[..end];
    let b = b.strip_suffix(b" ").unwrap_or(b);
    b.windows(2).all(|w| {
        w[0].is_ascii_digit()
            || w[1].is_ascii_digit()
            || w[0] == b')' && w[1] == b' '
            || w[0] == b'('
            || w[1] == b'('
    }) && !b.contains(&b'/')
}

/// The `+` rule's validator: a country code a plan knows and a national number of
/// that plan, or an unknown code and an E.164 length.
pub fn phone_e164(c: &Candidate<'_>) -> bool {
    if c.char_after().is_some_and(|ch| ch.is_ascii_digit()) {
        return false;
    }
    let w = written(c.value());
    let mut digits = w.digits;
    // `+44 (0)20 7946 0958`: the `(0)` is the national prefix, written for callers
    // at home.
    if let Some(i) = c.value().find("(0)") {
        let zeros_before = c.value()[..i].bytes().filter(u8::is_ascii_digit).count();
        if zeros_before <= 3 && digits.len() > zeros_before {
            digits.remove(zeros_before);
        }
    }
    // A number of some other kind may follow the phone number in the same run
    // (`+33 6 06 02 97 27 0`): the number without its last groups counts too.
    // A number no plan accepts (a length off by one, as forms and generators write
    // them) still counts with a phone word before or after it (`+4428 9018632
    // office`, `contact_phone=+44(0)29 2018043`).
    let near_word = || phone_context(c.before(40)) || phone_word_after(c.after(16));
    international_ok(&digits) || (9..=15).contains(&digits.len()) && near_word() || {
        let mut ok = false;
        let mut kept = digits.len();
        for g in w.groups.iter().rev().take(2) {
            kept = kept.saturating_sub(*g);
            if kept >= 8 && international_ok(&digits[..kept]) {
                ok = true;
                break;
            }
        }
        ok
    }
}

/// The international rule (`00` or `011` instead of `+`).
pub fn phone_intl_prefix(c: &Candidate<'_>) -> bool {
    let w = written(c.value());
    let digits = w
        .digits
        .strip_prefix("011")
        .or_else(|| w.digits.strip_prefix("00"))
        .unwrap_or(&w.digits);
    w.groups.len() >= 2 && international_ok(digits)
}

/// `(`, two to five digits, `)`, maybe a space, and three digits or more: an area
/// code (`(415) 555-2671`), not `(200)` or `(pid 42)`.
fn paren_area(text: &[u8]) -> bool {
    memchr::memchr_iter(b'(', text).any(|i| {
        let digits = text[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        let mut j = i + 1 + digits;
        if !(2..=5).contains(&digits) || text.get(j) != Some(&b')') {
            return false;
        }
        j += 1;
        while matches!(text.get(j), Some(b' ' | b'-')) {
            j += 1;
        }
        text[j.min(text.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
            >= 3
    })
}

/// The national rule's shape: a grouped run of digits that starts with `0` and has at
/// least nine digits, `ddd-ddd-dddd`, an area code in parentheses, or pairs.
fn national_shape(s: &Shape<'_>) -> bool {
    s.zero_grouped_digits >= 9
        || s.nanp_dashed
        || s.digit_pairs >= 4
        || s.phone_groups
        || s.parens() && paren_area(s.text.as_bytes())
        || s.breaks() && digit_after_escape(s.text.as_bytes())
}

/// A digit right after a written-out `\n`, `\r` or `\t` (a JSON string's line
/// break before `07700 900123`). The shape pass reads `n07700` as one word, so none of
/// its digit-group facts describe the number; the pattern takes the escape as a
/// boundary, and its validator judges the number.
fn digit_after_escape(b: &[u8]) -> bool {
    memchr::memchr_iter(b'\\', b).any(|i| {
        matches!(b.get(i + 1), Some(b'n' | b'r' | b't')) && b.get(i + 2).is_some_and(u8::is_ascii_digit)
    })
}

pub const RULES: &[Rule] = &[
    Rule {
        name: "phone-national",
        category: Contact,
        trigger: Trigger {
            literals: NATIONAL_WORDS,
            near: Some(phone_word_near),
            shape: Some(national_shape),
        },
        // `\n` written out (a JSON string's escaped line break) stands before a number
        // like a real one.
        pattern: r"(?:^|[^0-9A-Za-z_]|\\[nrt])(?P<v>(?:\([0-9]{1,5}\)|[0-9]{1,13})(?:[ .\-/]{0,2}(?:\([0-9]{1,5}\)|[0-9]{1,8})){0,5}(?:[ ]?(?:ext\.?|x|#|extension)[ ]?[0-9]{1,6})?)(?:[^0-9A-Za-z_]|\\[nrt]|$)",
        validate: Some(phone_national),
        examples: Examples {
            masks: &[
                "call «(415) 555-2671» now",
                "tel «415-555-2671 ext. 215»",
                "«415.555.2671»",
                "office «020 7946 0958»",
                "«07700 900123»",
                "Telefon «030 12345678»",
                "«(030) 1234567»",
                "portable «06 12 34 56 78»",
                "«01 42 68 53 00»",
                "mobile «98765 43210»",
                "«010-12345678»",
                "«03-1234-5678»",
                "«090-1234-5678»",
                "«(11) 91234-5678»",
                "«(02) 1234 5678»",
                "«0412 345 678»",
                "my number is «4155552671»",
                "callback number «6045550187» confirmed",
                "reached us from «01512 3456789», ext. 215",
                // Dotted groups after a trunk `0`, and a counting run in groups,
                // after a phone word.
                "mobile «0412.345.678»",
                "call me on «01 23 45 67 89»",
            ],
            keeps: &[
                "released 2024-05-01 at 12:34:56",
                "version 10.0.19041.1 and 1.2.3",
                "from 192.168.100.200:8080",
                "took 1234 ms, 5678 bytes",
                "order 123456789012 shipped",
                "amount 1,234,567.89 EUR",
                "uuid 123e4567-e89b-12d3-a456-426614174000",
                "epoch 1712345678 1712345678901",
                "pod api-5d8f7c9b4-x2k9p",
                "page 3/4 and 10/100",
                "listening on port 8080 pid 4242",
                "callback 1712345678 fired",
                "phone: 0123456789",
                "mobile app 0.12.345.6789 released",
                "build 0412.345.678 done",
                "01 23 45 67 89 rows",
            ],
        },
    },
    Rule {
        name: "phone-international",
        category: Contact,
        trigger: Trigger::shape(|s| s.zero_grouped_digits >= 9),
        pattern: r"(?:^|[^0-9A-Za-z_+])(?P<v>(?:00|011)[ \-]?[1-9][0-9]{0,3}(?:[ .\-]?(?:\([0-9]{1,5}\)|[0-9]{1,8})){1,6}(?:[ ]?(?:ext\.?|x|#)[ ]?[0-9]{1,6})?)(?:[^0-9A-Za-z_]|$)",
        validate: Some(phone_intl_prefix),
        examples: Examples {
            masks: &[
                "«0044 20 7946 0958»",
                "«011 49 30 12345678»",
                "«0033 1 23 45 67 89»",
            ],
            keeps: &["0044 and 0049"],
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_load_and_accept_their_examples() {
        assert!(plans().len() > 200);
        assert!(international_ok("14155552671"));
        assert!(international_ok("442079460958"));
        assert!(international_ok("4915123456789"));
        assert!(international_ok("8613812345678"));
        assert!(!international_ok("1415555267"));
        assert!(national_ok("02079460958"));
        assert!(national_ok("0612345678"));
        assert!(national_ok("4155552671"));
        assert!(!national_ok("12"));
    }

    #[test]
    fn an_after_word_counts_right_after_a_number() {
        let near = |text: &str, word: &str| {
            let start = text.find(word).expect("word in text");
            phone_word_near(text.as_bytes(), start, start + word.len())
        };
        assert!(near("415-555-2671 (office)", "office"));
        assert!(near("call (030) phone", "phone"));
        assert!(near("0612345678, mobile", "mobile"));
        assert!(!near("74297039 bytes), phone_verified=false", "phone"));
        assert!(!near("(44992 records) phone", "phone"));
    }
}
