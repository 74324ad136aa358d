//! Ticket mapper for Redmine's REST API (checked against Redmine 5.0):
//! `POST <endpoint>/issues.json` opens an issue (201 with the issue),
//! `PUT <endpoint>/issues/<id>.json` adds a note and, to close or reopen, sets
//! `status_id` (204, empty body). Redmine has no webhooks, so this mapper also
//! exports `ticket-poll`: `GET <endpoint>/issues.json?status_id=*&updated_on=>=<since>`
//! lists what people changed, and the host applies it to its tasks.
//!
//! The API key never enters the component: the host attaches it
//! (`ticket.credentials`, header `X-Redmine-API-Key`) to requests for the endpoint.

// The SDK's export macros are per world and one world's would clash with another's
// in the SDK crate, so this crate generates the `ticket-mapper-polling` bindings
// itself, sharing the SDK's `types` (and its runtime) so its helpers apply.
mod bindings {
    casefile_guest::wit_bindgen::generate!({
        world: "ticket-mapper-polling",
        path: "../../wit",
        runtime_path: "casefile_guest::wit_bindgen::rt",
        with: { "casefile:plugin/types@0.2.0": casefile_guest::types },
    });
}

use bindings::exports::casefile::plugin::mapper::Guest;
use bindings::exports::casefile::plugin::ticket_poll::{
    Guest as PollGuest, PollPage, TicketStatus,
};
use casefile_guest::fields::field;
use casefile_guest::http::{body_excerpt, join_url, percent_encode};
use casefile_guest::ticket_text::{
    check_answer, cut, invalid, json_answer, reasons_or_excerpt, report_tail, Fingerprint, Refusals,
};
use casefile_guest::types::{
    HttpMethod, HttpRequest, HttpResponse, PluginError, ReportSummary, TicketAction, TicketRef,
    TicketState, TicketTarget,
};
use serde_json::{json, Value};

struct RedmineTickets;

/// Redmine's longest subject.
const SUBJECT_MAX_CHARS: usize = 255;
/// Redmine's largest page (`limit` above it is cut to it anyway).
const PAGE_SIZE: u64 = 100;

/// The mapper's settings (`ticket.settings`).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// The project issues are opened in: its identifier (`casefile`) or numeric id.
    project_id: Value,
    /// The tracker of new issues; Redmine's default tracker of the project when unset.
    #[serde(default)]
    tracker_id: Option<u64>,
    /// The status a passing regression closes an issue with (5 is Closed in
    /// Redmine's default data).
    #[serde(default = "default_close_status")]
    close_status_id: u64,
    /// The status a recurrence reopens an issue with (1 is New).
    #[serde(default = "default_reopen_status")]
    reopen_status_id: u64,
}

fn default_close_status() -> u64 {
    5
}

fn default_reopen_status() -> u64 {
    1
}

impl Settings {
    fn parse(json: &str) -> Result<Settings, PluginError> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        let s: Settings = serde_json::from_str(json).map_err(|e| {
            invalid(format!(
                "settings: {e} (the Redmine mapper needs at least {{\"project_id\": \"<project identifier>\"}})"
            ))
        })?;
        match &s.project_id {
            Value::String(p) if !p.trim().is_empty() => {}
            Value::Number(n) if n.as_u64().is_some_and(|n| n > 0) => {}
            other => {
                return Err(invalid(format!(
                    "settings.project_id: {other} is neither a project identifier nor a positive id"
                )))
            }
        }
        if s.close_status_id == 0 || s.reopen_status_id == 0 || s.tracker_id == Some(0) {
            return Err(invalid(
                "settings: status and tracker ids are positive numbers (Redmine's ids start at 1)",
            ));
        }
        if s.close_status_id == s.reopen_status_id {
            return Err(invalid(format!(
                "settings: close_status_id and reopen_status_id are both {}; a close would not close",
                s.close_status_id
            )));
        }
        Ok(s)
    }

    /// The project as Redmine's query string takes it.
    fn project_word(&self) -> String {
        match &self.project_id {
            Value::String(s) => s.trim().to_owned(),
            other => other.to_string(),
        }
    }
}

fn endpoint(target: &TicketTarget) -> Result<&str, PluginError> {
    let e = target.endpoint.trim();
    if e.is_empty() {
        return Err(invalid("ticket endpoint is empty"));
    }
    Ok(e)
}

fn json_request(method: HttpMethod, url: String, body: &Value) -> HttpRequest {
    HttpRequest {
        method,
        url,
        headers: vec![
            field("content-type", "application/json"),
            field("accept", "application/json"),
        ],
        body: body.to_string().into_bytes(),
    }
}

impl Guest for RedmineTickets {
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
        let base = endpoint(&target)?;
        if let TicketAction::Create = action {
            return Ok(json_request(
                HttpMethod::Post,
                join_url(base, "/issues.json"),
                &create_body(&settings, &report),
            ));
        }
        let ticket = ticket.ok_or_else(|| {
            invalid(format!("{} needs the issue it acts on", action.as_str()))
        })?;
        // Redmine's issue ids are numbers; anything else cannot be one of its issues.
        let id: u64 = ticket.id.trim().parse().map_err(|_| {
            invalid(format!("`{}` is not a Redmine issue id (a number)", ticket.id))
        })?;
        Ok(json_request(
            HttpMethod::Put,
            join_url(base, &format!("/issues/{id}.json")),
            &update_body(&settings, action, &comment),
        ))
    }

    fn parse_response(
        action: TicketAction,
        response: HttpResponse,
    ) -> Result<TicketRef, PluginError> {
        check_status(&response)?;
        let expected = TicketState::after(action);
        let issue = if response.body.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            json_answer("Redmine", &response)?.get("issue").cloned()
        };
        let Some(issue) = issue else {
            // An update answers 204 with nothing: the host keeps the id it has.
            if matches!(action, TicketAction::Create) {
                return Err(PluginError::Unavailable(format!(
                    "Redmine answered {} to a create without the issue",
                    response.status
                )));
            }
            return Ok(TicketRef { id: String::new(), url: None, state: expected });
        };
        let id = issue_id(&issue).ok_or_else(|| {
            PluginError::Unavailable(format!(
                "Redmine answered {} with an issue that has no id",
                response.status
            ))
        })?;
        // The issue's page: Redmine says where it is in `Location` (a create's answer).
        let url = response
            .headers
            .iter()
            .find(|h| h.key.eq_ignore_ascii_case("location"))
            .map(|h| h.value.trim().to_owned())
            .filter(|u| !u.is_empty());
        let state = issue_state(&issue).unwrap_or(expected);
        Ok(TicketRef { id, url, state })
    }
}

impl PollGuest for RedmineTickets {
    fn build_poll(
        target: TicketTarget,
        since: String,
        page: Option<String>,
    ) -> Result<HttpRequest, PluginError> {
        let settings = Settings::parse(&target.settings)?;
        let base = endpoint(&target)?;
        let since = since.trim();
        if since.is_empty() || since.chars().any(|c| c.is_whitespace()) {
            return Err(invalid(format!("`{since}` is not a time Redmine can filter on")));
        }
        let offset: u64 = match page.as_deref().map(str::trim) {
            None | Some("") => 0,
            Some(p) => p.parse().map_err(|_| invalid(format!("page `{p}` is not an offset")))?,
        };
        // `status_id=*`: without it Redmine hides closed issues, which are the news.
        // `>=`: its times are to the second, so the host de-duplicates on (id, updated).
        let url = join_url(
            base,
            &format!(
                "/issues.json?project_id={}&status_id=*&sort=updated_on,id&updated_on={}&limit={PAGE_SIZE}&offset={offset}",
                percent_encode(&settings.project_word()),
                percent_encode(&format!(">={since}")),
            ),
        );
        Ok(HttpRequest {
            method: HttpMethod::Get,
            url,
            headers: vec![field("accept", "application/json")],
            body: Vec::new(),
        })
    }

    fn parse_poll(response: HttpResponse) -> Result<PollPage, PluginError> {
        check_status(&response)?;
        let v = json_answer("Redmine", &response)?;
        let issues = v.get("issues").and_then(Value::as_array).ok_or_else(|| {
            PluginError::Unavailable(format!(
                "Redmine's issue list has no `issues`: {}",
                body_excerpt(&response.body, 200)
            ))
        })?;
        let mut tickets = Vec::with_capacity(issues.len());
        for issue in issues {
            let (Some(id), Some(updated)) = (issue_id(issue), issue["updated_on"].as_str()) else {
                return Err(PluginError::Unavailable(format!(
                    "Redmine listed an issue without id or updated_on: {}",
                    body_excerpt(issue.to_string().as_bytes(), 200)
                )));
            };
            let state = issue_state(issue).ok_or_else(|| {
                PluginError::Unavailable(format!("Redmine issue {id} has no status.is_closed"))
            })?;
            let assignee = issue["assigned_to"]["name"].as_str().map(str::to_owned);
            tickets.push(TicketStatus { id, state, assignee, updated: updated.to_owned() });
        }
        let offset = v["offset"].as_u64().unwrap_or(0);
        let total = v["total_count"].as_u64().unwrap_or(0);
        let seen = offset + tickets.len() as u64;
        let next_page = (!tickets.is_empty() && seen < total).then(|| seen.to_string());
        Ok(PollPage { tickets, next_page })
    }
}

fn issue_id(issue: &Value) -> Option<String> {
    match &issue["id"] {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// Redmine says whether a status closes (its names are the admin's to choose).
fn issue_state(issue: &Value) -> Option<TicketState> {
    issue["status"]["is_closed"].as_bool().map(|closed| if closed { TicketState::Closed } else { TicketState::Open })
}

/// How Redmine's refusals read (see `check_status`): with the body's start, but for
/// credentials and a missing issue, whose answers say nothing more.
const REFUSALS: Refusals = Refusals {
    vendor: "Redmine",
    denied: |status, _| {
        format!("Redmine refused the API key ({status}): check ticket.credentials (header X-Redmine-API-Key) and that the REST API is enabled")
    },
    not_found: |status, _| {
        format!("Redmine has no such issue or project ({status}); it may have been deleted, or the key's user cannot see it")
    },
    refused: |status, why| format!("Redmine answered {status}: {why}"),
};

/// Redmine's error answers, in words that say what to do. The host refuses a 4xx
/// (other than 408/429) without retrying and keeps this message. Only a 422 has
/// reasons (`{"errors": ["Subject cannot be blank", ...]}`).
fn check_status(response: &HttpResponse) -> Result<(), PluginError> {
    if response.status == 422 {
        let why = reasons_or_excerpt(&response.body, |v| {
            let errors: Vec<&str> = v["errors"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            (!errors.is_empty()).then(|| errors.join("; "))
        });
        return Err(invalid(format!("Redmine refused the request (422): {why}")));
    }
    check_answer(response, &REFUSALS, |_| None)
}

fn create_body(settings: &Settings, r: &ReportSummary) -> Value {
    // Redmine shows text as it is: the fingerprint goes in the task line.
    let description = format!("{}{}", r.markdown, report_tail(r, Fingerprint::InLine));
    let mut issue = json!({
        "project_id": settings.project_id,
        "subject": cut(r.title.trim(), SUBJECT_MAX_CHARS),
        "description": description,
    });
    if let Some(t) = settings.tracker_id {
        issue["tracker_id"] = json!(t);
    }
    json!({ "issue": issue })
}

fn update_body(settings: &Settings, action: TicketAction, comment: &str) -> Value {
    let mut issue = json!({ "notes": comment });
    match action {
        TicketAction::Close => issue["status_id"] = json!(settings.close_status_id),
        TicketAction::Reopen => issue["status_id"] = json!(settings.reopen_status_id),
        TicketAction::Create | TicketAction::Update => {}
    }
    json!({ "issue": issue })
}

bindings::export!(RedmineTickets with_types_in bindings);

#[cfg(test)]
mod tests {
    use super::*;
    use casefile_guest::types::Field;

    fn report(title: &str) -> ReportSummary {
        ReportSummary {
            task_id: "task-1".into(),
            tenant: "acme".into(),
            plugin_id: "pay".into(),
            plugin_version: Some("1.2.0".into()),
            error_event_id: "ev-9".into(),
            fingerprint: "fp-abc".into(),
            title: title.into(),
            severity: casefile_guest::types::Severity::High,
            environments: vec!["prod".into()],
            owners: vec!["team-pay".into()],
            markdown: "# Report".into(),
            report_url: Some("http://casefile/internal/debug/report/task-1".into()),
        }
    }

    fn target(settings: &str) -> TicketTarget {
        TicketTarget { endpoint: "http://redmine:3000/".into(), settings: settings.into() }
    }

    fn ticket(id: &str) -> Option<TicketRef> {
        Some(TicketRef { id: id.into(), url: None, state: TicketState::Open })
    }

    fn body(req: &HttpRequest) -> Value {
        serde_json::from_slice(&req.body).expect("JSON body")
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: headers.iter().map(|(k, v)| Field { key: (*k).into(), value: (*v).into() }).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    const SETTINGS: &str = r#"{"project_id": "casefile"}"#;

    #[test]
    fn create_posts_an_issue_to_the_project() {
        let req = RedmineTickets::build_request(target(r#"{"project_id": "casefile", "tracker_id": 1}"#), TicketAction::Create, report("pay fails"), None, String::new())
            .expect("request");
        assert_eq!((req.method.as_str(), req.url.as_str()), ("POST", "http://redmine:3000/issues.json"));
        assert!(req.headers.iter().all(|h| !h.key.eq_ignore_ascii_case("x-redmine-api-key")), "the host attaches the key");
        let b = body(&req);
        assert_eq!(b["issue"]["project_id"], "casefile");
        assert_eq!(b["issue"]["tracker_id"], 1);
        assert_eq!(b["issue"]["subject"], "pay fails");
        let d = b["issue"]["description"].as_str().unwrap();
        assert!(d.starts_with("# Report"), "{d}");
        for part in ["Report: http://casefile/internal/debug/report/task-1", "fingerprint fp-abc", "plugin pay 1.2.0", "Owners: team-pay"] {
            assert!(d.contains(part), "{part} in {d}");
        }
        assert_eq!(
            d,
            "# Report\n\n---\nReport: http://casefile/internal/debug/report/task-1\n\
             casefile task task-1, tenant acme, plugin pay 1.2.0, fingerprint fp-abc, severity high, error event ev-9\n\
             Owners: team-pay\n"
        );
        // Unlike the other mappers', a subject is only trimmed: Redmine shows it as it is.
        let two = RedmineTickets::build_request(target(SETTINGS), TicketAction::Create, report(" pay\nfails "), None, String::new()).unwrap();
        assert_eq!(body(&two)["issue"]["subject"], "pay\nfails");
        let long = RedmineTickets::build_request(target(r#"{"project_id": 3}"#), TicketAction::Create, report(&"é".repeat(300)), None, String::new()).unwrap();
        let b = body(&long);
        assert_eq!(b["issue"]["subject"].as_str().unwrap().chars().count(), SUBJECT_MAX_CHARS);
        assert_eq!(b["issue"]["project_id"], 3);
        assert!(b["issue"].get("tracker_id").is_none());
    }

    #[test]
    fn update_close_and_reopen_put_notes_and_statuses() {
        for (action, settings, status) in [
            (TicketAction::Update, SETTINGS, None),
            (TicketAction::Close, SETTINGS, Some(5)),
            (TicketAction::Reopen, SETTINGS, Some(1)),
            (TicketAction::Close, r#"{"project_id": "p", "close_status_id": 6, "reopen_status_id": 2}"#, Some(6)),
            (TicketAction::Reopen, r#"{"project_id": "p", "close_status_id": 6, "reopen_status_id": 2}"#, Some(2)),
        ] {
            let req = RedmineTickets::build_request(target(settings), action, report("t"), ticket("12"), "seen again".into()).expect("request");
            assert_eq!((req.method.as_str(), req.url.as_str()), ("PUT", "http://redmine:3000/issues/12.json"));
            let b = body(&req);
            assert_eq!(b["issue"]["notes"], "seen again");
            assert_eq!(b["issue"]["status_id"].as_u64(), status, "{action:?} {settings}");
        }
        for (t, why) in [(None, "needs the issue"), (ticket("PLAT-1"), "not a Redmine issue id")] {
            match RedmineTickets::build_request(target(SETTINGS), TicketAction::Close, report("t"), t, String::new()) {
                Err(PluginError::InvalidInput(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn settings_are_checked() {
        assert!(RedmineTickets::validate_settings(SETTINGS.into()).is_ok());
        assert!(RedmineTickets::validate_settings(r#"{"project_id": 4, "close_status_id": 6}"#.into()).is_ok());
        for (bad, why) in [
            ("", "missing field `project_id`"),
            ("{}", "needs at least"),
            (r#"{"project_id": ""}"#, "neither a project identifier"),
            (r#"{"project_id": -1}"#, "neither"),
            (r#"{"project_id": "p", "close_status": 5}"#, "unknown field `close_status`"),
            (r#"{"project_id": "p", "close_status_id": 1}"#, "both 1"),
            (r#"{"project_id": "p", "close_status_id": 0}"#, "positive"),
        ] {
            match RedmineTickets::validate_settings(bad.into()) {
                Err(PluginError::InvalidInput(m)) => assert!(m.contains(why), "{bad}: {m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn reads_a_created_issue_and_an_empty_update() {
        let created = r#"{"issue":{"id":7,"project":{"id":1,"name":"casefile"},"status":{"id":1,"name":"New","is_closed":false},"subject":"s","updated_on":"2026-11-30T22:37:25Z"}}"#;
        let t = RedmineTickets::parse_response(TicketAction::Create, response(201, &[("Location", "http://redmine:3000/issues/7")], created)).expect("ref");
        assert_eq!((t.id.as_str(), t.url.as_deref(), t.state.as_str()), ("7", Some("http://redmine:3000/issues/7"), "open"));
        let t = RedmineTickets::parse_response(TicketAction::Close, response(204, &[], "")).expect("ref");
        assert_eq!((t.id.as_str(), t.state.as_str()), ("", "closed"));
        let t = RedmineTickets::parse_response(TicketAction::Reopen, response(204, &[], "")).expect("ref");
        assert_eq!(t.state.as_str(), "open");
        assert!(matches!(RedmineTickets::parse_response(TicketAction::Create, response(204, &[], "")), Err(PluginError::Unavailable(_))));
        assert!(matches!(RedmineTickets::parse_response(TicketAction::Create, response(201, &[], "<html>")), Err(PluginError::Unavailable(m)) if m.contains("bad JSON")));
    }

    #[test]
    fn refusals_say_what_is_wrong() {
        let cases = [
            (422, r#"{"errors":["Subject cannot be blank","Tracker is not included in the list"]}"#, "Redmine refused the request (422): Subject cannot be blank; Tracker is not included in the list"),
            (404, "", "no such issue or project"),
            (400, "bad", "answered 400: bad"),
        ];
        for (status, body, why) in cases {
            match RedmineTickets::parse_response(TicketAction::Update, response(status, &[], body)) {
                Err(PluginError::InvalidInput(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{status}: {other:?}"),
            }
        }
        assert!(matches!(RedmineTickets::parse_response(TicketAction::Create, response(401, &[], "")), Err(PluginError::Denied(m)) if m.contains("X-Redmine-API-Key")));
        assert_eq!(
            RedmineTickets::parse_response(TicketAction::Close, response(403, &[], "why")),
            Err(PluginError::Denied("Redmine refused the API key (403): check ticket.credentials (header X-Redmine-API-Key) and that the REST API is enabled".into()))
        );
        assert_eq!(
            RedmineTickets::parse_response(TicketAction::Close, response(422, &[], "<html>")),
            Err(PluginError::InvalidInput("Redmine refused the request (422): <html>".into())),
            "a 422 without errors: the body's start"
        );
        assert!(matches!(RedmineTickets::parse_response(TicketAction::Create, response(503, &[], "down")), Err(PluginError::Unavailable(m)) if m.contains("503: down")));
        assert!(matches!(RedmineTickets::parse_response(TicketAction::Create, response(429, &[], "")), Err(PluginError::Unavailable(_))));
    }

    #[test]
    fn polls_every_status_since_a_time_page_by_page() {
        let req = RedmineTickets::build_poll(target(r#"{"project_id": "case file"}"#), "2026-11-30T22:37:25Z".into(), None).expect("request");
        assert_eq!(req.method.as_str(), "GET");
        assert_eq!(
            req.url,
            "http://redmine:3000/issues.json?project_id=case%20file&status_id=*&sort=updated_on,id&updated_on=%3E%3D2026-11-30T22%3A37%3A25Z&limit=100&offset=0"
        );
        let next = RedmineTickets::build_poll(target(SETTINGS), "2026-11-30T22:37:25Z".into(), Some("100".into())).unwrap();
        assert!(next.url.ends_with("&offset=100"), "{}", next.url);
        for (since, page) in [("", None), ("2026-11-30 22:00", None), ("2026-11-30T22:37:25Z", Some("x"))] {
            assert!(matches!(RedmineTickets::build_poll(target(SETTINGS), since.into(), page.map(Into::into)), Err(PluginError::InvalidInput(_))), "{since:?} {page:?}");
        }

        let list = r#"{"issues":[
            {"id":2,"status":{"id":1,"name":"New","is_closed":false},"assigned_to":{"id":5,"name":"Ana Lima"},"updated_on":"2026-11-30T22:37:31Z"},
            {"id":1,"status":{"id":5,"name":"Closed","is_closed":true},"updated_on":"2026-11-30T22:37:31Z","closed_on":"2026-11-30T22:37:31Z"}
        ],"total_count":3,"offset":0,"limit":2}"#;
        let page = RedmineTickets::parse_poll(response(200, &[], list)).expect("page");
        let got: Vec<(&str, &str, Option<&str>, &str)> =
            page.tickets.iter().map(|t| (t.id.as_str(), t.state.as_str(), t.assignee.as_deref(), t.updated.as_str())).collect();
        assert_eq!(got, [("2", "open", Some("Ana Lima"), "2026-11-30T22:37:31Z"), ("1", "closed", None, "2026-11-30T22:37:31Z")]);
        assert_eq!(page.next_page.as_deref(), Some("2"));
        let last = RedmineTickets::parse_poll(response(200, &[], r#"{"issues":[],"total_count":2,"offset":2,"limit":100}"#)).unwrap();
        assert_eq!((last.tickets.len(), last.next_page), (0, None));
        assert!(matches!(RedmineTickets::parse_poll(response(200, &[], r#"{"issue":{}}"#)), Err(PluginError::Unavailable(_))));
        assert!(matches!(RedmineTickets::parse_poll(response(200, &[], r#"{"issues":[{"id":1}]}"#)), Err(PluginError::Unavailable(m)) if m.contains("updated_on")));
        assert!(matches!(RedmineTickets::parse_poll(response(401, &[], "")), Err(PluginError::Denied(_))));
    }
}
