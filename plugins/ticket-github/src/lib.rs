//! Ticket mapper for GitHub Issues (REST API, version 2022-11-28), github.com or
//! GitHub Enterprise Server (endpoint `https://<host>/api/v3`):
//! `POST <endpoint>/repos/<owner>/<repo>/issues` opens an issue,
//! `POST .../issues/<number>/comments` adds a comment (an `update`), and
//! `PATCH .../issues/<number>` closes (`state_reason: completed`) or reopens one.
//! GitHub cannot comment and change the state in one call, so this mapper exports
//! `ticket-comments`: its close and reopen carry no comment, and the host sends the
//! comment as a second request once the state change succeeded.
//!
//! The token never enters the component: the host attaches it
//! (`ticket.credentials`, `Authorization: Bearer <token>`) to requests for the endpoint.

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
use casefile_guest::http::{body_excerpt, join_url};
use casefile_guest::settings;
use casefile_guest::ticket_text::{
    cap_with_tail, http_endpoint, invalid, issue_number, json_answer, one_line, reasons_or_excerpt, refusal,
    report_tail, update_text, Fingerprint, Refusals,
};
use casefile_guest::types::{
    HttpMethod, HttpRequest, HttpResponse, PluginError, ReportSummary, TicketAction, TicketRef,
    TicketState, TicketTarget,
};
use serde_json::{json, Value};

struct GitHubIssues;

/// GitHub's longest issue title.
const TITLE_MAX_CHARS: usize = 256;
/// GitHub's longest issue or comment body ("body is too long (maximum is 65536
/// characters)").
const BODY_MAX_CHARS: usize = 65_536;
/// The REST API version the requests are written for.
const API_VERSION: &str = "2022-11-28";

/// The mapper's settings (`ticket.settings`).
#[derive(Debug)]
struct Settings {
    /// The account or organisation that owns the repository.
    owner: String,
    /// The repository's name.
    repo: String,
    /// Labels every new issue gets.
    labels: Vec<String>,
    /// Logins every new issue is assigned to.
    assignees: Vec<String>,
}

const FIELDS: &[&str] = &["owner", "repo", "labels", "assignees"];

/// A login or organisation name: letters, digits, `-` (and `_`, which managed
/// enterprise users' logins carry), not starting with `-`.
fn is_login(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && !s.starts_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A repository name: letters, digits, `-`, `_`, `.`, at most 100, not `.` or `..`.
fn is_repo_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s != "."
        && s != ".."
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl Settings {
    fn parse(json: &str) -> Result<Settings, PluginError> {
        const NEEDS: &str = "the GitHub mapper needs {\"owner\": \"<account or organisation>\", \"repo\": \"<repository>\"}";
        let obj = settings::object(json, NEEDS, FIELDS).map_err(invalid)?;
        let s = Settings {
            owner: settings::get(&obj, "owner")
                .map_err(invalid)?
                .ok_or_else(|| invalid(format!("settings.owner is required ({NEEDS})")))?,
            repo: settings::get(&obj, "repo")
                .map_err(invalid)?
                .ok_or_else(|| invalid(format!("settings.repo is required ({NEEDS})")))?,
            labels: settings::get(&obj, "labels").map_err(invalid)?.unwrap_or_default(),
            assignees: settings::get(&obj, "assignees").map_err(invalid)?.unwrap_or_default(),
        };
        if !is_login(s.owner.trim()) {
            return Err(invalid(format!(
                "settings.owner: {:?} is not a GitHub account or organisation name (letters, digits and '-')",
                s.owner
            )));
        }
        if !is_repo_name(s.repo.trim()) {
            return Err(invalid(format!(
                "settings.repo: {:?} is not a GitHub repository name (letters, digits, '-', '_' and '.', at most 100)",
                s.repo
            )));
        }
        if let Some(bad) = s.labels.iter().find(|l| l.trim().is_empty()) {
            return Err(invalid(format!("settings.labels: label {bad:?} is empty")));
        }
        if let Some(bad) = s.assignees.iter().find(|a| !is_login(a.trim())) {
            return Err(invalid(format!("settings.assignees: {bad:?} is not a GitHub login")));
        }
        Ok(s)
    }

    /// `<endpoint>/repos/<owner>/<repo>`; the names are checked, so need no encoding.
    fn repo_url(&self, target: &TicketTarget) -> Result<String, PluginError> {
        let base = http_endpoint(
            &target.endpoint,
            "https://api.github.com, or https://<host>/api/v3 for GitHub Enterprise Server",
        )?;
        Ok(join_url(base, &format!("/repos/{}/{}", self.owner.trim(), self.repo.trim())))
    }
}

/// What a ticket id that is no issue number is called in errors: GitHub's issue
/// numbers are positive integers.
const ISSUE: &str = "GitHub issue number";

fn json_request(method: HttpMethod, url: String, body: &Value) -> HttpRequest {
    HttpRequest {
        method,
        url,
        headers: vec![
            field("accept", "application/vnd.github+json"),
            field("x-github-api-version", API_VERSION),
            field("content-type", "application/json"),
            // GitHub refuses requests without a User-Agent.
            field("user-agent", concat!("casefile-ticket-github/", env!("CARGO_PKG_VERSION"))),
        ],
        body: body.to_string().into_bytes(),
    }
}

impl Guest for GitHubIssues {
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
        let repo = settings.repo_url(&target)?;
        match action {
            TicketAction::Create => Ok(json_request(
                HttpMethod::Post,
                format!("{repo}/issues"),
                &create_body(&settings, &report),
            )),
            TicketAction::Update => {
                let n = issue_number(ticket.as_ref(), "update", ISSUE)?;
                // GitHub refuses an empty comment; an update still means "seen again".
                let text = update_text(comment, &report.task_id);
                Ok(json_request(
                    HttpMethod::Post,
                    format!("{repo}/issues/{n}/comments"),
                    &json!({ "body": cap_with_tail(&text, "", BODY_MAX_CHARS, "GitHub", report.report_url.as_deref()) }),
                ))
            }
            // The comment goes in a second request (`build-comment`): PATCH cannot carry one.
            TicketAction::Close => {
                let n = issue_number(ticket.as_ref(), "close", ISSUE)?;
                Ok(json_request(
                    HttpMethod::Patch,
                    format!("{repo}/issues/{n}"),
                    &json!({ "state": "closed", "state_reason": "completed" }),
                ))
            }
            TicketAction::Reopen => {
                let n = issue_number(ticket.as_ref(), "reopen", ISSUE)?;
                Ok(json_request(
                    HttpMethod::Patch,
                    format!("{repo}/issues/{n}"),
                    &json!({ "state": "open", "state_reason": "reopened" }),
                ))
            }
        }
    }

    fn parse_response(action: TicketAction, response: HttpResponse) -> Result<TicketRef, PluginError> {
        check_status(&response)?;
        let v = json_answer("GitHub", &response)?;
        match action {
            // A comment: the issue is the last segment of its `issue_url`.
            TicketAction::Update => {
                let id = v["issue_url"]
                    .as_str()
                    .and_then(|u| u.trim_end_matches('/').rsplit('/').next())
                    .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| {
                        PluginError::Unavailable(format!(
                            "GitHub answered {} to a comment without its issue_url",
                            response.status
                        ))
                    })?;
                // The comment's page is the issue's page plus `#issuecomment-<id>`.
                let url = v["html_url"].as_str().map(|u| u.split('#').next().unwrap_or(u).to_owned());
                Ok(TicketRef { id: id.to_owned(), url, state: TicketState::Open })
            }
            TicketAction::Create | TicketAction::Close | TicketAction::Reopen => {
                let id = v["number"].as_u64().filter(|n| *n > 0).ok_or_else(|| {
                    PluginError::Unavailable(format!(
                        "GitHub answered {} without an issue number: {}",
                        response.status,
                        body_excerpt(&response.body, 200)
                    ))
                })?;
                let state = match v["state"].as_str() {
                    Some("open") => TicketState::Open,
                    Some("closed") => TicketState::Closed,
                    Some(other) => TicketState::Other(other.to_owned()),
                    None => TicketState::after(action),
                };
                let url = v["html_url"].as_str().map(str::to_owned);
                Ok(TicketRef { id: id.to_string(), url, state })
            }
        }
    }
}

impl CommentsGuest for GitHubIssues {
    fn build_comment(target: TicketTarget, ticket: TicketRef, comment: String) -> Result<HttpRequest, PluginError> {
        let settings = Settings::parse(&target.settings)?;
        let repo = settings.repo_url(&target)?;
        let n = issue_number(Some(&ticket), "a comment", ISSUE)?;
        if comment.trim().is_empty() {
            return Err(invalid("the comment is empty; GitHub refuses empty comments"));
        }
        Ok(json_request(
            HttpMethod::Post,
            format!("{repo}/issues/{n}/comments"),
            &json!({ "body": cap_with_tail(&comment, "", BODY_MAX_CHARS, "GitHub", None) }),
        ))
    }

    fn parse_comment(response: HttpResponse) -> Result<(), PluginError> {
        check_status(&response)
    }
}

/// How GitHub's refusals read (see `check_status`).
const REFUSALS: Refusals = Refusals {
    vendor: "GitHub",
    denied: |status, why| {
        format!("GitHub refused the credentials ({status}): check ticket.credentials (a token that may write the repository's issues): {why}")
    },
    not_found: |_, why| format!("GitHub has no such repository or issue, or the token cannot see it (404): {why}"),
    refused: |status, why| format!("GitHub refused the request ({status}): {why}"),
};

/// GitHub's error answers (`{"message", "errors": [...], "documentation_url"}`) in
/// its own words. The host refuses a 4xx (other than 408/429) without retrying and
/// keeps this message; a 403 or 429 that says the rate limit is `unavailable`.
fn check_status(response: &HttpResponse) -> Result<(), PluginError> {
    let status = response.status;
    if (200..300).contains(&status) {
        return Ok(());
    }
    let why = reasons_or_excerpt(&response.body, reasons);
    let rate_limited = response.headers.iter().any(|h| {
        (h.key.eq_ignore_ascii_case("x-ratelimit-remaining") && h.value.trim() == "0")
            || h.key.eq_ignore_ascii_case("retry-after")
    }) || why.to_ascii_lowercase().contains("rate limit");
    Err(match status {
        403 | 429 if rate_limited => PluginError::Unavailable(format!("GitHub's rate limit ({status}): {why}")),
        410 => invalid(format!("GitHub says the issue is gone or issues are disabled (410): {why}")),
        _ => refusal(&REFUSALS, status, &why),
    })
}

/// The reasons in a GitHub error answer: its message, its `errors` (strings, or the
/// resource's field, code and message: only those, as `errors[].value` may echo what
/// was sent) and where the documentation is.
fn reasons(v: &Value) -> Option<String> {
    let mut words = Vec::new();
    if let Some(m) = v["message"].as_str().filter(|m| !m.is_empty()) {
        words.push(m.to_owned());
    }
    for e in v["errors"].as_array().into_iter().flatten() {
        match e {
            Value::String(s) => words.push(s.clone()),
            Value::Object(_) => {
                let mut part = Vec::new();
                if let Some(f) = e["field"].as_str() {
                    let resource = e["resource"].as_str().map(|r| format!("{r}.")).unwrap_or_default();
                    part.push(format!("{resource}{f}"));
                }
                if let Some(c) = e["code"].as_str() {
                    part.push(c.to_owned());
                }
                if let Some(m) = e["message"].as_str() {
                    part.push(m.to_owned());
                }
                if !part.is_empty() {
                    words.push(part.join(" "));
                }
            }
            _ => {}
        }
    }
    if let Some(d) = v["documentation_url"].as_str() {
        words.push(format!("see {d}"));
    }
    (!words.is_empty()).then(|| words.join("; "))
}

fn create_body(settings: &Settings, r: &ReportSummary) -> Value {
    // The fingerprint as a hidden comment: GitHub's Markdown does not show it.
    let tail = report_tail(r, Fingerprint::Marker);
    let labels: Vec<&str> = settings.labels.iter().map(|l| l.trim()).collect();
    let mut body = json!({
        // One line: a title with a newline reads as garbage in GitHub's lists.
        "title": one_line(&r.title, TITLE_MAX_CHARS),
        "body": cap_with_tail(&r.markdown, &tail, BODY_MAX_CHARS, "GitHub", r.report_url.as_deref()),
        "labels": labels,
    });
    if !settings.assignees.is_empty() {
        body["assignees"] = json!(settings.assignees.iter().map(|a| a.trim()).collect::<Vec<_>>());
    }
    body
}

bindings::export!(GitHubIssues with_types_in bindings);

#[cfg(test)]
mod tests {
    use super::*;
    use casefile_guest::ticket_text::fingerprint_marker;
    use casefile_guest::types::{Field, Severity};
    use schema_check::{request_schema, violations};

    const CREATE_SCHEMA: &str = include_str!("../../../tests/fixtures/vendor/github/issues-create.request.schema.json");
    const UPDATE_SCHEMA: &str = include_str!("../../../tests/fixtures/vendor/github/issues-update.request.schema.json");
    const COMMENT_SCHEMA: &str = include_str!("../../../tests/fixtures/vendor/github/issues-create-comment.request.schema.json");
    const CREATED: &str = include_str!("../../../tests/fixtures/vendor/github/issues-create.201.example.json");
    const UPDATED: &str = include_str!("../../../tests/fixtures/vendor/github/issues-update.200.example.json");
    const COMMENTED: &str = include_str!("../../../tests/fixtures/vendor/github/issues-create-comment.201.example.json");

    const SETTINGS: &str = r#"{"owner": "octocat", "repo": "Hello-World", "labels": ["casefile", "bug"], "assignees": ["hubot"]}"#;

    fn report(title: &str, markdown: &str) -> ReportSummary {
        ReportSummary {
            task_id: "task-1".into(),
            tenant: "acme".into(),
            plugin_id: "pay".into(),
            plugin_version: Some("1.2.0".into()),
            error_event_id: "ev-9".into(),
            fingerprint: "fp-abc".into(),
            title: title.into(),
            severity: Severity::High,
            environments: vec!["prod".into()],
            owners: vec!["team-pay".into()],
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

    fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
        req.headers.iter().find(|h| h.key.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers.iter().map(|(k, v)| Field { key: (*k).into(), value: (*v).into() }).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn conforms(value: &Value, fixture: &str) {
        let found = violations(value, &request_schema(fixture));
        assert!(found.is_empty(), "{value} against GitHub's schema: {found:#?}");
    }

    fn build(action: TicketAction, t: Option<TicketRef>, comment: &str) -> HttpRequest {
        GitHubIssues::build_request(target("https://api.github.com/", SETTINGS), action, report("pay fails", "# Report"), t, comment.into())
            .expect("request")
    }

    #[test]
    fn create_posts_an_issue_with_the_report_and_a_hidden_fingerprint() {
        let req = build(TicketAction::Create, None, "");
        assert_eq!((req.method.as_str(), req.url.as_str()), ("POST", "https://api.github.com/repos/octocat/Hello-World/issues"));
        assert_eq!(header(&req, "accept"), Some("application/vnd.github+json"));
        assert_eq!(header(&req, "x-github-api-version"), Some("2022-11-28"));
        assert_eq!(header(&req, "content-type"), Some("application/json"));
        assert!(header(&req, "user-agent").is_some_and(|u| u.starts_with("casefile-ticket-github/")));
        assert!(header(&req, "authorization").is_none(), "the host attaches the token");
        let b = body(&req);
        let text = b["body"].as_str().expect("body text");
        assert_eq!(
            b,
            json!({
                "title": "pay fails",
                "body": text,
                "labels": ["casefile", "bug"],
                "assignees": ["hubot"],
            })
        );
        assert_eq!(
            text,
            "# Report\n\n---\nReport: http://casefile/internal/debug/report/task-1\n\
             casefile task task-1, tenant acme, plugin pay 1.2.0, severity high, error event ev-9\n\
             Owners: team-pay\n\n<!-- casefile-fingerprint: fp-abc -->\n"
        );
        conforms(&b, CREATE_SCHEMA);
        assert_eq!(fingerprint_marker("a--->b <c>"), "\n<!-- casefile-fingerprint: a-bc -->\n");

        // No assignees configured: the field is left out, labels stay (empty).
        let bare = GitHubIssues::build_request(target("https://ghe.example.com/api/v3", r#"{"owner": "ops", "repo": "inc.idents"}"#), TicketAction::Create, report("t", "m"), None, String::new()).unwrap();
        assert_eq!(bare.url, "https://ghe.example.com/api/v3/repos/ops/inc.idents/issues");
        let b = body(&bare);
        assert!(b.get("assignees").is_none());
        assert_eq!(b["labels"], json!([]));
        conforms(&b, CREATE_SCHEMA);
    }

    #[test]
    fn long_titles_and_bodies_are_cut_to_githubs_limits() {
        let req = GitHubIssues::build_request(
            target("https://api.github.com", SETTINGS),
            TicketAction::Create,
            report(&format!("pay\nfails {}", "é".repeat(400)), &"x".repeat(100_000)),
            None,
            String::new(),
        )
        .unwrap();
        let b = body(&req);
        let t = b["title"].as_str().unwrap();
        assert_eq!(t.chars().count(), TITLE_MAX_CHARS);
        assert!(t.starts_with("pay fails é") && t.ends_with('…'), "{t}");
        let text = b["body"].as_str().unwrap();
        assert!(text.chars().count() <= BODY_MAX_CHARS, "{}", text.chars().count());
        assert!(text.chars().count() > BODY_MAX_CHARS - 100, "not cut more than needed: {}", text.chars().count());
        assert!(text.contains("of 100000 characters for GitHub's limit; the full report: http://casefile/internal/debug/report/task-1)"), "{}", &text[text.len() - 400..]);
        assert!(text.ends_with("<!-- casefile-fingerprint: fp-abc -->\n"), "the marker survives the cut");
        conforms(&b, CREATE_SCHEMA);

        let long = build(TicketAction::Update, Some(ticket("7")), &"y".repeat(70_000));
        let c = body(&long)["body"].as_str().unwrap().to_owned();
        assert!(c.chars().count() <= BODY_MAX_CHARS && c.contains("of 70000 characters"), "{}", c.chars().count());

        // A comment sent as a second request is cut the same way, without a link.
        let req = GitHubIssues::build_comment(target("https://api.github.com", SETTINGS), ticket("7"), "y".repeat(70_000)).unwrap();
        let keep = 65_479; // 65,536 less the note sized for "70000 of 70000".
        assert_eq!(body(&req), json!({"body": format!("{}\n\n… (cut to {keep} of 70000 characters for GitHub's limit)", "y".repeat(keep))}));
        conforms(&body(&req), COMMENT_SCHEMA);
    }

    #[test]
    fn update_comments_and_close_reopen_patch_the_state_without_the_comment() {
        let req = build(TicketAction::Update, Some(ticket("1347")), "seen again");
        assert_eq!((req.method.as_str(), req.url.as_str()), ("POST", "https://api.github.com/repos/octocat/Hello-World/issues/1347/comments"));
        assert_eq!(body(&req), json!({"body": "seen again"}));
        conforms(&body(&req), COMMENT_SCHEMA);
        let empty = build(TicketAction::Update, Some(ticket("1347")), " ");
        assert_eq!(body(&empty), json!({"body": "casefile saw this failure again (task task-1)."}));

        for (action, want) in [
            (TicketAction::Close, json!({"state": "closed", "state_reason": "completed"})),
            (TicketAction::Reopen, json!({"state": "open", "state_reason": "reopened"})),
        ] {
            let req = build(action, Some(ticket(" 1347 ")), "the regression passed");
            assert_eq!((req.method.as_str(), req.url.as_str()), ("PATCH", "https://api.github.com/repos/octocat/Hello-World/issues/1347"));
            assert_eq!(body(&req), want, "{action:?}: no comment in a state change");
            conforms(&body(&req), UPDATE_SCHEMA);
        }

        for (t, why) in [(None, "needs the issue"), (Some(ticket("OPS-1")), "not a GitHub issue number"), (Some(ticket("0")), "not a GitHub issue number"), (Some(ticket("1/../2")), "not a GitHub issue number")] {
            match GitHubIssues::build_request(target("https://api.github.com", SETTINGS), TicketAction::Close, report("t", "m"), t, String::new()) {
                Err(PluginError::InvalidInput(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{other:?}"),
            }
        }
        for endpoint in ["", "api.github.com"] {
            assert!(matches!(GitHubIssues::build_request(target(endpoint, SETTINGS), TicketAction::Create, report("t", "m"), None, String::new()), Err(PluginError::InvalidInput(m)) if m.contains("endpoint")));
        }
    }

    #[test]
    fn comments_are_a_second_request() {
        let req = GitHubIssues::build_comment(target("https://api.github.com", SETTINGS), ticket("1347"), "closed: the regression passed".into()).unwrap();
        assert_eq!((req.method.as_str(), req.url.as_str()), ("POST", "https://api.github.com/repos/octocat/Hello-World/issues/1347/comments"));
        assert_eq!(header(&req, "x-github-api-version"), Some("2022-11-28"));
        assert_eq!(body(&req), json!({"body": "closed: the regression passed"}));
        conforms(&body(&req), COMMENT_SCHEMA);
        assert!(matches!(GitHubIssues::build_comment(target("https://api.github.com", SETTINGS), ticket("1347"), "  ".into()), Err(PluginError::InvalidInput(_))));
        assert!(matches!(GitHubIssues::build_comment(target("https://api.github.com", SETTINGS), ticket("x"), "c".into()), Err(PluginError::InvalidInput(_))));

        assert!(GitHubIssues::parse_comment(response(201, &[], COMMENTED)).is_ok());
        match GitHubIssues::parse_comment(response(404, &[], r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest/issues/comments#create-an-issue-comment","status":"404"}"#)) {
            Err(PluginError::InvalidInput(m)) => assert!(m.contains("(404): Not Found; see https://docs.github.com/rest/issues/comments"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(GitHubIssues::parse_comment(response(502, &[], "bad gateway")), Err(PluginError::Unavailable(_))));
    }

    #[test]
    fn settings_are_checked() {
        assert!(GitHubIssues::validate_settings(SETTINGS.into()).is_ok());
        assert!(GitHubIssues::validate_settings(r#"{"owner": "my-org", "repo": "casefile.github.io"}"#.into()).is_ok());
        for (bad, why) in [
            ("", "settings.owner is required (the GitHub mapper needs"),
            ("[]", "not a JSON object"),
            (r#"{"owner": "o"}"#, "settings.repo is required"),
            (r#"{"owner": 5, "repo": "r"}"#, "settings.owner: invalid type: integer `5`, expected a string"),
            (r#"{"owner": "o", "repo": "r", "labels": "bug"}"#, "settings.labels: invalid type"),
            (r#"{"owner": "", "repo": "r"}"#, "settings.owner"),
            (r#"{"owner": "-x", "repo": "r"}"#, "settings.owner"),
            (r#"{"owner": "a/b", "repo": "r"}"#, "settings.owner"),
            (r#"{"owner": "o", "repo": ""}"#, "settings.repo"),
            (r#"{"owner": "o", "repo": "a b"}"#, "settings.repo"),
            (r#"{"owner": "o", "repo": ".."}"#, "settings.repo"),
            (r#"{"owner": "o", "repo": "r", "labels": [" "]}"#, "settings.labels"),
            (r#"{"owner": "o", "repo": "r", "assignees": ["a b"]}"#, "settings.assignees"),
            (r#"{"owner": "o", "repo": "r", "token": "x"}"#, "unknown field `token`"),
        ] {
            match GitHubIssues::validate_settings(bad.into()) {
                Err(PluginError::InvalidInput(m)) => assert!(m.contains(why), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn reads_githubs_documented_answers() {
        let t = GitHubIssues::parse_response(TicketAction::Create, response(201, &[], CREATED)).expect("ref");
        assert_eq!((t.id.as_str(), t.url.as_deref(), t.state.as_str()), ("1347", Some("https://github.com/octocat/Hello-World/issues/1347"), "open"));
        let t = GitHubIssues::parse_response(TicketAction::Reopen, response(200, &[], UPDATED)).expect("ref");
        assert_eq!((t.id.as_str(), t.state.as_str()), ("1347", "open"));
        // The documented update answer is open; a close answers the closed issue.
        let mut closed: Value = serde_json::from_str(UPDATED).unwrap();
        closed["state"] = json!("closed");
        let t = GitHubIssues::parse_response(TicketAction::Close, response(200, &[], &closed.to_string())).expect("ref");
        assert_eq!((t.id.as_str(), t.state.as_str()), ("1347", "closed"));
        let t = GitHubIssues::parse_response(TicketAction::Update, response(201, &[], COMMENTED)).expect("ref");
        assert_eq!((t.id.as_str(), t.url.as_deref(), t.state.as_str()), ("1347", Some("https://github.com/octocat/Hello-World/issues/1347"), "open"));

        assert!(matches!(GitHubIssues::parse_response(TicketAction::Create, response(201, &[], "{}")), Err(PluginError::Unavailable(m)) if m.contains("without an issue number")));
        assert!(matches!(GitHubIssues::parse_response(TicketAction::Update, response(201, &[], r#"{"id": 1}"#)), Err(PluginError::Unavailable(m)) if m.contains("issue_url")));
        assert!(matches!(GitHubIssues::parse_response(TicketAction::Create, response(201, &[], "<html>")), Err(PluginError::Unavailable(m)) if m.contains("bad JSON")));
    }

    #[test]
    fn refusals_keep_githubs_words() {
        let validation = r#"{"message":"Validation Failed","errors":[{"resource":"Issue","code":"missing_field","field":"title"},{"resource":"Issue","code":"custom","field":"body","message":"body is too long (maximum is 65536 characters)","value":"sent text"}],"documentation_url":"https://docs.github.com/rest/issues/issues#create-an-issue","status":"422"}"#;
        // The shape GitHub documents for a 422.
        let schema: Value = serde_json::from_str(include_str!("../../../tests/fixtures/vendor/github/validation-error.422.schema.json")).unwrap();
        let mut documented: Value = serde_json::from_str(validation).unwrap();
        documented.as_object_mut().unwrap().remove("status");
        assert!(violations(&documented, &schema).is_empty(), "{:#?}", violations(&documented, &schema));
        match GitHubIssues::parse_response(TicketAction::Create, response(422, &[], validation)) {
            Err(PluginError::InvalidInput(m)) => {
                assert_eq!(
                    m,
                    "GitHub refused the request (422): Validation Failed; Issue.title missing_field; \
                     Issue.body custom body is too long (maximum is 65536 characters); \
                     see https://docs.github.com/rest/issues/issues#create-an-issue"
                );
                assert!(!m.contains("sent text"), "errors[].value is not repeated");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(GitHubIssues::parse_response(TicketAction::Close, response(401, &[], r#"{"message":"Bad credentials"}"#)), Err(PluginError::Denied(m)) if m.contains("Bad credentials")));
        assert!(matches!(GitHubIssues::parse_response(TicketAction::Close, response(403, &[], r#"{"message":"Resource not accessible by personal access token"}"#)), Err(PluginError::Denied(_))));
        assert!(matches!(GitHubIssues::parse_response(TicketAction::Close, response(403, &[("X-RateLimit-Remaining", "0")], r#"{"message":"API rate limit exceeded"}"#)), Err(PluginError::Unavailable(_))));
        assert!(matches!(GitHubIssues::parse_response(TicketAction::Close, response(410, &[], r#"{"message":"Issues are disabled for this repo"}"#)), Err(PluginError::InvalidInput(m)) if m.contains("Issues are disabled")));
        assert!(matches!(GitHubIssues::parse_response(TicketAction::Create, response(503, &[], "down")), Err(PluginError::Unavailable(m)) if m.contains("503: down")));
    }
}
