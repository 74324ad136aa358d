//! What the end-to-end tests share: the real `casefile` binary started on a free
//! loopback port, and small loopback servers standing in for Loki, the ticket system
//! and the regression runner.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_casefile");
pub const GUEST_DIR: &str = env!("CASEFILE_GUEST_DIR");

pub fn guest(name: &str) -> PathBuf {
    let p = Path::new(GUEST_DIR).join(format!("{}.wasm", name.replace('-', "_")));
    assert!(p.exists(), "guest {} was not built by host/build.rs", p.display());
    p
}

/// One compile cache for every host the tests start, so components compile once.
pub fn shared_cache_dir() -> PathBuf {
    let d = Path::new(GUEST_DIR).join("..").join("..").join("..").join("e2e-compiled");
    std::fs::create_dir_all(&d).expect("cache dir");
    d
}

/// A fresh fake admin token for one host (generated, never a real secret).
pub fn fake_admin_token() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("test-admin-{}", hex::encode(bytes))
}

/// A running `casefile serve`; killed when dropped. Its stderr (the host's own log)
/// is kept for the tests to search, and echoed to the test's stderr. It starts with
/// `CASEFILE_ADMIN_TOKEN` set to [`Host::token`], which `get`, `post` and friends send;
/// `*_as` send another token, `http` sends none.
pub struct Host {
    pub child: Child,
    pub base: String,
    pub http: reqwest::Client,
    /// The admin token the host was started with.
    pub token: String,
    log: Arc<Mutex<String>>,
}

impl Host {
    pub fn start(config: &Path, data_dir: &Path) -> Host {
        Host::start_with_token(config, data_dir, &fake_admin_token())
    }

    pub fn start_with_token(config: &Path, data_dir: &Path, token: &str) -> Host {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg("--config")
            .arg(config)
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "info,casefile=debug")
            .env("CASEFILE_ADMIN_TOKEN", token)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start casefile");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                if let Ok(mut l) = kept.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.strip_prefix("casefile listening on ") {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        });
        // Generous: a host compiles its components before it listens, and the Python
        // example masker (tens of MB) took 110 s to compile on a machine loaded by
        // several builds at once.
        let base = match rx.recv_timeout(Duration::from_secs(300)) {
            Ok(b) => b,
            Err(_) => {
                let _ = child.kill();
                panic!("casefile did not start listening within 300 s (see its log above)");
            }
        };
        Host { child, base, http: reqwest::Client::new(), token: token.to_string(), log }
    }

    /// What the host has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.post_as(&self.token, path, body).await
    }

    pub async fn post_as(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let r = self.http.post(self.url(path)).bearer_auth(token).json(body).send().await.expect("post");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let r = self.http.post(self.url(path)).bearer_auth(&self.token).body(body).send().await.expect("post");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.get_as(&self.token, path).await
    }

    pub async fn get_as(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).bearer_auth(token).send().await.expect("get");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_bytes(&self, path: &str) -> (u16, Vec<u8>) {
        self.get_bytes_as(&self.token, path).await
    }

    pub async fn get_bytes_as(&self, token: &str, path: &str) -> (u16, Vec<u8>) {
        let r = self.http.get(self.url(path)).bearer_auth(token).send().await.expect("get");
        (r.status().as_u16(), r.bytes().await.expect("bytes").to_vec())
    }

    /// Makes a token through the API (as admin) and returns its secret.
    pub async fn make_token(&self, role: &str, tenants: &[&str]) -> String {
        let (status, t) = self.post("/internal/tokens", &json!({"name": format!("test-{role}"), "role": role, "tenants": tenants})).await;
        assert_eq!(status, 201, "{t}");
        t["token"].as_str().expect("token").to_string()
    }

    /// Polls the task until it reaches one of `states`; panics with the last view.
    pub async fn wait_state(&self, task: &str, states: &[&str], secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let (_, t) = self.get(&format!("/internal/debug/report/{task}")).await;
            if states.contains(&t["state"].as_str().unwrap_or("")) {
                return t;
            }
            if Instant::now() > deadline {
                panic!("task {task} did not reach {states:?} in {secs} s; last: {t:#}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts a router on a free loopback port.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// A port nothing listens on.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

// ---- fake Loki -------------------------------------------------------------

#[derive(Clone, Default)]
pub struct Loki {
    /// (labels, [(ns, line)]) per stream.
    pub streams: Arc<Mutex<Vec<(Value, Vec<(i64, String)>)>>>,
    pub queries: Arc<Mutex<Vec<String>>>,
    /// Answer this many first requests only after this delay.
    pub slow: Arc<Mutex<(usize, Duration)>>,
    /// The Authorization header of each query (what the host attached).
    pub authorizations: Arc<Mutex<Vec<Option<String>>>>,
    /// `start`, `end`, `limit` and `direction` of each query, as sent.
    pub pages: Arc<Mutex<Vec<(String, String, String, String)>>>,
}

async fn loki_query(State(l): State<Loki>, headers: axum::http::HeaderMap, Query(q): Query<std::collections::HashMap<String, String>>) -> Json<Value> {
    l.authorizations.lock().unwrap().push(headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string));
    let delay = {
        let mut s = l.slow.lock().unwrap();
        if s.0 > 0 {
            s.0 -= 1;
            Some(s.1)
        } else {
            None
        }
    };
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    l.queries.lock().unwrap().push(q.get("query").cloned().unwrap_or_default());
    let param = |k: &str| q.get(k).cloned().unwrap_or_default();
    l.pages.lock().unwrap().push((param("start"), param("end"), param("limit"), param("direction")));
    let start: i64 = q.get("start").and_then(|s| s.parse().ok()).unwrap_or(i64::MIN);
    let end: i64 = q.get("end").and_then(|s| s.parse().ok()).unwrap_or(i64::MAX);
    // As Loki does: the `limit` entries nearest the direction's start of the window,
    // over all streams, then grouped by stream.
    let streams = l.streams.lock().unwrap().clone();
    let mut hits: Vec<(i64, usize, usize)> = Vec::new();
    for (s, (_, values)) in streams.iter().enumerate() {
        hits.extend(values.iter().enumerate().filter(|(_, (ns, _))| *ns >= start && *ns < end).map(|(i, (ns, _))| (*ns, s, i)));
    }
    hits.sort();
    if param("direction") == "backward" {
        hits.reverse();
    }
    if let Some(limit) = q.get("limit").and_then(|l| l.parse::<usize>().ok()) {
        hits.truncate(limit);
    }
    let result: Vec<Value> = streams
        .iter()
        .enumerate()
        .map(|(s, (labels, values))| {
            let v: Vec<Value> = hits
                .iter()
                .filter(|h| h.1 == s)
                .map(|&(ns, _, i)| json!([ns.to_string(), values[i].1]))
                .collect();
            json!({"stream": labels, "values": v})
        })
        .collect();
    Json(json!({"status": "success", "data": {"resultType": "streams", "result": result}}))
}

pub async fn start_loki(loki: Loki) -> SocketAddr {
    serve(Router::new().route("/loki/api/v1/query_range", get(loki_query)).with_state(loki)).await
}

// ---- fake ticket system and regression runner --------------------------------

#[derive(Clone, Default)]
pub struct Tickets {
    pub creates: Arc<Mutex<Vec<Value>>>,
    pub updates: Arc<Mutex<Vec<Value>>>,
    pub regressions: Arc<Mutex<Vec<Value>>>,
    /// What the regression runner answers.
    pub regression_passes: Arc<Mutex<bool>>,
    /// When set, the runner answers 202 `queued` with a `poll_url`, says `running`
    /// to the first two polls and then its verdict; `regression_polls` counts them.
    pub regression_async: Arc<Mutex<bool>>,
    pub regression_polls: Arc<Mutex<usize>>,
    /// While set, every ticket request is answered with this status (an outage, a
    /// refusal) and kept in `refused` instead of being acted on.
    pub fail_with: Arc<Mutex<Option<u16>>>,
    pub refused: Arc<Mutex<Vec<Value>>>,
}

impl Tickets {
    fn failing(&self, body: &Value) -> Option<axum::response::Response> {
        use axum::response::IntoResponse;
        let status = (*self.fail_with.lock().unwrap())?;
        self.refused.lock().unwrap().push(body.clone());
        let code = axum::http::StatusCode::from_u16(status).expect("a status code");
        Some((code, Json(json!({"error": format!("answered {status} by the test")}))).into_response())
    }
}

async fn ticket_create(State(t): State<Tickets>, Json(body): Json<Value>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(failed) = t.failing(&body) {
        return failed;
    }
    let mut c = t.creates.lock().unwrap();
    c.push(body);
    let id = format!("PLAT-{}", c.len());
    Json(json!({"id": id, "url": format!("http://tickets.test/{id}"), "state": "open"})).into_response()
}

async fn ticket_update(State(t): State<Tickets>, Json(body): Json<Value>) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(failed) = t.failing(&body) {
        return failed;
    }
    let reply = json!({"id": body["id"], "state": body["state"]});
    t.updates.lock().unwrap().push(body);
    Json(reply).into_response()
}

async fn regression_run(State(t): State<Tickets>, Json(body): Json<Value>) -> axum::response::Response {
    use axum::response::IntoResponse;
    let run = {
        let mut r = t.regressions.lock().unwrap();
        r.push(body);
        r.len()
    };
    if *t.regression_async.lock().unwrap() {
        return (axum::http::StatusCode::ACCEPTED, Json(json!({"status": "queued", "poll_url": format!("/internal/debug/regression/runs/{run}")}))).into_response();
    }
    regression_verdict(&t, run).into_response()
}

fn regression_verdict(t: &Tickets, run: usize) -> Json<Value> {
    let passed = *t.regression_passes.lock().unwrap();
    Json(json!({"status": if passed { "passed" } else { "failed" }, "detail": "42 tests", "url": format!("http://runner.test/runs/{run}")}))
}

async fn regression_poll(State(t): State<Tickets>, axum::extract::Path(run): axum::extract::Path<usize>) -> Json<Value> {
    let polls = {
        let mut p = t.regression_polls.lock().unwrap();
        *p += 1;
        *p
    };
    if polls % 3 != 0 {
        return Json(json!({"status": "running"}));
    }
    regression_verdict(&t, run)
}

fn tickets_router(t: Tickets) -> Router {
    Router::new()
        .route("/internal/ticket/create", post(ticket_create))
        .route("/internal/ticket/update", post(ticket_update))
        .route("/internal/debug/regression/run", post(regression_run))
        .route("/internal/debug/regression/runs/{run}", axum::routing::get(regression_poll))
        .with_state(t)
}

pub async fn start_tickets(t: Tickets) -> SocketAddr {
    serve(tickets_router(t)).await
}

/// The fake ticket system on a given port (one that refused connections until now).
pub async fn start_tickets_on(t: Tickets, port: u16) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("bind the reserved port");
    let addr = listener.local_addr().expect("addr");
    let router = tickets_router(t);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

// ---- bundles -------------------------------------------------------------------

/// The files of a tar.gz bundle.
pub fn untar(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut out = Vec::new();
    for e in a.entries().expect("tar") {
        let mut e = e.expect("entry");
        let name = e.path().expect("path").display().to_string();
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut buf).expect("read");
        out.push((name, buf));
    }
    out
}

/// Generated fakes shaped like real secrets, different on every run.
pub struct Secrets {
    pub aws_key: String,
    pub email: String,
    pub url_password: String,
}

impl Secrets {
    pub fn generate() -> Secrets {
        use rand::Rng;
        let mut rng = rand::rng();
        let up: String = (0..16).map(|_| (b'A' + rng.random_range(0..26u8)) as char).collect();
        let low: String = (0..10).map(|_| (b'a' + rng.random_range(0..26u8)) as char).collect();
        let pw: String = (0..14).map(|_| (b'a' + rng.random_range(0..26u8)) as char).collect();
        Secrets { aws_key: format!("AKIA{up}"), email: format!("{low}.owner@example.org"), url_password: format!("Pw{pw}9") }
    }

    pub fn all(&self) -> [&str; 3] {
        [&self.aws_key, &self.email, &self.url_password]
    }

    pub fn assert_absent(&self, what: &str, text: &str) {
        for s in self.all() {
            assert!(!text.contains(s), "secret `{s}` leaked into {what}");
        }
    }
}
