//! The host's words for the WIT enums and variants (as stored and shown), and the
//! mapping of `http-method` onto reqwest's.

use super::bindings::wit;

pub fn plugin_error(e: &wit::PluginError) -> String {
    match e {
        wit::PluginError::InvalidInput(m) => format!("invalid input: {m}"),
        wit::PluginError::Unavailable(m) => format!("unavailable: {m}"),
        wit::PluginError::Denied(m) => format!("denied: {m}"),
        wit::PluginError::Internal(m) => format!("internal error: {m}"),
    }
}

pub fn method(m: wit::HttpMethod) -> reqwest::Method {
    match m {
        wit::HttpMethod::Get => reqwest::Method::GET,
        wit::HttpMethod::Head => reqwest::Method::HEAD,
        wit::HttpMethod::Post => reqwest::Method::POST,
        wit::HttpMethod::Put => reqwest::Method::PUT,
        wit::HttpMethod::Patch => reqwest::Method::PATCH,
        wit::HttpMethod::Delete => reqwest::Method::DELETE,
        wit::HttpMethod::Options => reqwest::Method::OPTIONS,
    }
}

/// The word a ticket state is stored as.
pub fn ticket_state_word(s: &wit::TicketState) -> String {
    match s {
        wit::TicketState::Open => "open".into(),
        wit::TicketState::Closed => "closed".into(),
        wit::TicketState::Other(w) => w.clone(),
    }
}

pub fn ticket_state(word: &str) -> wit::TicketState {
    match word {
        "open" => wit::TicketState::Open,
        "closed" => wit::TicketState::Closed,
        w => wit::TicketState::Other(w.to_string()),
    }
}

pub fn mask_action(a: wit::MaskAction) -> &'static str {
    match a {
        wit::MaskAction::Mask => "mask",
        wit::MaskAction::Remove => "remove",
        wit::MaskAction::Hash => "hash",
        wit::MaskAction::Partial => "partial",
    }
}
