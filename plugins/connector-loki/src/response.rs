//! Reading a `query_range` answer: log streams (`resultType: streams`) become log
//! records, and a metric query's series (`resultType: matrix`) become samples.

use casefile_guest::fields::{field, merge_fields, value_to_string};
use casefile_guest::level;
use casefile_guest::records::{parse_level, parse_object, Collector, Defaults, Record};
use casefile_guest::types::{Field, Level, LogRecord, MetricSample, PluginError, Query};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashSet};

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    #[serde(default)]
    result: Vec<Series>,
}

/// One stream (`stream` + `values`) or one matrix series (`metric` + `values`).
#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    stream: BTreeMap<String, String>,
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<Vec<Value>>,
    /// A vector series' single `[<unix seconds>, "<value>"]`.
    #[serde(default)]
    value: Vec<Value>,
}

/// Which way a page runs: `forward` pages go on from their newest line, `backward`
/// pages from their oldest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Forward,
    Backward,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Forward => "forward",
            Direction::Backward => "backward",
        }
    }
}

/// The lines at the edge where the next page starts. Loki's `start` is inclusive
/// (and the next backward page's `end` is set just past the edge), so those lines
/// come again on the next page and are dropped as duplicates by stream and text.
#[derive(Debug)]
pub struct Edge {
    direction: Direction,
    ts: Option<i64>,
    lines: HashSet<(String, String)>,
}

impl Edge {
    pub fn new(direction: Direction) -> Self {
        Edge { direction, ts: None, lines: HashSet::new() }
    }

    pub fn ts(&self) -> Option<i64> {
        self.ts
    }

    /// How many lines were read at the edge's time.
    pub fn count(&self) -> usize {
        self.lines.len()
    }

    /// Whether `ts` is further along the direction than the current edge.
    fn beyond(&self, ts: i64) -> bool {
        match (self.ts, self.direction) {
            (None, _) => true,
            (Some(e), Direction::Forward) => ts > e,
            (Some(e), Direction::Backward) => ts < e,
        }
    }

    /// Records a line of the page; says whether it was already read on an earlier page.
    fn seen(&mut self, previous: &Edge, ts: i64, stream: &str, line: &str) -> bool {
        let key = (stream.to_owned(), line.to_owned());
        let duplicate = previous.ts == Some(ts) && previous.lines.contains(&key);
        if self.beyond(ts) {
            self.ts = Some(ts);
            self.lines.clear();
        }
        if self.ts == Some(ts) {
            self.lines.insert(key);
        }
        duplicate
    }

    /// The edge after a page: the page's own, joined with the old one when both are
    /// at the same time (a page that did not get past it).
    fn advance(&mut self, page: Edge) {
        if page.ts == self.ts {
            self.lines.extend(page.lines);
        } else if page.ts.is_some() {
            *self = page;
        }
    }
}

/// What one page held.
#[derive(Debug, Default)]
pub struct Page {
    /// Stream entries in the answer (duplicates and unreadable ones included): a page
    /// of `limit` entries means there may be more.
    pub entries: usize,
    /// Entries not read on an earlier page.
    pub new: usize,
    /// Whether the answer was log streams (a metric query has no pages).
    pub streams: bool,
}

pub fn read_page(body: &[u8], query: &Query, edge: &mut Edge, out: &mut Collector) -> Result<Page, PluginError> {
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| PluginError::Unavailable(format!("loki answered bad JSON: {e}")))?;
    if answer.status != "success" {
        return Err(PluginError::Unavailable(format!(
            "loki answered status {:?}",
            answer.status
        )));
    }
    let data = answer
        .data
        .ok_or_else(|| PluginError::Unavailable("loki answered without data".to_owned()))?;
    let mut page = Page::default();
    match data.result_type.as_str() {
        "streams" => {
            page.streams = true;
            let mut page_edge = Edge::new(edge.direction);
            for series in data.result {
                read_stream(series.stream, series.values, query, (&*edge, &mut page_edge), &mut page, out);
            }
            edge.advance(page_edge);
        }
        "matrix" | "vector" => {
            for mut series in data.result {
                if !series.value.is_empty() {
                    series.values.push(series.value);
                }
                read_series(series.metric, series.values, out);
            }
        }
        other => {
            return Err(PluginError::Unavailable(format!(
                "loki answered resultType {other:?}, expected streams"
            )))
        }
    }
    Ok(page)
}

/// One page read into a fresh collector (a single `query_range` answer).
#[cfg(test)]
pub fn to_batch(body: &[u8], query: &Query) -> Result<casefile_guest::types::Batch, PluginError> {
    let mut out = Collector::new(query.limit);
    read_page(body, query, &mut Edge::new(Direction::Forward), &mut out)?;
    Ok(out.finish(query.start_ns, &query.environment))
}

/// Labels → defaults: `host|pod|instance` the host, `environment|env` the environment,
/// `level|detected_level` the level; the rest become attributes.
fn defaults_from_labels(mut labels: BTreeMap<String, String>) -> Defaults {
    let mut take = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| labels.remove(*k))
            .filter(|v| !v.is_empty())
    };
    let host = take(&["host", "pod", "instance"]).unwrap_or_default();
    let environment = take(&["environment", "env"]).unwrap_or_default();
    let level = take(&["level", "detected_level"]).and_then(|l| parse_level(&l));
    let attributes = labels.into_iter().map(|(k, v)| field(k, v)).collect();
    Defaults {
        timestamp_ns: None,
        host,
        environment,
        level,
        attributes,
    }
}

fn read_stream(
    labels: BTreeMap<String, String>,
    values: Vec<Vec<Value>>,
    query: &Query,
    (previous, edge): (&Edge, &mut Edge),
    page: &mut Page,
    out: &mut Collector,
) {
    // The stream's identity for de-duplication: its labels, in order.
    let stream = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect::<Vec<_>>().join(",");
    let base = defaults_from_labels(labels);
    for entry in values {
        page.entries += 1;
        // `["<unix ns>", "<line>"]`, newer Lokis add `{structured metadata}`.
        let ts = entry
            .first()
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<i64>().ok());
        let (Some(ts), Some(line)) = (ts, entry.get(1).and_then(Value::as_str)) else {
            out.skip();
            continue;
        };
        if edge.seen(previous, ts, &stream, line) {
            continue;
        }
        page.new += 1;
        if out.is_full() {
            continue; // Still counted: the caller decides whether another page is due.
        }
        let mut defaults = Defaults {
            timestamp_ns: Some(ts),
            ..base.clone()
        };
        if let Some(Value::Object(meta)) = entry.get(2) {
            merge_fields(
                &mut defaults.attributes,
                meta.iter()
                    .map(|(k, v)| field(k.clone(), value_to_string(v)))
                    .collect(),
            );
        }
        // JSON and logfmt lines read like NDJSON lines; their own fields win over labels.
        let object = json_object(line).or_else(|| {
            casefile_guest::logfmt::parse(line)
                .map(|pairs| pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
        });
        match object {
            Some(map) => match parse_object(map, &defaults) {
                Ok(parsed)
                    if parsed
                        .plugin
                        .as_deref()
                        .is_none_or(|p| p == query.plugin_id) =>
                {
                    out.push(parsed.record);
                }
                Ok(_) => {}
                Err(_) => out.skip(),
            },
            None => {
                out.push(Record::Log(plain_line(line, defaults)));
            }
        }
    }
}

fn json_object(line: &str) -> Option<Map<String, Value>> {
    if !line.trim_start().starts_with('{') {
        return None;
    }
    match serde_json::from_str(line) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// A line that is not JSON: the message as it is, the level from the labels or sniffed
/// from the text (`level=warn`, `ERROR …`).
fn plain_line(line: &str, d: Defaults) -> LogRecord {
    let level = d
        .level
        .or_else(|| level::sniff(line).map(Level::from))
        .unwrap_or(Level::Info);
    LogRecord {
        timestamp_ns: d.timestamp_ns.unwrap_or_default(),
        host: d.host,
        environment: d.environment,
        source: String::new(),
        level,
        message: line.to_owned(),
        trace_id: None,
        span_id: None,
        attributes: d.attributes,
    }
}

/// A metric query's series: `[[<unix seconds>, "<value>"], …]` (matrix, or the single
/// pair of a vector).
fn read_series(labels: BTreeMap<String, String>, values: Vec<Vec<Value>>, out: &mut Collector) {
    let mut labels = labels;
    let name = labels
        .remove("__name__")
        .unwrap_or_else(|| "loki.query".to_owned());
    let d = defaults_from_labels(labels);
    let label_fields: Vec<Field> = d.attributes;
    for pair in values {
        if out.is_full() {
            return;
        }
        let ts = pair.first().and_then(casefile_guest::timefmt::from_json);
        let value = pair
            .get(1)
            .and_then(|v| value_to_string(v).parse::<f64>().ok());
        let (Some(timestamp_ns), Some(value)) = (ts, value) else {
            out.skip();
            continue;
        };
        out.push(Record::Metric(MetricSample {
            name: name.clone(),
            labels: label_fields.clone(),
            timestamp_ns,
            value,
            host: d.host.clone(),
            environment: d.environment.clone(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> Query {
        Query {
            tenant: "t".into(),
            plugin_id: "pay".into(),
            plugin_version: None,
            environment: "prod".into(),
            start_ns: 0,
            end_ns: i64::MAX,
            trace_ids: Vec::new(),
            limit: 100,
            settings: String::new(),
        }
    }

    #[test]
    fn streams_plain_and_json_lines() {
        let body = br#"{"status":"success","data":{"resultType":"streams","result":[
            {"stream":{"plugin":"pay","pod":"p-1","env":"prod","level":"warn"},
             "values":[["1714566896000000000","plain text"],
                       ["1714566897000000000","{\"msg\":\"json\",\"level\":\"error\",\"host\":\"h9\",\"user\":\"bob\"}"],
                       ["bad","x"],
                       ["1714566898000000000","{\"msg\":\"other\",\"plugin\":\"other\"}"]]},
            {"stream":{"instance":"i-1"},"values":[["1714566899000000000","ERROR boom"]]}]}}"#;
        let b = to_batch(body, &query()).expect("batch");
        assert_eq!(b.logs.len(), 3);
        let l = &b.logs[0];
        assert_eq!(
            (
                l.message.as_str(),
                l.host.as_str(),
                l.environment.as_str(),
                l.level
            ),
            ("plain text", "p-1", "prod", Level::Warn)
        );
        assert_eq!(l.attributes, vec![field("plugin", "pay")]);
        let l = &b.logs[1];
        assert_eq!(
            (l.message.as_str(), l.host.as_str(), l.level, l.timestamp_ns),
            ("json", "h9", Level::Error, 1714566897000000000)
        );
        assert_eq!(
            l.attributes,
            vec![field("plugin", "pay"), field("user", "bob")]
        );
        let l = &b.logs[2];
        assert_eq!((l.host.as_str(), l.level), ("i-1", Level::Error));
        assert_eq!(b.metrics.len(), 1, "the skipped-lines sample");
        assert_eq!(b.metrics[0].value, 1.0);
    }

    #[test]
    fn logfmt_lines_carry_level_message_and_trace() {
        let body = br#"{"status":"success","data":{"resultType":"streams","result":[
            {"stream":{"plugin":"pay"},
             "values":[["1714566896000000000","level=error msg=\"db down\" trace_id=4bf9 span_id=00f0 attempt=3"]]}]}}"#;
        let b = to_batch(body, &query()).expect("batch");
        let l = &b.logs[0];
        assert_eq!((l.message.as_str(), l.level), ("db down", Level::Error));
        assert_eq!((l.trace_id.as_deref(), l.span_id.as_deref()), (Some("4bf9"), Some("00f0")));
        assert!(l.attributes.contains(&field("attempt", "3")));
    }

    #[test]
    fn matrix_series_become_samples() {
        let body = br#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"errors","host":"h"},"values":[[1714566896,"3"],[1714566897.5,"4"]]}]}}"#;
        let b = to_batch(body, &query()).expect("batch");
        assert_eq!(b.metrics.len(), 2);
        assert_eq!(
            (
                b.metrics[1].name.as_str(),
                b.metrics[1].value,
                b.metrics[1].host.as_str()
            ),
            ("errors", 4.0, "h")
        );
        assert_eq!(b.metrics[1].timestamp_ns, 1714566897500000000);
    }

    #[test]
    fn bad_answers_are_unavailable() {
        for (body, why) in [
            (&b"not json"[..], "bad JSON"),
            (br#"{"status":"error"}"#, "status"),
            (br#"{"status":"success"}"#, "without data"),
            (
                br#"{"status":"success","data":{"resultType":"scalar","result":[]}}"#,
                "resultType",
            ),
        ] {
            match to_batch(body, &query()) {
                Err(PluginError::Unavailable(m)) => assert!(m.contains(why), "{m}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn limit_is_respected() {
        let values: Vec<String> = (0..10).map(|i| format!(r#"["{i}","line {i}"]"#)).collect();
        let body = format!(
            r#"{{"status":"success","data":{{"resultType":"streams","result":[{{"stream":{{}},"values":[{}]}}]}}}}"#,
            values.join(",")
        );
        let q = Query {
            limit: 4,
            ..query()
        };
        assert_eq!(to_batch(body.as_bytes(), &q).expect("batch").logs.len(), 4);
    }
}
