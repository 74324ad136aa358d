//! Connector for NDJSON / JSON-lines and OTLP JSON files in the directory the host
//! grants the source, preopened read-only at `/data`. Every line is one JSON object in
//! the format of `casefile_guest::records` (logs, spans with `"kind":"span"`, metric
//! samples with `"kind":"metric"`), or an OTLP traces document (`resourceSpans`, one
//! per line as the OpenTelemetry Collector's file exporter writes them). A `.json`
//! file is one document: OTLP traces, a list of record objects, or one record.
//!
//! Settings: `{"dir": "relative/to/data", "extensions": ["ndjson", "jsonl", "log", "json"]}`.

mod files;
mod settings;

use casefile_guest::connector::Guest;
use casefile_guest::otlp;
use casefile_guest::records::{parse_object, Collector, Defaults, Parsed};
use serde_json::Value;
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

/// A `.json` document larger than this is counted as skipped rather than read whole:
/// parsed, it takes several times its size, and the component's memory is capped
/// (256 MiB by default). One document per line has no such bound.
const MAX_DOCUMENT: u64 = 16 * 1024 * 1024;

/// Adds the wanted records of one file; malformed lines are counted, not fatal.
fn read_file(path: &Path, query: &Query, out: &mut Collector) {
    let is_document = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_document {
        read_document(path, query, out);
        return;
    }
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
            Ok(Some(Some(text))) => match serde_json::from_str::<Value>(&text) {
                Ok(value) => read_value(value, &defaults, query, out),
                Err(_) => out.skip(),
            },
        }
    }
}

/// A whole `.json` file: OTLP traces, a list of records, or one record.
fn read_document(path: &Path, query: &Query, out: &mut Collector) {
    let fits = std::fs::metadata(path).is_ok_and(|m| m.len() <= MAX_DOCUMENT);
    let Some(doc) = fits
        .then(|| std::fs::read(path).ok())
        .flatten()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
    else {
        out.skip();
        return;
    };
    match doc {
        Value::Array(items) => {
            for item in items {
                if out.is_full() {
                    return;
                }
                read_value(item, &Defaults::default(), query, out);
            }
        }
        other => read_value(other, &Defaults::default(), query, out),
    }
}

/// One JSON value: an OTLP traces document or a record object.
fn read_value(value: Value, defaults: &Defaults, query: &Query, out: &mut Collector) {
    if otlp::is_traces(&value) {
        match otlp::parse(&value) {
            Ok(spans) => {
                for _ in 0..spans.skipped {
                    out.skip();
                }
                for s in spans.spans {
                    let env = &s.span.environment;
                    let env_ok = env.is_empty() || query.environment.is_empty() || *env == query.environment;
                    let plugin_ok = s.plugin.as_deref().is_none_or(|p| p == query.plugin_id);
                    if env_ok && plugin_ok && otlp::overlaps(&s.span, query) && !out.push(casefile_guest::records::Record::Span(s.span)) {
                        return;
                    }
                }
            }
            Err(_) => out.skip(),
        }
        return;
    }
    let Value::Object(map) = value else {
        out.skip();
        return;
    };
    match parse_object(map, defaults) {
        Ok(parsed) if wanted(&parsed, query) => {
            out.push(parsed.record);
        }
        Ok(_) => {}
        Err(_) => out.skip(),
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

    /// A `TracesData` document as OTLP JSON (hex ids, unixNano strings).
    fn otlp(plugin: &str, env: &str, spans: &[(&str, i64)]) -> String {
        let spans: Vec<String> = spans
            .iter()
            .map(|(id, at)| {
                format!(
                    r#"{{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"{id}","name":"charge","startTimeUnixNano":"{}","endTimeUnixNano":"{}","status":{{"code":2}}}}"#,
                    T + at,
                    T + at + 1_000
                )
            })
            .collect();
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"pay"}}}},{{"key":"plugin.id","value":{{"stringValue":"{plugin}"}}}},{{"key":"deployment.environment","value":{{"stringValue":"{env}"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
            spans.join(",")
        )
    }

    #[test]
    fn otlp_files_and_lines_become_spans() {
        let pretty: Value = serde_json::from_str(&otlp("pay", "prod", &[("00f067aa0ba902b7", 5), ("00f067aa0ba902b8", -120_000_000_000)])).expect("json");
        let root = dir(
            "otlp",
            &[
                // A pretty-printed document (one span before the window).
                ("traces.json", &serde_json::to_string_pretty(&pretty).expect("pretty")),
                // The collector's file exporter: one document per line, mixed with records.
                (
                    "export.jsonl",
                    &[
                        otlp("pay", "prod", &[("1111111111111111", 7)]),
                        otlp("ship", "prod", &[("2222222222222222", 7)]),
                        otlp("pay", "staging", &[("3333333333333333", 7)]),
                        r#"{"ts":1714566897,"msg":"a log line beside them"}"#.to_owned(),
                        r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"01"}]}]}]}"#.to_owned(),
                    ]
                    .join("\n"),
                ),
                ("records.json", r#"[{"ts":1714566898,"msg":"from a list"}, 5]"#),
            ],
        );
        let b = collect(&root, &extensions(), &query(100)).expect("batch");
        let spans: Vec<(&str, &str, bool)> = b.spans.iter().map(|s| (s.span_id.as_str(), s.service.as_str(), s.error)).collect();
        assert_eq!(spans, [("1111111111111111", "pay", true), ("00f067aa0ba902b7", "pay", true)]);
        let mut messages: Vec<&str> = b.logs.iter().map(|l| l.message.as_str()).collect();
        messages.sort();
        assert_eq!(messages, ["a log line beside them", "from a list"]);
        assert_eq!(b.metrics.iter().map(|m| (m.name.as_str(), m.value)).collect::<Vec<_>>(), [(SKIPPED_LINES_METRIC, 2.0)], "the span without ids, the 5");
        let _ = std::fs::remove_dir_all(&root);
    }
}
