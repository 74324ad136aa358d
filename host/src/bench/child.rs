//! The host under a bench: this binary started as `casefile serve` in a child
//! process, driven through its HTTP API as any client would.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// The host under test: the child process, its address and admin token.
pub struct Host {
    child: std::process::Child,
    pub base: String,
    pub token: String,
    pub http: reqwest::Client,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Host {
    pub async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value> {
        let r = req.bearer_auth(&self.token).send().await.context("the host did not answer")?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("the host answered {status}: {body}");
        }
        Ok(body)
    }

    pub async fn diagnose(&self, event: &str, message: &str) -> Result<String> {
        let body = json!({"error_event_id": event, "tenant": "default", "plugin": {"id": "bench-checkout"}, "environments": ["prod"], "message": message});
        let r = self.call(self.http.post(format!("{}/internal/debug/report", self.base)).json(&body)).await?;
        r["task_id"].as_str().map(str::to_string).context("no task_id in the answer")
    }

    pub async fn state(&self, task: &str) -> Result<String> {
        let r = self.call(self.http.get(format!("{}/internal/debug/report/{task}", self.base))).await?;
        Ok(r["state"].as_str().unwrap_or_default().to_string())
    }

    pub async fn regress(&self, task: &str) -> Result<()> {
        self.call(self.http.post(format!("{}/internal/debug/report/{task}/regression", self.base)).json(&json!({"ref": "bench-fix"}))).await?;
        Ok(())
    }

    /// Polls until every task is in one of `states`; the tasks that are not, at the deadline.
    pub async fn wait_all(&self, tasks: &[String], states: &[&str], until: Instant) -> Result<Vec<(String, String)>> {
        let mut waiting: Vec<String> = tasks.to_vec();
        loop {
            let mut still = Vec::new();
            let mut last = Vec::new();
            for t in &waiting {
                let s = self.state(t).await?;
                if !states.contains(&s.as_str()) {
                    still.push(t.clone());
                    last.push((t.clone(), s));
                }
            }
            if still.is_empty() || Instant::now() > until {
                return Ok(last);
            }
            waiting = still;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Where the child hosts keep compiled components, across runs
/// (`CASEFILE_BENCH_CACHE` overrides it, so the tests share theirs).
pub fn compiled_cache() -> std::path::PathBuf {
    std::env::var_os("CASEFILE_BENCH_CACHE").map(Into::into).unwrap_or_else(|| std::env::temp_dir().join("casefile-bench-compiled"))
}

/// Starts this binary as `casefile serve` with `config` (SQLite in `dir/data`, a
/// random admin token) and waits until it listens.
pub fn spawn(dir: &std::path::Path, config: &str) -> Result<Host> {
    let path = dir.join("casefile.yaml");
    std::fs::write(&path, config)?;
    let token = format!("bench-admin-{}", hex::encode(rand::random::<[u8; 16]>()));
    let log = std::fs::File::create(dir.join("host.log"))?;
    let mut child = Command::new(std::env::current_exe().context("cannot find this binary")?)
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env("CASEFILE_ADMIN_TOKEN", &token)
        .env("RUST_LOG", "warn")
        .env_remove("CASEFILE_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .context("cannot start `casefile serve`")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("casefile listening on ") {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let base = match rx.recv_timeout(Duration::from_secs(180)) {
        Ok(b) => b,
        Err(_) => {
            let _ = child.kill();
            bail!("the host did not start within 180 s; see {}", dir.join("host.log").display());
        }
    };
    Ok(Host { child, base, token, http: reqwest::Client::new() })
}
