//! National identity and tax numbers beyond the US SSN and the Chinese resident id:
//! the UK National Insurance number, the French NIR (INSEE), the Brazilian CPF, the
//! Indian Aadhaar and PAN, the Canadian SIN. Each has a check (a check digit, a key,
//! a letter pattern); where the check is weak (one number in ten passes it), the number
//! counts only when written in its usual grouping or after a word that names it.

use super::prefilter::{self, Trigger};
use super::validate::luhn;
use super::{Candidate, Category::GovernmentId, Examples, Rule};

/// Words that say an identity number follows.
const ID_WORDS: &[&str] = &[
    "ssn",
    "social security",
    "national insurance",
    "nino",
    "ni number",
    "insurance number",
    "sin",
    "aadhaar",
    "aadhar",
    "uid",
    "cpf",
    "nir",
    "insee",
    "sécurité sociale",
    "securite sociale",
    "id number",
    "id_number",
    "id-number",
    "idnumber",
    "id no",
    "id_no",
    "national id",
    "national_id",
    "identity",
    "tax id",
    "tax_id",
    "taxid",
    "tax-id",
    "id_card",
    "id card",
    "personal_number",
    "tin",
    "pan",
    "id:",
    "id #",
    "身份证",
    "マイナンバー",
    "personal number",
];

/// An identity word in the text right before, standing as a word (`uid`, not
/// `uuid`; `pan`, not `span`).
fn id_context(before: &str) -> bool {
    super::validate::contains_word(before, ID_WORDS, false, |w| {
        w.chars().last().is_some_and(char::is_alphanumeric)
    })
}

/// The value stands right after a key (`imei=`, `"order": `) that names something
/// other than an identity number (a generic name, `value=`, `key=`, names nothing).
fn other_key_before(c: &Candidate<'_>) -> bool {
    let before = c.before(40).trim_end_matches([' ', '"', '\'']);
    let Some(rest) = before.strip_suffix(['=', ':']) else {
        return false;
    };
    let rest = rest.trim_end_matches([' ', '"', '\'']);
    let key_start = rest
        .rfind(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '-'))
        .map_or(0, |i| {
            i + rest[i..].chars().next().map_or(1, char::len_utf8)
        });
    let key = &rest[key_start..];
    let generic = [
        "key", "value", "val", "data", "text", "input", "number", "no", "nr",
    ];
    // A key with an `id` part (`ID`, `person_id`) may name the identity number.
    let id_part = key
        .split(['_', '-', '.'])
        .any(|p| p.eq_ignore_ascii_case("id"));
    !key.is_empty()
        && !id_part
        && !generic.iter().any(|g| key.eq_ignore_ascii_case(g))
        && !id_context(key)
}

/// A trigger's `near` test: an id word that starts a word, then within the window the
/// validators look back over (40 characters, up to four bytes each) a number of at
/// least `min` digits.
fn id_word_then_number(text: &[u8], start: usize, end: usize, min: usize) -> bool {
    prefilter::starts_word(text, start) && prefilter::number_within(text, end, 160, min)
}

/// Glued to a longer token (`…-a456-426614174000`, `v1.2`): no identity number.
fn glued(c: &Candidate<'_>) -> bool {
    c.char_before()
        .is_some_and(|ch| ch.is_alphanumeric() || matches!(ch, '-' | '.' | '_' | '/'))
        || c.char_after()
            .is_some_and(|ch| ch.is_alphanumeric() || ch == '_')
}

/// UK National Insurance number: two letters, six digits, a letter (`AB 12 34 56 C`).
/// Without a word naming it, the prefix and suffix must be ones HMRC issues.
pub fn uk_nino(c: &Candidate<'_>) -> bool {
    let v: Vec<u8> = c.value().bytes().filter(|b| *b != b' ').collect();
    if v.len() != 9 {
        return false;
    }
    let valid_prefix = !matches!(v[0], b'D' | b'F' | b'I' | b'Q' | b'U' | b'V')
        && !matches!(v[1], b'D' | b'F' | b'I' | b'O' | b'Q' | b'U' | b'V')
        && !matches!(
            &v[..2],
            b"BG" | b"GB" | b"NK" | b"KN" | b"TN" | b"NT" | b"ZZ"
        );
    let valid_suffix = matches!(v[8], b'A'..=b'D');
    (valid_prefix && valid_suffix) || id_context(c.before(40))
}

/// French NIR: sex, year, month, department, commune, order, and a key (97 minus the
/// number modulo 97; Corsica's 2A/2B count as 19/18).
pub fn fr_nir(c: &Candidate<'_>) -> bool {
    if glued(c) {
        return false;
    }
    let v: String = c.value().chars().filter(|ch| !ch.is_whitespace()).collect();
    if v.len() != 15 {
        return false;
    }
    // Corsica's `2A` / `2B` as 19 / 18, in place of two `replace` copies (neither
    // replacement makes or breaks an occurrence of the other).
    let mut body = [0u8; 13];
    body.copy_from_slice(&v.as_bytes()[..13]);
    for i in 0..12 {
        if body[i] == b'2' && matches!(body[i + 1], b'A' | b'B') {
            let digits = if body[i + 1] == b'A' { b"19" } else { b"18" };
            body[i..i + 2].copy_from_slice(digits);
        }
    }
    let body = std::str::from_utf8(&body).unwrap_or("");
    let (Ok(n), Ok(key)) = (body.parse::<u64>(), v[13..].parse::<u64>()) else {
        return false;
    };
    let month: u32 = v[3..5].parse().unwrap_or(0);
    // Fifteen bare digits under a key of their own (`imei=`, `order=`) are that key's
    // number: one in 97 passes the key by chance.
    if !c.value().contains(' ') && other_key_before(c) {
        return false;
    }
    key == 97 - n % 97
        && matches!(&v[..1], "1" | "2" | "3" | "4" | "7" | "8")
        && (1..=12).contains(&month) | (20..=99).contains(&month)
}

/// Brazilian CPF: nine digits and two check digits (`123.456.789-09`); the bare
/// eleven digits only after a word naming it.
pub fn br_cpf(c: &Candidate<'_>) -> bool {
    if glued(c) {
        return false;
    }
    let value = c.value();
    let d: Vec<u32> = value.chars().filter_map(|ch| ch.to_digit(10)).collect();
    if d.len() != 11 || d.iter().all(|x| *x == d[0]) {
        return false;
    }
    let check = |n: usize| {
        let sum: u32 = (0..n).map(|i| d[i] * (n as u32 + 1 - i as u32)).sum();
        let r = sum * 10 % 11;
        if r == 10 {
            0
        } else {
            r
        }
    };
    let valid = check(9) == d[9] && check(10) == d[10];
    valid && (value.contains(['.', '-']) || id_context(c.before(40)))
}

/// The Verhoeff check (Aadhaar).
fn verhoeff(digits: &[u8]) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let mut c = 0u8;
    for (i, d) in digits.iter().rev().enumerate() {
        c = D[c as usize][P[i % 8][*d as usize] as usize];
    }
    c == 0
}

/// Words that name a national identity number outright (not `id:` or `tin`, which
/// name ids of every kind).
const NATIONAL_ID_WORDS: &[&str] = &[
    "aadhaar",
    "aadhar",
    "national id",
    "national_id",
    "national-id",
    "social security",
    "ssn",
];

/// Indian Aadhaar: twelve digits, the first 2-9, the Verhoeff check; grouped 4-4-4 or
/// after a word naming an id. After a word naming a national id outright (`Aadhaar`,
/// `national id`, `SSN`) twelve digits are that id whatever their first and check
/// digits: a number mistyped or made up for a test form is still written as someone's
/// id.
pub fn in_aadhaar(c: &Candidate<'_>) -> bool {
    if glued(c) {
        return false;
    }
    let value = c.value();
    let d: Vec<u8> = value
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    let named = || {
        super::validate::contains_word(c.before(40), NATIONAL_ID_WORDS, false, |w| {
            w.chars().last().is_some_and(char::is_alphanumeric)
        })
    };
    d.len() == 12
        && (d[0] >= 2
            && verhoeff(&d)
            && (value.contains([' ', '-']) || id_context(c.before(40)))
            || named())
}

/// Indian PAN: five letters (the fourth says what holds it), four digits, a letter.
pub fn in_pan(c: &Candidate<'_>) -> bool {
    let v = c.value().as_bytes();
    v.len() == 10
        && matches!(
            v[3],
            b'P' | b'C' | b'H' | b'F' | b'A' | b'T' | b'B' | b'L' | b'J' | b'G'
        )
}

/// Canadian SIN: nine digits passing Luhn, grouped 3-3-3 or after a word naming it.
pub fn ca_sin(c: &Candidate<'_>) -> bool {
    if glued(c) {
        return false;
    }
    let value = c.value();
    let d: String = value.chars().filter(char::is_ascii_digit).collect();
    d.len() == 9
        && !d.starts_with(['0', '8'])
        && luhn(&d)
        && (value.contains([' ', '-']) && id_context(c.before(40)) || id_context(c.before(40)))
}

pub const RULES: &[Rule] = &[
    Rule {
        name: "uk-nino",
        category: GovernmentId,
        trigger: Trigger::shape(|s| s.nino_like),
        pattern: r"\b[A-Z]{2}[ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?[A-Z]\b",
        validate: Some(uk_nino),
        examples: Examples {
            masks: &[
                "NI number «AB 12 34 56 C»",
                "«JG103759A»",
                "ssn «ZZ 360837 T»",
            ],
            keeps: &["flight BA 12 34 56 Z", "model XY123456Z"],
        },
    },
    Rule {
        name: "fr-nir",
        category: GovernmentId,
        // Fifteen digits, alone or in groups (the Corsican `2A`/`2B` departments are
        // not looked for).
        trigger: Trigger::shape(|s| {
            (s.runs | s.spaced_groups) & 1 << 15 != 0 && prefilter::nir_runs_accepted(s, fr_nir)
        }),
        pattern: r"\b[1-478][ ]?[0-9]{2}[ ]?[0-9]{2}[ ]?(?:[0-9]{2}|2[AB])[ ]?[0-9]{3}[ ]?[0-9]{3}[ ]?[0-9]{2}\b",
        validate: Some(fr_nir),
        examples: Examples {
            masks: &["NIR «2 87 04 54 395 744 79»", "«287045439574479»"],
            keeps: &["order 287045439574478", "imei=287045439574479 model=x"],
        },
    },
    Rule {
        name: "br-cpf",
        category: GovernmentId,
        // Eleven digits with a dot or a dash, or after a word naming an id.
        trigger: Trigger {
            literals: ID_WORDS,
            near: Some(|t, s, e| id_word_then_number(t, s, e, 11)),
            shape: Some(|s| s.dotted_groups & 1 << 11 != 0),
        },
        pattern: r"\b[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]{2}\b",
        validate: Some(br_cpf),
        examples: Examples {
            masks: &["CPF «523.366.630-82»", "cpf: «52336663082»"],
            keeps: &["version 523.366.630-81", "id 52336663082"],
        },
    },
    Rule {
        name: "in-aadhaar",
        category: GovernmentId,
        // Twelve digits in groups, or after a word naming an id.
        trigger: Trigger {
            literals: ID_WORDS,
            near: Some(|t, s, e| id_word_then_number(t, s, e, 12)),
            shape: Some(|s| s.spaced_groups & 1 << 12 != 0),
        },
        pattern: r"\b[0-9]{4}[ -]?[0-9]{4}[ -]?[0-9]{4}\b",
        validate: Some(in_aadhaar),
        examples: Examples {
            masks: &[
                "Aadhaar «2217 3914 6548»",
                "aadhaar no «221739146548»",
                "national id «482913305571» on file",
                // Named outright: whatever the first and check digits.
                "applicant national id «143365430469» failed verification",
            ],
            keeps: &[
                "ts 221739146548 ms",
                "2217 3914 6549",
                "id: 482913305571",
                "nationalities 482913305571",
            ],
        },
    },
    Rule {
        name: "in-pan",
        category: GovernmentId,
        trigger: Trigger::shape(|s| s.pan_like),
        pattern: r"\b[A-Z]{5}[0-9]{4}[A-Z]\b",
        validate: Some(in_pan),
        examples: Examples {
            masks: &["PAN «ABCPE1234F»"],
            keeps: &["code ABCXE1234F", "ERROR1234F"],
        },
    },
    Rule {
        name: "ca-sin",
        category: GovernmentId,
        // Only after a word naming an id.
        trigger: Trigger::literals_near(ID_WORDS, |t, s, e| id_word_then_number(t, s, e, 9)),
        pattern: r"\b[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{3}\b",
        validate: Some(ca_sin),
        examples: Examples {
            masks: &["SIN «130 692 502»"],
            keeps: &["SIN 130 692 503", "took 130 692 502 ms"],
        },
    },
    Rule {
        name: "driver-license",
        category: GovernmentId,
        trigger: Trigger::literals_near(DRIVER_LICENSE_WORDS, |t, s, e| {
            prefilter::starts_word(t, s) && t[e..].iter().take(48).any(u8::is_ascii_digit)
        }),
        // A driver's licence number after words that name it: formats differ by state
        // and country (`A1234567`, `123 456 789`, `MORGA657054SM9IJ`), so only the
        // words make it one.
        pattern: r#"(?i:\b(?:driver'?s?[ _-]?licen[cs]e|driving[ _-]licen[cs]e|licen[cs]e[ _-]?(?:number|no\.?|#)|dln?(?:[ _-]?(?:number|no\.?))?|führerschein(?:nummer)?|permis de conduire|cnh)|驾驶证|運転免許証)(?i:[ \t]*(?:number|no\.?|num|id))?\\?[\x22']?[ \t]*(?:is|[:=#：]{1,2})?[ \t]*#?\\?[\x22']?(?P<v>[A-Za-z]{0,6}[0-9][A-Za-z0-9]*(?:[ -][A-Za-z]*[0-9][A-Za-z0-9]*){0,4})\b"#,
        validate: Some(driver_license),
        examples: Examples {
            masks: &[
                "driver's license «D1234567»",
                "DL#: «123 456 789»",
                "driving licence number «MORGA657054SM9IJ»",
                r#"{{"drivers_license": "«S530-4127-6301»"}}"#,
            ],
            keeps: &[
                "driver license expired on 2024-05-01",
                "license number pending",
                "the MIT license is 12 lines",
                "dL0aaa0 2001:e10:82b0:ff33::e21c",
            ],
        },
    },
];

/// Words that name a driver's licence (the trigger of `driver-license`).
const DRIVER_LICENSE_WORDS: &[&str] = &[
    "licen",
    "dl#",
    "dl:",
    "dl ",
    "dl_",
    "dl-",
    "dl=",
    "dln",
    "führerschein",
    "permis de conduire",
    "cnh",
    "驾驶证",
    "運転免許証",
];

/// A driver's licence number: five to twenty letters and digits with a digit among
/// them (a word like `pending` is none), not a date, and not one character over and
/// over.
pub fn driver_license(c: &Candidate<'_>) -> bool {
    // A number glued to the word is part of another word (`dL0aaa0` is no `DL 0aaa0`;
    // the trigger, which wants `dl` before a separator, never fires on it, found by
    // the property tests).
    if c.char_before().is_some_and(|ch| ch.is_ascii_alphanumeric()) {
        return false;
    }
    let v = c.value().trim_end();
    let alnum: Vec<u8> = v.bytes().filter(u8::is_ascii_alphanumeric).collect();
    let digits = alnum.iter().filter(|b| b.is_ascii_digit()).count();
    let date = v.len() == 10 && v.as_bytes()[4] == b'-' && v.as_bytes()[7] == b'-';
    (5..=20).contains(&alnum.len())
        && digits >= 2
        && !date
        && !alnum.iter().all(|b| *b == alnum[0])
        && !v.contains("  ")
}
