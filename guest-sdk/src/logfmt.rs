//! logfmt (`level=info msg="handled order 7" trace_id=4bf9…`), the other common shape
//! of a log line besides JSON. Pure, so it compiles natively too.

/// The `key=value` pairs of a logfmt line, in order; None when the line does not
/// look like logfmt (fewer than two pairs, or text that is not pairs).
pub fn parse(line: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut rest = line.trim();
    while !rest.is_empty() {
        let key_end = rest
            .find(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = &rest[..key_end];
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '@'))
        {
            return None;
        }
        rest = &rest[key_end..];
        let value = if let Some(after) = rest.strip_prefix('=') {
            if let Some(quoted) = after.strip_prefix('"') {
                let (value, len) = unquote(quoted)?;
                rest = &quoted[len..];
                value
            } else {
                let end = after.find(char::is_whitespace).unwrap_or(after.len());
                rest = &after[end..];
                after[..end].to_string()
            }
        } else {
            // A bare key is a flag.
            String::new()
        };
        pairs.push((key.to_string(), value));
        rest = rest.trim_start();
    }
    (pairs.len() >= 2 && pairs.iter().filter(|(_, v)| !v.is_empty()).count() >= 2).then_some(pairs)
}

/// Reads a quoted value up to its closing quote; returns it and the bytes consumed
/// (closing quote included).
fn unquote(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_plain_and_quoted_values() {
        assert_eq!(
            parse(r#"level=info msg="handled order \"7\"" trace_id=4bf9 ok"#),
            Some(pairs(&[
                ("level", "info"),
                ("msg", "handled order \"7\""),
                ("trace_id", "4bf9"),
                ("ok", "")
            ]))
        );
        assert_eq!(
            parse("ts=2026-01-01T00:00:00Z level=error"),
            Some(pairs(&[("ts", "2026-01-01T00:00:00Z"), ("level", "error")]))
        );
    }

    #[test]
    fn prose_is_not_logfmt() {
        assert_eq!(parse("ERROR something broke"), None);
        assert_eq!(parse("payment failed: x=1"), None);
        assert_eq!(parse("level=info"), None);
        assert_eq!(parse(r#"msg="unterminated level=info"#), None);
        assert_eq!(parse(""), None);
    }
}
