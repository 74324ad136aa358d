//! Level names as logs spell them, mapped onto the six WIT levels. Plain Rust so the
//! host can use it too; the `bindings` feature converts `Severity` into `types::Level`.

/// The WIT `level` enum, lowest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

/// Parses a level as loggers write it: names in any case (`warn`, `WARNING`, `err`,
/// `critical`), single letters (`E`, `W`), syslog numbers 0-7 (0 emergency … 7 debug)
/// and bunyan/pino numbers 10-60. `None` when it is none of these.
pub fn parse(raw: &str) -> Option<Severity> {
    let s = raw
        .trim()
        .trim_matches(|c| matches!(c, '[' | ']' | '<' | '>'));
    if let Ok(n) = s.parse::<u32>() {
        return from_number(n);
    }
    let lower = s.to_ascii_lowercase();
    Some(match lower.as_str() {
        "t" | "trc" | "trace" | "trace1" | "finest" | "finer" | "verbose" | "v" => Severity::Trace,
        "d" | "dbg" | "debug" | "fine" => Severity::Debug,
        "i" | "inf" | "info" | "information" | "informational" | "notice" | "n" | "config" => {
            Severity::Info
        }
        "w" | "wrn" | "warn" | "warning" => Severity::Warn,
        "e" | "err" | "eror" | "error" | "severe" | "exception" => Severity::Error,
        "f" | "ftl" | "fatal" | "c" | "crit" | "critical" | "a" | "alert" | "emerg"
        | "emergency" | "panic" | "dpanic" => Severity::Fatal,
        _ => return None,
    })
}

fn from_number(n: u32) -> Option<Severity> {
    Some(match n {
        // syslog: 0 emerg, 1 alert, 2 crit, 3 err, 4 warning, 5 notice, 6 info, 7 debug
        0..=2 => Severity::Fatal,
        3 => Severity::Error,
        4 => Severity::Warn,
        5 | 6 => Severity::Info,
        7 => Severity::Debug,
        // bunyan / pino: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal
        10 => Severity::Trace,
        20 => Severity::Debug,
        30 => Severity::Info,
        40 => Severity::Warn,
        50 => Severity::Error,
        60 => Severity::Fatal,
        _ => return None,
    })
}

/// Finds a level in an unstructured line: `level=warn`, `lvl: error`, `"level":"info"`,
/// or a level word at the start (`ERROR …`, `[WARN] …`, `2024-05-01T… ERROR …`).
pub fn sniff(line: &str) -> Option<Severity> {
    let lower = line.to_ascii_lowercase();
    for key in ["level", "lvl", "severity"] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(key) {
            let at = from + i;
            from = at + key.len();
            let boundary = at == 0 || !lower.as_bytes()[at - 1].is_ascii_alphanumeric();
            let rest = lower[from..].trim_start_matches(['"', '\'']).trim_start();
            if !boundary {
                continue;
            }
            if let Some(rest) = rest.strip_prefix(['=', ':']) {
                let word: String = rest
                    .trim_start_matches([' ', '"', '\''])
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                if let Some(level) = parse(&word) {
                    return Some(level);
                }
            }
        }
    }
    // A level word among the first few tokens (after a timestamp, a thread name …).
    line.split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | ':' | '|'))
        .filter(|w| !w.is_empty() && !w.starts_with(|c: char| c.is_ascii_digit()))
        .take(3)
        .filter(|w| w.len() >= 4 && w.chars().all(|c| c.is_ascii_uppercase()))
        .find_map(parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_letters_and_numbers() {
        assert_eq!(parse("warn"), Some(Severity::Warn));
        assert_eq!(parse("WARNING"), Some(Severity::Warn));
        assert_eq!(parse("err"), Some(Severity::Error));
        assert_eq!(parse("E"), Some(Severity::Error));
        assert_eq!(parse(" Info "), Some(Severity::Info));
        assert_eq!(parse("[DEBUG]"), Some(Severity::Debug));
        assert_eq!(parse("critical"), Some(Severity::Fatal));
        assert_eq!(parse("3"), Some(Severity::Error));
        assert_eq!(parse("4"), Some(Severity::Warn));
        assert_eq!(parse("7"), Some(Severity::Debug));
        assert_eq!(parse("0"), Some(Severity::Fatal));
        assert_eq!(parse("50"), Some(Severity::Error));
        assert_eq!(parse("30"), Some(Severity::Info));
        assert_eq!(parse("loud"), None);
        assert_eq!(parse("99"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn sniffs_levels_in_plain_lines() {
        assert_eq!(sniff("ts=1 level=warn msg=slow"), Some(Severity::Warn));
        assert_eq!(
            sniff(r#"{"level":"error","msg":"x"}"#),
            Some(Severity::Error)
        );
        assert_eq!(sniff("ERROR connection refused"), Some(Severity::Error));
        assert_eq!(
            sniff("2024-05-01T10:00:00Z [WARN] disk"),
            Some(Severity::Warn)
        );
        assert_eq!(
            sniff("2024-05-01 10:00:00 FATAL out of memory"),
            Some(Severity::Fatal)
        );
        assert_eq!(sniff("sublevel=9 all good"), None);
        assert_eq!(sniff("user clicked the Error button"), None);
        assert_eq!(sniff("nothing here"), None);
    }
}
