//! Conversions between the WIT types and the host's model.

use super::bindings::wit;
use crate::model::{Batch, Level, LogRecord, MetricSample, Span};

fn fields_in(f: Vec<wit::Field>) -> Vec<(String, String)> {
    f.into_iter().map(|f| (f.key, f.value)).collect()
}

fn level_in(l: wit::Level) -> Level {
    match l {
        wit::Level::Trace => Level::Trace,
        wit::Level::Debug => Level::Debug,
        wit::Level::Info => Level::Info,
        wit::Level::Warn => Level::Warn,
        wit::Level::Error => Level::Error,
        wit::Level::Fatal => Level::Fatal,
    }
}

fn level_out(l: Level) -> wit::Level {
    match l {
        Level::Trace => wit::Level::Trace,
        Level::Debug => wit::Level::Debug,
        Level::Info => wit::Level::Info,
        Level::Warn => wit::Level::Warn,
        Level::Error => wit::Level::Error,
        Level::Fatal => wit::Level::Fatal,
    }
}

pub fn batch_in(b: wit::Batch) -> Batch {
    Batch {
        logs: b
            .logs
            .into_iter()
            .map(|l| LogRecord {
                timestamp_ns: l.timestamp_ns,
                host: l.host,
                environment: l.environment,
                source: l.source,
                level: level_in(l.level),
                message: l.message,
                trace_id: l.trace_id,
                span_id: l.span_id,
                attributes: fields_in(l.attributes),
            })
            .collect(),
        spans: b
            .spans
            .into_iter()
            .map(|s| Span {
                trace_id: s.trace_id,
                span_id: s.span_id,
                parent_span_id: s.parent_span_id,
                name: s.name,
                service: s.service,
                host: s.host,
                environment: s.environment,
                start_ns: s.start_ns,
                duration_ns: s.duration_ns,
                error: s.error,
                attributes: fields_in(s.attributes),
            })
            .collect(),
        metrics: b
            .metrics
            .into_iter()
            .map(|m| MetricSample {
                name: m.name,
                labels: fields_in(m.labels),
                timestamp_ns: m.timestamp_ns,
                value: m.value,
                host: m.host,
                environment: m.environment,
            })
            .collect(),
    }
}

/// Moves the batch into the WIT types without copying its strings: the masker gets
/// the records by value and hands back new ones.
pub fn batch_out(b: Batch) -> wit::Batch {
    let fields = |f: Vec<(String, String)>| f.into_iter().map(|(key, value)| wit::Field { key, value }).collect();
    wit::Batch {
        logs: b
            .logs
            .into_iter()
            .map(|l| wit::LogRecord {
                timestamp_ns: l.timestamp_ns,
                host: l.host,
                environment: l.environment,
                source: l.source,
                level: level_out(l.level),
                message: l.message,
                trace_id: l.trace_id,
                span_id: l.span_id,
                attributes: fields(l.attributes),
            })
            .collect(),
        spans: b
            .spans
            .into_iter()
            .map(|s| wit::Span {
                trace_id: s.trace_id,
                span_id: s.span_id,
                parent_span_id: s.parent_span_id,
                name: s.name,
                service: s.service,
                host: s.host,
                environment: s.environment,
                start_ns: s.start_ns,
                duration_ns: s.duration_ns,
                error: s.error,
                attributes: fields(s.attributes),
            })
            .collect(),
        metrics: b
            .metrics
            .into_iter()
            .map(|m| wit::MetricSample {
                name: m.name,
                labels: fields(m.labels),
                timestamp_ns: m.timestamp_ns,
                value: m.value,
                host: m.host,
                environment: m.environment,
            })
            .collect(),
    }
}

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

pub fn severity(s: &str) -> wit::Severity {
    match s {
        "critical" => wit::Severity::Critical,
        "high" => wit::Severity::High,
        "low" => wit::Severity::Low,
        _ => wit::Severity::Medium,
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
