//! Reading a `query_range` answer: every series of the matrix becomes samples named
//! after the configured query, and Prometheus' error answers keep their meaning
//! (`bad_data` is the query's fault, a timeout or a 5xx the server's).

use casefile_guest::http::body_excerpt;
use casefile_guest::records::{Collector, Record};
use casefile_guest::types::{Field, HttpResponse, MetricSample, PluginError};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<Data>,
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    result_type: String,
    #[serde(default)]
    result: Vec<Series>,
}

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    /// `[[<unix seconds>, "<value>"], …]`; native histograms (`histograms`) are not read.
    #[serde(default)]
    values: Vec<Vec<Value>>,
}

/// Adds the samples of one query's answer to `out`, stamped `name`. Samples at or
/// after `end_ns` are left out (the window's end is exclusive, Prometheus' inclusive).
pub fn read(
    name: &str,
    response: &HttpResponse,
    end_ns: i64,
    environment: &str,
    out: &mut Collector,
) -> Result<(), PluginError> {
    let answer: Answer = match serde_json::from_slice(&response.body) {
        Ok(a) => a,
        Err(e) => {
            return Err(PluginError::Unavailable(if (200..300).contains(&response.status) {
                format!("prometheus answered bad JSON: {e}")
            } else {
                format!(
                    "prometheus answered {}: {}",
                    response.status,
                    body_excerpt(&response.body, 200)
                )
            }))
        }
    };
    if answer.status != "success" || !(200..300).contains(&response.status) {
        return Err(classify(
            response.status,
            answer.error_type.as_deref(),
            answer.error.as_deref().unwrap_or(&answer.status),
        ));
    }
    let data = answer
        .data
        .ok_or_else(|| PluginError::Unavailable("prometheus answered without data".to_owned()))?;
    if data.result_type != "matrix" {
        return Err(PluginError::Unavailable(format!(
            "prometheus answered resultType {:?}, expected matrix",
            data.result_type
        )));
    }
    for series in data.result {
        let labels: Vec<Field> = series
            .metric
            .iter()
            .map(|(k, v)| Field {
                key: k.clone(),
                value: v.clone(),
            })
            .collect();
        let pick = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| series.metric.get(*k))
                .filter(|v| !v.is_empty())
                .cloned()
        };
        let host = pick(&["host", "pod", "instance"]).unwrap_or_default();
        let env = pick(&["environment", "env"]).unwrap_or_else(|| environment.to_owned());
        for pair in &series.values {
            if out.is_full() {
                return Ok(());
            }
            let ts = pair.first().and_then(timestamp_ns);
            let value = pair.get(1).and_then(Value::as_str).and_then(parse_value);
            let (Some(timestamp_ns), Some(value)) = (ts, value) else {
                out.skip();
                continue;
            };
            if timestamp_ns >= end_ns {
                continue;
            }
            out.push(Record::Metric(MetricSample {
                name: name.to_owned(),
                labels: labels.clone(),
                timestamp_ns,
                value,
                host: host.clone(),
                environment: env.clone(),
            }));
        }
    }
    Ok(())
}

/// A sample time: unix seconds with up to millisecond precision, as Prometheus writes them.
fn timestamp_ns(v: &Value) -> Option<i64> {
    let secs = v.as_f64()?;
    let ms = (secs * 1000.0).round();
    if !ms.is_finite() || ms.abs() > 9.0e15 {
        return None;
    }
    (ms as i64).checked_mul(1_000_000)
}

/// Prometheus' value strings: decimal and exponent forms, `NaN`, `+Inf`, `-Inf`.
fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        // Only digits, signs, a point and an exponent: not "inf" or "nan" spelt otherwise.
        _ if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) => {
            s.parse().ok()
        }
        _ => None,
    }
}

/// An error answer's kind: a query Prometheus cannot run is final (`invalid-input`), a
/// server that timed out or failed is worth retrying or falling back (`unavailable`).
fn classify(http: u16, error_type: Option<&str>, error: &str) -> PluginError {
    let message = format!(
        "prometheus {} ({http}): {error}",
        error_type.unwrap_or("error")
    );
    match error_type {
        Some("bad_data" | "execution" | "not_found") => PluginError::InvalidInput(message),
        Some("timeout" | "canceled" | "unavailable" | "internal") => PluginError::Unavailable(message),
        _ if (400..500).contains(&http) && http != 408 && http != 429 => {
            PluginError::InvalidInput(message)
        }
        _ => PluginError::Unavailable(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn field(k: &str, v: &str) -> Field {
        Field {
            key: k.into(),
            value: v.into(),
        }
    }

    #[test]
    fn matrix_becomes_named_samples_with_labels() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"__name__":"latency_seconds","plugin":"pay","instance":"10.0.0.1:9100","environment":"staging"},
             "values":[[1714566896,"0.25"],[1714566897.5,"NaN"],[1714566898.123,"+Inf"],[1714566899,"-Inf"],[1714566900,"1.5e+03"]]},
            {"metric":{},"values":[[1714566896,"oops"],["x","1"],[1714566901,"7"]]}]}}"#;
        let mut out = Collector::new(100);
        read("latency", &response(200, body), 1_714_566_901_000_000_000, "prod", &mut out).expect("read");
        let b = out.finish(0, "prod");
        let m = &b.metrics;
        assert_eq!(m.len(), 6, "5 samples of the first series, none of the second past the end, 1 skipped-lines sample");
        assert_eq!(m[0].name, "latency");
        assert_eq!(m[0].value, 0.25);
        assert_eq!(m[0].timestamp_ns, 1_714_566_896_000_000_000);
        assert_eq!((m[0].host.as_str(), m[0].environment.as_str()), ("10.0.0.1:9100", "staging"));
        assert_eq!(
            m[0].labels,
            vec![
                field("__name__", "latency_seconds"),
                field("environment", "staging"),
                field("instance", "10.0.0.1:9100"),
                field("plugin", "pay")
            ]
        );
        assert!(m[1].value.is_nan());
        assert_eq!(m[1].timestamp_ns, 1_714_566_897_500_000_000);
        assert_eq!((m[2].value, m[2].timestamp_ns), (f64::INFINITY, 1_714_566_898_123_000_000));
        assert_eq!(m[3].value, f64::NEG_INFINITY);
        assert_eq!(m[4].value, 1500.0);
        assert_eq!((m[5].name.as_str(), m[5].value), (casefile_guest::records::SKIPPED_LINES_METRIC, 2.0));
    }

    #[test]
    fn environment_defaults_to_the_query_s() {
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"p-1"},"values":[[10,"1"]]}]}}"#;
        let mut out = Collector::new(10);
        read("q", &response(200, body), i64::MAX, "prod", &mut out).expect("read");
        let b = out.finish(0, "prod");
        assert_eq!((b.metrics[0].host.as_str(), b.metrics[0].environment.as_str()), ("p-1", "prod"));
    }

    #[test]
    fn limit_stops_reading() {
        let values: Vec<String> = (0..50).map(|i| format!(r#"[{i},"{i}"]"#)).collect();
        let body = format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{{"metric":{{}},"values":[{}]}}]}}}}"#,
            values.join(",")
        );
        let mut out = Collector::new(7);
        read("q", &response(200, &body), i64::MAX, "", &mut out).expect("read");
        assert!(out.is_full());
        assert_eq!(out.finish(0, "").metrics.len(), 7);
    }

    #[test]
    fn value_strings() {
        assert_eq!(parse_value("1"), Some(1.0));
        assert_eq!(parse_value("-0.5e-3"), Some(-0.0005));
        assert_eq!(parse_value("+Inf"), Some(f64::INFINITY));
        assert!(parse_value("NaN").is_some_and(f64::is_nan));
        for bad in ["", "inf", "nan", "1,5", "one", "0x10"] {
            assert_eq!(parse_value(bad), None, "{bad}");
        }
    }

    #[test]
    fn error_answers_keep_their_kind() {
        let cases = [
            (400, r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \"}\""}"#, "invalid", "parse error"),
            (422, r#"{"status":"error","errorType":"execution","error":"many-to-many matching not allowed"}"#, "invalid", "many-to-many"),
            (503, r#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#, "unavailable", "timed out"),
            (503, r#"{"status":"error","errorType":"canceled","error":"query was canceled"}"#, "unavailable", "canceled"),
            (500, r#"{"status":"error","errorType":"internal","error":"disk full"}"#, "unavailable", "disk full"),
            (502, "<html>bad gateway</html>", "unavailable", "answered 502"),
            (404, "404 page not found", "unavailable", "answered 404"),
            (200, "not json", "unavailable", "bad JSON"),
            (200, r#"{"status":"success"}"#, "unavailable", "without data"),
            (200, r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#, "unavailable", "expected matrix"),
        ];
        for (status, body, kind, text) in cases {
            let mut out = Collector::new(10);
            match (kind, read("q", &response(status, body), i64::MAX, "", &mut out)) {
                ("invalid", Err(PluginError::InvalidInput(m))) | ("unavailable", Err(PluginError::Unavailable(m))) => {
                    assert!(m.contains(text), "{body}: {m}")
                }
                (_, other) => panic!("{body}: wanted {kind}, got {other:?}"),
            }
        }
    }
}
