//! Test guest: a connector that tries to leave its granted directory and reports
//! what it got, as `name=open|refused` pairs in one log record: the granted file
//! itself (`own`, must be open), `..` out of `/data`, an absolute path, a symlink
//! planted inside `/data` that points out of it, the environment, and HTTP to a host
//! the source's allow-list does not name.

use casefile_guest::connector::{http_get, Guest};
use casefile_guest::types::{Batch, Level, LogRecord, PluginError, Query};

struct Probe;

fn outcome<T, E>(r: Result<T, E>) -> &'static str {
    if r.is_ok() {
        "open"
    } else {
        "refused"
    }
}

impl Guest for Probe {
    fn validate_settings(_settings: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn fetch(query: Query) -> Result<Batch, PluginError> {
        let own = outcome(std::fs::read("/data/own.txt"));
        let dotdot = outcome(std::fs::read("/data/../outside.txt"));
        let absolute = outcome(std::fs::read("/etc/hostname"));
        let symlink = outcome(std::fs::read("/data/link"));
        let env = std::env::vars().count();
        // The query's settings name URLs, space-separated (the test makes them): each
        // answers `denied`, `failed`, or the status the host handed back.
        let http: Vec<String> = query
            .settings
            .split_whitespace()
            .map(|url| match http_get(url, &[]) {
                Ok(r) => r.status.to_string(),
                Err(PluginError::Denied(_)) => "denied".to_owned(),
                Err(_) => "failed".to_owned(),
            })
            .collect();
        let http = http.join(",");
        Ok(Batch {
            logs: vec![LogRecord {
                timestamp_ns: query.start_ns,
                host: "probe".into(),
                environment: String::new(),
                source: String::new(),
                level: Level::Info,
                message: format!(
                    "own={own} dotdot={dotdot} absolute={absolute} symlink={symlink} env={env} http={http}"
                ),
                trace_id: None,
                span_id: None,
                attributes: Vec::new(),
            }],
            spans: Vec::new(),
            metrics: Vec::new(),
        })
    }
}

casefile_guest::export_connector!(Probe);
