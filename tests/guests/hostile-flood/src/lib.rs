//! Hostile test guest: `fetch` returns far more than any sane batch, ignoring the
//! query's limit: by default 400 000 log records with 200-byte messages. Proves the
//! host's output cap. Settings `{"records": N, "message_bytes": M}` change the size.

use casefile_guest::connector::Guest;
use casefile_guest::types::{Batch, Level, LogRecord, PluginError, Query};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default)]
struct Settings {
    records: usize,
    message_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            records: 400_000,
            message_bytes: 200,
        }
    }
}

struct Flood;

impl Guest for Flood {
    fn validate_settings(_settings: String) -> Result<(), PluginError> {
        Ok(())
    }

    fn fetch(query: Query) -> Result<Batch, PluginError> {
        let settings: Settings = if query.settings.trim().is_empty() {
            Settings::default()
        } else {
            serde_json::from_str(&query.settings)
                .map_err(|e| PluginError::InvalidInput(format!("settings: {e}")))?
        };
        let message =
            "flood ".repeat(settings.message_bytes / 6 + 1)[..settings.message_bytes].to_owned();
        let logs = (0..settings.records)
            .map(|i| LogRecord {
                timestamp_ns: query.start_ns.saturating_add(i as i64),
                host: "flood".to_owned(),
                environment: query.environment.clone(),
                source: String::new(),
                level: Level::Info,
                message: message.clone(),
                trace_id: None,
                span_id: None,
                attributes: Vec::new(),
            })
            .collect();
        Ok(Batch {
            logs,
            spans: Vec::new(),
            metrics: Vec::new(),
        })
    }
}

casefile_guest::export_connector!(Flood);
