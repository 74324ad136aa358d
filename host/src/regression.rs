//! Regression: asks the configured regression endpoint (or command) whether the fix
//! for a task passes. The pipeline closes or reopens the ticket on the answer.

use std::time::Duration;

pub mod closure;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::app::App;
use crate::model::RegressionStrategy;
use crate::store::TaskRow;

#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub passed: bool,
    pub detail: String,
    /// The run's page, when the runner names one (`url`, `link` or `run_url`):
    /// the ticket's close or comment links it.
    pub link: Option<String>,
}

impl Outcome {
    /// The outcome as a ticket comment says it: the detail, and the run's link.
    pub fn said(&self) -> String {
        match &self.link {
            Some(l) => format!("{}; run: {l}", self.detail),
            None => self.detail.clone(),
        }
    }
}

/// The run's link from the runner's answer: an http(s) URL, scrubbed and capped,
/// or nothing (a runner's answer is not trusted to say anything else there).
pub fn run_link(v: &Value) -> Option<String> {
    let raw = ["url", "link", "run_url"].iter().find_map(|k| v.get(*k).and_then(Value::as_str))?.trim();
    let parsed = reqwest::Url::parse(raw).ok().filter(|u| matches!(u.scheme(), "http" | "https"))?;
    Some(crate::telemetry::scrub(parsed.as_str()).chars().take(500).collect())
}

pub async fn run(app: &App, task: &TaskRow) -> Result<Outcome> {
    let timeout = Duration::from_millis(app.config.regression.timeout_ms.unwrap_or(300_000));
    match task.request.regression {
        RegressionStrategy::Webhook => webhook(app, task, timeout).await,
        RegressionStrategy::Command => command(app, task, timeout).await,
        RegressionStrategy::None => bail!("the task's regression strategy is `none`"),
    }
}

async fn webhook(app: &App, task: &TaskRow, timeout: Duration) -> Result<Outcome> {
    let url = app.config.regression.url.as_deref().filter(|u| !u.is_empty()).context("no regression.url is configured")?;
    let started = std::time::Instant::now();
    let body = json!({
        "task_id": task.id,
        "tenant": task.tenant,
        "plugin": task.request.plugin,
        "error_event_id": task.request.error_event_id,
        "fingerprint": task.fingerprint,
        "ticket_id": task.ticket_id,
        "ref": task.regression_ref,
        "environments": task.request.environments,
    });
    let resp = app
        .http
        .post(url)
        .timeout(timeout)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("regression endpoint {url} did not answer"))?;
    let mut v = answer(resp, url).await?;
    // A runner that takes longer answers at once that the run is going, and where
    // to ask: the run is polled there until it has a verdict or the time is up.
    if verdict(&v).is_none() && pending(&v) {
        let poll = poll_url(url, &v)?;
        let every = Duration::from_millis(app.config.regression.poll_interval_ms.unwrap_or(2_000).max(10));
        loop {
            let left = timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                bail!("the regression run at {poll} had no verdict after {} s", timeout.as_secs());
            }
            tokio::time::sleep(every.min(left)).await;
            let resp = app.http.get(poll.clone()).timeout(left.max(Duration::from_millis(1))).send().await.with_context(|| format!("regression run at {poll} did not answer"))?;
            v = answer(resp, poll.as_str()).await?;
            if verdict(&v).is_some() || !pending(&v) {
                break;
            }
        }
    }
    let passed = verdict(&v).with_context(|| {
        format!("regression endpoint's answer has no verdict (expected \"passed\": bool or \"status\": \"passed\"|\"failed\", or \"status\": \"queued\"|\"running\" with a \"poll_url\"): {v}")
    })?;
    let detail = v.get("detail").or_else(|| v.get("summary")).and_then(Value::as_str).unwrap_or(if passed { "passed" } else { "failed" });
    Ok(Outcome { passed, detail: detail.chars().take(500).collect(), link: run_link(&v) })
}

/// A runner's answer as JSON, or why it is not one.
async fn answer(resp: reqwest::Response, url: &str) -> Result<Value> {
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("regression endpoint {url} answered {status}: {}", text.chars().take(200).collect::<String>());
    }
    serde_json::from_str(&text).with_context(|| format!("regression endpoint {url} answered non-JSON: {}", text.chars().take(200).collect::<String>()))
}

/// Whether the runner says the run is still going.
fn pending(v: &Value) -> bool {
    let status = v.get("status").and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    matches!(status.as_str(), "queued" | "pending" | "running" | "in_progress" | "started" | "accepted")
}

/// Where to ask for the run's verdict: the answer's `poll_url` (or `status_url`),
/// relative to the endpoint or absolute on the endpoint's own host and port. The
/// runner does not get to send the host anywhere else.
fn poll_url(endpoint: &str, v: &Value) -> Result<reqwest::Url> {
    let base = reqwest::Url::parse(endpoint).with_context(|| format!("regression.url `{endpoint}` is not a URL"))?;
    let raw = ["poll_url", "status_url"].iter().find_map(|k| v.get(*k).and_then(Value::as_str)).with_context(|| {
        format!("the regression endpoint said the run is {} but named no poll_url to ask for its verdict", v["status"])
    })?;
    let url = base.join(raw).with_context(|| format!("the runner's poll_url `{raw}` is not a URL"))?;
    if (url.scheme(), url.host_str(), url.port_or_known_default()) != (base.scheme(), base.host_str(), base.port_or_known_default()) {
        bail!("the runner's poll_url `{raw}` is not on the regression endpoint's host ({endpoint}); refused");
    }
    Ok(url)
}

/// Reads `{"passed": bool}` or `{"status": "passed"|"failed"|...}`.
pub fn verdict(v: &Value) -> Option<bool> {
    if let Some(b) = v.get("passed").and_then(Value::as_bool) {
        return Some(b);
    }
    match v.get("status").and_then(Value::as_str)?.to_ascii_lowercase().as_str() {
        "passed" | "pass" | "success" | "succeeded" | "ok" | "green" => Some(true),
        "failed" | "fail" | "failure" | "error" | "red" => Some(false),
        _ => None,
    }
}

async fn command(app: &App, task: &TaskRow, timeout: Duration) -> Result<Outcome> {
    let cmd = app.config.regression.command.as_deref().filter(|c| !c.is_empty()).context("no regression.command is configured")?;
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("CASEFILE_TASK_ID", &task.id)
        .env("CASEFILE_TENANT", &task.tenant)
        .env("CASEFILE_PLUGIN_ID", &task.request.plugin.id)
        .env("CASEFILE_PLUGIN_VERSION", task.request.plugin.version.clone().unwrap_or_default())
        .env("CASEFILE_REF", task.regression_ref.clone().unwrap_or_default())
        .env("CASEFILE_ERROR_EVENT_ID", &task.request.error_event_id)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(timeout, child)
        .await
        .with_context(|| format!("regression command ran past {} s", timeout.as_secs()))?
        .context("cannot run the regression command")?;
    let tail: String = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("").chars().take(300).collect();
    Ok(Outcome { passed: out.status.success(), detail: format!("exit {}: {tail}", out.status.code().unwrap_or(-1)), link: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        assert_eq!(verdict(&json!({"passed": true})), Some(true));
        assert_eq!(verdict(&json!({"status": "FAILED"})), Some(false));
        assert_eq!(verdict(&json!({"status": "running"})), None);
        assert_eq!(verdict(&json!({})), None);
    }

    #[test]
    fn a_pending_run_is_polled_only_on_the_endpoints_own_host() {
        let e = "http://runner.test:8080/internal/debug/regression/run";
        assert!(pending(&json!({"status": "Queued"})) && pending(&json!({"status": "running"})) && !pending(&json!({"status": "passed"})));
        assert_eq!(poll_url(e, &json!({"poll_url": "/runs/7"})).unwrap().as_str(), "http://runner.test:8080/runs/7");
        assert_eq!(poll_url(e, &json!({"status_url": "http://runner.test:8080/runs/7?x=1"})).unwrap().as_str(), "http://runner.test:8080/runs/7?x=1");
        for elsewhere in ["http://metadata.internal/latest", "https://runner.test:8080/runs/7", "http://runner.test:9090/runs/7", "//evil.test/x"] {
            let err = poll_url(e, &json!({"poll_url": elsewhere})).unwrap_err().to_string();
            assert!(err.contains("not on the regression endpoint's host"), "{elsewhere}: {err}");
        }
        assert!(poll_url(e, &json!({"status": "running"})).unwrap_err().to_string().contains("named no poll_url"));
    }

    #[test]
    fn the_run_link_is_an_http_url_or_nothing() {
        assert_eq!(run_link(&json!({"url": "https://ci.example/runs/42"})).as_deref(), Some("https://ci.example/runs/42"));
        assert_eq!(run_link(&json!({"run_url": " http://ci/r/1 "})).as_deref(), Some("http://ci/r/1"));
        assert_eq!(run_link(&json!({"link": "javascript:alert(1)"})), None);
        assert_eq!(run_link(&json!({"url": "not a url"})), None);
        assert_eq!(run_link(&json!({"status": "passed"})), None);
        let o = Outcome { passed: true, detail: "42 tests".into(), link: Some("https://ci/r/9".into()) };
        assert_eq!(o.said(), "42 tests; run: https://ci/r/9");
    }
}
