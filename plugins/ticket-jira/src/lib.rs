//! Ticket mapper for Jira Cloud's REST API v3:
//! `POST <endpoint>/rest/api/3/issue` opens an issue whose description is the
//! report in Atlassian Document Format (ADF); a comment is
//! `POST /rest/api/3/issue/<key>/comment`; a close or a reopen is
//! `POST /rest/api/3/issue/<key>/transitions` with the workflow's transition id
//! from the settings, the comment riding along in `update.comment`, so every action
//! is one request.
//!
//! Credentials stay in the host (`ticket.credentials`, `scheme: basic` with the
//! account's e-mail as `username` and an API token).

use casefile_guest::fields::field;
use casefile_guest::http::{join_url, percent_encode};
use casefile_guest::ticket_mapper::Guest;
use casefile_guest::ticket_text::{check_answer, invalid, json_answer, one_line, Refusals};
use casefile_guest::types::{
    HttpMethod, HttpRequest, HttpResponse, PluginError, ReportSummary, TicketAction, TicketRef,
    TicketState, TicketTarget,
};
use serde_json::{json, Value};

struct JiraTickets;

/// Jira's longest summary.
const SUMMARY_MAX_CHARS: usize = 255;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// The project's key (`OPS`).
    project_key: String,
    /// The issue type new issues get.
    #[serde(default = "default_issue_type")]
    issue_type: String,
    /// The workflow transition that closes an issue (its id, from
    /// `GET /rest/api/3/issue/{key}/transitions`).
    close_transition_id: String,
    /// The transition that reopens a closed one.
    reopen_transition_id: String,
    #[serde(default)]
    labels: Vec<String>,
}

fn default_issue_type() -> String {
    "Bug".into()
}

impl Settings {
    fn parse(json: &str) -> Result<Settings, PluginError> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        let s: Settings = serde_json::from_str(json).map_err(|e| {
            invalid(format!(
                "settings: {e} (the Jira mapper needs project_key, close_transition_id and reopen_transition_id)"
            ))
        })?;
        for (name, v) in [
            ("project_key", &s.project_key),
            ("issue_type", &s.issue_type),
            ("close_transition_id", &s.close_transition_id),
            ("reopen_transition_id", &s.reopen_transition_id),
        ] {
            if v.trim().is_empty() {
                return Err(invalid(format!("settings.{name} is empty")));
            }
        }
        // Jira refuses labels with spaces.
        if let Some(bad) = s.labels.iter().find(|l| l.trim().is_empty() || l.contains(char::is_whitespace)) {
            return Err(invalid(format!("settings.labels: {bad:?} is empty or has a space, which Jira refuses")));
        }
        Ok(s)
    }
}

impl Guest for JiraTickets {
    fn validate_settings(settings: String) -> Result<(), PluginError> {
        Settings::parse(&settings).map(|_| ())
    }

    fn build_request(
        target: TicketTarget,
        action: TicketAction,
        report: ReportSummary,
        ticket: Option<TicketRef>,
        comment: String,
    ) -> Result<HttpRequest, PluginError> {
        let settings = Settings::parse(&target.settings)?;
        let base = target.endpoint.trim();
        if base.is_empty() {
            return Err(invalid("ticket endpoint is empty"));
        }
        let (path, body) = match (action, ticket) {
            (TicketAction::Create, _) => ("/rest/api/3/issue".to_owned(), create_body(&settings, &report)),
            (action, Some(t)) => {
                let key = t.id.trim();
                if key.is_empty() || key.contains(['/', '?', '#']) {
                    return Err(invalid(format!("`{}` is not a Jira issue key", t.id)));
                }
                let key = percent_encode(key);
                let text = if comment.trim().is_empty() { None } else { Some(comment.as_str()) };
                match action {
                    TicketAction::Close => (format!("/rest/api/3/issue/{key}/transitions"), transition_body(&settings.close_transition_id, text)),
                    TicketAction::Reopen => (format!("/rest/api/3/issue/{key}/transitions"), transition_body(&settings.reopen_transition_id, text)),
                    TicketAction::Create | TicketAction::Update => {
                        (format!("/rest/api/3/issue/{key}/comment"), json!({ "body": adf(text.unwrap_or("(no comment)")) }))
                    }
                }
            }
            (action, None) => {
                return Err(invalid(format!("{} needs the issue it acts on", action.as_str())))
            }
        };
        Ok(HttpRequest {
            method: HttpMethod::Post,
            url: join_url(base, &path),
            headers: vec![field("content-type", "application/json"), field("accept", "application/json")],
            body: body.to_string().into_bytes(),
        })
    }

    fn parse_response(action: TicketAction, response: HttpResponse) -> Result<TicketRef, PluginError> {
        check_status(&response)?;
        if !matches!(action, TicketAction::Create) {
            // A transition answers 204; a comment answers with the comment.
            return Ok(TicketRef { id: String::new(), url: None, state: TicketState::after(action) });
        }
        let v = json_answer("Jira", &response)?;
        let key = v["key"].as_str().filter(|k| !k.is_empty()).ok_or_else(|| {
            PluginError::Unavailable(format!("Jira answered {} without an issue key", response.status))
        })?;
        // `self` is the API's URL of the issue; people open `<site>/browse/<key>`.
        let url = v["self"].as_str().and_then(|s| s.find("/rest/api/").map(|i| format!("{}/browse/{key}", &s[..i])));
        Ok(TicketRef { id: key.to_owned(), url, state: TicketState::Open })
    }
}

/// How Jira's refusals read (see `check_status`).
const REFUSALS: Refusals = Refusals {
    vendor: "Jira",
    denied: |status, _| {
        format!("Jira refused the credentials ({status}): check ticket.credentials (basic, the account's e-mail and an API token) and the project's permissions")
    },
    not_found: |_, why| format!("Jira has no such issue or project, or the account cannot see it (404): {why}"),
    refused: |status, why| format!("Jira refused the request ({status}): {why}"),
};

/// Jira's error answers (`{"errorMessages": [...], "errors": {field: message}}`),
/// in words that say what to do.
fn check_status(response: &HttpResponse) -> Result<(), PluginError> {
    check_answer(response, &REFUSALS, |v| {
        let mut reasons: Vec<String> =
            v["errorMessages"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
        if let Some(fields) = v["errors"].as_object() {
            reasons.extend(fields.iter().map(|(k, m)| format!("{k}: {}", m.as_str().unwrap_or_default())));
        }
        (!reasons.is_empty()).then(|| reasons.join("; "))
    })
}

fn create_body(settings: &Settings, r: &ReportSummary) -> Value {
    let mut text = r.markdown.clone();
    text.push_str("\n\n");
    if let Some(url) = &r.report_url {
        text.push_str(&format!("Report: {url}\n"));
    }
    text.push_str(&format!(
        "casefile task {}, tenant {}, plugin {}, fingerprint {}, error event {}",
        r.task_id, r.tenant, r.plugin_id, r.fingerprint, r.error_event_id
    ));
    let mut labels = settings.labels.clone();
    labels.push(format!("severity-{}", r.severity.as_str()));
    json!({
        "fields": {
            "project": { "key": settings.project_key.trim() },
            "issuetype": { "name": settings.issue_type.trim() },
            // Jira's summary is one line.
            "summary": one_line(&r.title, SUMMARY_MAX_CHARS),
            "description": adf(&text),
            "labels": labels,
        }
    })
}

fn transition_body(id: &str, comment: Option<&str>) -> Value {
    let mut body = json!({ "transition": { "id": id.trim() } });
    if let Some(c) = comment {
        body["update"] = json!({ "comment": [ { "add": { "body": adf(c) } } ] });
    }
    body
}

/// Markdown-ish text as an ADF document: `#` lines become headings, fenced blocks
/// code blocks, other blank-line-separated blocks paragraphs (lines joined by hard
/// breaks). ADF forbids empty text nodes, so none is made.
fn adf(text: &str) -> Value {
    let mut content = Vec::new();
    let mut para: Vec<&str> = Vec::new();
    let mut code: Option<Vec<&str>> = None;
    let flush = |para: &mut Vec<&str>, content: &mut Vec<Value>| {
        if para.is_empty() {
            return;
        }
        let mut nodes = Vec::new();
        for (i, line) in para.iter().enumerate() {
            if i > 0 {
                nodes.push(json!({"type": "hardBreak"}));
            }
            if !line.is_empty() {
                nodes.push(json!({"type": "text", "text": line}));
            }
        }
        content.push(json!({"type": "paragraph", "content": nodes}));
        para.clear();
    };
    for line in text.lines() {
        if let Some(block) = code.as_mut() {
            if line.trim_start().starts_with("```") {
                let body = block.join("\n");
                let node = if body.is_empty() { json!({"type": "codeBlock"}) } else { json!({"type": "codeBlock", "content": [{"type": "text", "text": body}]}) };
                content.push(node);
                code = None;
            } else {
                block.push(line);
            }
            continue;
        }
        let trimmed = line.trim_end();
        if trimmed.trim_start().starts_with("```") {
            flush(&mut para, &mut content);
            code = Some(Vec::new());
        } else if trimmed.is_empty() {
            flush(&mut para, &mut content);
        } else if let Some((level, rest)) = heading(trimmed) {
            flush(&mut para, &mut content);
            content.push(json!({"type": "heading", "attrs": {"level": level}, "content": [{"type": "text", "text": rest}]}));
        } else {
            para.push(trimmed);
        }
    }
    if let Some(block) = code {
        // An unclosed fence: keep what was in it.
        let body = block.join("\n");
        if !body.is_empty() {
            content.push(json!({"type": "codeBlock", "content": [{"type": "text", "text": body}]}));
        }
    }
    flush(&mut para, &mut content);
    if content.is_empty() {
        content.push(json!({"type": "paragraph", "content": []}));
    }
    json!({ "type": "doc", "version": 1, "content": content })
}

fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    let rest = line[level..].strip_prefix(' ')?.trim();
    ((1..=6).contains(&level) && !rest.is_empty()).then_some((level, rest))
}

casefile_guest::export_ticket_mapper!(JiraTickets);

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: &str = r#"{"project_key": "OPS", "close_transition_id": "31", "reopen_transition_id": "11", "labels": ["casefile"]}"#;

    fn report() -> ReportSummary {
        ReportSummary {
            task_id: "task-1".into(),
            tenant: "acme".into(),
            plugin_id: "pay".into(),
            plugin_version: None,
            error_event_id: "ev-9".into(),
            fingerprint: "fp-abc".into(),
            title: "pay fails\non checkout".into(),
            severity: casefile_guest::types::Severity::High,
            environments: vec!["prod".into()],
            owners: vec![],
            markdown: "# Report\n\nLine one\nline two\n\n```\ncode\n```\n".into(),
            report_url: None,
        }
    }

    fn target() -> TicketTarget {
        TicketTarget { endpoint: "https://acme.atlassian.net/".into(), settings: SETTINGS.into() }
    }

    fn body(req: &HttpRequest) -> Value {
        serde_json::from_slice(&req.body).expect("JSON body")
    }

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, headers: vec![], body: body.as_bytes().to_vec() }
    }

    #[test]
    fn create_sends_an_adf_description() {
        let req = JiraTickets::build_request(target(), TicketAction::Create, report(), None, String::new()).unwrap();
        assert_eq!((req.method.as_str(), req.url.as_str()), ("POST", "https://acme.atlassian.net/rest/api/3/issue"));
        let b = body(&req);
        assert_eq!(b["fields"]["project"], json!({"key": "OPS"}));
        assert_eq!(b["fields"]["issuetype"], json!({"name": "Bug"}));
        assert_eq!(b["fields"]["summary"], "pay fails on checkout");
        assert_eq!(b["fields"]["labels"], json!(["casefile", "severity-high"]));
        let d = &b["fields"]["description"];
        assert_eq!((d["type"].as_str(), d["version"].as_u64()), (Some("doc"), Some(1)));
        let kinds: Vec<&str> = d["content"].as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["heading", "paragraph", "codeBlock", "paragraph"]);
        assert_eq!(d["content"][1]["content"], json!([{"type": "text", "text": "Line one"}, {"type": "hardBreak"}, {"type": "text", "text": "line two"}]));
        assert_eq!(d["content"][2]["content"][0]["text"], "code");
        assert!(!d.to_string().contains(r#""text":"""#), "no empty text node");
        assert_eq!(
            d["content"][3]["content"][0]["text"],
            "casefile task task-1, tenant acme, plugin pay, fingerprint fp-abc, error event ev-9"
        );

        let mut long = report();
        long.title = format!("pay\nfails {}", "é".repeat(300));
        let b = body(&JiraTickets::build_request(target(), TicketAction::Create, long, None, String::new()).unwrap());
        let s = b["fields"]["summary"].as_str().unwrap();
        assert_eq!(s.chars().count(), SUMMARY_MAX_CHARS);
        assert!(s.starts_with("pay fails éé") && s.ends_with("é…"), "{s}");
    }

    #[test]
    fn comments_and_transitions() {
        let t = Some(TicketRef { id: "OPS-7".into(), url: None, state: TicketState::Open });
        let req = JiraTickets::build_request(target(), TicketAction::Update, report(), t.clone(), "seen again".into()).unwrap();
        assert_eq!(req.url, "https://acme.atlassian.net/rest/api/3/issue/OPS-7/comment");
        assert_eq!(body(&req)["body"]["content"][0]["content"][0]["text"], "seen again");
        for (action, id) in [(TicketAction::Close, "31"), (TicketAction::Reopen, "11")] {
            let req = JiraTickets::build_request(target(), action, report(), t.clone(), "passed".into()).unwrap();
            assert_eq!(req.url, "https://acme.atlassian.net/rest/api/3/issue/OPS-7/transitions");
            let b = body(&req);
            assert_eq!(b["transition"], json!({"id": id}));
            assert_eq!(b["update"]["comment"][0]["add"]["body"]["content"][0]["content"][0]["text"], "passed");
        }
        let bare = JiraTickets::build_request(target(), TicketAction::Close, report(), t, String::new()).unwrap();
        assert!(body(&bare).get("update").is_none());
        for bad in [None, Some(TicketRef { id: "../x".into(), url: None, state: TicketState::Open })] {
            assert!(matches!(JiraTickets::build_request(target(), TicketAction::Close, report(), bad, String::new()), Err(PluginError::InvalidInput(_))));
        }
    }

    #[test]
    fn settings_are_checked() {
        assert!(JiraTickets::validate_settings(SETTINGS.into()).is_ok());
        for (bad, why) in [
            ("{}", "missing field"),
            (r#"{"project_key": "OPS", "close_transition_id": "", "reopen_transition_id": "1"}"#, "close_transition_id is empty"),
            (r#"{"project_key": "OPS", "close_transition_id": "3", "reopen_transition_id": "1", "labels": ["a b"]}"#, "has a space"),
            (r#"{"project": "OPS"}"#, "unknown field"),
        ] {
            match JiraTickets::validate_settings(bad.into()) {
                Err(PluginError::InvalidInput(m)) => assert!(m.contains(why), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn answers_and_refusals() {
        let t = JiraTickets::parse_response(TicketAction::Create, response(201, r#"{"id":"10000","key":"OPS-24","self":"https://acme.atlassian.net/rest/api/3/issue/10000"}"#)).unwrap();
        assert_eq!((t.id.as_str(), t.url.as_deref(), t.state.as_str()), ("OPS-24", Some("https://acme.atlassian.net/browse/OPS-24"), "open"));
        assert_eq!(JiraTickets::parse_response(TicketAction::Close, response(204, "")).unwrap().state.as_str(), "closed");
        assert!(matches!(JiraTickets::parse_response(TicketAction::Create, response(201, "{}")), Err(PluginError::Unavailable(_))));
        match JiraTickets::parse_response(TicketAction::Create, response(400, r#"{"errorMessages":[],"errors":{"issuetype":"Specify an issue type"}}"#)) {
            Err(PluginError::InvalidInput(m)) => assert!(m.contains("(400): issuetype: Specify an issue type"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(JiraTickets::parse_response(TicketAction::Close, response(401, "")), Err(PluginError::Denied(_))));
        assert_eq!(
            JiraTickets::parse_response(TicketAction::Close, response(403, r#"{"errorMessages":["no"]}"#)),
            Err(PluginError::Denied("Jira refused the credentials (403): check ticket.credentials (basic, the account's e-mail and an API token) and the project's permissions".into()))
        );
        assert_eq!(
            JiraTickets::parse_response(TicketAction::Update, response(404, r#"{"errorMessages":["Issue does not exist or you do not have permission to see it."],"errors":{}}"#)),
            Err(PluginError::InvalidInput("Jira has no such issue or project, or the account cannot see it (404): Issue does not exist or you do not have permission to see it.".into()))
        );
        assert!(matches!(JiraTickets::parse_response(TicketAction::Create, response(502, "<html>")), Err(PluginError::Unavailable(m)) if m == "Jira answered 502: <html>"));
        assert!(matches!(JiraTickets::parse_response(TicketAction::Close, response(429, "")), Err(PluginError::Unavailable(_))));
    }
}
