//! The text a ticket mapper writes and reads, the same for every ticket system:
//! a title or body cut to the vendor's limit (with a note and the report's link), the
//! hidden fingerprint marker, the task line that ends an issue's body, an update's
//! text, the endpoint and issue number it acts on, and a vendor's answer (JSON, or a
//! refusal told in the mapper's words). Limits, vendor names and wording are
//! parameters; what each vendor's error answer looks like stays in its mapper.
//!
//! The plain text functions compile natively too; those that take the WIT types
//! (`ReportSummary`, `HttpResponse`, `PluginError`) need the `bindings` feature.

/// `s` within `max` characters: a longer `s` keeps its first `max - 1` characters and
/// ends with `…`. A `max` of 0 gives the empty string.
pub fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// A title as one line, cut to `max` characters (see [`cut`]): every run of
/// whitespace, line breaks included, becomes one space, and the ends are trimmed. A
/// title with a newline reads as garbage in a ticket system's lists.
pub fn one_line(title: &str, max: usize) -> String {
    cut(&title.split_whitespace().collect::<Vec<_>>().join(" "), max)
}

/// `text` then `tail` within `max` characters. When they do not fit, `text` is cut
/// and followed by a note, `… (cut to <kept> of <total> characters for <vendor>'s
/// limit; the full report: <report_url>)`, never `tail` (which carries the
/// fingerprint marker). The result exceeds `max` only when `tail` and the note alone
/// do.
pub fn cap_with_tail(text: &str, tail: &str, max: usize, vendor: &str, report_url: Option<&str>) -> String {
    let total = text.chars().count();
    if total + tail.chars().count() <= max {
        return format!("{text}{tail}");
    }
    let where_full = report_url.map(|u| format!("; the full report: {u}")).unwrap_or_default();
    // The note's length depends on the count it prints; sized with the total, which
    // is no shorter than the count kept.
    let note_len =
        format!("\n\n… (cut to {total} of {total} characters for {vendor}'s limit{where_full})").chars().count();
    let keep = max.saturating_sub(tail.chars().count() + note_len);
    let kept: String = text.chars().take(keep).collect();
    format!("{kept}\n\n… (cut to {keep} of {total} characters for {vendor}'s limit{where_full}){tail}")
}

/// The fingerprint as a hidden HTML comment on its own line, so that a person (or a
/// later search) can tie an issue to its failure. Only characters that cannot end the
/// comment are kept: letters, digits, `_ . : /` and `-`, but no `--` (a run of dashes
/// is kept as one).
pub fn fingerprint_marker(fingerprint: &str) -> String {
    let mut safe = String::with_capacity(fingerprint.len());
    for c in fingerprint.chars() {
        let keep = c.is_ascii_alphanumeric()
            || matches!(c, '_' | '.' | ':' | '/')
            || (c == '-' && !safe.ends_with('-'));
        if keep {
            safe.push(c);
        }
    }
    format!("\n<!-- casefile-fingerprint: {safe} -->\n")
}

#[cfg(feature = "bindings")]
pub use with_bindings::*;

#[cfg(feature = "bindings")]
mod with_bindings {
    use super::fingerprint_marker;
    use crate::http::body_excerpt;
    use crate::types::{HttpResponse, PluginError, ReportSummary, TicketRef};
    use serde_json::Value;

    /// An `invalid-input` error: the host refuses the request without retrying and
    /// keeps the message.
    pub fn invalid(m: impl Into<String>) -> PluginError {
        PluginError::InvalidInput(m.into())
    }

    /// The ticket endpoint, trimmed, for a ticket system reached at a URL the
    /// settings do not give: empty is an error that ends with `hint` (where the
    /// endpoint is, e.g. `https://api.github.com`), and so is one without http:// or
    /// https://.
    pub fn http_endpoint<'a>(endpoint: &'a str, hint: &str) -> Result<&'a str, PluginError> {
        let base = endpoint.trim();
        if base.is_empty() {
            return Err(invalid(format!("ticket endpoint is empty ({hint})")));
        }
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            return Err(invalid(format!("ticket endpoint `{base}` must start with https:// or http://")));
        }
        Ok(base)
    }

    /// The number of the issue `ticket` names, for ticket systems whose issues are
    /// positive integers (the id trimmed): `<what> needs the issue it acts on`
    /// without a ticket, `` `<id>` is not a <kind> `` for any other id.
    pub fn issue_number(ticket: Option<&TicketRef>, what: &str, kind: &str) -> Result<u64, PluginError> {
        let ticket = ticket.ok_or_else(|| invalid(format!("{what} needs the issue it acts on")))?;
        ticket
            .id
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| invalid(format!("`{}` is not a {kind}", ticket.id)))
    }

    /// What an update says: the comment, or when it is empty (ticket systems refuse
    /// empty comments, and an update still means the failure was seen again)
    /// `casefile saw this failure again (task <id>).`
    pub fn update_text(comment: String, task_id: &str) -> String {
        if comment.trim().is_empty() {
            format!("casefile saw this failure again (task {task_id}).")
        } else {
            comment
        }
    }

    /// A ticket system's answer as JSON, or `unavailable` (`<vendor> answered <status>
    /// with bad JSON: <why>`): the system said yes in a way the mapper cannot read.
    // Inline, so that serde_json's parser for `Value` is the mapper's own copy: one
    // made in this crate is a second one in the component.
    #[inline]
    pub fn json_answer(vendor: &str, response: &HttpResponse) -> Result<Value, PluginError> {
        serde_json::from_slice(&response.body).map_err(|e| {
            PluginError::Unavailable(format!("{vendor} answered {} with bad JSON: {e}", response.status))
        })
    }

    /// Where [`report_tail`] puts the failure's fingerprint.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Fingerprint {
        /// Last, as a hidden HTML comment ([`fingerprint_marker`]), for Markdown
        /// that hides it.
        Marker,
        /// In the task line, `fingerprint <fp>`, for text shown as it is.
        InLine,
    }

    /// What ends an issue's body: a rule, the report's link when there is one, the
    /// task line (`casefile task <id>, tenant <t>, plugin <id> <version>, severity
    /// <s>, error event <id>`), the owners when there are any, and the fingerprint
    /// where `fingerprint` says. Every line ends with a newline.
    pub fn report_tail(r: &ReportSummary, fingerprint: Fingerprint) -> String {
        let mut tail = String::from("\n\n---\n");
        if let Some(url) = &r.report_url {
            tail.push_str(&format!("Report: {url}\n"));
        }
        let version = r.plugin_version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
        let in_line = match fingerprint {
            Fingerprint::InLine => format!(", fingerprint {}", r.fingerprint),
            Fingerprint::Marker => String::new(),
        };
        tail.push_str(&format!(
            "casefile task {}, tenant {}, plugin {}{version}{in_line}, severity {}, error event {}\n",
            r.task_id,
            r.tenant,
            r.plugin_id,
            r.severity.as_str(),
            r.error_event_id,
        ));
        if !r.owners.is_empty() {
            tail.push_str(&format!("Owners: {}\n", r.owners.join(", ")));
        }
        if fingerprint == Fingerprint::Marker {
            tail.push_str(&fingerprint_marker(&r.fingerprint));
        }
        tail
    }

    /// How a vendor's refusals read. `denied`, `not_found` and `refused` write the
    /// message from the answer's status and the vendor's reasons (or the answer's
    /// first 200 bytes); they may leave either out.
    #[derive(Debug, Clone, Copy)]
    pub struct Refusals {
        /// The vendor as messages name it: a timeout (408), throttling (429) or
        /// server error reads `<vendor> answered <status>: <why>`.
        pub vendor: &'static str,
        /// 401 and 403, a `denied` error: which credentials to check.
        pub denied: fn(u16, &str) -> String,
        /// 404, an `invalid-input`: what may not exist, or not be visible.
        pub not_found: fn(u16, &str) -> String,
        /// Any other status, an `invalid-input` (usually a 4xx the vendor refuses
        /// as such, which no retry changes).
        pub refused: fn(u16, &str) -> String,
    }

    /// The failure a refused answer means for the host, in the vendor's words (see
    /// [`Refusals`]): 401/403 `denied`, 408/429/5xx `unavailable` (retried),
    /// anything else `invalid-input`.
    pub fn refusal(words: &Refusals, status: u16, why: &str) -> PluginError {
        match status {
            401 | 403 => PluginError::Denied((words.denied)(status, why)),
            404 => invalid((words.not_found)(status, why)),
            408 | 429 | 500.. => PluginError::Unavailable(format!("{} answered {status}: {why}", words.vendor)),
            _ => invalid((words.refused)(status, why)),
        }
    }

    /// The reasons in an error answer: what `read` finds in the body as JSON, else
    /// (not JSON, or `read` finds none) the body's first 200 bytes.
    pub fn reasons_or_excerpt(body: &[u8], read: impl FnOnce(&Value) -> Option<String>) -> String {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| read(&v))
            .unwrap_or_else(|| body_excerpt(body, 200))
    }

    /// `Ok` for a 2xx answer, else its [`refusal`] with the reasons `read` finds
    /// (see [`reasons_or_excerpt`]).
    pub fn check_answer(
        response: &HttpResponse,
        words: &Refusals,
        read: impl FnOnce(&Value) -> Option<String>,
    ) -> Result<(), PluginError> {
        let status = response.status;
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(refusal(words, status, &reasons_or_excerpt(&response.body, read)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_short_text_and_ends_long_text_with_an_ellipsis() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "ab…");
        assert_eq!(cut(&"é".repeat(10), 4), "ééé…");
        assert_eq!(cut("", 0), "");
        assert_eq!(cut("a", 0), "");
        assert_eq!(cut("ab", 1), "…");
    }

    #[test]
    fn one_line_joins_whitespace_runs() {
        assert_eq!(one_line("  pay\n fails \t on\r\ncheckout ", 255), "pay fails on checkout");
        assert_eq!(one_line("pay\nfails", 5), "pay …");
        assert_eq!(one_line(" \n ", 5), "");
    }

    #[test]
    fn cap_with_tail_cuts_the_text_never_the_tail() {
        assert_eq!(cap_with_tail("abc", "T", 4, "V", None), "abcT");
        let text = "x".repeat(1000);
        let tail = "\n<!-- casefile-fingerprint: fp -->\n";
        let out = cap_with_tail(&text, tail, 200, "GitHub", Some("http://r/1"));
        assert!(out.ends_with(tail), "{out}");
        // The text is ASCII: the note's byte offset is the count kept.
        let keep = out.find("\n\n… (cut to ").expect("a note");
        assert!(
            out.contains(&format!("(cut to {keep} of 1000 characters for GitHub's limit; the full report: http://r/1)")),
            "{out}"
        );
        // Sized with the total (4 digits) in place of the kept count (2 digits): at
        // most that many characters short of the limit.
        let n = out.chars().count();
        assert!((198..=200).contains(&n), "{n}");
        // Characters, not bytes.
        let wide = cap_with_tail(&"é".repeat(300), "", 100, "GitLab", None);
        assert!(wide.chars().count() <= 100 && wide.ends_with("characters for GitLab's limit)"), "{wide}");
        // A tail longer than the limit is kept whole, and nothing of the text.
        let over = cap_with_tail("abc", &"t".repeat(50), 10, "V", None);
        assert!(over.starts_with("\n\n… (cut to 0 of 3 characters for V's limit)") && over.ends_with(&"t".repeat(50)));
    }

    #[test]
    fn the_marker_cannot_end_the_comment() {
        assert_eq!(fingerprint_marker("fp-abc"), "\n<!-- casefile-fingerprint: fp-abc -->\n");
        assert_eq!(fingerprint_marker("a--->b <c>"), "\n<!-- casefile-fingerprint: a-bc -->\n");
        assert_eq!(fingerprint_marker("é/ü:1_2.3"), "\n<!-- casefile-fingerprint: /:1_2.3 -->\n");
        assert_eq!(fingerprint_marker(""), "\n<!-- casefile-fingerprint:  -->\n");
    }

    #[cfg(feature = "bindings")]
    mod with_bindings {
        use super::super::*;
        use crate::types::{HttpResponse, PluginError, ReportSummary, Severity, TicketRef, TicketState};
        use serde_json::Value;

        fn report(version: Option<&str>, owners: &[&str], url: Option<&str>) -> ReportSummary {
            ReportSummary {
                task_id: "task-1".into(),
                tenant: "acme".into(),
                plugin_id: "pay".into(),
                plugin_version: version.map(Into::into),
                error_event_id: "ev-9".into(),
                fingerprint: "fp-abc".into(),
                title: "t".into(),
                severity: Severity::High,
                environments: vec![],
                owners: owners.iter().map(|o| (*o).into()).collect(),
                markdown: "m".into(),
                report_url: url.map(Into::into),
            }
        }

        #[test]
        fn the_tail_names_the_task_and_the_fingerprint() {
            let full = report(Some("1.2.0"), &["team-pay", "sre"], Some("http://r/1"));
            assert_eq!(
                report_tail(&full, Fingerprint::Marker),
                "\n\n---\nReport: http://r/1\n\
                 casefile task task-1, tenant acme, plugin pay 1.2.0, severity high, error event ev-9\n\
                 Owners: team-pay, sre\n\n<!-- casefile-fingerprint: fp-abc -->\n"
            );
            assert_eq!(
                report_tail(&full, Fingerprint::InLine),
                "\n\n---\nReport: http://r/1\n\
                 casefile task task-1, tenant acme, plugin pay 1.2.0, fingerprint fp-abc, severity high, error event ev-9\n\
                 Owners: team-pay, sre\n"
            );
            let bare = report(None, &[], None);
            assert_eq!(
                report_tail(&bare, Fingerprint::InLine),
                "\n\n---\ncasefile task task-1, tenant acme, plugin pay, fingerprint fp-abc, severity high, error event ev-9\n"
            );
        }

        const WORDS: Refusals = Refusals {
            vendor: "V",
            denied: |status, why| format!("V refused the credentials ({status}): check them: {why}"),
            not_found: |status, _| format!("V has no such issue ({status})"),
            refused: |status, why| format!("V refused the request ({status}): {why}"),
        };

        fn answer(status: u16, body: &str) -> HttpResponse {
            HttpResponse { status, headers: vec![], body: body.as_bytes().to_vec() }
        }

        fn message(v: &Value) -> Option<String> {
            v["message"].as_str().map(str::to_owned)
        }

        #[test]
        fn refusals_by_status_in_the_vendors_words() {
            assert!(check_answer(&answer(204, "no"), &WORDS, message).is_ok());
            let cases = [
                (401, r#"{"message":"bad token"}"#, PluginError::Denied("V refused the credentials (401): check them: bad token".into())),
                (403, "nope", PluginError::Denied("V refused the credentials (403): check them: nope".into())),
                (404, "gone", PluginError::InvalidInput("V has no such issue (404)".into())),
                (408, "", PluginError::Unavailable("V answered 408: ".into())),
                (429, r#"{"message":"slow down"}"#, PluginError::Unavailable("V answered 429: slow down".into())),
                (503, "down", PluginError::Unavailable("V answered 503: down".into())),
                (300, "?", PluginError::InvalidInput("V refused the request (300): ?".into())),
                // Braces in the vendor's words are kept as they are.
                (422, r#"{"message":"{status} {why}"}"#, PluginError::InvalidInput("V refused the request (422): {status} {why}".into())),
                // JSON without the reasons: the body's start.
                (400, r#"{"other":1}"#, PluginError::InvalidInput(r#"V refused the request (400): {"other":1}"#.into())),
            ];
            for (status, body, want) in cases {
                assert_eq!(check_answer(&answer(status, body), &WORDS, message), Err(want), "{status}");
            }
            assert_eq!(reasons_or_excerpt("x".repeat(300).as_bytes(), message), "x".repeat(200));
            assert_eq!(invalid("m"), PluginError::InvalidInput("m".into()));
        }

        #[test]
        fn answers_endpoints_issue_numbers_and_updates() {
            assert_eq!(json_answer("V", &answer(201, r#"{"a":1}"#)), Ok(serde_json::json!({"a": 1})));
            let Err(PluginError::Unavailable(m)) = json_answer("V", &answer(200, "<html>")) else { panic!() };
            assert!(m.starts_with("V answered 200 with bad JSON: expected value"), "{m}");

            assert_eq!(http_endpoint(" https://h/ ", "hint"), Ok("https://h/"));
            assert_eq!(http_endpoint(" ", "e.g. https://h"), Err(invalid("ticket endpoint is empty (e.g. https://h)")));
            assert_eq!(http_endpoint("h.example", "x"), Err(invalid("ticket endpoint `h.example` must start with https:// or http://")));

            let t = |id: &str| TicketRef { id: id.into(), url: None, state: TicketState::Open };
            assert_eq!(issue_number(Some(&t(" 12 ")), "close", "V issue number"), Ok(12));
            assert_eq!(issue_number(None, "close", "V issue number"), Err(invalid("close needs the issue it acts on")));
            for bad in ["0", "-1", "1/../2", "#3", ""] {
                assert_eq!(issue_number(Some(&t(bad)), "x", "V issue number"), Err(invalid(format!("`{bad}` is not a V issue number"))));
            }

            assert_eq!(update_text(" \n".into(), "task-1"), "casefile saw this failure again (task task-1).");
            assert_eq!(update_text(" seen ".into(), "task-1"), " seen ");
        }
    }
}
