//! Timestamps without a clock: RFC 3339 text and epoch numbers in, unix nanoseconds
//! out, and back to RFC 3339 UTC. Components have no clock (and need none for this);
//! the host shares the same parsing.

/// Parses an RFC 3339 timestamp: `2024-05-01T12:34:56Z`, `…56.789+08:00`. Also takes
/// what loggers write that is almost RFC 3339: a space instead of `T`, a comma before
/// the fraction, `+0800`, and no offset at all (read as UTC).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let digits = b.get(from..from + len)?;
        digits.iter().try_fold(0i64, |acc, d| {
            d.is_ascii_digit().then(|| acc * 10 + i64::from(d - b'0'))
        })
    };
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
    {
        return None;
    }
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if matches!(b.get(i), Some(b'.' | b',')) {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match b.get(i) {
        None => 0,
        Some(b'Z' | b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let h = num(i + 1, 2)?;
            let m = match b.len() - i {
                3 => 0,
                5 => num(i + 3, 2)?,
                6 if b[i + 3] == b':' => num(i + 4, 2)?,
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if sign == b'+' {
                secs
            } else {
                -secs
            }
        }
        Some(_) => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        - offset_secs;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Unix time as a number whose unit is guessed from its size: below 1e11 seconds
/// (until the year 5138), below 1e14 milliseconds, below 1e17 microseconds, else
/// nanoseconds. A fraction is kept (`1714566896.25` seconds).
pub fn parse_epoch(s: &str) -> Option<i64> {
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let whole: i128 = int.parse().ok()?;
    let scale: i128 = match whole {
        w if w < 100_000_000_000 => 1_000_000_000,
        w if w < 100_000_000_000_000 => 1_000_000,
        w if w < 100_000_000_000_000_000 => 1_000,
        _ => 1,
    };
    let mut ns = whole.checked_mul(scale)?;
    // The fraction in the same unit, truncated below a nanosecond.
    let mut unit = scale;
    for d in frac.bytes() {
        unit /= 10;
        if unit == 0 {
            break;
        }
        ns += i128::from(d - b'0') * unit;
    }
    let ns = if negative { -ns } else { ns };
    i64::try_from(ns).ok()
}

/// Either form: a number is an epoch, anything else RFC 3339.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    parse_epoch(s).or_else(|| parse_rfc3339(s))
}

/// A JSON timestamp field: a number (epoch) or a string (epoch or RFC 3339).
pub fn from_json(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => parse_epoch(&n.to_string()),
        serde_json::Value::String(s) => parse_timestamp(s),
        _ => None,
    }
}

/// Formats unix nanoseconds as RFC 3339 UTC, with 3, 6 or 9 fraction digits as needed.
pub fn format_rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let frac = match nanos {
        0 => String::new(),
        n if n % 1_000_000 == 0 => format!(".{:03}", n / 1_000_000),
        n if n % 1_000 == 0 => format!(".{:06}", n / 1_000),
        n => format!(".{n:09}"),
    };
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{frac}Z")
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_714_566_896_000_000_000; // 2024-05-01T12:34:56Z

    #[test]
    fn rfc3339_forms() {
        assert_eq!(parse_rfc3339("2024-05-01T12:34:56Z"), Some(T));
        assert_eq!(
            parse_rfc3339("2024-05-01T12:34:56.789Z"),
            Some(T + 789_000_000)
        );
        assert_eq!(
            parse_rfc3339("2024-05-01T12:34:56.123456789Z"),
            Some(T + 123_456_789)
        );
        assert_eq!(
            parse_rfc3339("2024-05-01T12:34:56.1234567891Z"),
            Some(T + 123_456_789)
        );
        assert_eq!(parse_rfc3339("2024-05-01T20:34:56+08:00"), Some(T));
        assert_eq!(parse_rfc3339("2024-05-01T07:04:56-05:30"), Some(T));
        assert_eq!(
            parse_rfc3339("2024-05-01 20:34:56,5+0800"),
            Some(T + 500_000_000)
        );
        assert_eq!(parse_rfc3339("2024-05-01T12:34:56"), Some(T));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59Z"), Some(-1_000_000_000));
        assert_eq!(
            parse_rfc3339("2024-02-29T00:00:00Z").map(|n| n > 0),
            Some(true)
        );
    }

    #[test]
    fn rfc3339_rejects() {
        for bad in [
            "",
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-05-01T24:00:00Z",
            "2024-05-01T12:34:56.Z",
            "2024-05-01T12:34:56Zjunk",
            "2024-05-01T12:34:56+8",
            "yesterday",
            "2024-05-01T12:34",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn epoch_units_by_magnitude() {
        assert_eq!(parse_epoch("1714566896"), Some(T));
        assert_eq!(parse_epoch("1714566896.25"), Some(T + 250_000_000));
        assert_eq!(parse_epoch("1714566896000"), Some(T));
        assert_eq!(parse_epoch("1714566896123.5"), Some(T + 123_500_000));
        assert_eq!(parse_epoch("1714566896000000"), Some(T));
        assert_eq!(parse_epoch("1714566896000000007"), Some(T + 7));
        assert_eq!(parse_epoch("0"), Some(0));
        assert_eq!(parse_epoch("-1"), Some(-1_000_000_000));
        assert_eq!(parse_epoch("12ab"), None);
        assert_eq!(parse_epoch("99999999999999999999999"), None);
        assert_eq!(parse_epoch(""), None);
    }

    #[test]
    fn json_values() {
        assert_eq!(from_json(&serde_json::json!(1714566896)), Some(T));
        assert_eq!(
            from_json(&serde_json::json!(1714566896.5)),
            Some(T + 500_000_000)
        );
        assert_eq!(from_json(&serde_json::json!("1714566896000")), Some(T));
        assert_eq!(
            from_json(&serde_json::json!("2024-05-01T12:34:56Z")),
            Some(T)
        );
        assert_eq!(from_json(&serde_json::json!(null)), None);
        assert_eq!(from_json(&serde_json::json!(true)), None);
    }

    #[test]
    fn format_round_trips() {
        assert_eq!(format_rfc3339(T), "2024-05-01T12:34:56Z");
        assert_eq!(format_rfc3339(T + 789_000_000), "2024-05-01T12:34:56.789Z");
        assert_eq!(format_rfc3339(T + 1_000), "2024-05-01T12:34:56.000001Z");
        assert_eq!(format_rfc3339(T + 7), "2024-05-01T12:34:56.000000007Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        for ns in [
            T,
            T + 123_456_789,
            -86_400_000_000_123,
            951_782_400_000_000_000,
        ] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ns)), Some(ns));
        }
    }
}
