//! Regression: asks the configured regression endpoint (or command) whether the fix
//! for a task passes. The pipeline closes or reopens the ticket on the answer.

use std::time::Duration;

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
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        bail!("regression endpoint answered {status}: {}", text.chars().take(200).collect::<String>());
    }
    let v: Value = serde_json::from_str(&text).with_context(|| format!("regression endpoint answered non-JSON: {}", text.chars().take(200).collect::<String>()))?;
    let passed = verdict(&v).with_context(|| {
        format!("regression endpoint's answer has no verdict (expected \"passed\": bool or \"status\": \"passed\"|\"failed\"): {v}")
    })?;
    let detail = v.get("detail").or_else(|| v.get("summary")).and_then(Value::as_str).unwrap_or(if passed { "passed" } else { "failed" });
    Ok(Outcome { passed, detail: detail.chars().take(500).collect(), link: run_link(&v) })
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
