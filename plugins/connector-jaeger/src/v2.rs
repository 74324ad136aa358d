//! Jaeger's query API v2 JSON (`GET /api/traces/{id}`, `GET /api/traces?service=…`):
//! `{"data": [{"traceID", "spans": [...], "processes": {id: {serviceName, tags}}}],
//! "errors": [...]}`, times in microseconds, tags as `{key, type, value}`.
//!
//! Spans come out as `casefile_guest::otlp` writes them: ids as lowercase hex padded
//! to 32/16 digits (Jaeger drops the high half of a 64-bit trace id), the parent from
//! the first `CHILD_OF` reference (else the first reference, else the older
//! `parentSpanID`), the host from the process' `hostname`/`host.name` tag (else its
//! `ip`, else the service), an `error` tag `true` or `otel.status_code` `ERROR` as an
//! error, and the span's tags (the process' other tags under them) as attributes.

use casefile_guest::fields::{field, merge_fields, value_to_string};
use casefile_guest::otlp::{hex_id, Spans, TraceSpan};
use casefile_guest::types::{Field, PluginError, Span};
use serde_json::{Map, Value};

/// Reads a v2 answer. An answer with `errors` and no `data` is a failure.
pub fn parse(body: &[u8]) -> Result<Spans, PluginError> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| PluginError::Unavailable(format!("jaeger answered bad JSON: {e}")))?;
    let traces = match doc.get("data") {
        Some(Value::Array(d)) => d.as_slice(),
        Some(Value::Null) | None => {
            if let Some(Value::Array(errors)) = doc.get("errors") {
                if !errors.is_empty() {
                    let first = &errors[0];
                    let msg = first.get("msg").map(value_to_string).unwrap_or_else(|| first.to_string());
                    return Err(PluginError::Unavailable(format!("jaeger answered an error: {msg}")));
                }
            }
            &[]
        }
        Some(other) => return Err(PluginError::Unavailable(format!("jaeger answered `data` as {other}, not a list"))),
    };
    let mut out = Spans::default();
    for trace in traces {
        let empty = Map::new();
        let processes = trace.get("processes").and_then(Value::as_object).unwrap_or(&empty);
        for span in trace.get("spans").and_then(Value::as_array).into_iter().flatten() {
            match read_span(span, processes) {
                Some(s) => out.spans.push(s),
                None => out.skipped += 1,
            }
        }
    }
    Ok(out)
}

fn tags(list: Option<&Value>) -> Vec<Field> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| Some(field(t.get("key")?.as_str()?, t.get("value").map(value_to_string).unwrap_or_default())))
        .collect()
}

fn read_span(v: &Value, processes: &Map<String, Value>) -> Option<TraceSpan> {
    let trace_id = hex_id(v.get("traceID")?.as_str()?, 16)?;
    let span_id = hex_id(v.get("spanID")?.as_str()?, 8)?;
    let refs = v.get("references").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
    let parent = refs
        .iter()
        .find(|r| r.get("refType").and_then(Value::as_str) == Some("CHILD_OF"))
        .or_else(|| refs.first())
        .and_then(|r| r.get("spanID"))
        .or_else(|| v.get("parentSpanID"))
        .and_then(Value::as_str)
        .and_then(|p| hex_id(p, 8));
    let micros = |k: &str| v.get(k).and_then(Value::as_i64);
    let start_ns = micros("startTime")?.checked_mul(1_000)?;
    let duration_ns = micros("duration").unwrap_or(0).checked_mul(1_000)?;
    if duration_ns < 0 {
        return None;
    }
    let process = v.get("processID").and_then(Value::as_str).and_then(|p| processes.get(p)).or_else(|| v.get("process"));
    let service = process.and_then(|p| p.get("serviceName")).map(value_to_string).unwrap_or_default();
    let mut process_tags = tags(process.and_then(|p| p.get("tags")));
    let mut take = |keys: &[&str]| {
        keys.iter().find_map(|k| {
            let i = process_tags.iter().position(|f| f.key == *k && !f.value.is_empty())?;
            Some(process_tags.remove(i).value)
        })
    };
    let host = take(&["hostname", "host.name"]).or_else(|| take(&["ip"])).unwrap_or_else(|| service.clone());
    let environment = take(&["deployment.environment.name", "deployment.environment"]).unwrap_or_default();
    let own = tags(v.get("tags"));
    let error = own.iter().any(|f| {
        (f.key == "error" && f.value.eq_ignore_ascii_case("true")) || (f.key == "otel.status_code" && f.value.eq_ignore_ascii_case("ERROR"))
    });
    let plugin = own
        .iter()
        .chain(process_tags.iter())
        .find(|f| (f.key == "plugin.id" || f.key == "plugin") && !f.value.is_empty())
        .map(|f| f.value.clone());
    let mut attributes = process_tags;
    merge_fields(&mut attributes, own);
    Some(TraceSpan {
        span: Span {
            trace_id,
            span_id,
            parent_span_id: parent,
            name: v.get("operationName").map(value_to_string).unwrap_or_default(),
            service,
            host,
            environment,
            start_ns,
            duration_ns,
            error,
            attributes,
        },
        plugin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An excerpt of jaeger-query's `GET /api/traces/{id}` answer.
    pub const TRACE: &str = r#"{"data":[{"traceID":"49e89dc22616c0b3","spans":[
        {"traceID":"49e89dc22616c0b3","spanID":"49e89dc22616c0b3","flags":1,"operationName":"POST /pay",
         "references":[],"startTime":1684778327699392,"duration":557000,
         "tags":[{"key":"span.kind","type":"string","value":"server"},{"key":"http.status_code","type":"int64","value":500},
                 {"key":"error","type":"bool","value":true}],
         "logs":[],"processID":"p1","warnings":null},
        {"traceID":"49e89dc22616c0b3","spanID":"0a","operationName":"SELECT",
         "references":[{"refType":"FOLLOWS_FROM","traceID":"49e89dc22616c0b3","spanID":"ff"},
                       {"refType":"CHILD_OF","traceID":"49e89dc22616c0b3","spanID":"49e89dc22616c0b3"}],
         "startTime":1684778327700000,"duration":1000,"tags":[],"processID":"p2"},
        {"traceID":"49e89dc22616c0b3","operationName":"no span id","startTime":1,"processID":"p1"}],
      "processes":{"p1":{"serviceName":"checkout","tags":[{"key":"hostname","type":"string","value":"runtime-1"},
                                                          {"key":"jaeger.version","type":"string","value":"Go-2.30.0"}]},
                   "p2":{"serviceName":"db","tags":[{"key":"ip","type":"string","value":"10.0.0.7"}]}},
      "warnings":null}],"total":0,"limit":0,"offset":0,"errors":null}"#;

    #[test]
    fn reads_the_documented_answer() {
        let doc = parse(TRACE.as_bytes()).expect("trace");
        assert_eq!(doc.skipped, 1);
        let [a, b] = &doc.spans[..] else { panic!("{doc:?}") };
        let a = &a.span;
        assert_eq!((a.trace_id.as_str(), a.span_id.as_str(), a.parent_span_id.as_deref()), ("000000000000000049e89dc22616c0b3", "49e89dc22616c0b3", None));
        assert_eq!((a.start_ns, a.duration_ns, a.error), (1_684_778_327_699_392_000, 557_000_000, true));
        assert_eq!((a.name.as_str(), a.service.as_str(), a.host.as_str()), ("POST /pay", "checkout", "runtime-1"));
        assert!(a.attributes.contains(&field("http.status_code", "500")), "{:?}", a.attributes);
        assert!(a.attributes.contains(&field("jaeger.version", "Go-2.30.0")), "process tags kept: {:?}", a.attributes);
        let b = &b.span;
        assert_eq!((b.span_id.as_str(), b.parent_span_id.as_deref()), ("000000000000000a", Some("49e89dc22616c0b3")), "CHILD_OF wins");
        assert_eq!((b.service.as_str(), b.host.as_str(), b.error), ("db", "10.0.0.7", false));
    }

    #[test]
    fn errors_and_empty_answers() {
        let e = parse(br#"{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":400,"msg":"parameter 'service' is required"}]}"#)
            .expect_err("errors");
        assert!(matches!(&e, PluginError::Unavailable(m) if m.contains("'service' is required")), "{e:?}");
        assert_eq!(parse(br#"{"data":[],"errors":null}"#).expect("empty").spans.len(), 0);
        assert!(matches!(parse(b"<html>"), Err(PluginError::Unavailable(_))));
        assert!(matches!(parse(br#"{"data":{}}"#), Err(PluginError::Unavailable(_))));
    }
}
