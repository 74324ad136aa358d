//! Reading a `_search` answer: each hit's `_source` becomes a log record, read by the
//! configured field names; error answers keep their meaning (a 4xx is the query's or
//! the settings' fault, a 5xx or a timed-out search the server's).

use crate::settings::Fields;
use casefile_guest::fields::{field, fields_from_map, value_to_string};
use casefile_guest::http::body_excerpt;
use casefile_guest::records::{parse_level, Collector, Record};
use casefile_guest::timefmt;
use casefile_guest::types::{HttpResponse, Level, LogRecord, PluginError, Query};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashSet;

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    timed_out: bool,
    hits: Hits,
}

#[derive(Deserialize)]
struct Hits {
    #[serde(default)]
    hits: Vec<Hit>,
}

#[derive(Deserialize)]
struct Hit {
    #[serde(default, rename = "_index")]
    index: String,
    #[serde(default, rename = "_id")]
    id: Option<String>,
    #[serde(default, rename = "_source")]
    source: Option<Map<String, Value>>,
    #[serde(default)]
    sort: Option<Vec<Value>>,
}

/// What one page said about paging on.
pub struct Page {
    /// Hits in the answer, kept or not.
    pub hits: usize,
    /// The last hit's sort values, for `search_after`.
    pub last_sort: Option<Vec<Value>>,
}

pub fn read(
    response: &HttpResponse,
    fields: &Fields,
    query: &Query,
    seen: &mut HashSet<(String, String)>,
    out: &mut Collector,
) -> Result<Page, PluginError> {
    if !(200..300).contains(&response.status) {
        return Err(error_answer(response));
    }
    let answer: Answer = serde_json::from_slice(&response.body)
        .map_err(|e| PluginError::Unavailable(format!("elasticsearch answered bad JSON: {e}")))?;
    if answer.timed_out {
        return Err(PluginError::Unavailable(
            "elasticsearch timed out and answered part of the window".to_owned(),
        ));
    }
    let hits = answer.hits.hits.len();
    let mut last_sort = None;
    for hit in answer.hits.hits {
        last_sort = hit.sort;
        if out.is_full() {
            continue;
        }
        if let Some(id) = hit.id {
            if !seen.insert((hit.index, id)) {
                continue;
            }
        }
        let Some(source) = hit.source else {
            out.skip();
            continue;
        };
        match log_record(source, fields, query) {
            Some(record) if record.timestamp_ns >= query.start_ns && record.timestamp_ns < query.end_ns => {
                out.push(Record::Log(record));
            }
            Some(_) => {}
            None => out.skip(),
        }
    }
    Ok(Page { hits, last_sort })
}

/// `{"error": {"type", "reason"}, "status"}` (or an error that is a plain string).
fn error_answer(response: &HttpResponse) -> PluginError {
    let status = response.status;
    let reason = match serde_json::from_slice::<Value>(&response.body) {
        Ok(v) => match &v["error"] {
            Value::Object(e) => {
                let kind = e.get("type").map(value_to_string).unwrap_or_default();
                let mut reason = e.get("reason").map(value_to_string).unwrap_or_default();
                // The root cause names the field or index that is wrong.
                if let Some(cause) = e.get("root_cause").and_then(|c| c.get(0)).and_then(|c| c.get("reason")) {
                    let cause = value_to_string(cause);
                    if cause != reason {
                        reason = format!("{reason}: {cause}");
                    }
                }
                format!("{kind}: {reason}")
            }
            Value::String(s) => s.clone(),
            _ => body_excerpt(&response.body, 200),
        },
        Err(_) => body_excerpt(&response.body, 200),
    };
    let message = format!("elasticsearch answered {status}: {reason}");
    if (400..500).contains(&status) && status != 408 && status != 429 {
        PluginError::InvalidInput(message)
    } else {
        PluginError::Unavailable(message)
    }
}

/// Removes a field by its flat name (`"log.level"` as one key) or its dotted path.
fn take_path(map: &mut Map<String, Value>, path: &str) -> Option<Value> {
    if path.is_empty() {
        return None;
    }
    if let Some(v) = map.remove(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    let Some(Value::Object(inner)) = map.get_mut(head) else {
        return None;
    };
    let v = take_path(inner, rest);
    if inner.is_empty() {
        map.remove(head);
    }
    v
}

fn take_string(map: &mut Map<String, Value>, path: &str) -> Option<String> {
    take_path(map, path).map(|v| value_to_string(&v)).filter(|s| !s.is_empty())
}

/// A document as a log record; `None` without a readable time.
fn log_record(mut source: Map<String, Value>, f: &Fields, q: &Query) -> Option<LogRecord> {
    let timestamp_ns = timefmt::from_json(&take_path(&mut source, &f.timestamp)?)?;
    let mut extra = Vec::new();
    let level = match take_string(&mut source, &f.level) {
        Some(raw) => parse_level(&raw).unwrap_or_else(|| {
            // A level name we do not know is kept, not lost.
            extra.push(field(f.level.clone(), raw));
            Level::Info
        }),
        None => Level::Info,
    };
    let message = take_string(&mut source, &f.message).unwrap_or_default();
    let host = take_string(&mut source, &f.host).unwrap_or_default();
    let environment = take_string(&mut source, &f.environment).unwrap_or_else(|| q.environment.clone());
    let trace_id = take_string(&mut source, &f.trace_id);
    let span_id = take_string(&mut source, &f.span_id);
    let mut attributes = fields_from_map(&source);
    attributes.extend(extra);
    Some(LogRecord {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn query() -> Query {
        Query {
            tenant: "t".into(),
            plugin_id: "p".into(),
            plugin_version: None,
            environment: "prod".into(),
            start_ns: 0,
            end_ns: i64::MAX,
            trace_ids: Vec::new(),
            limit: 100,
            settings: String::new(),
        }
    }

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn ecs_documents_by_configured_fields() {
        let fields: Fields = serde_json::from_value(json!({"level": "log.level", "host": "host.name", "trace_id": "trace.id", "environment": "service.environment"})).expect("fields");
        let body = json!({"hits": {"hits": [
            {"_index": "i", "_id": "1", "sort": [1, 1], "_source": {"@timestamp": "2024-05-01T12:34:56.5Z", "message": "boom",
                "log": {"level": "ERROR", "logger": "x"}, "host": {"name": "h1"}, "trace": {"id": "abc"}, "service": {"environment": "staging"}}},
            {"_index": "i", "_id": "2", "sort": [2, 2], "_source": {"@timestamp": 1714566897000i64, "message": "odd", "log.level": "loud"}},
            {"_index": "i", "_id": "3", "sort": [3, 3], "_source": {"message": "no time"}},
            {"_index": "i", "_id": "1", "sort": [4, 4], "_source": {"@timestamp": 1, "message": "again"}},
            {"_index": "i", "_id": "5", "sort": [5, 5]}
        ]}});
        let mut out = Collector::new(100);
        let page = read(&response(200, &body.to_string()), &fields, &query(), &mut HashSet::new(), &mut out).expect("page");
        assert_eq!((page.hits, page.last_sort), (5, Some(vec![json!(5), json!(5)])));
        let b = out.finish(0, "prod");
        assert_eq!(b.logs.len(), 2, "the duplicate _id is dropped, two are skipped");
        let l = &b.logs[0];
        assert_eq!((l.level, l.message.as_str(), l.host.as_str(), l.environment.as_str(), l.trace_id.as_deref()), (Level::Error, "boom", "h1", "staging", Some("abc")));
        assert_eq!(l.timestamp_ns, 1_714_566_896_500_000_000);
        assert_eq!(l.attributes, vec![field("log", r#"{"logger":"x"}"#)]);
        let l = &b.logs[1];
        assert_eq!((l.level, l.environment.as_str()), (Level::Info, "prod"));
        assert_eq!(l.attributes, vec![field("log.level", "loud")]);
        assert_eq!(b.metrics[0].value, 2.0, "skipped documents are counted");
    }

    #[test]
    fn error_answers_keep_their_kind() {
        let cases = [
            (400, r#"{"error":{"root_cause":[{"type":"query_shard_exception","reason":"No mapping found for [event.id] in order to sort on"}],"type":"search_phase_execution_exception","reason":"all shards failed"},"status":400}"#, "invalid", "No mapping found for [event.id]"),
            (404, r#"{"error":{"type":"index_not_found_exception","reason":"no such index [logs]"},"status":404}"#, "invalid", "index_not_found_exception: no such index"),
            (429, r#"{"error":{"type":"es_rejected_execution_exception","reason":"rejected"},"status":429}"#, "unavailable", "rejected"),
            (503, r#"{"error":{"type":"cluster_block_exception","reason":"blocked"},"status":503}"#, "unavailable", "503: cluster_block_exception"),
            (502, "<html>bad gateway</html>", "unavailable", "bad gateway"),
            (200, "not json", "unavailable", "bad JSON"),
            (200, r#"{"timed_out":true,"hits":{"hits":[]}}"#, "unavailable", "timed out"),
        ];
        for (status, body, kind, text) in cases {
            let mut out = Collector::new(10);
            match (kind, read(&response(status, body), &Fields::default(), &query(), &mut HashSet::new(), &mut out)) {
                ("invalid", Err(PluginError::InvalidInput(m))) | ("unavailable", Err(PluginError::Unavailable(m))) => {
                    assert!(m.contains(text), "{body}: {m}")
                }
                (_, Err(e)) => panic!("{body}: wanted {kind}, got {e:?}"),
                (_, Ok(_)) => panic!("{body}: wanted {kind}, got a page"),
            }
        }
    }
}
