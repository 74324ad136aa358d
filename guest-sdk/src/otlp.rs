//! OTLP JSON traces into WIT spans, shared by every connector that reads them
//! (Tempo, Jaeger's API v3, OTLP files), so one trace reads the same from each.
//!
//! Accepted documents: OTLP `TracesData` (`{"resourceSpans": [...]}`), Tempo's
//! `{"batches": [...]}`, and either wrapped once in `{"trace": ...}` (Tempo's v2 API)
//! or `{"result": ...}` (Jaeger's API v3 gateway). Inside a resource, spans sit in
//! `scopeSpans` (or the older `instrumentationLibrarySpans`).
//!
//! Per span:
//! - ids: hex as the OTLP JSON encoding writes them, or base64 as protobuf's JSON
//!   mapping (Tempo) writes them; both come out as lowercase hex, padded to 32 (trace)
//!   and 16 (span) digits, so a trace reads the same from every source and joins the
//!   log lines that name it. An all-zero or empty parent is no parent.
//! - times: `startTimeUnixNano`/`endTimeUnixNano`, strings (or numbers) of unix ns.
//! - `service.name` of the resource is the service; the host is the resource's
//!   `host.name`, else `k8s.pod.name`, else the service; the environment its
//!   `deployment.environment.name` or `deployment.environment`.
//! - attributes: the resource's others, then the span's (which win); `span.kind`,
//!   `otel.status_message` and the first `exception` event's `exception.*`.
//! - error: status code `STATUS_CODE_ERROR` (2), or an `error` attribute `true`.
//! - the plugin (for filtering) from a `plugin.id` or `plugin` attribute, span first.
//!
//! A span that cannot be read (no ids, no start, ends before it starts) is counted and
//! left out; a document that is not a trace at all is an error.

use crate::fields::{field, merge_fields, value_to_string};
use crate::types::{Field, Query, Span};
use serde_json::{Map, Value};

/// A span and the plugin its attributes name, if any.
#[derive(Clone, Debug)]
pub struct TraceSpan {
    pub span: Span,
    pub plugin: Option<String>,
}

/// What a document held: the spans read and how many could not be.
#[derive(Clone, Debug, Default)]
pub struct Spans {
    pub spans: Vec<TraceSpan>,
    pub skipped: u64,
}

/// Whether a JSON value is an OTLP traces document (any of the accepted wrappings).
pub fn is_traces(doc: &Value) -> bool {
    resources(doc).is_some()
}

/// Reads a document given as bytes.
pub fn parse_slice(body: &[u8]) -> Result<Spans, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    parse(&doc)
}

/// Reads every span of a document.
pub fn parse(doc: &Value) -> Result<Spans, String> {
    let resources = resources(doc).ok_or_else(|| {
        "not an OTLP traces document: expected `resourceSpans` (or Tempo's `batches`)".to_owned()
    })?;
    let mut out = Spans::default();
    for resource in resources {
        read_resource(resource, &mut out);
    }
    Ok(out)
}

/// The `resourceSpans`/`batches` list, unwrapping `trace` or `result` once.
fn resources(doc: &Value) -> Option<&Vec<Value>> {
    fn direct(v: &Value) -> Option<&Vec<Value>> {
        match v.as_object()?.get("resourceSpans").or_else(|| v.get("batches"))? {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    direct(doc).or_else(|| {
        let o = doc.as_object()?;
        direct(o.get("trace").or_else(|| o.get("result"))?)
    })
}

/// Resource attributes turned into span fields.
#[derive(Default)]
struct Resource {
    service: String,
    host: String,
    environment: String,
    plugin: Option<String>,
    attributes: Vec<Field>,
}

fn read_resource(resource: &Value, out: &mut Spans) {
    let mut attrs = attributes(resource.pointer("/resource/attributes"));
    let mut take = |keys: &[&str]| -> Option<String> {
        let mut found = None;
        for k in keys {
            if let Some(i) = attrs.iter().position(|f| f.key == *k) {
                let f = attrs.remove(i);
                if found.is_none() && !f.value.is_empty() {
                    found = Some(f.value);
                }
            }
        }
        found
    };
    let service = take(&["service.name"]).unwrap_or_default();
    let host = take(&["host.name"])
        .or_else(|| take(&["k8s.pod.name"]))
        .unwrap_or_else(|| service.clone());
    let environment = take(&["deployment.environment.name", "deployment.environment"]).unwrap_or_default();
    let plugin = take(&["plugin.id", "plugin"]);
    let res = Resource {
        service,
        host,
        environment,
        plugin,
        attributes: attrs,
    };
    let Some(obj) = resource.as_object() else {
        out.skipped += 1;
        return;
    };
    let scopes = obj
        .get("scopeSpans")
        .or_else(|| obj.get("instrumentationLibrarySpans"))
        .and_then(Value::as_array);
    for scope in scopes.into_iter().flatten() {
        for span in scope.get("spans").and_then(Value::as_array).into_iter().flatten() {
            match read_span(span, &res) {
                Some(s) => out.spans.push(s),
                None => out.skipped += 1,
            }
        }
    }
}

fn read_span(v: &Value, res: &Resource) -> Option<TraceSpan> {
    let o = v.as_object()?;
    let trace_id = hex_id(o.get("traceId")?.as_str()?, 16)?;
    let span_id = hex_id(o.get("spanId")?.as_str()?, 8)?;
    let parent_span_id = o
        .get("parentSpanId")
        .and_then(Value::as_str)
        .and_then(|p| hex_id(p, 8));
    let start_ns = unix_nanos(o.get("startTimeUnixNano")?)?;
    let duration_ns = match o.get("endTimeUnixNano") {
        Some(end) => unix_nanos(end)?.checked_sub(start_ns)?,
        None => 0,
    };
    if duration_ns < 0 {
        return None;
    }
    let mut own = attributes(o.get("attributes"));
    let plugin = own
        .iter()
        .find(|f| (f.key == "plugin.id" || f.key == "plugin") && !f.value.is_empty())
        .map(|f| f.value.clone())
        .or_else(|| res.plugin.clone());
    let mut error = own
        .iter()
        .any(|f| f.key == "error" && f.value.eq_ignore_ascii_case("true"));
    if let Some(status) = o.get("status").and_then(Value::as_object) {
        error |= status_is_error(status.get("code"));
        if let Some(m) = status.get("message").and_then(Value::as_str).filter(|m| !m.is_empty()) {
            own.push(field("otel.status_message", m));
        }
    }
    if let Some(kind) = span_kind(o.get("kind")) {
        own.push(field("span.kind", kind));
    }
    if let Some(exception) = o
        .get("events")
        .and_then(Value::as_array)
        .and_then(|events| events.iter().find(|e| e.get("name").and_then(Value::as_str) == Some("exception")))
    {
        let ex = attributes(exception.get("attributes"));
        for f in ex.into_iter().filter(|f| f.key.starts_with("exception.")) {
            if !own.iter().any(|g| g.key == f.key) {
                own.push(f);
            }
        }
    }
    let mut attrs = res.attributes.clone();
    merge_fields(&mut attrs, own);
    Some(TraceSpan {
        span: Span {
            trace_id,
            span_id,
            parent_span_id,
            name: o.get("name").map(value_to_string).unwrap_or_default(),
            service: res.service.clone(),
            host: res.host.clone(),
            environment: res.environment.clone(),
            start_ns,
            duration_ns,
            error,
            attributes: attrs,
        },
        plugin,
    })
}

/// `2`, `"2"` or `"STATUS_CODE_ERROR"`.
fn status_is_error(code: Option<&Value>) -> bool {
    match code {
        Some(Value::Number(n)) => n.as_i64() == Some(2),
        Some(Value::String(s)) => s == "2" || s.eq_ignore_ascii_case("STATUS_CODE_ERROR"),
        _ => false,
    }
}

/// `2` or `"SPAN_KIND_SERVER"` as `server`; unspecified is none.
fn span_kind(kind: Option<&Value>) -> Option<&'static str> {
    const NAMES: [&str; 5] = ["internal", "server", "client", "producer", "consumer"];
    match kind? {
        Value::Number(n) => n.as_u64().filter(|k| (1..=5).contains(k)).map(|k| NAMES[k as usize - 1]),
        Value::String(s) => {
            let name = s.strip_prefix("SPAN_KIND_").unwrap_or(s).to_ascii_lowercase();
            NAMES.into_iter().find(|n| *n == name)
        }
        _ => None,
    }
}

/// Unix nanoseconds from a string or a number.
fn unix_nanos(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// An OTLP `KeyValue` list as fields, values flattened by [`plain`].
pub fn attributes(list: Option<&Value>) -> Vec<Field> {
    let Some(Value::Array(list)) = list else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|kv| {
            let key = kv.get("key")?.as_str()?;
            let value = kv.get("value").map(plain).unwrap_or(Value::Null);
            Some(field(key, value_to_string(&value)))
        })
        .collect()
}

/// An OTLP `AnyValue` (`{"stringValue": ...}`, `{"intValue": "3"}`, arrays, kvlists)
/// as the plain JSON value it stands for.
pub fn plain(any: &Value) -> Value {
    let Some(o) = any.as_object() else {
        return any.clone();
    };
    if let Some(v) = o.get("stringValue") {
        return v.clone();
    }
    if let Some(v) = o.get("boolValue") {
        return v.clone();
    }
    if let Some(v) = o.get("intValue") {
        return match v {
            Value::String(s) => s.parse::<i64>().map(Value::from).unwrap_or_else(|_| v.clone()),
            other => other.clone(),
        };
    }
    if let Some(v) = o.get("doubleValue") {
        return v.clone();
    }
    if let Some(v) = o.get("bytesValue") {
        return v.clone();
    }
    if let Some(a) = o.get("arrayValue") {
        let values = a.get("values").and_then(Value::as_array);
        return Value::Array(values.into_iter().flatten().map(plain).collect());
    }
    if let Some(kv) = o.get("kvlistValue") {
        let values = kv.get("values").and_then(Value::as_array);
        let map: Map<String, Value> = values
            .into_iter()
            .flatten()
            .filter_map(|e| {
                Some((e.get("key")?.as_str()?.to_owned(), e.get("value").map(plain).unwrap_or(Value::Null)))
            })
            .collect();
        return Value::Object(map);
    }
    Value::Null
}

/// A trace (16 bytes) or span (8 bytes) id as lowercase hex of `2 * bytes` digits:
/// hex (shorter hex is zero-padded, as Jaeger writes 64-bit trace ids) or base64.
/// Empty, all-zero or unreadable ids are none.
pub fn hex_id(raw: &str, bytes: usize) -> Option<String> {
    let raw = raw.trim();
    let hex = if !raw.is_empty() && raw.len() <= 2 * bytes && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("{:0>width$}", raw.to_ascii_lowercase(), width = 2 * bytes)
    } else {
        let decoded = base64_decode(raw)?;
        if decoded.is_empty() || decoded.len() > bytes {
            return None;
        }
        let mut padded = vec![0u8; bytes - decoded.len()];
        padded.extend(decoded);
        padded.iter().map(|b| format!("{b:02x}")).collect()
    };
    (!hex.bytes().all(|b| b == b'0')).then_some(hex)
}

/// Standard or URL-safe base64, padding optional.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Whether a span overlaps the query's window `[start, end)`: a span that began
/// before the window but was still running in it belongs to the incident.
pub fn overlaps(span: &Span, query: &Query) -> bool {
    span.start_ns < query.end_ns && span.start_ns.saturating_add(span.duration_ns) >= query.start_ns
}

/// Adds the spans that overlap the query's window to `out` (until it is full), and
/// counts the unreadable ones as skipped. Says how many were added.
pub fn push_spans(spans: Spans, query: &Query, out: &mut crate::records::Collector) -> usize {
    for _ in 0..spans.skipped {
        out.skip();
    }
    let mut added = 0;
    for s in spans.spans {
        if overlaps(&s.span, query) && out.push(crate::records::Record::Span(s.span)) {
            added += 1;
        }
    }
    added
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the OTLP specification's JSON encoding (hex ids, unixNano
    /// strings, integer enums), trimmed.
    const OTLP: &str = r#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"my.service"}},
        {"key":"host.name","value":{"stringValue":"node-7"}},
        {"key":"deployment.environment.name","value":{"stringValue":"prod"}},
        {"key":"plugin.id","value":{"stringValue":"checkout"}},
        {"key":"cloud.region","value":{"stringValue":"eu-1"}}]},
      "scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0"},"spans":[
        {"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"EEE19B7EC3C1B173",
         "name":"I'm a server span","startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000",
         "kind":2,"attributes":[{"key":"my.span.attr","value":{"stringValue":"some value"}},
           {"key":"retries","value":{"intValue":"3"}},{"key":"ratio","value":{"doubleValue":0.5}},
           {"key":"ok","value":{"boolValue":false}},
           {"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"},{"intValue":"1"}]}}},
           {"key":"cloud.region","value":{"stringValue":"eu-2"}}],
         "events":[{"timeUnixNano":"1544712660500000000","name":"exception","attributes":[
           {"key":"exception.type","value":{"stringValue":"IOError"}},
           {"key":"exception.stacktrace","value":{"stringValue":"at a()\nat b()"}}]}],
         "status":{"code":2,"message":"boom"}},
        {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b173","parentSpanId":"",
         "name":"root","startTimeUnixNano":"1544712659000000000","endTimeUnixNano":"1544712662000000000"},
        {"traceId":"5b8efff798038103d269b633813fc60c","name":"no span id","startTimeUnixNano":"1"},
        {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0000000000000001","startTimeUnixNano":"5","endTimeUnixNano":"4"}
      ]}]}]}"#;

    /// Tempo's `/api/traces/{id}`: `batches`, base64 ids, enum names.
    const TEMPO: &str = r#"{"batches":[{"resource":{"attributes":[
        {"key":"service.name","value":{"stringValue":"shop-backend"}}]},
      "instrumentationLibrarySpans":[{"spans":[
        {"traceId":"AAAAAAAAAABJ6J3CJhbAsw==","spanId":"SeidwiYWwLM=","parentSpanId":"AAAAAAAAAAA=",
         "name":"update-billing","kind":"SPAN_KIND_CLIENT","startTimeUnixNano":"1684778327699392724",
         "endTimeUnixNano":"1684778328256392724","status":{"code":"STATUS_CODE_ERROR"}}]}]}]}"#;

    fn get<'a>(attrs: &'a [Field], key: &str) -> Option<&'a str> {
        attrs.iter().find(|f| f.key == key).map(|f| f.value.as_str())
    }

    #[test]
    fn reads_the_specification_example() {
        let doc = parse_slice(OTLP.as_bytes()).expect("a traces document");
        assert_eq!(doc.skipped, 2, "no span id; ends before it starts");
        let [a, b] = &doc.spans[..] else { panic!("{doc:?}") };
        let s = &a.span;
        assert_eq!(s.trace_id, "5b8efff798038103d269b633813fc60c");
        assert_eq!((s.span_id.as_str(), s.parent_span_id.as_deref()), ("eee19b7ec3c1b174", Some("eee19b7ec3c1b173")));
        assert_eq!((s.start_ns, s.duration_ns), (1_544_712_660_000_000_000, 1_000_000_000));
        assert_eq!((s.service.as_str(), s.host.as_str(), s.environment.as_str()), ("my.service", "node-7", "prod"));
        assert_eq!((s.name.as_str(), s.error), ("I'm a server span", true));
        assert_eq!(a.plugin.as_deref(), Some("checkout"));
        let at = &s.attributes;
        assert_eq!(get(at, "cloud.region"), Some("eu-2"), "the span's attribute wins: {at:?}");
        assert_eq!(get(at, "retries"), Some("3"));
        assert_eq!(get(at, "ratio"), Some("0.5"));
        assert_eq!(get(at, "ok"), Some("false"));
        assert_eq!(get(at, "tags"), Some(r#"["a",1]"#));
        assert_eq!(get(at, "span.kind"), Some("server"));
        assert_eq!(get(at, "otel.status_message"), Some("boom"));
        assert_eq!(get(at, "exception.type"), Some("IOError"));
        assert_eq!(get(at, "exception.stacktrace"), Some("at a()\nat b()"));
        assert_eq!(get(at, "service.name"), None, "consumed into the span's fields");
        assert_eq!((b.span.parent_span_id.as_deref(), b.span.error), (None, false));
    }

    #[test]
    fn reads_tempo_batches_with_base64_ids() {
        let doc = parse_slice(TEMPO.as_bytes()).expect("tempo");
        let s = &doc.spans[0].span;
        assert_eq!(s.trace_id, "000000000000000049e89dc22616c0b3");
        assert_eq!((s.span_id.as_str(), s.parent_span_id.as_deref()), ("49e89dc22616c0b3", None));
        assert_eq!((s.service.as_str(), s.host.as_str()), ("shop-backend", "shop-backend"), "no host.name: the service");
        assert_eq!((s.duration_ns, s.error), (557_000_000, true));
        assert_eq!(get(&s.attributes, "span.kind"), Some("client"));
    }

    #[test]
    fn unwraps_tempo_v2_and_jaeger_v3() {
        for wrapped in [format!(r#"{{"trace":{OTLP}}}"#), format!(r#"{{"result":{OTLP}}}"#)] {
            let v: Value = serde_json::from_str(&wrapped).expect("json");
            assert!(is_traces(&v));
            assert_eq!(parse(&v).expect("spans").spans.len(), 2);
        }
        assert!(parse(&serde_json::json!({"data": []})).expect_err("not traces").contains("resourceSpans"));
        assert!(parse_slice(b"nope").expect_err("not json").contains("not JSON"));
        assert_eq!(parse(&serde_json::json!({"resourceSpans": []})).expect("empty").spans.len(), 0);
    }

    #[test]
    fn ids_in_every_encoding() {
        assert_eq!(hex_id("ABCDEF0123456789", 8).as_deref(), Some("abcdef0123456789"));
        assert_eq!(hex_id("49e89dc22616c0b3", 16).as_deref(), Some("000000000000000049e89dc22616c0b3"));
        assert_eq!(hex_id("SeidwiYWwLM=", 8).as_deref(), Some("49e89dc22616c0b3"));
        assert_eq!(hex_id("SeidwiYWwLM", 8).as_deref(), Some("49e89dc22616c0b3"), "unpadded");
        assert_eq!(hex_id("AAAAAAAAAAA=", 8), None, "all zero");
        assert_eq!(hex_id("", 8), None);
        assert_eq!(hex_id("not an id!", 8), None);
        assert_eq!(hex_id("AAAAAAAAAABJ6J3CJhbAsw==", 8), None, "16 bytes is not a span id");
    }

    #[test]
    fn window_overlap() {
        let doc = parse_slice(OTLP.as_bytes()).expect("doc");
        let s = &doc.spans[0].span; // 1544712660 s .. +1 s
        let q = |start: i64, end: i64| Query {
            tenant: String::new(),
            plugin_id: String::new(),
            plugin_version: None,
            environment: String::new(),
            start_ns: start,
            end_ns: end,
            trace_ids: Vec::new(),
            limit: 1,
            settings: String::new(),
        };
        let t = s.start_ns;
        assert!(overlaps(s, &q(t + 500_000_000, t + 2_000_000_000)), "running when the window opens");
        assert!(overlaps(s, &q(t, t + 1)));
        assert!(!overlaps(s, &q(t + 1_000_000_001, t + 2_000_000_000)), "over before");
        assert!(!overlaps(s, &q(t - 10, t)), "starts at the exclusive end");
    }
}
