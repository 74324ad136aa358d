//! Ticket mapper for the platform's own ticket system:
//! `POST <endpoint>/internal/ticket/create` opens a ticket (idempotent on the
//! fingerprint), `POST <endpoint>/internal/ticket/update` comments on, closes or
//! reopens one. The host sends the request and hands the answer back.

use casefile_guest::fields::field;
use casefile_guest::http::{expect_success, join_url};
use casefile_guest::settings;
use casefile_guest::ticket_mapper::Guest;
use casefile_guest::ticket_text::{invalid, json_answer};
use casefile_guest::types::{
    HttpMethod, HttpRequest, HttpResponse, PluginError, ReportSummary, TicketAction, TicketRef,
    TicketState, TicketTarget,
};
use serde_json::{json, Value};

struct PlatformTickets;

/// The mapper's settings: labels added to every ticket it opens.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    labels: Vec<String>,
}

impl Settings {
    fn parse(json: &str) -> Result<Settings, PluginError> {
        // Empty settings are the defaults.
        let s: Settings = settings::parse(json).map_err(invalid)?;
        if let Some(bad) = s.labels.iter().find(|l| l.trim().is_empty()) {
            return Err(invalid(format!("settings.labels: label {bad:?} is empty")));
        }
        Ok(s)
    }
}

impl Guest for PlatformTickets {
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
        let endpoint = target.endpoint.trim();
        if endpoint.is_empty() {
            return Err(invalid("ticket endpoint is empty"));
        }
        let (path, body) = match (action, ticket) {
            (TicketAction::Create, _) => (
                "/internal/ticket/create",
                create_body(&report, &settings.labels),
            ),
            (action, Some(ticket)) => (
                "/internal/ticket/update",
                update_body(action, &ticket, &report, &comment),
            ),
            (action, None) => {
                return Err(invalid(format!(
                    "{} needs the ticket it acts on",
                    action.as_str()
                )))
            }
        };
        Ok(HttpRequest {
            method: HttpMethod::Post,
            url: join_url(endpoint, path),
            headers: vec![field("content-type", "application/json")],
            body: body.to_string().into_bytes(),
        })
    }

    fn parse_response(
        action: TicketAction,
        response: HttpResponse,
    ) -> Result<TicketRef, PluginError> {
        let body = expect_success("ticket system", &response)?;
        let answer: Value = if body.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            json_answer("ticket system", &response)?
        };
        let id = match answer.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        // Only a created ticket must say who it is; for the other actions the host
        // keeps the id it already has.
        if id.is_empty() && matches!(action, TicketAction::Create) {
            return Err(PluginError::Unavailable(format!(
                "ticket system answered {} without a ticket id",
                response.status
            )));
        }
        let url = answer
            .get("url")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        let state = answer
            .get("state")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(TicketState::from_word);
        let state = state.unwrap_or_else(|| TicketState::after(action));
        Ok(TicketRef { id, url, state })
    }
}

fn create_body(r: &ReportSummary, labels: &[String]) -> Value {
    json!({
        // One ticket per failure: the system deduplicates on the fingerprint.
        "idempotency_key": r.fingerprint,
        "fingerprint": r.fingerprint,
        "title": r.title,
        "tenant": r.tenant,
        "plugin": {"id": r.plugin_id, "version": r.plugin_version},
        "severity": r.severity.as_str(),
        "labels": labels,
        "environments": r.environments,
        "owners": r.owners,
        "body": r.markdown,
        "report_url": r.report_url,
        "task_id": r.task_id,
        "error_event_id": r.error_event_id,
    })
}

fn update_body(
    action: TicketAction,
    ticket: &TicketRef,
    r: &ReportSummary,
    comment: &str,
) -> Value {
    let state = match action {
        TicketAction::Close => "closed",
        TicketAction::Reopen => "open",
        TicketAction::Create | TicketAction::Update => ticket.state.as_str(),
    };
    json!({
        "id": ticket.id,
        "state": state,
        "comment": comment,
        "fingerprint": r.fingerprint,
        "body": r.markdown,
        "task_id": r.task_id,
    })
}

casefile_guest::export_ticket_mapper!(PlatformTickets);

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> ReportSummary {
        ReportSummary {
            task_id: "task-1".into(),
            tenant: "acme".into(),
            plugin_id: "pay".into(),
            plugin_version: Some("1.2.0".into()),
            error_event_id: "ev-9".into(),
            fingerprint: "fp-abc".into(),
            title: "pay fails".into(),
            severity: casefile_guest::types::Severity::High,
            environments: vec!["prod".into()],
            owners: vec!["team-pay".into()],
            markdown: "# Report".into(),
            report_url: None,
        }
    }

    fn ticket(state: &str) -> TicketRef {
        TicketRef {
            id: "T-7".into(),
            url: None,
            state: TicketState::from_word(state),
        }
    }

    fn target(endpoint: &str, settings: &str) -> TicketTarget {
        TicketTarget {
            endpoint: endpoint.into(),
            settings: settings.into(),
        }
    }

    fn body(req: &HttpRequest) -> Value {
        serde_json::from_slice(&req.body).expect("JSON body")
    }

    #[test]
    fn create_request() {
        let req = PlatformTickets::build_request(
            target("http://tickets:9000/", r#"{"labels": ["casefile"]}"#),
            TicketAction::Create,
            report(),
            None,
            String::new(),
        )
        .expect("request");
        assert_eq!(
            (req.method.as_str(), req.url.as_str()),
            ("POST", "http://tickets:9000/internal/ticket/create")
        );
        assert_eq!(req.headers, vec![field("content-type", "application/json")]);
        let b = body(&req);
        assert_eq!(b["idempotency_key"], "fp-abc");
        assert_eq!(b["plugin"], json!({"id": "pay", "version": "1.2.0"}));
        assert_eq!(b["environments"], json!(["prod"]));
        assert_eq!(b["report_url"], Value::Null);
        assert_eq!(b["body"], "# Report");
        assert_eq!(b["error_event_id"], "ev-9");
        assert_eq!(b["severity"], "high");
        assert_eq!(b["labels"], json!(["casefile"]));
    }

    #[test]
    fn settings_are_checked() {
        assert!(PlatformTickets::validate_settings(String::new()).is_ok());
        assert!(PlatformTickets::validate_settings(r#"{"labels": ["a"]}"#.into()).is_ok());
        for (bad, why) in [
            (r#"{"label": ["a"]}"#, "unknown field `label`"),
            (r#"{"labels": [""]}"#, "is empty"),
            ("[", "settings:"),
        ] {
            match PlatformTickets::validate_settings(bad.into()) {
                Err(PluginError::InvalidInput(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn update_close_reopen_requests() {
        for (action, state) in [
            (TicketAction::Update, "in_progress"),
            (TicketAction::Close, "closed"),
            (TicketAction::Reopen, "open"),
        ] {
            let req = PlatformTickets::build_request(
                target("http://t", ""),
                action,
                report(),
                Some(ticket("in_progress")),
                "c".into(),
            )
            .expect("request");
            assert_eq!(req.url, "http://t/internal/ticket/update");
            let b = body(&req);
            assert_eq!(
                (b["id"].as_str(), b["state"].as_str(), b["comment"].as_str()),
                (Some("T-7"), Some(state), Some("c"))
            );
            assert_eq!(b["task_id"], "task-1");
        }
        let e = PlatformTickets::build_request(
            target("http://t", ""),
            TicketAction::Close,
            report(),
            None,
            String::new(),
        );
        assert!(matches!(e, Err(PluginError::InvalidInput(m)) if m.contains("close")));
        let e = PlatformTickets::build_request(
            target(" ", ""),
            TicketAction::Create,
            report(),
            None,
            String::new(),
        );
        assert!(matches!(e, Err(PluginError::InvalidInput(_))));
    }

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn parses_answers() {
        let t = PlatformTickets::parse_response(
            TicketAction::Create,
            response(201, r#"{"id": 42, "url": "http://t/42"}"#),
        )
        .expect("ref");
        assert_eq!(
            (t.id.as_str(), t.url.as_deref(), t.state.as_str()),
            ("42", Some("http://t/42"), "open")
        );
        let t =
            PlatformTickets::parse_response(TicketAction::Close, response(204, "")).expect("ref");
        assert_eq!((t.id.as_str(), t.state.as_str()), ("", "closed"));
        let t = PlatformTickets::parse_response(
            TicketAction::Update,
            response(200, r#"{"id":"T-7","state":"resolved"}"#),
        )
        .expect("ref");
        assert_eq!((t.id.as_str(), t.state.as_str()), ("T-7", "resolved"));
    }

    #[test]
    fn bad_answers_are_unavailable() {
        let long = "x".repeat(500);
        for (action, resp, why) in [
            (
                TicketAction::Create,
                response(500, &long),
                "ticket system answered 500: xxx",
            ),
            (
                TicketAction::Create,
                response(200, "{}"),
                "without a ticket id",
            ),
            (TicketAction::Update, response(200, "<html>"), "bad JSON"),
        ] {
            match PlatformTickets::parse_response(action, resp) {
                Err(PluginError::Unavailable(m)) => {
                    assert!(m.contains(why), "{m}");
                    assert!(m.len() < 260, "excerpt is capped: {}", m.len());
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
