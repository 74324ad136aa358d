//! Connector for NDJSON / JSON-lines files in the directory the host grants the source,
//! preopened read-only at `/data`. Every line is one JSON object in the format of
//! `casefile_guest::records` (logs, spans with `"kind":"span"`, metric samples with
//! `"kind":"metric"`).
//!
//! Settings: `{"dir": "relative/to/data", "extensions": ["ndjson", "jsonl", "log"]}`.

mod files;
mod settings;

use casefile_guest::connector::Guest;
use casefile_guest::records::{parse_line, Collector, Defaults, Parsed};
use casefile_guest::types::{Batch, PluginError, Query};
use settings::Settings;
use std::path::Path;

struct NdjsonConnector;

impl Guest for NdjsonConnector {
    fn validate_settings(settings: String) -> Result<(), PluginError> {
        Settings::parse(&settings).map(|_| ())
    }

    fn fetch(query: Query) -> Result<Batch, PluginError> {
        let settings = Settings::parse(&query.settings)?;
        let root = settings.root()?;
        collect(&root, &settings.extensions, &query)
    }
}

/// Reads every matching file under `root` into one batch.
fn collect(root: &Path, extensions: &[String], query: &Query) -> Result<Batch, PluginError> {
    let paths = files::list(root, extensions)?;
    let mut out = Collector::new(query.limit);
    for path in &paths {
        if out.is_full() {
            break;
        }
        read_file(path, query, &mut out);
    }
    Ok(out.finish(query.start_ns, &query.environment))
}

/// Adds the wanted records of one file; malformed lines are counted, not fatal.
fn read_file(path: &Path, query: &Query, out: &mut Collector) {
    let Ok(mut lines) = files::Lines::open(path) else {
        // An unreadable file counts as one skipped line rather than failing the source.
        out.skip();
        return;
    };
    let defaults = Defaults::default();
    while !out.is_full() {
        match lines.next_line() {
            Ok(None) => return,
            Err(_) => {
                out.skip();
                return;
            }
            Ok(Some(None)) => out.skip(), // not UTF-8
            Ok(Some(Some(text))) if text.trim().is_empty() => {}
            Ok(Some(Some(text))) => match parse_line(&text, &defaults) {
                Ok(parsed) if wanted(&parsed, query) => {
                    out.push(parsed.record);
                }
                Ok(_) => {}
                Err(_) => out.skip(),
            },
        }
    }
}

/// In the window `[start, end)`, of the queried plugin when the line names one, and of
/// the queried environment when both name one. Trace ids only mark interest; they do
/// not filter.
fn wanted(parsed: &Parsed, query: &Query) -> bool {
    let ts = parsed.timestamp_ns();
    let in_window = query.start_ns <= ts && ts < query.end_ns;
    let plugin_ok = parsed
        .plugin
        .as_deref()
        .is_none_or(|p| p == query.plugin_id);
    let env = parsed.environment();
    let env_ok = env.is_empty() || query.environment.is_empty() || env == query.environment;
    in_window && plugin_ok && env_ok
}

casefile_guest::export_connector!(NdjsonConnector);

#[cfg(test)]
mod tests {
    use super::*;
    use casefile_guest::records::SKIPPED_LINES_METRIC;

    const T: i64 = 1_714_566_896_000_000_000; // 2024-05-01T12:34:56Z

    fn query(limit: u32) -> Query {
        Query {
            tenant: "t".into(),
            plugin_id: "pay".into(),
            plugin_version: None,
            environment: "prod".into(),
            start_ns: T,
            end_ns: T + 60_000_000_000,
            trace_ids: vec!["ignored".into()],
            limit,
            settings: String::new(),
        }
    }

    /// A fresh directory under the system temp dir, named for the test.
    fn dir(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
        let root =
            std::env::temp_dir().join(format!("casefile-ndjson-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, text) in files {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
        }
        root
    }

    fn extensions() -> Vec<String> {
        Settings::parse("").expect("default").extensions
    }

    #[test]
    fn reads_filters_and_counts() {
        let root = dir(
            "filters",
            &[
                (
                    "a.ndjson",
                    concat!(
                        r#"{"ts":"2024-05-01T12:34:56Z","level":"error","msg":"in","plugin":"pay","env":"prod"}"#,
                        "\n",
                        r#"{"ts":"2024-05-01T12:33:00Z","msg":"before the window"}"#,
                        "\n",
                        r#"{"ts":"2024-05-01T12:35:56Z","msg":"at the exclusive end"}"#,
                        "\n",
                        r#"{"ts":"2024-05-01T12:34:57Z","msg":"other plugin","plugin":"ship"}"#,
                        "\n",
                        r#"{"ts":"2024-05-01T12:34:57Z","msg":"other env","env":"staging"}"#,
                        "\n",
                        "\n",
                        "garbage\r\n",
                    ),
                ),
                (
                    "sub/b.jsonl",
                    concat!(
                        r#"{"kind":"span","trace_id":"t","span_id":"s","start":1714566897,"duration_ns":5}"#,
                        "\n",
                        r#"{"kind":"metric","name":"m","value":1,"ts":1714566898000}"#,
                    ),
                ),
                (
                    "c.txt",
                    r#"{"ts":"2024-05-01T12:34:56Z","msg":"wrong extension"}"#,
                ),
            ],
        );
        let b = collect(&root, &extensions(), &query(100)).expect("batch");
        assert_eq!(
            b.logs
                .iter()
                .map(|l| l.message.as_str())
                .collect::<Vec<_>>(),
            ["in"]
        );
        assert_eq!(b.spans.len(), 1);
        assert_eq!(
            b.metrics
                .iter()
                .map(|m| (m.name.as_str(), m.value))
                .collect::<Vec<_>>(),
            [("m", 1.0), (SKIPPED_LINES_METRIC, 1.0)]
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn stops_at_the_limit() {
        let lines: String = (0..50)
            .map(|i| format!(r#"{{"ts":{},"msg":"m{i}"}}"#, T + i) + "\n")
            .collect();
        let root = dir("limit", &[("a.log", &lines), ("b.log", &lines)]);
        let b = collect(&root, &extensions(), &query(7)).expect("batch");
        assert_eq!(b.logs.len(), 7);
        assert_eq!(b.logs[6].message, "m6");
        let _ = std::fs::remove_dir_all(&root);
    }
}
