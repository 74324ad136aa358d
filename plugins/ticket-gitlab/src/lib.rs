//! Ticket mapper for GitLab Issues (REST API v4), gitlab.com or self-managed
//! (endpoint: the instance's base URL, `https://gitlab.example.com`):
//! `POST <endpoint>/api/v4/projects/<id>/issues` opens an issue,
//! `POST .../issues/<iid>/notes` adds a note (an `update`), and
//! `PUT .../issues/<iid>` with `state_event` closes or reopens one. A state change
//! cannot carry a note, so this mapper exports `ticket-comments`: its close and
//! reopen carry no comment, and the host sends the comment as a second request once
//! the state change succeeded.
//!
//! The token never enters the component: the host attaches it
//! (`ticket.credentials`, header `PRIVATE-TOKEN` or `Authorization: Bearer`) to
//! requests for the endpoint.

// Generated here for the `ticket-mapper-comments` world (the SDK's macros are per
// world), sharing the SDK's `types` so its helpers apply; as ticket-redmine does.
mod bindings {
    casefile_guest::wit_bindgen::generate!({
        world: "ticket-mapper-comments",
        path: "../../wit",
        runtime_path: "casefile_guest::wit_bindgen::rt",
        with: { "casefile:plugin/types@0.2.0": casefile_guest::types },
    });
}

#[cfg(test)]
#[path = "../../../tests/fixtures/vendor/schema_check.rs"]
mod schema_check;

use bindings::exports::casefile::plugin::mapper::Guest;
use bindings::exports::casefile::plugin::ticket_comments::Guest as CommentsGuest;
use casefile_guest::fields::field;
use casefile_guest::http::{body_excerpt, join_url, percent_encode};
use casefile_guest::settings;
use casefile_guest::ticket_text::{
    cap_with_tail, check_answer, http_endpoint, invalid, issue_number, json_answer, one_line, report_tail,
    update_text, Fingerprint, Refusals,
};
use casefile_guest::types::{
    HttpMethod, HttpRequest, HttpResponse, PluginError, ReportSummary, TicketAction, TicketRef,
    TicketState, TicketTarget,
};
use serde_json::{json, Value};

struct GitLabIssues;

/// GitLab's longest issue title.
const TITLE_MAX_CHARS: usize = 255;
/// GitLab's longest issue description ("Limited to 1,048,576 characters").
const DESCRIPTION_MAX_CHARS: usize = 1_048_576;
/// GitLab's longest note ("Limited to 1,000,000 characters").
const NOTE_MAX_CHARS: usize = 1_000_000;

/// The mapper's settings (`ticket.settings`).
#[derive(Debug)]
struct Settings {
    /// The project: its path (`group/subgroup/name`) or numeric id.
    project: Value,
    /// Labels every new issue gets (GitLab creates a label it does not have).
    labels: Vec<String>,
    /// User ids every new issue is assigned to.
    assignee_ids: Vec<u64>,
}

const FIELDS: &[&str] = &["project", "labels", "assignee_ids"];

/// A project path: `/`-separated segments of letters, digits, `_`, `-` and `.`,
/// at least a namespace and a name.
fn is_project_path(p: &str) -> bool {
    let segments: Vec<&str> = p.split('/').collect();
    segments.len() >= 2
        && segments.iter().all(|s| {
            !s.is_empty()
                && !s.starts_with('.')
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        })
}

impl Settings {
    fn parse(json: &str) -> Result<Settings, PluginError> {
        const NEEDS: &str = "the GitLab mapper needs {\"project\": \"<group>/<project>\"} or a numeric project id";
        let obj = settings::object(json, NEEDS, FIELDS).map_err(invalid)?;
        let s = Settings {
            project: obj.get("project").cloned().ok_or_else(|| invalid(format!("settings.project is required ({NEEDS})")))?,
            labels: settings::get(&obj, "labels").map_err(invalid)?.unwrap_or_default(),
            assignee_ids: settings::get(&obj, "assignee_ids").map_err(invalid)?.unwrap_or_default(),
        };
        match &s.project {
            Value::String(p) if is_project_path(p.trim()) => {}
            Value::String(p) if !p.trim().is_empty() && p.trim().bytes().all(|b| b.is_ascii_digit()) && p.trim() != "0" => {}
            Value::Number(n) if n.as_u64().is_some_and(|n| n > 0) => {}
            other => {
                return Err(invalid(format!(
                    "settings.project: {other} is neither a project path (group/name) nor a positive project id"
                )))
            }
        }
        // GitLab splits label lists on commas.
        if let Some(bad) = s.labels.iter().find(|l| l.trim().is_empty() || l.contains(',')) {
            return Err(invalid(format!("settings.labels: label {bad:?} is empty or has a comma, which GitLab splits on")));
        }
        if s.assignee_ids.contains(&0) {
            return Err(invalid("settings.assignee_ids: user ids are positive numbers"));
        }
        Ok(s)
    }

    /// `<endpoint>/api/v4/projects/<id or encoded path>`.
    fn project_url(&self, target: &TicketTarget) -> Result<String, PluginError> {
        let base = http_endpoint(&target.endpoint, "the GitLab instance's URL, e.g. https://gitlab.com")?;
        // An endpoint given with the API prefix already is taken as meant.
        let base = base.trim_end_matches('/');
        let base = base.strip_suffix("/api/v4").unwrap_or(base);
        let project = match &self.project {
            Value::String(p) => percent_encode(p.trim()),
            other => other.to_string(),
        };
        Ok(join_url(base, &format!("/api/v4/projects/{project}")))
    }
}

/// What a ticket id that is no issue iid is called in errors: the iids (an issue's
/// number within its project) are positive integers.
const IID: &str = "GitLab issue iid";

fn json_request(method: HttpMethod, url: String, body: &Value) -> HttpRequest {
    HttpRequest {
        method,
        url,
        headers: vec![field("content-type", "application/json"), field("accept", "application/json")],
        body: body.to_string().into_bytes(),
    }
}

impl Guest for GitLabIssues {
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
        let project = settings.project_url(&target)?;
        match action {
            TicketAction::Create => Ok(json_request(
                HttpMethod::Post,
                format!("{project}/issues"),
                &create_body(&settings, &report),
            )),
            TicketAction::Update => {
                let iid = issue_number(ticket.as_ref(), "update", IID)?;
                // GitLab refuses an empty note; an update still means "seen again".
                let text = update_text(comment, &report.task_id);
                Ok(json_request(
                    HttpMethod::Post,
                    format!("{project}/issues/{iid}/notes"),
                    &json!({ "body": cap_with_tail(&text, "", NOTE_MAX_CHARS, "GitLab", report.report_url.as_deref()) }),
                ))
            }
            // The comment goes in a second request (`build-comment`).
            TicketAction::Close | TicketAction::Reopen => {
                let close = matches!(action, TicketAction::Close);
                let iid = issue_number(ticket.as_ref(), if close { "close" } else { "reopen" }, IID)?;
                Ok(json_request(
                    HttpMethod::Put,
                    format!("{project}/issues/{iid}"),
                    &json!({ "state_event": if close { "close" } else { "reopen" } }),
                ))
            }
        }
    }

    fn parse_response(action: TicketAction, response: HttpResponse) -> Result<TicketRef, PluginError> {
        check_status(&response)?;
        let v = json_answer("GitLab", &response)?;
        if let TicketAction::Update = action {
            // A note: the issue is its `noteable_iid`; a note has no page of its own.
            let iid = v["noteable_iid"].as_u64().filter(|n| *n > 0).ok_or_else(|| {
                PluginError::Unavailable(format!("GitLab answered {} to a note without noteable_iid", response.status))
            })?;
            return Ok(TicketRef { id: iid.to_string(), url: None, state: TicketState::Open });
        }
        let iid = v["iid"].as_u64().filter(|n| *n > 0).ok_or_else(|| {
            PluginError::Unavailable(format!(
                "GitLab answered {} without an issue iid: {}",
                response.status,
                body_excerpt(&response.body, 200)
            ))
        })?;
        let state = match v["state"].as_str() {
            Some("opened") => TicketState::Open,
            Some("closed") => TicketState::Closed,
            Some(other) => TicketState::Other(other.to_owned()),
            None => TicketState::after(action),
        };
        let url = v["web_url"].as_str().map(str::to_owned);
        Ok(TicketRef { id: iid.to_string(), url, state })
    }
}

impl CommentsGuest for GitLabIssues {
    fn build_comment(target: TicketTarget, ticket: TicketRef, comment: String) -> Result<HttpRequest, PluginError> {
        let settings = Settings::parse(&target.settings)?;
        let project = settings.project_url(&target)?;
        let iid = issue_number(Some(&ticket), "a comment", IID)?;
        if comment.trim().is_empty() {
            return Err(invalid("the comment is empty; GitLab refuses empty notes"));
        }
        Ok(json_request(
            HttpMethod::Post,
            format!("{project}/issues/{iid}/notes"),
            &json!({ "body": cap_with_tail(&comment, "", NOTE_MAX_CHARS, "GitLab", None) }),
        ))
    }

    fn parse_comment(response: HttpResponse) -> Result<(), PluginError> {
        check_status(&response)
    }
}

/// GitLab's `message` is a string, a list, or an object of field -> messages.
fn message_words(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(message_words).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        Value::Object(fields) => {
            let parts: Vec<String> =
                fields.iter().filter_map(|(k, m)| message_words(m).map(|m| format!("{k} {m}"))).collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        _ => None,
    }
}

/// How GitLab's refusals read (see `check_status`).
const REFUSALS: Refusals = Refusals {
    vendor: "GitLab",
    denied: |status, why| {
        format!("GitLab refused the credentials ({status}): check ticket.credentials (a token with the api scope, and the project's permissions): {why}")
    },
    not_found: |_, why| format!("GitLab has no such project or issue, or the token cannot see it (404): {why}"),
    refused: |status, why| format!("GitLab refused the request ({status}): {why}"),
};

/// GitLab's error answers (`{"message": ...}` or `{"error": "..."}`) in its own
/// words. The host refuses a 4xx (other than 408/429) without retrying and keeps
/// this message.
fn check_status(response: &HttpResponse) -> Result<(), PluginError> {
    check_answer(response, &REFUSALS, |v| message_words(&v["message"]).or_else(|| message_words(&v["error"])))
}

fn create_body(settings: &Settings, r: &ReportSummary) -> Value {
    // The fingerprint as a hidden comment: GitLab's Markdown does not show it.
    let tail = report_tail(r, Fingerprint::Marker);
    let mut body = json!({
        "title": one_line(&r.title, TITLE_MAX_CHARS),
        "description": cap_with_tail(&r.markdown, &tail, DESCRIPTION_MAX_CHARS, "GitLab", r.report_url.as_deref()),
    });
    // An array, as GitLab's OpenAPI description types it (it also takes "a,b").
    if !settings.labels.is_empty() {
        body["labels"] = json!(settings.labels.iter().map(|l| l.trim()).collect::<Vec<_>>());
    }
    if !settings.assignee_ids.is_empty() {
        body["assignee_ids"] = json!(settings.assignee_ids);
    }
    body
}

bindings::export!(GitLabIssues with_types_in bindings);

#[cfg(test)]
mod tests {
    use super::*;
    use casefile_guest::ticket_text::fingerprint_marker;
    use casefile_guest::types::Severity;
    use schema_check::{request_schema, violations};

    const CREATE_SCHEMA: &str = include_str!("../../../tests/fixtures/vendor/gitlab/issues-create.request.schema.json");
    const EDIT_SCHEMA: &str = include_str!("../../../tests/fixtures/vendor/gitlab/issues-edit.request.schema.json");
    const NOTE_SCHEMA: &str = include_str!("../../../tests/fixtures/vendor/gitlab/issues-create-note.request.schema.json");
    const CREATED: &str = include_str!("../../../tests/fixtures/vendor/gitlab/issues-create.201.example.json");
    const EDITED: &str = include_str!("../../../tests/fixtures/vendor/gitlab/issues-edit.200.example.json");
    const NOTE: &str = include_str!("../../../tests/fixtures/vendor/gitlab/note.example.json");

    const SETTINGS: &str = r#"{"project": "my-group/my-project", "labels": ["casefile", "bug"], "assignee_ids": [18, 19]}"#;

    fn report(title: &str, markdown: &str) -> ReportSummary {
        ReportSummary {
            task_id: "task-1".into(),
            tenant: "acme".into(),
            plugin_id: "pay".into(),
            plugin_version: None,
            error_event_id: "ev-9".into(),
            fingerprint: "fp-abc".into(),
            title: title.into(),
            severity: Severity::Critical,
            environments: vec!["prod".into()],
            owners: vec![],
            markdown: markdown.into(),
            report_url: Some("http://casefile/internal/debug/report/task-1".into()),
        }
    }

    fn target(endpoint: &str, settings: &str) -> TicketTarget {
        TicketTarget { endpoint: endpoint.into(), settings: settings.into() }
    }

    fn ticket(id: &str) -> TicketRef {
        TicketRef { id: id.into(), url: None, state: TicketState::Open }
    }

    fn body(req: &HttpRequest) -> Value {
        serde_json::from_slice(&req.body).expect("JSON body")
    }

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, headers: vec![], body: body.as_bytes().to_vec() }
    }

    fn conforms(value: &Value, fixture: &str) {
        let found = violations(value, &request_schema(fixture));
        assert!(found.is_empty(), "{value} against GitLab's schema: {found:#?}");
    }

    fn build(action: TicketAction, t: Option<TicketRef>, comment: &str) -> HttpRequest {
        GitLabIssues::build_request(target("https://gitlab.example.com/", SETTINGS), action, report("pay fails", "# Report"), t, comment.into())
            .expect("request")
    }

    #[test]
    fn create_posts_an_issue_to_the_encoded_project() {
        let req = build(TicketAction::Create, None, "");
        assert_eq!((req.method.as_str(), req.url.as_str()), ("POST", "https://gitlab.example.com/api/v4/projects/my-group%2Fmy-project/issues"));
        assert!(req.headers.iter().any(|h| h.key == "content-type" && h.value == "application/json"));
        assert!(req.headers.iter().all(|h| !h.key.eq_ignore_ascii_case("private-token") && !h.key.eq_ignore_ascii_case("authorization")), "the host attaches the token");
        let b = body(&req);
        assert_eq!(
            b,
            json!({
                "title": "pay fails",
                "description": "# Report\n\n---\nReport: http://casefile/internal/debug/report/task-1\n\
                                casefile task task-1, tenant acme, plugin pay, severity critical, error event ev-9\n\
                                \n<!-- casefile-fingerprint: fp-abc -->\n",
                "labels": ["casefile", "bug"],
                "assignee_ids": [18, 19],
            })
        );
        conforms(&b, CREATE_SCHEMA);

        // A numeric id, an endpoint given with /api/v4, no labels or assignees.
        let bare = GitLabIssues::build_request(target("https://gitlab.example.com/api/v4/", r#"{"project": 42}"#), TicketAction::Create, report("t", "m"), None, String::new()).unwrap();
        assert_eq!(bare.url, "https://gitlab.example.com/api/v4/projects/42/issues");
        let b = body(&bare);
        assert!(b.get("labels").is_none() && b.get("assignee_ids").is_none(), "{b}");
        conforms(&b, CREATE_SCHEMA);
        let nested = GitLabIssues::build_request(target("https://gitlab.com", r#"{"project": "a/b.c/d_e"}"#), TicketAction::Create, report("t", "m"), None, String::new()).unwrap();
        assert_eq!(nested.url, "https://gitlab.com/api/v4/projects/a%2Fb.c%2Fd_e/issues");
    }

    #[test]
    fn long_titles_and_descriptions_are_cut() {
        let req = GitLabIssues::build_request(
            target("https://gitlab.com", SETTINGS),
            TicketAction::Create,
            report(&"é".repeat(300), &"x".repeat(DESCRIPTION_MAX_CHARS + 10)),
            None,
            String::new(),
        )
        .unwrap();
        let b = body(&req);
        assert_eq!(b["title"].as_str().unwrap().chars().count(), TITLE_MAX_CHARS);
        let d = b["description"].as_str().unwrap();
        let n = d.chars().count();
        assert!(n <= DESCRIPTION_MAX_CHARS && n > DESCRIPTION_MAX_CHARS - 200, "{n}");
        assert!(d.contains(&format!("of {} characters for GitLab's limit; the full report: http://casefile/internal/debug/report/task-1)", DESCRIPTION_MAX_CHARS + 10)));
        assert!(d.ends_with("<!-- casefile-fingerprint: fp-abc -->\n"));
        conforms(&b, CREATE_SCHEMA);
        assert_eq!(fingerprint_marker("a--->b <c>"), "\n<!-- casefile-fingerprint: a-bc -->\n");
        let req = GitLabIssues::build_request(target("https://gitlab.com", SETTINGS), TicketAction::Create, report(" pay\n fails\t ", "m"), None, String::new()).unwrap();
        assert_eq!(body(&req)["title"], "pay fails", "one line");
    }

    #[test]
    fn long_notes_are_cut_to_the_note_limit() {
        let long = "n".repeat(NOTE_MAX_CHARS + 10);
        // An update links the full report; a comment sent as a second request does not.
        let update = body(&build(TicketAction::Update, Some(ticket("14")), &long));
        let keep = 999_876; // 1,000,000 less the note sized for "1000010 of 1000010" and the link.
        assert_eq!(
            update["body"].as_str().unwrap(),
            format!("{}\n\n… (cut to {keep} of 1000010 characters for GitLab's limit; the full report: http://casefile/internal/debug/report/task-1)", "n".repeat(keep))
        );
        conforms(&update, NOTE_SCHEMA);
        let comment = body(&GitLabIssues::build_comment(target("https://gitlab.com", SETTINGS), ticket("15"), long).unwrap());
        let keep = 999_939;
        assert_eq!(comment["body"].as_str().unwrap(), format!("{}\n\n… (cut to {keep} of 1000010 characters for GitLab's limit)", "n".repeat(keep)));
        assert_eq!(body(&build(TicketAction::Update, Some(ticket("14")), &"n".repeat(NOTE_MAX_CHARS)))["body"].as_str().map(str::len), Some(NOTE_MAX_CHARS), "a note at the limit is kept whole");
    }

    #[test]
    fn update_notes_and_close_reopen_put_a_state_event_without_the_comment() {
        let req = build(TicketAction::Update, Some(ticket("14")), "seen again");
        assert_eq!((req.method.as_str(), req.url.as_str()), ("POST", "https://gitlab.example.com/api/v4/projects/my-group%2Fmy-project/issues/14/notes"));
        assert_eq!(body(&req), json!({"body": "seen again"}));
        conforms(&body(&req), NOTE_SCHEMA);
        assert_eq!(body(&build(TicketAction::Update, Some(ticket("14")), "")), json!({"body": "casefile saw this failure again (task task-1)."}));

        for (action, event) in [(TicketAction::Close, "close"), (TicketAction::Reopen, "reopen")] {
            let req = build(action, Some(ticket("14")), "the regression passed");
            assert_eq!((req.method.as_str(), req.url.as_str()), ("PUT", "https://gitlab.example.com/api/v4/projects/my-group%2Fmy-project/issues/14"));
            assert_eq!(body(&req), json!({"state_event": event}), "no comment in a state change");
            conforms(&body(&req), EDIT_SCHEMA);
        }
        for (t, why) in [(None, "needs the issue"), (Some(ticket("#14")), "not a GitLab issue iid"), (Some(ticket("0")), "not a GitLab issue iid")] {
            match GitLabIssues::build_request(target("https://gitlab.com", SETTINGS), TicketAction::Reopen, report("t", "m"), t, String::new()) {
                Err(PluginError::InvalidInput(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(GitLabIssues::build_request(target(" ", SETTINGS), TicketAction::Create, report("t", "m"), None, String::new()), Err(PluginError::InvalidInput(m)) if m.contains("endpoint")));
    }

    #[test]
    fn comments_are_a_second_request() {
        let req = GitLabIssues::build_comment(target("https://gitlab.com", SETTINGS), ticket("15"), "closed: the regression passed".into()).unwrap();
        assert_eq!((req.method.as_str(), req.url.as_str()), ("POST", "https://gitlab.com/api/v4/projects/my-group%2Fmy-project/issues/15/notes"));
        assert_eq!(body(&req), json!({"body": "closed: the regression passed"}));
        conforms(&body(&req), NOTE_SCHEMA);
        assert!(matches!(GitLabIssues::build_comment(target("https://gitlab.com", SETTINGS), ticket("15"), "".into()), Err(PluginError::InvalidInput(_))));
        assert!(GitLabIssues::parse_comment(response(201, NOTE)).is_ok());
        assert!(matches!(GitLabIssues::parse_comment(response(404, r#"{"message":"404 Issue Not Found"}"#)), Err(PluginError::InvalidInput(m)) if m.contains("(404): 404 Issue Not Found")));
        assert!(matches!(GitLabIssues::parse_comment(response(500, "")), Err(PluginError::Unavailable(_))));
    }

    #[test]
    fn settings_are_checked() {
        assert!(GitLabIssues::validate_settings(SETTINGS.into()).is_ok());
        assert!(GitLabIssues::validate_settings(r#"{"project": 7}"#.into()).is_ok());
        assert!(GitLabIssues::validate_settings(r#"{"project": "7"}"#.into()).is_ok());
        for (bad, why) in [
            ("", "settings.project is required (the GitLab mapper needs"),
            ("7", "not a JSON object"),
            (r#"{"project": ""}"#, "settings.project"),
            (r#"{"project": "justaname"}"#, "settings.project"),
            (r#"{"project": "a//b"}"#, "settings.project"),
            (r#"{"project": "a/b?c"}"#, "settings.project"),
            (r#"{"project": 0}"#, "settings.project"),
            (r#"{"project": "a/b", "labels": ["x,y"]}"#, "settings.labels"),
            (r#"{"project": "a/b", "assignee_ids": [0]}"#, "settings.assignee_ids"),
            (r#"{"project": "a/b", "assignee_ids": ["ana"]}"#, "settings.assignee_ids: invalid type: string \"ana\", expected u64"),
            (r#"{"project": "a/b", "labels": "bug"}"#, "settings.labels: invalid type"),
            (r#"{"project": "a/b", "private_token": "x"}"#, "unknown field `private_token`"),
        ] {
            match GitLabIssues::validate_settings(bad.into()) {
                Err(PluginError::InvalidInput(m)) => assert!(m.contains(why), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn reads_gitlabs_documented_answers() {
        let t = GitLabIssues::parse_response(TicketAction::Create, response(201, CREATED)).expect("ref");
        assert_eq!((t.id.as_str(), t.url.as_deref(), t.state.as_str()), ("14", Some("http://gitlab.example.com/my-group/my-project/issues/14"), "open"));
        let t = GitLabIssues::parse_response(TicketAction::Close, response(200, EDITED)).expect("ref");
        assert_eq!((t.id.as_str(), t.url.as_deref(), t.state.as_str()), ("15", Some("http://gitlab.example.com/my-group/my-project/issues/15"), "closed"));
        let t = GitLabIssues::parse_response(TicketAction::Update, response(201, NOTE)).expect("ref");
        assert_eq!((t.id.as_str(), t.url, t.state.as_str()), ("377", None, "open"));
        assert!(matches!(GitLabIssues::parse_response(TicketAction::Create, response(201, r#"{"id": 84}"#)), Err(PluginError::Unavailable(m)) if m.contains("without an issue iid")));
        assert!(matches!(GitLabIssues::parse_response(TicketAction::Update, response(201, r#"{"id": 1}"#)), Err(PluginError::Unavailable(m)) if m.contains("noteable_iid")));
    }

    #[test]
    fn refusals_keep_gitlabs_words() {
        for (status, answer, want) in [
            (400, r#"{"message":{"title":["can't be blank","is too long (maximum is 255 characters)"]}}"#, "GitLab refused the request (400): title can't be blank, is too long (maximum is 255 characters)"),
            (400, r#"{"error":"title is missing"}"#, "GitLab refused the request (400): title is missing"),
            (422, r#"{"message":["Failed to save issue"]}"#, "GitLab refused the request (422): Failed to save issue"),
            (404, r#"{"message":"404 Project Not Found"}"#, "(404): 404 Project Not Found"),
        ] {
            match GitLabIssues::parse_response(TicketAction::Create, response(status, answer)) {
                Err(PluginError::InvalidInput(m)) => assert!(m.contains(want), "{m}"),
                other => panic!("{status}: {other:?}"),
            }
        }
        assert!(matches!(GitLabIssues::parse_response(TicketAction::Close, response(401, r#"{"message":"401 Unauthorized"}"#)), Err(PluginError::Denied(m)) if m.contains("401 Unauthorized")));
        assert!(matches!(GitLabIssues::parse_response(TicketAction::Close, response(429, "Retry later")), Err(PluginError::Unavailable(m)) if m.contains("Retry later")));
        assert!(matches!(GitLabIssues::parse_response(TicketAction::Create, response(502, "")), Err(PluginError::Unavailable(_))));
    }
}
