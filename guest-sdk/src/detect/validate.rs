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
pub fn card_number(c: &Candidate<'_>) -> bool {
    let value = c.value();
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    if !(13..=19).contains(&digits.len()) || !luhn(&digits) {
        return false;
    }
    let d = digits.as_bytes();
    let len = d.len();
    let issuer_ok = match (d[0], d[1]) {
        (b'4', _) => matches!(len, 13 | 16 | 19),
        // Mastercard 2221-2720.
        (b'2', _) => len == 16 && ("2221".."2721").contains(&&digits[..4]),
        // Mastercard, Maestro.
        (b'5', _) => (16..=19).contains(&len),
        // Discover, UnionPay, Maestro.
        (b'6', _) => (16..=19).contains(&len),
        // American Express.
        (b'3', b'4' | b'7') => len == 15,
        // JCB.
        (b'3', b'5') => (16..=19).contains(&len),
        // Diners Club.
        (b'3', b'0' | b'6' | b'8' | b'9') => (14..=19).contains(&len),
        _ => false,
    };
    if !issuer_ok {
        return false;
    }
    // Grouped numbers use one separator and card-like groups: 4-4-4-4(-3),
    // Amex 4-6-5, Diners 4-6-4.
    let groups: Vec<usize> = value.split([' ', '-']).map(str::len).collect();
    if groups.len() == 1 {
        return true;
    }
    if value.contains(' ') && value.contains('-') || groups.contains(&0) {
        return false;
    }
    let fours = groups[..groups.len() - 1].iter().all(|&g| g == 4)
        && (1..=4).contains(&groups[groups.len() - 1]);
    fours || groups == [4, 6, 5] || groups == [4, 6, 4]
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
pub fn iban(c: &Candidate<'_>) -> bool {
    let compact: String = c.value().chars().filter(|ch| *ch != ' ').collect();
    let Some(&(_, len)) = IBAN_LENGTHS.iter().find(|(cc, _)| compact.starts_with(cc)) else {
        return false;
    };
    if compact.len() != len {
        return false;
    }
    // Move the first four characters to the end, letters become 10..35, then mod 97
    // digit by digit so that no big integer is needed.
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

/// A Chinese resident identity number: 17 digits and an ISO 7064 MOD 11-2 check
/// character (0-9 or X). The regex already checked the birth date's shape.
pub fn cn_resident_id(c: &Candidate<'_>) -> bool {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let v = c.value().as_bytes();
    if v.len() != 18 || !v[..17].iter().all(u8::is_ascii_digit) {
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
    if !random {
        return false;
    }
    let before = c.before(80);
    let assigned = before
        .trim_end_matches(['"', '\'', ' '])
        .ends_with(['=', ':']);
    assigned || mentions(before, &["aws", "secret"])
}

/// Random-looking tokens contain both letters and digits; words joined by dashes do not.
pub fn letters_and_digits(c: &Candidate<'_>) -> bool {
    let v = c.value();
    v.bytes().any(|b| b.is_ascii_alphabetic()) && v.bytes().any(|b| b.is_ascii_digit())
}

/// An email address, unless it is the `user:password@host` part of a URL (the URL
/// rules own that, and masking it as an email would hide the host).
pub fn email(c: &Candidate<'_>) -> bool {
    let before = c.before(256);
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

/// Words after which a dotted quad is a version, not an address.
const VERSION_WORDS: &[&str] = &["version", "ver", "release", "build", "firmware", "v="];

/// An IPv4 address, unless it is a version (`v1.2.3.4`, `version 1.2.3.4`,
/// `app/1.2.3.4`), part of a longer dotted number (OIDs), or a range the policy
/// leaves alone (loopback and unspecified by default).
pub fn ipv4(c: &Candidate<'_>) -> bool {
    let before = c.before(16);
    let after = c.after(2).as_bytes();
    let prev = before.as_bytes();
    let glued_before = matches!(prev.last(), Some(b'.' | b'v' | b'V' | b'-' | b'_'))
        || prev.last().is_some_and(u8::is_ascii_alphanumeric);
    let glued_after = after.first() == Some(&b'.') && after.get(1).is_some_and(u8::is_ascii_digit);
    // `name/1.2.3.4` is a product token; `//1.2.3.4` and `x /1.2.3.4` are not.
    let product_token = prev.len() >= 2
        && prev[prev.len() - 1] == b'/'
        && prev[prev.len() - 2].is_ascii_alphanumeric();
    if glued_before || glued_after || product_token || mentions(before, VERSION_WORDS) {
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
pub fn not_next_pair(c: &Candidate<'_>) -> bool {
    let spaced = c.before(1).chars().next().is_some_and(char::is_whitespace);
    let v = c.value();
    let key_len = v
        .find(|ch: char| !(ch.is_alphanumeric() || matches!(ch, '_' | '.' | '-')))
        .unwrap_or(v.len());
    let looks_like_pair = key_len > 0 && v[key_len..].starts_with([':', '=']);
    !(spaced && looks_like_pair)
}

/// The `sensitive-key` rule: the pair's key matches one of the policy's key patterns.
pub fn sensitive_key(c: &Candidate<'_>) -> bool {
    c.key.is_some_and(|k| c.policy.key_is_sensitive(k)) && not_next_pair(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Policy;

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
