//! One JSON object (an NDJSON line, a JSON log line inside Loki) into a log record, a
//! span or a metric sample. Shared by the connectors so that every source reads the
//! same line format:
//!
//! - `"kind"` absent or `"log"`: a log record. `ts|timestamp|time|@timestamp` (RFC 3339
//!   or epoch s/ms/µs/ns), `level|severity|lvl`, `msg|message`, `host|hostname|pod`,
//!   `env|environment`, `plugin|plugin_id`, `trace_id|traceId`, `span_id|spanId`;
//!   every other key is an attribute (nested values as compact JSON).
//! - `"span"`: `trace_id`, `span_id`, `parent_span_id`, `name`, `service`, `host`,
//!   `env`, `start` (or `ts`), `duration_ms|duration_ns|end`, `error` (bool) or
//!   `status: "error"`, `attributes` (object).
//! - `"metric"`: `name`, `value`, `ts`, `labels` (object), `host`, `env`.
//!
//! For the aliases, the first one present is used and the others stay attributes.

use crate::fields::{fields_from_map, merge_fields, value_to_string};
use crate::level::{self, Severity};
use crate::timefmt;
use crate::types::{Batch, Level, LogRecord, MetricSample, Span};
use serde_json::{Map, Value};

impl From<Severity> for Level {
    fn from(s: Severity) -> Level {
        match s {
            Severity::Trace => Level::Trace,
            Severity::Debug => Level::Debug,
            Severity::Info => Level::Info,
            Severity::Warn => Level::Warn,
            Severity::Error => Level::Error,
            Severity::Fatal => Level::Fatal,
        }
    }
}

/// `warn`, `WARNING`, `err`, `E`, `4` (syslog), `40` (bunyan) … as a WIT level.
pub fn parse_level(raw: &str) -> Option<Level> {
    level::parse(raw).map(Level::from)
}

/// What the line's own fields fall back to (a Loki stream's labels and entry time).
#[derive(Clone, Debug, Default)]
pub struct Defaults {
    pub timestamp_ns: Option<i64>,
    pub host: String,
    pub environment: String,
    pub level: Option<Level>,
    pub attributes: Vec<crate::types::Field>,
}

#[derive(Clone, Debug)]
pub enum Record {
    Log(LogRecord),
    Span(Span),
    Metric(MetricSample),
}

/// A parsed line and the plugin it names, if any (connectors filter on it).
#[derive(Clone, Debug)]
pub struct Parsed {
    pub record: Record,
    pub plugin: Option<String>,
}

impl Parsed {
    /// The time the window is checked against: a log's or sample's time, a span's start.
    pub fn timestamp_ns(&self) -> i64 {
        match &self.record {
            Record::Log(l) => l.timestamp_ns,
            Record::Span(s) => s.start_ns,
            Record::Metric(m) => m.timestamp_ns,
        }
    }

    pub fn environment(&self) -> &str {
        match &self.record {
            Record::Log(l) => &l.environment,
            Record::Span(s) => &s.environment,
            Record::Metric(m) => &m.environment,
        }
    }
}

/// Parses one line that must be a JSON object. The error says why it is not a record.
pub fn parse_line(line: &str, defaults: &Defaults) -> Result<Parsed, String> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => parse_object(map, defaults),
        Ok(_) => Err("not a JSON object".to_owned()),
        Err(e) => Err(format!("not JSON: {e}")),
    }
}

pub fn parse_object(mut map: Map<String, Value>, defaults: &Defaults) -> Result<Parsed, String> {
    let kind = match map.remove("kind") {
        None => "log".to_owned(),
        Some(Value::String(k)) => k,
        Some(other) => return Err(format!("kind is {other}, not a string")),
    };
    let plugin = take(&mut map, &["plugin", "plugin_id"])
        .map(|v| value_to_string(&v))
        .filter(|p| !p.is_empty());
    let record = match kind.as_str() {
        "log" => Record::Log(log_from(map, defaults)?),
        "span" => Record::Span(span_from(map, defaults)?),
        "metric" => Record::Metric(metric_from(map, defaults)?),
        other => return Err(format!("unknown kind {other:?}")),
    };
    Ok(Parsed { record, plugin })
}

/// Removes and returns the first of `keys` present in the object.
fn take(map: &mut Map<String, Value>, keys: &[&str]) -> Option<Value> {
    keys.iter().find_map(|k| map.remove(*k))
}

fn take_string(map: &mut Map<String, Value>, keys: &[&str]) -> Option<String> {
    take(map, keys)
        .map(|v| value_to_string(&v))
        .filter(|s| !s.is_empty())
}

fn take_time(
    map: &mut Map<String, Value>,
    keys: &[&str],
    fallback: Option<i64>,
) -> Result<i64, String> {
    match take(map, keys) {
        Some(v) => timefmt::from_json(&v).ok_or_else(|| format!("bad timestamp {v}")),
        None => fallback.ok_or_else(|| format!("no timestamp (one of {})", keys.join("|"))),
    }
}

const TS: &[&str] = &["ts", "timestamp", "time", "@timestamp"];
const HOST: &[&str] = &["host", "hostname", "pod"];
const ENV: &[&str] = &["env", "environment"];

fn log_from(mut map: Map<String, Value>, d: &Defaults) -> Result<LogRecord, String> {
    let timestamp_ns = take_time(&mut map, TS, d.timestamp_ns)?;
    let raw_level = take(&mut map, &["level", "severity", "lvl"]);
    let level = match &raw_level {
        Some(v) => match parse_level(&value_to_string(v)) {
            Some(level) => level,
            None => {
                // Unknown names are kept rather than lost.
                map.insert("level".to_owned(), v.clone());
                d.level.unwrap_or(Level::Info)
            }
        },
        None => d.level.unwrap_or(Level::Info),
    };
    let message = take(&mut map, &["msg", "message"])
        .map(|v| value_to_string(&v))
        .unwrap_or_default();
    let host = take_string(&mut map, HOST).unwrap_or_else(|| d.host.clone());
    let environment = take_string(&mut map, ENV).unwrap_or_else(|| d.environment.clone());
    let trace_id = take_string(&mut map, &["trace_id", "traceId"]);
    let span_id = take_string(&mut map, &["span_id", "spanId"]);
    let mut attributes = d.attributes.clone();
    merge_fields(&mut attributes, fields_from_map(&map));
    Ok(LogRecord {
        timestamp_ns,
        host,
        environment,
        source: String::new(),
        level,
        message,
        trace_id,
        span_id,
        attributes,
    })
}

fn span_from(mut map: Map<String, Value>, d: &Defaults) -> Result<Span, String> {
    let trace_id =
        take_string(&mut map, &["trace_id", "traceId"]).ok_or("span without trace_id")?;
    let span_id = take_string(&mut map, &["span_id", "spanId"]).ok_or("span without span_id")?;
    let parent_span_id = take_string(&mut map, &["parent_span_id", "parentSpanId", "parent_id"]);
    let name = take_string(&mut map, &["name", "operation"]).unwrap_or_default();
    let service = take_string(&mut map, &["service", "service_name"]).unwrap_or_default();
    let host = take_string(&mut map, HOST).unwrap_or_else(|| d.host.clone());
    let environment = take_string(&mut map, ENV).unwrap_or_else(|| d.environment.clone());
    let start_ns = take_time(
        &mut map,
        &["start", "start_time", "ts", "timestamp", "time"],
        d.timestamp_ns,
    )?;
    let duration_ns = if let Some(v) = map.remove("duration_ms") {
        let ms = v
            .as_f64()
            .ok_or_else(|| format!("duration_ms is {v}, not a number"))?;
        (ms * 1e6).round() as i64
    } else if let Some(v) = map.remove("duration_ns") {
        v.as_i64()
            .ok_or_else(|| format!("duration_ns is {v}, not an integer"))?
    } else if map.contains_key("end") || map.contains_key("end_time") {
        take_time(&mut map, &["end", "end_time"], None)? - start_ns
    } else {
        0
    };
    if duration_ns < 0 {
        return Err(format!("negative span duration {duration_ns} ns"));
    }
    let error = match map.remove("error") {
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(other) => {
            map.insert("error".to_owned(), other);
            false
        }
        None => false,
    } || match map.remove("status") {
        Some(Value::String(s)) => s.eq_ignore_ascii_case("error"),
        Some(other) => {
            map.insert("status".to_owned(), other);
            false
        }
        None => false,
    };
    let mut attributes = match map.remove("attributes") {
        Some(Value::Object(a)) => fields_from_map(&a),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => return Err(format!("span attributes is {other}, not an object")),
    };
    merge_fields(&mut attributes, fields_from_map(&map));
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        name,
        service,
        host,
        environment,
        start_ns,
        duration_ns,
        error,
        attributes,
    })
}

fn metric_from(mut map: Map<String, Value>, d: &Defaults) -> Result<MetricSample, String> {
    let name = take_string(&mut map, &["name"]).ok_or("metric without name")?;
    let value = match map.remove("value") {
        Some(Value::Number(n)) => n.as_f64().ok_or("metric value out of range")?,
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("metric value {s:?} is not a number"))?,
        Some(other) => return Err(format!("metric value is {other}, not a number")),
        None => return Err("metric without value".to_owned()),
    };
    let timestamp_ns = take_time(&mut map, TS, d.timestamp_ns)?;
    let host = take_string(&mut map, HOST).unwrap_or_else(|| d.host.clone());
    let environment = take_string(&mut map, ENV).unwrap_or_else(|| d.environment.clone());
    let mut labels = match map.remove("labels") {
        Some(Value::Object(l)) => fields_from_map(&l),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => return Err(format!("metric labels is {other}, not an object")),
    };
    merge_fields(&mut labels, fields_from_map(&map));
    Ok(MetricSample {
        name,
        labels,
        timestamp_ns,
        value,
        host,
        environment,
    })
}

/// The metric sample a connector adds when it skipped malformed lines.
pub const SKIPPED_LINES_METRIC: &str = "casefile.connector.skipped_lines";

/// Gathers a connector's records up to the query's limit and counts malformed lines.
/// The limit counts every record, including the skipped-lines sample: once a line has
/// been skipped, one slot stays free for it.
#[derive(Debug)]
pub struct Collector {
    batch: Batch,
    limit: usize,
    skipped: u64,
}

impl Collector {
    pub fn new(limit: u32) -> Self {
        Collector {
            batch: Batch {
                logs: Vec::new(),
                spans: Vec::new(),
                metrics: Vec::new(),
            },
            limit: limit as usize,
            skipped: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.batch.logs.len() + self.batch.spans.len() + self.batch.metrics.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// No more records fit; stop reading.
    pub fn is_full(&self) -> bool {
        self.len() + usize::from(self.skipped > 0) >= self.limit
    }

    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Adds a record unless the batch is full; says whether it was added.
    pub fn push(&mut self, record: Record) -> bool {
        if self.is_full() {
            return false;
        }
        match record {
            Record::Log(l) => self.batch.logs.push(l),
            Record::Span(s) => self.batch.spans.push(s),
            Record::Metric(m) => self.batch.metrics.push(m),
        }
        true
    }

    /// Counts one malformed line.
    pub fn skip(&mut self) {
        self.skipped += 1;
    }

    /// The batch, with a `casefile.connector.skipped_lines` sample (stamped with
    /// `timestamp_ns`, no labels) when lines were skipped and the limit allows one.
    pub fn finish(mut self, timestamp_ns: i64, environment: &str) -> Batch {
        if self.skipped > 0 && self.len() < self.limit {
            self.batch.metrics.push(MetricSample {
                name: SKIPPED_LINES_METRIC.to_owned(),
                labels: Vec::new(),
                timestamp_ns,
                value: self.skipped as f64,
                host: String::new(),
                environment: environment.to_owned(),
            });
        }
        self.batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::field;

    const T: i64 = 1_714_566_896_000_000_000; // 2024-05-01T12:34:56Z

    fn log(line: &str) -> (LogRecord, Option<String>) {
        match parse_line(line, &Defaults::default()) {
            Ok(Parsed {
                record: Record::Log(l),
                plugin,
            }) => (l, plugin),
            other => panic!("not a log: {other:?}"),
        }
    }

    #[test]
    fn log_line_with_aliases_and_attributes() {
        let (l, plugin) = log(
            r#"{"ts":"2024-05-01T12:34:56Z","level":"WARNING","msg":"slow","host":"h1","env":"prod","plugin":"pay","trace_id":"t1","spanId":"s1","user":"bob","n":3,"ctx":{"a":[1,2]},"pod":"p-1"}"#,
        );
        assert_eq!(plugin.as_deref(), Some("pay"));
        assert_eq!(l.timestamp_ns, T);
        assert_eq!(l.level, Level::Warn);
        assert_eq!(
            (l.message.as_str(), l.host.as_str(), l.environment.as_str()),
            ("slow", "h1", "prod")
        );
        assert_eq!(
            (l.trace_id.as_deref(), l.span_id.as_deref()),
            (Some("t1"), Some("s1"))
        );
        assert_eq!(
            l.attributes,
            vec![
                field("ctx", r#"{"a":[1,2]}"#),
                field("n", "3"),
                field("pod", "p-1"),
                field("user", "bob")
            ]
        );
    }

    #[test]
    fn log_line_defaults() {
        let (l, plugin) =
            log(r#"{"@timestamp":1714566896000,"message":{"k":"v"},"severity":"bogus"}"#);
        assert_eq!(plugin, None);
        assert_eq!(l.timestamp_ns, T);
        assert_eq!(l.level, Level::Info);
        assert_eq!(l.message, r#"{"k":"v"}"#);
        assert_eq!(l.attributes, vec![field("level", "bogus")]);
        let d = Defaults {
            timestamp_ns: Some(5),
            host: "lh".into(),
            environment: "le".into(),
            level: Some(Level::Error),
            attributes: vec![field("app", "x")],
        };
        let Parsed {
            record: Record::Log(l),
            ..
        } = parse_line(r#"{"msg":"m","app":"y"}"#, &d).expect("log")
        else {
            panic!()
        };
        assert_eq!(
            (
                l.timestamp_ns,
                l.host.as_str(),
                l.environment.as_str(),
                l.level
            ),
            (5, "lh", "le", Level::Error)
        );
        assert_eq!(l.attributes, vec![field("app", "y")]);
    }

    #[test]
    fn span_line() {
        let p = parse_line(
            r#"{"kind":"span","trace_id":"t","span_id":"s","parent_span_id":"","name":"GET /x","service":"api","host":"h","env":"prod","start":"2024-05-01T12:34:56Z","duration_ms":1.5,"status":"ERROR","attributes":{"http.status":500}}"#,
            &Defaults::default(),
        )
        .expect("span");
        let Record::Span(s) = p.record else { panic!() };
        assert_eq!(
            (s.trace_id.as_str(), s.span_id.as_str(), s.parent_span_id),
            ("t", "s", None)
        );
        assert_eq!((s.start_ns, s.duration_ns, s.error), (T, 1_500_000, true));
        assert_eq!(s.attributes, vec![field("http.status", "500")]);
        let p = parse_line(
            r#"{"kind":"span","trace_id":"t","span_id":"s","ts":1714566896,"end":1714566897}"#,
            &Defaults::default(),
        )
        .expect("span");
        let Record::Span(s) = p.record else { panic!() };
        assert_eq!((s.duration_ns, s.error), (1_000_000_000, false));
    }

    #[test]
    fn metric_line() {
        let p = parse_line(
            r#"{"kind":"metric","name":"http_errors","value":"3","ts":1714566896,"labels":{"code":"500"},"host":"h","plugin":"pay"}"#,
            &Defaults::default(),
        )
        .expect("metric");
        assert_eq!(p.plugin.as_deref(), Some("pay"));
        let Record::Metric(m) = p.record else {
            panic!()
        };
        assert_eq!(
            (m.name.as_str(), m.value, m.timestamp_ns, m.host.as_str()),
            ("http_errors", 3.0, T, "h")
        );
        assert_eq!(m.labels, vec![field("code", "500")]);
    }

    #[test]
    fn malformed_lines_say_why() {
        let d = Defaults::default();
        for (line, why) in [
            ("not json", "not JSON"),
            ("[1,2]", "not a JSON object"),
            (r#"{"msg":"no time"}"#, "no timestamp"),
            (r#"{"ts":"yesterday"}"#, "bad timestamp"),
            (r#"{"kind":"trace","ts":1}"#, "unknown kind"),
            (r#"{"kind":"span","span_id":"s","ts":1}"#, "trace_id"),
            (
                r#"{"kind":"span","trace_id":"t","span_id":"s","ts":2,"end":1}"#,
                "negative",
            ),
            (r#"{"kind":"metric","name":"x","ts":1}"#, "without value"),
            (
                r#"{"kind":"metric","name":"x","value":"abc","ts":1}"#,
                "not a number",
            ),
        ] {
            let e = parse_line(line, &d).expect_err(line);
            assert!(e.contains(why), "{line}: {e}");
        }
    }

    fn log_at(ts: i64) -> Record {
        match parse_line(&format!(r#"{{"ts":{ts}}}"#), &Defaults::default()) {
            Ok(p) => p.record,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn collector_keeps_a_slot_for_the_skipped_sample() {
        let mut c = Collector::new(3);
        assert!(c.push(log_at(1)));
        c.skip();
        assert!(c.push(log_at(2)));
        assert!(c.is_full());
        assert!(!c.push(log_at(3)));
        let b = c.finish(9, "prod");
        assert_eq!(b.logs.len(), 2);
        assert_eq!(b.metrics.len(), 1);
        assert_eq!(
            (
                b.metrics[0].name.as_str(),
                b.metrics[0].value,
                b.metrics[0].timestamp_ns
            ),
            (SKIPPED_LINES_METRIC, 1.0, 9)
        );

        let mut c = Collector::new(2);
        assert!(c.push(log_at(1)) && c.push(log_at(2)));
        assert!(!c.push(log_at(3)));
        let b = c.finish(0, "");
        assert_eq!((b.logs.len(), b.metrics.len()), (2, 0));

        let mut c = Collector::new(0);
        c.skip();
        assert!(c.is_full());
        assert!(c.finish(0, "").metrics.is_empty());
    }

    #[test]
    fn levels_convert() {
        assert_eq!(parse_level("err"), Some(Level::Error));
        assert_eq!(parse_level("W"), Some(Level::Warn));
        assert_eq!(parse_level("6"), Some(Level::Info));
        assert_eq!(parse_level("??"), None);
    }
}
