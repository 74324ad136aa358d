//! PromQL templates: `{plugin}`, `{tenant}` and `{environment}` replaced by the query's
//! values, escaped for where they stand. A placeholder must sit inside a quoted string
//! (a label matcher's value); there its value is escaped for that string, and for a
//! regex matcher (`=~`, `!~`) its regex metacharacters are escaped first, so a plugin
//! id can neither end the string nor widen the match.

pub const PLACEHOLDERS: &[&str] = &["plugin", "tenant", "environment"];

/// The values a template's placeholders take.
pub struct Values<'a> {
    pub plugin: &'a str,
    pub tenant: &'a str,
    pub environment: &'a str,
}

impl Values<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        match name {
            "plugin" => Some(self.plugin),
            "tenant" => Some(self.tenant),
            "environment" => Some(self.environment),
            _ => None,
        }
    }
}

/// Where a placeholder stands: in which kind of string, and whether that string is the
/// value of a regex matcher.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Quote {
    Double,
    Single,
    Backtick,
}

/// Checks a template without values: every `{name}` inside a string names a known
/// placeholder, and known placeholders do not stand outside strings.
pub fn check(template: &str) -> Result<(), String> {
    let empty = Values {
        plugin: "",
        tenant: "",
        environment: "",
    };
    render(template, &empty).map(|_| ())
}

/// The template with its placeholders replaced.
pub fn render(template: &str, values: &Values) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 32);
    let mut quote: Option<(Quote, bool)> = None;
    let mut chars = template.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match quote {
            None => {
                let q = match c {
                    '"' => Some(Quote::Double),
                    '\'' => Some(Quote::Single),
                    '`' => Some(Quote::Backtick),
                    _ => None,
                };
                if let Some(q) = q {
                    quote = Some((q, follows_regex_operator(&template[..i])));
                } else if c == '{' {
                    if let Some(name) = placeholder_at(&template[i..]) {
                        if PLACEHOLDERS.contains(&name) {
                            return Err(format!(
                                "{{{name}}} stands outside a quoted label value; write it inside quotes, e.g. {name}=\"{{{name}}}\""
                            ));
                        }
                    }
                }
                out.push(c);
            }
            Some((q, regex)) => {
                if c == '\\' && q != Quote::Backtick {
                    // An escape sequence is copied as it is, whatever it escapes.
                    out.push(c);
                    if let Some((_, next)) = chars.next() {
                        out.push(next);
                    }
                    continue;
                }
                let closes = matches!(
                    (q, c),
                    (Quote::Double, '"') | (Quote::Single, '\'') | (Quote::Backtick, '`')
                );
                if closes {
                    quote = None;
                    out.push(c);
                    continue;
                }
                if c == '{' {
                    if let Some(name) = placeholder_at(&template[i..]) {
                        let value = values.get(name).ok_or_else(|| {
                            format!(
                                "unknown placeholder {{{name}}}; known: {{plugin}}, {{tenant}}, {{environment}}"
                            )
                        })?;
                        out.push_str(&escape(value, q, regex)?);
                        // Skip the rest of `{name}`.
                        for _ in 0..name.len() + 1 {
                            chars.next();
                        }
                        continue;
                    }
                }
                out.push(c);
            }
        }
    }
    if quote.is_some() {
        return Err("a quoted string is not closed".to_owned());
    }
    Ok(out)
}

/// `name` when `s` starts with `{name}` and name is an identifier.
fn placeholder_at(s: &str) -> Option<&str> {
    let rest = s.strip_prefix('{')?;
    let end = rest.find('}')?;
    let name = &rest[..end];
    let mut bytes = name.bytes();
    let first = bytes.next()?;
    let ident = (first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ident.then_some(name)
}

/// Whether the text before a string's opening quote ends in `=~` or `!~`.
fn follows_regex_operator(before: &str) -> bool {
    let t = before.trim_end();
    t.ends_with("=~") || t.ends_with("!~")
}

/// RE2 metacharacters, escaped so that the value matches only itself.
fn escape_regex(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn escape(value: &str, q: Quote, regex: bool) -> Result<String, String> {
    let value = if regex {
        escape_regex(value)
    } else {
        value.to_owned()
    };
    if q == Quote::Backtick {
        // A raw string has no escapes: a value that would end it cannot go in.
        if value.contains('`') {
            return Err(format!(
                "the value {value:?} cannot go inside a `raw string`; use double quotes"
            ));
        }
        return Ok(value);
    }
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '"' if q == Quote::Double => out.push_str("\\\""),
            '\'' if q == Quote::Single => out.push_str("\\'"),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values<'a>(plugin: &'a str, environment: &'a str) -> Values<'a> {
        Values {
            plugin,
            tenant: "acme",
            environment,
        }
    }

    #[test]
    fn substitutes_inside_label_values() {
        let t = r#"sum by (instance) (rate(errors_total{plugin="{plugin}",tenant='{tenant}',environment="{environment}"}[5m]))"#;
        assert_eq!(
            render(t, &values("checkout", "prod")).expect("render"),
            r#"sum by (instance) (rate(errors_total{plugin="checkout",tenant='acme',environment="prod"}[5m]))"#
        );
    }

    #[test]
    fn values_cannot_leave_their_string() {
        let t = r#"up{plugin="{plugin}"}"#;
        assert_eq!(
            render(t, &values(r#"x"} or up{a="b\"#, "")).expect("render"),
            r#"up{plugin="x\"} or up{a=\"b\\"}"#
        );
        assert_eq!(
            render("up{p='{plugin}'}", &values("it's\n", "")).expect("render"),
            r"up{p='it\'s\n'}"
        );
        assert!(render("up{p=`{plugin}`}", &values("a`b", "")).is_err());
        assert_eq!(render("up{p=`{plugin}`}", &values("a\"b", "")).expect("raw"), "up{p=`a\"b`}");
    }

    #[test]
    fn regex_matchers_match_the_value_only() {
        assert_eq!(
            render(r#"up{plugin=~"{plugin}", env!~ "{environment}|x"}"#, &values("a.b(c)*", "p\\d")).expect("render"),
            r#"up{plugin=~"a\\.b\\(c\\)\\*", env!~ "p\\\\d|x"}"#
        );
    }

    #[test]
    fn other_braces_and_escapes_pass_through() {
        // Label matcher braces, regex repetition and an escaped quote are not placeholders.
        let t = r#"up{job=~"a{2,3}",msg="say \"{hi}\"",plugin="{plugin}"}"#;
        assert!(render(t, &values("p", "")).is_err(), "{{hi}} is an unknown placeholder");
        let t = r#"up{job=~"a{2,3}",msg="q\"",plugin="{plugin}"}"#;
        assert_eq!(
            render(t, &values("p", "")).expect("render"),
            r#"up{job=~"a{2,3}",msg="q\"",plugin="p"}"#
        );
    }

    #[test]
    fn check_refuses_misplaced_and_unknown_placeholders() {
        assert!(check(r#"up{plugin="{plugin}"}"#).is_ok());
        assert!(check("up").is_ok());
        let e = check("up{plugin}").expect_err("outside quotes");
        assert!(e.contains("outside a quoted label value"), "{e}");
        let e = check(r#"up{service="{service}"}"#).expect_err("unknown");
        assert!(e.contains("unknown placeholder {service}"), "{e}");
        let e = check(r#"up{plugin="{plugin}}"#).expect_err("unclosed");
        assert!(e.contains("not closed"), "{e}");
    }
}
