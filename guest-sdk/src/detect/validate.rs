//! Validators: plain functions that confirm or reject a candidate a rule's regex found.
//! Regexes find shapes; these check what a shape cannot: check digits, the range a
//! number falls in, the words around it. Each returns `true` to mask.

use super::Candidate;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The Luhn (mod 10) check over ASCII digits; anything else fails.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0u32;
    let mut double = false;
    for b in digits.bytes().rev() {
        if !b.is_ascii_digit() {
            return false;
        }
        let mut d = u32::from(b - b'0');
        if double {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
        double = !double;
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// A payment card number: 13-19 digits, a known issuer prefix with a length that
/// issuer uses, consistent grouping and the Luhn check. The issuer check keeps epoch
/// timestamps (which start with 1) and most ids out even though one in ten random
/// numbers passes Luhn.
///
/// A grouped candidate may take in a number before or after the card (`4111 1111 1111
/// 1111 12/25`, a card and its expiry; `0 4019-4265-1225-2568`; found by the property
/// tests): then a run of its groups that is a card makes it one, and the whole
/// candidate is masked.
pub fn card_number(c: &Candidate<'_>) -> bool {
    let value = c.value();
    // The words before it are read only when the digits alone do not decide.
    let context = || card_context(c.before(40));
    if !value.contains([' ', '-']) {
        return card_digits(value.as_bytes()) || context_card(value) && context();
    }
    // With a card word before it: any grouping of 12 to 19 digits, one kind of
    // separator, and no Luhn check (the words say it is a card).
    if !(value.contains(' ') && value.contains('-')) && context_card(value) && context() {
        return true;
    }
    let groups: Vec<&str> = value.split([' ', '-']).collect();
    // Byte offset of each group in `value`.
    let offsets: Vec<usize> = (groups.iter())
        .scan(0, |at, g| {
            let here = *at;
            *at += g.len() + 1;
            Some(here)
        })
        .collect();
    (0..groups.len()).any(|first| {
        // No issuer starts with 0, 7, 8 or 9; 1 only JCB's 1800 (most candidates
        // starting with 1 are timestamps).
        let head = groups[first].as_bytes();
        (matches!(head[0], b'2'..=b'6') || head.starts_with(b"18"))
            && (first + 1..=groups.len()).rev().any(|end| {
                card_groups(
                    &value[offsets[first]..offsets[end - 1] + groups[end - 1].len()],
                    &groups[first..end],
                )
            })
    })
}

/// Whether a card word stands in the text right before a number (`card #`, `credit
/// card number is`, `cc`, `Visa`).
pub fn card_context(before: &str) -> bool {
    // `cc` and `pan` only as words.
    contains_word(before, super::rules::CARD_WORDS, true, |w| {
        w.trim_end_matches([' ', '#', ':']).len() <= 3
    })
}

/// Whether one of `words` stands in `hay` (case-insensitively) at the start of a word,
/// and, for the words `whole` picks, at the end of one too. With `trim`, trailing ` `,
/// `#` and `:` of a word are not looked for (`cc:` is the word `cc`). ASCII text, the
/// usual case, is searched in place; other text in lower case.
pub(crate) fn contains_word(
    hay: &str,
    words: &[&str],
    trim: bool,
    whole: fn(&str) -> bool,
) -> bool {
    if !hay.is_ascii() {
        return contains_word_in(&hay.to_lowercase(), words, trim, whole);
    }
    contains_word_in(hay, words, trim, whole)
}

fn contains_word_in(hay: &str, words: &[&str], trim: bool, whole: fn(&str) -> bool) -> bool {
    let h = hay.as_bytes();
    // The first bytes of the words, a bit each: a word start whose byte starts none is
    // passed over with one test instead of one per word (the first test below).
    let mut firsts = [0u64; 4];
    for word in words {
        if let Some(&b) = word.as_bytes().first() {
            firsts[usize::from(b / 64)] |= 1 << (b % 64);
        }
    }
    let mut prev_alnum = false;
    for (i, ch) in hay.char_indices() {
        // Only where a word starts.
        let starts = !prev_alnum;
        prev_alnum = ch.is_alphanumeric();
        if !starts {
            continue;
        }
        let first = h[i].to_ascii_lowercase();
        if firsts[usize::from(first / 64)] >> (first % 64) & 1 == 0 {
            continue;
        }
        let found = words.iter().any(|word| {
            // The first byte first: most words fail there, before any trimming.
            if word.as_bytes().first() != Some(&first) {
                return false;
            }
            let w = if trim {
                word.trim_end_matches([' ', '#', ':'])
            } else {
                word
            }
            .as_bytes();
            h.len() - i >= w.len()
                && h[i..i + w.len()].eq_ignore_ascii_case(w)
                && (!whole(word)
                    || !hay[i + w.len()..]
                        .chars()
                        .next()
                        .is_some_and(char::is_alphanumeric))
        });
        if found {
            return true;
        }
    }
    false
}

/// After a card word: 12 to 19 digits, not a date or a phone number's shape, and
/// not one digit over and over.
fn context_card(value: &str) -> bool {
    let mut buf = [0u8; 19];
    let mut n = 0;
    for b in value.bytes().filter(u8::is_ascii_digit) {
        if n == buf.len() {
            return false;
        }
        buf[n] = b;
        n += 1;
    }
    let digits = &buf[..n];
    let as_str = std::str::from_utf8(digits).unwrap_or_default();
    n >= 12 && !digits.iter().all(|d| *d == digits[0]) && !(n == 18 && is_cn_resident_id(as_str))
}

/// `text` (the groups `groups` and their separators) is a card: one kind of separator,
/// card-like groups (4-4-4-4(-3), Amex 4-6-5, Diners 4-6-4, or one compact run) and
/// card digits.
fn card_groups(text: &str, groups: &[&str]) -> bool {
    let k = groups.len();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    // One kind of separator, groups of three to six digits (the last one to four
    // shorter): 4-4-4-4, 4-6-5, 6-4-6, 4-4-4-3, 3-4-4-4-1 all occur.
    let grouping = k == 1
        || !(text.contains(' ') && text.contains('-'))
            && lens[..k - 1].iter().all(|&g| (3..=6).contains(&g))
            && (1..=6).contains(&lens[k - 1]);
    if !grouping {
        return false;
    }
    let mut buf = [0u8; 19];
    let mut n = 0;
    for b in text.bytes().filter(u8::is_ascii_digit) {
        if n == buf.len() {
            return false;
        }
        buf[n] = b;
        n += 1;
    }
    card_digits(&buf[..n])
}

/// The digits of a card: issuer, length, Luhn, and not a Chinese resident id.
fn card_digits(d: &[u8]) -> bool {
    let len = d.len();
    if !(13..=19).contains(&len) || !d.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let digits = std::str::from_utf8(d).unwrap_or_default();
    let issuer_ok = match (d[0], d[1]) {
        (b'4', _) => matches!(len, 13 | 16 | 19),
        // Mastercard 2221-2720.
        (b'2', b'1') | (b'1', b'8') => {
            len == 15 && (digits.starts_with("2131") || digits.starts_with("1800"))
        }
        (b'2', _) => len == 16 && ("2221".."2721").contains(&&digits[..4]),
        // Mastercard, Maestro.
        (b'5', _) => (16..=19).contains(&len),
        // Discover, UnionPay, Maestro.
        (b'6', _) => (16..=19).contains(&len),
        // American Express.
        (b'3', b'4' | b'7') => len == 15,
        // JCB (its older 15-digit numbers, 2131 and 1800, are above).
        (b'3', b'5') => (16..=19).contains(&len),
        // Diners Club.
        (b'3', b'0' | b'6' | b'8' | b'9') => (14..=19).contains(&len),
        _ => false,
    };
    // An 18-digit run that is a valid Chinese resident id (birth date and check
    // character) is that id; one in ten of them also passes Luhn.
    issuer_ok && luhn(digits) && !(len == 18 && is_cn_resident_id(digits))
}

/// IBAN length per country (ISO 13616 registry); unknown countries are rejected so
/// that two letters and two digits in front of a long code are not enough.
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NL", 18),
    ("NO", 15),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("SA", 24),
    ("SC", 31),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
];

/// An IBAN: the country's length and the ISO 7064 mod-97 check (remainder 1).
///
/// The candidate may run on into a short word after the IBAN (`AT45 5222 5175 5209
/// 4126 0`, found by the property tests): the country's length, counted from the
/// start, must end at a space or at the end, and the whole candidate is masked.
pub fn iban(c: &Candidate<'_>) -> bool {
    let value = c.value();
    let compact: String = value.chars().filter(|ch| *ch != ' ').collect();
    let known = IBAN_LENGTHS.iter().find(|(cc, _)| value.starts_with(cc));
    if let Some(&(_, len)) = known {
        // The country's length, from the start; the candidate may run on into a short
        // word after it (`AT45 5222 5175 5209 4126 0`, found by the property tests).
        let mut head = String::with_capacity(len);
        let mut chars = value.chars();
        for ch in chars.by_ref() {
            if ch != ' ' {
                head.push(ch);
                if head.len() == len {
                    break;
                }
            }
        }
        if head.len() == len && matches!(chars.next(), None | Some(' ')) && mod97_iban(&head) {
            return true;
        }
    }
    // A length the registry does not give the country (generators and older
    // formats write such numbers): the check digits must hold, and the number must be
    // written in groups of four or follow a word that says it is an account.
    let grouped =
        value.split(' ').count() >= 4 && value.split(' ').rev().skip(1).all(|g| g.len() == 4);
    let context = mentions(
        c.before(32),
        &[
            "iban", "account", "konto", "compte", "cuenta", "bank", "transfer",
        ],
    );
    (15..=34).contains(&compact.len()) && (grouped || context) && mod97_iban(&compact)
}

/// The ISO 13616 check: the first four characters moved to the end, letters as
/// 10-35, remainder 1 modulo 97.
fn mod97_iban(compact: &str) -> bool {
    if compact.len() < 5 || !compact.is_ascii() {
        return false;
    }
    let rearranged = compact[4..].chars().chain(compact[..4].chars());
    let mut rem = 0u32;
    for ch in rearranged {
        let Some(v) = ch.to_digit(36) else {
            return false;
        };
        rem = if v < 10 {
            (rem * 10 + v) % 97
        } else {
            (rem * 100 + v) % 97
        };
    }
    rem == 1
}

/// ISO 7064 MOD 97-10 over the letters and digits of `value` (letters count 10-35):
/// the number they spell leaves remainder 1. Anything else in `value` is skipped.
pub fn mod97(value: &str) -> bool {
    let mut rem = 0u32;
    let mut any = false;
    for ch in value.chars().filter(char::is_ascii_alphanumeric) {
        let Some(v) = ch.to_digit(36) else {
            return false;
        };
        any = true;
        rem = if v < 10 {
            (rem * 10 + v) % 97
        } else {
            (rem * 100 + v) % 97
        };
    }
    any && rem == 1
}

/// A Chinese resident identity number: 17 digits (six of area, the birth date
/// `YYYYMMDD` from 1800 to 2099, three of sequence) and an ISO 7064 MOD 11-2 check
/// character (0-9 or X).
pub fn cn_resident_id(c: &Candidate<'_>) -> bool {
    is_cn_resident_id(c.value())
}

/// The check behind `cn_resident_id`, for the card validator too.
pub fn is_cn_resident_id(value: &str) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let v = value.as_bytes();
    if v.len() != 18 || !v[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let number = |from: usize, to: usize| -> u32 {
        v[from..to]
            .iter()
            .fold(0, |n, d| n * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (number(6, 10), number(10, 12), number(12, 14));
    if !(1800..2100).contains(&year) || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return false;
    }
    let sum: u32 = v[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize] == v[17].to_ascii_uppercase()
}

/// A US social security number: area not 000, 666 or 9xx, group not 00, serial not 0000.
pub fn us_ssn(c: &Candidate<'_>) -> bool {
    let digits: String = c.value().chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 9 {
        return false;
    }
    let (area, group, serial) = (&digits[..3], &digits[3..5], &digits[5..]);
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

/// Shannon entropy in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&k| k > 0)
        .map(|&k| {
            let p = f64::from(k) / n;
            -p * p.log2()
        })
        .sum()
}

/// Whether any of `words` occurs (case-insensitively) in `text`.
pub fn mentions(text: &str, words: &[&str]) -> bool {
    let lower = text.to_ascii_lowercase();
    words.iter().any(|w| lower.contains(w))
}

/// A 40-character AWS secret access key. Forty base64 characters alone are too common
/// (commit SHAs are forty hex digits), so it must look random (both cases, high
/// entropy, not all hex) and either follow `aws`/`secret` closely or be the value of a
/// `key=value` / `key: value` pair.
pub fn aws_secret(c: &Candidate<'_>) -> bool {
    let v = c.value();
    let random = v.bytes().any(|b| b.is_ascii_uppercase())
        && v.bytes().any(|b| b.is_ascii_lowercase())
        && !v.bytes().all(|b| b.is_ascii_hexdigit())
        && shannon_entropy(v) > 4.0;
    if !random || decodes_to_text(v) {
        return false;
    }
    let before = c.before(80);
    let assigned = before
        .trim_end_matches(['"', '\'', ' '])
        .ends_with(['=', ':']);
    assigned || mentions(before, &["aws", "secret"])
}

/// Whether standard base64 decodes to printable ASCII: then it is encoded text (a
/// message, a name), not a key. Thirty random bytes are all printable about once in
/// 10^13, so a real key is never mistaken for text.
pub fn decodes_to_text(b64: &str) -> bool {
    decode_base64(b64).is_some_and(|bytes| {
        (bytes.iter()).all(|&b| b == b'\n' || b == b'\t' || (0x20..0x7f).contains(&b))
    })
}

/// Base64 whose decoded start is a PEM header of a private key (not a certificate or a
/// public key).
pub fn base64_private_key(c: &Candidate<'_>) -> bool {
    let v = c.value();
    let head = &v[..v.len().min(64) / 4 * 4];
    let Some(decoded) = decode_base64(head) else {
        return false;
    };
    let line = decoded.split(|&b| b == b'\n').next().unwrap_or(&[]);
    line.windows(11).any(|w| w == b"PRIVATE KEY")
}

/// Standard base64 without padding handling; `None` on any other character or a
/// length that is not a multiple of four.
fn decode_base64(b64: &str) -> Option<Vec<u8>> {
    let bytes = b64.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for quad in bytes.chunks(4) {
        let mut n = 0u32;
        for &b in quad {
            let sextet = match b {
                b'A'..=b'Z' => b - b'A',
                b'a'..=b'z' => b - b'a' + 26,
                b'0'..=b'9' => b - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return None,
            };
            n = (n << 6) | u32::from(sextet);
        }
        out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
    }
    Some(out)
}

/// Random-looking tokens contain both letters and digits; words joined by dashes do not.
pub fn letters_and_digits(c: &Candidate<'_>) -> bool {
    let v = c.value();
    v.bytes().any(|b| b.is_ascii_alphabetic()) && v.bytes().any(|b| b.is_ascii_digit())
}

/// Whether a value is a stand-in rather than a secret: `xxxx`, `your-api-key`,
/// `<token>`, `****`, `changeme`, a run of one character or of a counting sequence.
pub fn placeholder_like(v: &str) -> bool {
    let lower = v.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "xxxx",
        "your",
        "example",
        "placeholder",
        "redacted",
        "changeme",
        "dummy",
        "sample",
        "insert",
        "replace",
        "token_here",
        "key_here",
        "secret_here",
        "<",
        ">",
        "****",
        "...",
        "${",
        "{{",
        "%s",
        "0123456789",
        "123456789",
        "abcdefgh",
        "qwerty",
    ];
    // A placeholder's word is written in one case (`your-key`, `YOUR_KEY`): `yoUr`
    // inside a random mixed-case value is chance.
    let one_case = |at: usize, w: &str| {
        let orig = &v.as_bytes()[at..at + w.len()];
        !(orig.iter().any(u8::is_ascii_uppercase) && orig.iter().any(u8::is_ascii_lowercase))
    };
    // Each word's searcher is built once: `match_indices` with a `&str` built a
    // two-way searcher per word and call (24 a value). Both find the same
    // non-overlapping occurrences, left to right.
    static FINDERS: std::sync::LazyLock<Vec<memchr::memmem::Finder<'static>>> =
        std::sync::LazyLock::new(|| {
            (WORDS.iter())
                .map(|w| memchr::memmem::Finder::new(w.as_bytes()))
                .collect()
        });
    if (WORDS.iter().zip(FINDERS.iter()))
        .any(|(w, f)| f.find_iter(lower.as_bytes()).any(|at| one_case(at, w)))
    {
        return true;
    }
    let first = lower.bytes().next();
    lower.len() >= 4 && lower.bytes().all(|b| Some(b) == first)
}

/// A value that looks drawn at random: not a placeholder, letters and digits mixed
/// (or, for hex and digit-only formats, enough of them), and at least 2.5 bits of
/// entropy per character. For formats found by a vendor's name near a secret word.
pub fn random_token(c: &Candidate<'_>) -> bool {
    let v = c.value();
    if placeholder_like(v) || shannon_entropy(v) < 2.5 {
        return false;
    }
    let letters = v.bytes().any(|b| b.is_ascii_alphabetic());
    let digits = v.bytes().any(|b| b.is_ascii_digit());
    let mixed_case =
        v.bytes().any(|b| b.is_ascii_uppercase()) && v.bytes().any(|b| b.is_ascii_lowercase());
    // Twenty-four random letters and digits hold no digit about once in seventy
    // draws, forty about once in a thousand; a long camel-case word holds none.
    digits && (letters || v.len() >= 12) || (mixed_case && v.len() >= 40)
}

/// A path segment drawn at random (eight bytes or more, both cases and a digit): the
/// base64 of a key can start with `/`, a path's segments are words.
fn random_segment(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 8
        && b.iter().any(u8::is_ascii_uppercase)
        && b.iter().any(u8::is_ascii_lowercase)
        && b.iter().any(u8::is_ascii_digit)
}

/// A value `keyword_secret` always turns away as a path (`/api/v1/items/10` after
/// `path=`): `placeholder_value` calls it one and no segment is drawn at random. The
/// `secret-near-keyword` trigger asks it first, so a log line's `path=` does not run
/// the rule.
pub fn plain_path(v: &str) -> bool {
    v.starts_with('/') && path_body(v) && !v.split('/').any(random_segment)
}

/// Two segments or more, of the bytes a path is written with.
fn path_body(p: &str) -> bool {
    p.split(['/', '\\']).filter(|s| !s.is_empty()).count() >= 2
        && p.bytes().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, b'/' | b'\\' | b'.' | b'_' | b'-' | b'@' | b'~' | b':')
        })
}

/// The `secret-near-keyword` rule: a random-looking value that is no UUID (request
/// and idempotency ids), no run of digits, and no placeholder or file path (`pat`
/// also starts `path=/api/v1/items/10`).
pub fn keyword_secret(c: &Candidate<'_>) -> bool {
    let v = c.value();
    let b = v.as_bytes();
    if b.len() > 130 {
        return false;
    }
    let uuid = b.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-');
    // A path's segments are words (`/api/v1/items/10`); base64 that happens to start
    // with `/` has a segment of mixed-case letters and digits, and stays a secret.
    let placeholder =
        placeholder_value(v) && !(v.starts_with('/') && v.split('/').any(random_segment));
    if b.iter().all(u8::is_ascii_digit) || v.contains("://") || placeholder {
        return false;
    }
    if uuid {
        return uuid_secret_key(c.before(48));
    }
    random_token(c) || random_letters(b) && shannon_entropy(v) >= 3.0
}

/// Whether the key before a UUID names a secret (`onesignal_key=…`, `collect2 SECRET
/// …`, `api_token: …`) rather than an identifier (`idempotency_key=…`, `token_id=…`,
/// `cache key …`).
fn uuid_secret_key(before: &str) -> bool {
    let trimmed = before.trim_end_matches([' ', '\t', ':', '=', '"', '\'', '`']);
    let start = word_start(trimmed, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
    });
    let key = trimmed[start..].to_ascii_lowercase();
    // A bare `key` (`key=… lag=1`) is a message's or a record's.
    let names_id =
        key == "key" || key.ends_with("id") || key.ends_with("ids") || key.ends_with("uuid");
    // The word before the key too (`cache key …`), on the same line.
    let head = trimmed[..start].trim_end_matches([' ', '\t']);
    let near = trimmed[word_start(head, char::is_alphanumeric)..].to_ascii_lowercase();
    [
        "secret",
        "token",
        "key",
        "pass",
        "pwd",
        "auth",
        "credential",
        "private",
        "access",
    ]
    .iter()
    .any(|w| key.contains(w))
        && !names_id
        && !ID_WORDS.iter().any(|w| near.contains(w))
}

/// Twenty letters or more with no digit that no language would write: a run of five
/// consonants or more (`abcywkjjpipuitxrubbsxnwx`; `strengths` is the rare word with
/// one, and it is short).
pub(crate) fn random_letters(b: &[u8]) -> bool {
    b.len() >= 20
        && b.iter().all(u8::is_ascii_alphabetic)
        && crate::detect::prefilter::consonant_run(b)
}

/// Words before a secret word that make a UUID after it an identifier, not a secret
/// (`cache-key-…`, `idempotency-token-…`).
pub(crate) const ID_WORDS: &[&str] = &[
    "cache",
    "idempotency",
    "request",
    "correlation",
    "partition",
    "dedup",
    "object",
    "lock",
    "trace",
    "span",
    "message",
    "event",
    "sort",
    "routing",
    "row",
    "primary",
    "foreign",
    "lookup",
    "shard",
    "hash",
    "bucket",
    "job",
    "task",
    "order",
];

/// The `secret-word-glued` rule (`capsulecrm-SECRET-…`, `bloggerKEY-…`): a value that
/// looks drawn at random (a UUID too, unless an identifier's word comes before), but
/// not the rest of a name that goes on in words (`auth-service-k4m8lmvsv-drfqq`) or a
/// Kubernetes pod's suffix (`db-secret-59f8d7c6b9-x2k4p`).
pub fn glued_secret(c: &Candidate<'_>) -> bool {
    let v = c.value();
    let b = v.as_bytes();
    if b.len() > 130 {
        return false;
    }
    // A UUID first: its first group may be all letters (`cecffaea-…`, hex digits a to
    // f only, about one UUID in 2,500), which the word test below would take for a
    // word (found by the planted-secrets property test).
    let uuid_shaped = b.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-');
    if uuid_shaped {
        // The name the secret word is glued to, not the words before it.
        let before = c.before(40);
        let name = before[word_start(before, |ch| {
            ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-')
        })..]
            .to_ascii_lowercase();
        return !ID_WORDS.iter().any(|w| name.contains(w));
    }
    let first = v.split(['-', '_', '+', '/', '=']).next().unwrap_or("");
    if first.len() >= 4 && first.bytes().all(|c| c.is_ascii_lowercase()) {
        return false;
    }
    let parts: Vec<&str> = v.split('-').collect();
    let alnum_lower = |s: &str| {
        s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    if parts.len() == 2
        && (8..=10).contains(&parts[0].len())
        && parts[1].len() == 5
        && parts.iter().all(|p| alnum_lower(p))
    {
        return false;
    }
    random_token(c)
}

/// A token whose body must look random (see `random_token`), for prefix formats
/// whose prefix is also an ordinary word (`secret_`, `key-`).
pub fn random_body(c: &Candidate<'_>) -> bool {
    random_token(c)
}

/// An email address, unless it is the `user:password@host` part of a URL (the URL
/// rules own that, and masking it as an email would hide the host).
pub fn email(c: &Candidate<'_>) -> bool {
    // Domain labels of 63 characters at most (the pattern leaves the count out: a
    // Unicode class counted to 61 makes a regex that takes tens of milliseconds to
    // build).
    let domain = c.value().rsplit(['@', '%']).next().unwrap_or("");
    if domain.split('.').any(|l| l.chars().count() > 63) {
        return false;
    }
    let before = c.before(256);
    // `git@github.com:org/repo.git`, `ssh deploy@host.example.com`, `scp f u@h.io:/x`:
    // an SSH remote or login, not an address.
    let v = c.value();
    let after = c.after(2);
    let local = v.split(['@', '%']).next().unwrap_or("");
    if local == "git" || after.starts_with(':') && !after.starts_with(": ") {
        return false;
    }
    let word_before = before
        .trim_end()
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or("");
    if matches!(word_before, "ssh" | "scp" | "sftp" | "rsync" | "mosh") {
        return false;
    }
    let segment = before.rsplit(char::is_whitespace).next().unwrap_or("");
    match segment.rfind("://") {
        Some(i) => segment[i + 3..].contains(['/', '?', '#']),
        None => true,
    }
}

/// An E.164 number: 8 to 15 digits and not the start of a longer digit run.
pub fn phone_e164(c: &Candidate<'_>) -> bool {
    let digits = c.value().bytes().filter(u8::is_ascii_digit).count();
    (8..=15).contains(&digits) && !c.char_after().is_some_and(|ch| ch.is_ascii_digit())
}

/// Where the run of `in_word` characters that ends `text` starts (a byte index on a
/// char boundary).
fn word_start(text: &str, in_word: impl Fn(char) -> bool) -> usize {
    text.char_indices()
        .rev()
        .find(|(_, ch)| !in_word(*ch))
        .map_or(0, |(i, ch)| i + ch.len_utf8())
}

/// Key or word segments after which a dotted quad is a version, not an address.
const VERSION_WORDS: &[&str] = &[
    "version", "ver", "release", "released", "rel", "build", "firmware", "fw", "revision", "rev",
    "rv",
];

/// Whether the text right before a dotted quad names it a version: the last word before
/// it (past `=`, `:`, quotes, a parenthesis and spaces), or that word's last segment
/// (`app_version`, `X-App-Version`, `sdkVersion`), is one of `VERSION_WORDS`. Only the
/// word right before counts, so `server 10.0.0.1` and `resolver 10.0.0.2` stay
/// addresses.
pub fn version_context(before: &str) -> bool {
    let trimmed = before.trim_end_matches([' ', '\t', '=', ':', '"', '\'', '(', '\\']);
    if before.len() - trimmed.len() > 6 {
        return false;
    }
    let word = &trimmed[word_start(trimmed, |ch| {
        ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.')
    })..];
    // The last segment: after the last `_`, `-`, `.`, or before the last capital of a
    // camelCase word.
    let after_sep = word.rfind(['_', '-', '.']).map_or(0, |i| i + 1);
    let segment = &word[after_sep..];
    let camel = segment
        .char_indices()
        .skip(1)
        .filter(|(_, ch)| ch.is_ascii_uppercase())
        .last()
        .filter(|(i, _)| segment[..*i].bytes().any(|b| b.is_ascii_lowercase()))
        .map_or(0, |(i, _)| i);
    // The words are in lower case and eight bytes at most (a test holds it): the
    // segment is put in lower case on the stack, not in a new string.
    let last = segment[camel..].as_bytes();
    if last.len() > 8 {
        return false;
    }
    let mut lower = [0u8; 8];
    lower[..last.len()].copy_from_slice(last);
    lower.make_ascii_lowercase();
    VERSION_WORDS
        .iter()
        .any(|w| w.as_bytes() == &lower[..last.len()])
}

/// `name/1.2.3.4` where `name` starts a token: a product token (`MyApp/1.2.3.4` in a
/// User-Agent), not a path (`/v1/blocklist/10.1.2.3`).
fn product_token(before: &str) -> bool {
    let Some(name) = before.strip_suffix('/') else {
        return false;
    };
    let start = word_start(name, |ch| {
        ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.')
    });
    let token = &name[start..];
    let opener = name[..start].chars().next_back();
    token.bytes().any(|b| b.is_ascii_alphabetic())
        && !matches!(opener, Some('/' | ':' | '@' | '?' | '&' | '='))
}

/// An IPv4 address, unless it is a version (`v1.2.3.4`, `version 1.2.3.4`,
/// `"appVersion": "1.2.3.4"`, `app/1.2.3.4`), part of a longer dotted number (OIDs),
/// or a range the policy leaves alone (loopback and unspecified by default). A dotted
/// quad with nothing saying it is a version is an address: masking a version by
/// mistake costs little, missing an address breaks the promise.
pub fn ipv4(c: &Candidate<'_>) -> bool {
    let before = c.before(48);
    let after = c.after(2).as_bytes();
    let prev = before.as_bytes();
    let glued_before = matches!(prev.last(), Some(b'.' | b'-' | b'_'))
        || prev.last().is_some_and(u8::is_ascii_alphanumeric);
    let glued_after = after.first() == Some(&b'.') && after.get(1).is_some_and(u8::is_ascii_digit);
    if glued_before || glued_after || product_token(before) || version_context(before) {
        return false;
    }
    let Ok(ip) = c.value().parse::<Ipv4Addr>() else {
        return false;
    };
    if ip.is_loopback() || ip.is_unspecified() {
        return c.policy.mask_loopback_ip;
    }
    if is_documentation_v4(ip) {
        return c.policy.mask_documentation_ip;
    }
    true
}

fn is_documentation_v4(ip: Ipv4Addr) -> bool {
    matches!(
        ip.octets(),
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _]
    )
}

/// An IPv6 address. The regex is loose (it has to accept `::1` and `fe80::1%eth0`), so
/// this parses it and rejects what merely looks like one: `12:34:56`, Rust paths such
/// as `io::Error`, MAC addresses, neighbours that are part of a longer token.
pub fn ipv6(c: &Candidate<'_>) -> bool {
    let value = c.value();
    let glued = |ch: Option<char>| ch.is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == ':');
    if glued(c.char_before()) || glued(c.char_after()) {
        return false;
    }
    let Ok(ip) = value.parse::<Ipv6Addr>() else {
        return false;
    };
    if ip.is_loopback() || ip.is_unspecified() {
        return c.policy.mask_loopback_ip;
    }
    if ip.segments()[0] == 0x2001 && ip.segments()[1] == 0x0db8 {
        return c.policy.mask_documentation_ip;
    }
    // `a::b` parses but is rarely an address; real ones carry more than a few digits.
    value.bytes().filter(u8::is_ascii_hexdigit).count() >= 4
}

/// A MAC address, unless it is all zeros, broadcast, or six groups of a longer
/// colon-separated run (key fingerprints).
pub fn mac(c: &Candidate<'_>) -> bool {
    let before = c.before(3).as_bytes();
    let after = c.after(3).as_bytes();
    let longer_before =
        before.len() == 3 && matches!(before[2], b':' | b'-') && before[1].is_ascii_hexdigit();
    let longer_after =
        after.len() >= 2 && matches!(after[0], b':' | b'-') && after[1].is_ascii_hexdigit();
    let hex: String = c.value().chars().filter(char::is_ascii_hexdigit).collect();
    let trivial = hex.bytes().all(|b| b == b'0') || hex.bytes().all(|b| b == b'f' || b == b'F');
    !(longer_before || longer_after || trivial)
}

/// Rejects a bare value that is really the next pair: in `password= user=bob` (what a
/// `remove` action leaves behind) the password is empty and `user=bob` is not it.
///
/// What a removal leaves is told apart from a value that merely contains `=` or `:`
/// (`password: Xy7=abc`, `password = k=v`) by the gap before it: removing a value
/// leaves the gap before it plus the separator after it, so `password= user=bob`
/// (`=` glued to its key, one space) and `password:  user=bob` (two spaces) are
/// leftovers, while YAML's `password: Xy7=abc` and INI's `password = Xy7=abc` (one
/// space, as written) are values.
pub fn not_next_pair(c: &Candidate<'_>) -> bool {
    let v = c.value();
    let key_len = v
        .find(|ch: char| !(ch.is_alphanumeric() || matches!(ch, '_' | '.' | '-')))
        .unwrap_or(v.len());
    let looks_like_pair = key_len > 0 && v[key_len..].starts_with([':', '=']);
    if !looks_like_pair {
        return true;
    }
    let before = c.before(16);
    let op_end = before.trim_end_matches([' ', '\t']);
    let gap = before.len() - op_end.len();
    let leftover = match gap {
        0 => false,
        1 => op_end.ends_with('=') && !op_end[..op_end.len() - 1].ends_with([' ', '\t']),
        _ => true,
    };
    !leftover
}

/// Whether an assigned value stands in for a secret rather than being one: an empty
/// or boolean value, `null`/`none`/`nil`/`undefined`, a variable (`${NPM_TOKEN}`,
/// `$NPM_TOKEN`, `%(pw)s`, `{{ .Values.pw }}`, `$(cat …)`), a format verb (`%s`, `%v`,
/// `{}`, `{0}`, `{name}`), a redaction (`<redacted>`, `[REDACTED]`, `****`, `xxxx`,
/// `<your-token>`), a file path (`/run/secrets/db`), or a reference in code
/// (`process.env.DB_PASSWORD`, `os.environ`, `self.password`).
pub fn placeholder_value(v: &str) -> bool {
    let v = v.trim();
    if v.is_empty() {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "null",
        "none",
        "nil",
        "undefined",
        "true",
        "false",
        "empty",
        "n/a",
        "na",
        "redacted",
        "masked",
        "hidden",
        "removed",
        "omitted",
        "secret",
        "password",
        "changeme",
        "todo",
        "tbd",
        "xxx",
        "***",
        "...",
        "-",
        "_",
        "?",
        "filtered",
        "[filtered]",
        "(null)",
        "nan",
    ];
    if WORDS.contains(&lower.as_str()) {
        return true;
    }
    let enclosed = |open: char, close: char| v.starts_with(open) && v.ends_with(close);
    if enclosed('<', '>') || enclosed('[', ']') || enclosed('{', '}') || enclosed('(', ')') {
        return true;
    }
    if v.starts_with("${") || v.starts_with("$(") || v.starts_with("{{") || v.starts_with("%(") {
        return true;
    }
    let b = v.as_bytes();
    // `$VAR`, `$env:VAR`, `$password`, `%VAR%`: a name in one case (a mixed-case run
    // after a `$`, `$xdxH_AREb9`, is a password that starts with one).
    let name = &b[1.min(b.len())..];
    let one_case = name
        .iter()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, b'_' | b':'))
        || name
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b':'));
    if (b[0] == b'$'
        && b.len() > 1
        && (b[1].is_ascii_alphabetic() || b[1] == b'_')
        && one_case
        && b.len() <= 40)
        || (b[0] == b'%'
            && v.ends_with('%')
            && b.len() > 2
            && b[1..b.len() - 1]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'_'))
    {
        return true;
    }
    // Format verbs: `%s`, `%v`, `%d`, `%+v`, `%#v`, `%q`.
    if b[0] == b'%' && b.len() <= 3 {
        return true;
    }
    // Runs of one masking character, or of `x`: `****`, `xxxxxxxx`, `XXXX-XXXX`.
    if b.iter()
        .all(|c| matches!(c, b'*' | b'x' | b'X' | b'#' | b'.' | b'-' | b'_' | b'0'))
        && b.iter()
            .filter(|c| matches!(c, b'*' | b'x' | b'X' | b'#'))
            .count()
            >= 3
    {
        return true;
    }
    // A file path: `/run/secrets/db`, `./secret.txt`, `~/.pgpass`, `C:\keys\a.pem`,
    // `file:///…`.
    if (v.starts_with('/') || v.starts_with("./") || v.starts_with("../") || v.starts_with("~/"))
        && path_body(v)
        || (b.len() > 3 && b[0].is_ascii_alphabetic() && &b[1..3] == b":\\" && path_body(v))
        || lower.starts_with("file://")
    {
        return true;
    }
    // A reference in code: `process.env.X`, `os.environ`, `self.password`.
    const ROOTS: &[&str] = &[
        "process.",
        "os.",
        "env.",
        "config.",
        "settings.",
        "self.",
        "this.",
        "request.",
        "params.",
        "args.",
        "opts.",
        "options.",
        "cfg.",
        "conf.",
        "secrets.",
        "vars.",
        "props.",
        "system.getenv",
        "env[",
        "environ",
    ];
    let identifier_path = b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.'))
        && v.contains('.');
    identifier_path && ROOTS.iter().any(|r| lower.starts_with(r))
}

/// A value assigned to a secret-like name (`secret-assignment`): not a placeholder,
/// and not the next pair (see `not_next_pair`).
pub fn assigned_secret(c: &Candidate<'_>) -> bool {
    !placeholder_value(c.value())
        && not_next_pair(c)
        && !closing_rest(c.value())
        && !key_glued_to_a_mask(c)
}

/// The key before the value is glued to a `partial` mask (`****BpWD：日`: the last
/// four characters of a masked token spell `pwd`; found by the property tests, a
/// second pass masked what followed): no key, only a masked value's tail.
fn key_glued_to_a_mask(c: &Candidate<'_>) -> bool {
    let before = c
        .before(80)
        .trim_end_matches([' ', '\t', '"', '\'', '\\', ':', '=', '>', '-', '：']);
    before
        .trim_end_matches(|ch: char| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-'))
        .ends_with('*')
}

/// What is left after a value once the value is gone: a closing bracket and nothing
/// of letters or digits (`PwD:A) rk_live_…` masked by `remove` reads `PwD:) …`, and
/// `)` must not be masked as the next pass's password; found by the property tests
/// at 20,000 cases, on a Stripe key and on a connection string after such a pair).
fn closing_rest(v: &str) -> bool {
    v.starts_with([')', ']', '}', '>']) && !v.chars().any(char::is_alphanumeric)
}

/// Words a sentence puts after `password` that are no password.
pub(crate) const PROSE_STOPWORDS: &[&str] = &[
    "reset",
    "expired",
    "expires",
    "changed",
    "change",
    "updated",
    "update",
    "incorrect",
    "invalid",
    "required",
    "missing",
    "empty",
    "too",
    "must",
    "should",
    "policy",
    "length",
    "complexity",
    "strength",
    "hash",
    "hashed",
    "salt",
    "field",
    "input",
    "prompt",
    "manager",
    "protected",
    "authentication",
    "login",
    "recovery",
    "forgot",
    "forgotten",
    "is",
    "was",
    "the",
    "a",
    "an",
    "for",
    "to",
    "of",
    "and",
    "or",
    "not",
    "with",
    "has",
    "have",
    "will",
    "can",
    "cannot",
    "does",
    "do",
    "did",
    "set",
    "sent",
    "match",
    "matches",
    "mismatch",
    "valid",
    "validation",
    "verified",
    "ok",
    "accepted",
    "rejected",
    "denied",
    "failed",
    "failure",
    "error",
    "attempts",
    "attempt",
    "retry",
    "via",
    "from",
    "in",
    "on",
    "at",
    "by",
    "as",
    "be",
    "been",
    "being",
    "stored",
    "saved",
    "file",
    "env",
    "environment",
    "variable",
    "secret",
    "token",
    "provided",
    "supplied",
    "given",
    "entered",
    "typed",
    "needed",
    "needs",
    "please",
    "again",
    "later",
    "here",
    "below",
    "above",
    "correct",
    "wrong",
    "weak",
    "strong",
    "same",
    "different",
    "new",
    "old",
    "current",
    "previous",
    "default",
    "temporary",
    "one-time",
    "unknown",
    "none",
    "null",
    "true",
    "false",
    "yes",
    "no",
    "it",
    "that",
    "this",
    "your",
    "my",
    "our",
    "their",
    "his",
    "her",
    "its",
    "again.",
    "only",
    "also",
    "now",
    "then",
    "still",
    "never",
    "always",
    "authentication,",
    "auth",
    "based",
    "less",
    "free",
    "protected.",
    "prompt.",
    "age",
    "history",
    "rotation",
    "rules",
    "requirements",
    "hint",
    "reuse",
    "used",
    "use",
    "using",
    "sign",
    "signin",
    "reminder",
    "characters",
    "chars",
    "digits",
    "number",
    "code",
    "check",
    "checks",
    "verify",
    "confirmation",
    "confirm",
    "entry",
    "dialog",
    "screen",
    "page",
    "form",
    "box",
    "header",
    "of",
    "header,",
    "authentication.",
    "grant",
    "flow",
    "mode",
    "type",
];

/// The `secret-in-prose` rule: a stated password is a value, not a word the sentence
/// goes on with (`password reset`, `the password is incorrect`); a quoted one, or one
/// with a digit, a symbol or a capital inside, always counts.
pub fn prose_secret(c: &Candidate<'_>) -> bool {
    let v = c.value().trim_end_matches(['.', '!', '?', ')', ':']);
    // An attribute or a pair (`Type="…"`, `user=bob`), markup, or a placeholder.
    if v.len() < 3 || placeholder_value(v) || v.contains(['=', '<', '>']) || !not_next_pair(c) {
        return false;
    }
    let lower = v.to_lowercase();
    if PROSE_STOPWORDS.contains(&lower.as_str()) {
        return false;
    }
    let quoted = c.before(1).ends_with(['"', '\'', '“', '‘', '`']);
    let random = v.bytes().any(|b| b.is_ascii_digit())
        || v.bytes().any(|b| b.is_ascii_punctuation())
        || v.chars().skip(1).any(char::is_uppercase)
        || !v.is_ascii();
    let stated = {
        let before = c.before(24).to_lowercase();
        let before = before.trim_end();
        before.ends_with(" is")
            || before.ends_with(" was")
            || before.ends_with(':')
            || before.ends_with('=')
    };
    quoted || random || (stated && v.len() >= 6)
}

/// The `sensitive-key` rule: the pair's key matches one of the policy's key patterns.
pub fn sensitive_key(c: &Candidate<'_>) -> bool {
    c.key.is_some_and(|k| c.policy.key_is_sensitive(k)) && assigned_secret(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Policy;

    #[test]
    fn a_closing_bracket_alone_is_no_assigned_secret() {
        assert!(!check(assigned_secret, "PwD:) rest", ")"));
        assert!(!check(assigned_secret, "pwd=]) rest", "])"));
        assert!(check(assigned_secret, "pwd=)x7Qm2 rest", ")x7Qm2"));
        assert!(check(assigned_secret, "pwd=A rest", "A"));
        // A partial mask's tail that spells a key word is no key.
        assert!(!check(assigned_secret, " ****BpWD：日", "日"));
        assert!(check(assigned_secret, "** BpWD：日本", "日本"));
    }

    fn check(f: fn(&Candidate<'_>) -> bool, haystack: &str, value: &str) -> bool {
        let policy = Policy::default();
        let start = haystack.find(value).expect("value in haystack");
        f(&Candidate {
            haystack,
            start,
            end: start + value.len(),
            key: None,
            policy: &policy,
        })
    }

    #[test]
    fn luhn_accepts_test_numbers_and_rejects_neighbours() {
        assert!(luhn("4111111111111111"));
        assert!(luhn("79927398713"));
        assert!(!luhn("4111111111111112"));
        assert!(!luhn("1234567812345678"));
        assert!(!luhn(""));
        assert!(!luhn("4111x11111111111"));
    }

    #[test]
    fn card_number_wants_issuer_and_grouping() {
        assert!(check(
            card_number,
            "4111 1111 1111 1111",
            "4111 1111 1111 1111"
        ));
        assert!(check(card_number, "378282246310005", "378282246310005"));
        assert!(check(card_number, "3782 822463 10005", "3782 822463 10005"));
        // Luhn-valid but starts with 1: an epoch timestamp in milliseconds.
        assert!(luhn("1700000000004"));
        assert!(!check(card_number, "1700000000004", "1700000000004"));
        assert!(!check(
            card_number,
            "41 11 11 11 11 11 11 11",
            "41 11 11 11 11 11 11 11"
        ));
        assert!(!check(
            card_number,
            "4111-1111 1111-1111",
            "4111-1111 1111-1111"
        ));
    }

    #[test]
    fn iban_checks_length_and_mod97() {
        assert!(check(
            iban,
            "DE89370400440532013000",
            "DE89370400440532013000"
        ));
        assert!(check(
            iban,
            "GB82 WEST 1234 5698 7654 32",
            "GB82 WEST 1234 5698 7654 32"
        ));
        assert!(!check(
            iban,
            "DE89370400440532013001",
            "DE89370400440532013001"
        ));
        assert!(!check(
            iban,
            "DE8937040044053201300",
            "DE8937040044053201300"
        ));
        assert!(!check(
            iban,
            "ZZ89370400440532013000",
            "ZZ89370400440532013000"
        ));
        // A short word after the IBAN; the IBAN's length must end at a space.
        assert!(check(
            iban,
            "DE89 3704 0044 0532 0130 00 A",
            "DE89 3704 0044 0532 0130 00 A"
        ));
        assert!(!check(
            iban,
            "DE89 3704 0044 0532 0130 0012",
            "DE89 3704 0044 0532 0130 0012"
        ));
    }

    #[test]
    fn cn_resident_id_check_character() {
        assert!(check(
            cn_resident_id,
            "11010519491231002X",
            "11010519491231002X"
        ));
        assert!(check(
            cn_resident_id,
            "11010519491231002x",
            "11010519491231002x"
        ));
        assert!(!check(
            cn_resident_id,
            "110105194912310021",
            "110105194912310021"
        ));
        // Right check character, impossible birth dates: month 13, year 1749.
        assert!(!is_cn_resident_id("110105194913310021"));
        assert!(!is_cn_resident_id("110105174912310021"));
    }

    #[test]
    fn card_number_followed_by_a_number() {
        // The card and its expiry, the card and a short number: the card's groups make
        // the candidate a card.
        assert!(check(
            card_number,
            "4111 1111 1111 1111 12",
            "4111 1111 1111 1111 12"
        ));
        assert!(check(
            card_number,
            "2345-2143-6706-1824 0",
            "2345-2143-6706-1824 0"
        ));
        assert!(check(
            card_number,
            "0 4019-4265-1225-2568",
            "0 4019-4265-1225-2568"
        ));
        // A short number after something that is no card changes nothing.
        assert!(!check(
            card_number,
            "4111 1111 1111 1112 12",
            "4111 1111 1111 1112 12"
        ));
    }

    #[test]
    fn card_number_yields_to_a_resident_id() {
        // 18 digits from 6: UnionPay's length and Luhn-valid, but also a valid id.
        assert!(luhn("610113198607011097"));
        assert!(is_cn_resident_id("610113198607011097"));
        assert!(!check(
            card_number,
            "610113198607011097",
            "610113198607011097"
        ));
    }

    #[test]
    fn ssn_ranges() {
        assert!(check(us_ssn, "123-45-6789", "123-45-6789"));
        assert!(!check(us_ssn, "000-45-6789", "000-45-6789"));
        assert!(!check(us_ssn, "666-45-6789", "666-45-6789"));
        assert!(!check(us_ssn, "912-45-6789", "912-45-6789"));
        assert!(!check(us_ssn, "123-00-6789", "123-00-6789"));
        assert!(!check(us_ssn, "123-45-0000", "123-45-0000"));
    }

    #[test]
    fn entropy_orders_random_above_repetitive() {
        assert!(shannon_entropy("aaaaaaaa") < 0.01);
        assert!(shannon_entropy("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY") > 4.0);
    }

    #[test]
    fn ipv4_context() {
        assert!(check(ipv4, "from 10.1.2.3 ok", "10.1.2.3"));
        assert!(!check(ipv4, "from 127.0.0.1 ok", "127.0.0.1"));
        assert!(!check(ipv4, "version 1.2.3.4", "1.2.3.4"));
        assert!(!check(ipv4, "v1.2.3.4", "1.2.3.4"));
        assert!(!check(ipv4, "curl/7.68.0.1", "7.68.0.1"));
        assert!(check(ipv4, "http://10.0.0.1/", "10.0.0.1"));
        assert!(!check(ipv4, "oid 1.3.6.1.4.1", "1.3.6.1"));
    }

    #[test]
    fn version_words_are_short_and_in_lower_case() {
        for w in VERSION_WORDS {
            assert!(w.len() <= 8, "{w:?}");
            assert_eq!(*w, w.to_ascii_lowercase(), "{w:?}");
        }
    }

    #[test]
    fn version_context_wants_the_word_right_before() {
        for before in [
            "version ",
            "Version: ",
            r#""sdkVersion":""#,
            "app_version=",
            "X-App-Version: ",
            "(build ",
            "released ",
            "fw_rev=",
        ] {
            assert!(version_context(before), "{before:?}");
        }
        for before in [
            "server ",
            "resolver ",
            "srv=",
            "dev=",
            "observer ",
            "version is ",
            "from ",
        ] {
            assert!(!version_context(before), "{before:?}");
        }
    }

    #[test]
    fn product_token_is_a_token_not_a_path() {
        assert!(!check(ipv4, "User-Agent: MyApp/1.2.3.4 (x)", "1.2.3.4"));
        assert!(check(ipv4, "GET /api/blocklist/10.1.2.3 200", "10.1.2.3"));
        assert!(check(ipv4, "https://10.1.2.3/", "10.1.2.3"));
    }

    #[test]
    fn base64_of_text_is_no_key() {
        assert!(decodes_to_text("Zm9yIHJldHJ5IGRlcHRoIGZvciBjb21wYWN0aW9u"));
        assert!(!decodes_to_text("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
        assert!(!decodes_to_text("abc"));
    }

    #[test]
    fn next_pair_is_told_from_a_value_by_the_gap() {
        let np = |text: &str, value: &str| check(not_next_pair, text, value);
        // What `remove` leaves: the next pair is no value.
        assert!(!np("password= user=bob", "user=bob"));
        assert!(!np("password:  user=bob", "user=bob"));
        // A value that contains `=` or `:`, as YAML and INI write it.
        assert!(np("password: Xy7=abc", "Xy7=abc"));
        assert!(np("password = k=v", "k=v"));
        assert!(np("password=c2VjcmV0=", "c2VjcmV0="));
    }

    #[test]
    fn ipv6_parses() {
        assert!(check(
            ipv6,
            "peer 2a00:1450:4001:82b::200e up",
            "2a00:1450:4001:82b::200e"
        ));
        assert!(!check(ipv6, "at 12:34:56 ok", "12:34:56"));
        assert!(!check(ipv6, "peer ::1 up", "::1"));
        assert!(!check(ipv6, "std::io::Error", "::E"));
    }

    #[test]
    fn mac_rejects_trivial_and_longer_runs() {
        assert!(check(mac, "hw 00:1a:2b:3c:4d:5e", "00:1a:2b:3c:4d:5e"));
        assert!(!check(mac, "hw ff:ff:ff:ff:ff:ff", "ff:ff:ff:ff:ff:ff"));
        assert!(!check(
            mac,
            "fp 00:1a:2b:3c:4d:5e:6f:70",
            "00:1a:2b:3c:4d:5e"
        ));
    }
}
