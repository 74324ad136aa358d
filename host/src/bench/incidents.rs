//! `casefile bench incidents`: the ticket loop measured end to end. Starts this
//! binary as a host (`serve`, SQLite in a temporary data dir) beside a loopback
//! ticket system and regression runner of its own, then drives simulated
//! incidents through the host's HTTP API: a third while the ticket system is up, a
//! third while it answers 503 (the first third's fixes are verified meanwhile, so
//! their closes wait too), a third after it is back; every `race_every`-th incident
//! is diagnosed twice at once (two error events of one failure racing on its
//! fingerprint). Every fix passes. Prints what the ticket system saw: tickets
//! created, duplicates, closed automatically, and the auto-close rate.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::child::Host;

/// What to drive.
#[derive(Debug, Clone)]
pub struct Plan {
    pub count: usize,
    /// Every n-th incident is diagnosed twice at once (0: none).
    pub race_every: usize,
    /// How long the ticket system answers 503 in the middle.
    pub outage: Duration,
    /// How long every task may take to close.
    pub deadline: Duration,
}

/// The loopback ticket system: what it was asked, and whether it is down.
#[derive(Clone, Default)]
struct TicketSystem {
    down: Arc<AtomicBool>,
    refused: Arc<AtomicUsize>,
    /// (ticket id, fingerprint) of every create it took.
    creates: Arc<Mutex<Vec<(String, String)>>>,
    /// Ticket ids it was asked to close.
    closes: Arc<Mutex<Vec<String>>>,
    updates: Arc<AtomicUsize>,
    regressions: Arc<AtomicUsize>,
}

impl TicketSystem {
    fn outage(&self) -> Option<Response> {
        self.down.load(Ordering::SeqCst).then(|| {
            self.refused.fetch_add(1, Ordering::SeqCst);
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": "down for maintenance (bench outage)"}))).into_response()
        })
    }
}

async fn create(State(t): State<TicketSystem>, Json(body): Json<Value>) -> Response {
    if let Some(r) = t.outage() {
        return r;
    }
    let mut c = t.creates.lock().unwrap_or_else(|e| e.into_inner());
    let id = format!("INC-{}", c.len() + 1);
    c.push((id.clone(), body["fingerprint"].as_str().unwrap_or_default().to_string()));
    Json(json!({"id": id, "url": format!("http://tickets.bench/{id}"), "state": "open"})).into_response()
}

async fn update(State(t): State<TicketSystem>, Json(body): Json<Value>) -> Response {
    if let Some(r) = t.outage() {
        return r;
    }
    t.updates.fetch_add(1, Ordering::SeqCst);
    if body["state"] == "closed" {
        t.closes.lock().unwrap_or_else(|e| e.into_inner()).push(body["id"].as_str().unwrap_or_default().to_string());
    }
    Json(json!({"id": body["id"], "state": body["state"]})).into_response()
}

async fn regression(State(t): State<TicketSystem>) -> Json<Value> {
    t.regressions.fetch_add(1, Ordering::SeqCst);
    Json(json!({"status": "passed", "detail": "bench fix passes"}))
}

fn start_host(dir: &std::path::Path, tickets: std::net::SocketAddr) -> Result<Host> {
    let template = dir.join("report_template.yaml");
    std::fs::write(&template, "sections: [summary, sources, errors, timeline, masking]\n")?;
    // No log sources: the trigger's message is the failure, so one message is one
    // fingerprint. Short backoff so the outage's end is noticed within a second.
    let config = format!(
        r#"report: {{ template: "{template}" }}
runtime: {{ cache_dir: "{cache}" }}
components:
  masker: {{ kind: masker, source: "builtin:masker-default" }}
  mapper: {{ kind: ticket-mapper, source: "builtin:ticket-platform" }}
ticket: {{ endpoint: "http://{tickets}", retry_base_ms: 100, retry_max_ms: 1000 }}
regression: {{ url: "http://{tickets}/internal/debug/regression/run" }}
default: {{ masker: masker, sources: [], ticket_mapper: mapper, owners: [team-checkout] }}
tenants:
  default: {{}}
"#,
        template = template.display(),
        cache = super::child::compiled_cache().display(),
    );
    super::child::spawn(dir, &config)
}

/// One incident: its diagnoses (two when it races) and the task whose fix is verified.
struct Incident {
    tasks: Vec<String>,
}

/// `n` in letters g..z: the fingerprint blurs digits and hex runs, so an incident's
/// own words must be neither to make it a failure of its own.
fn word(mut n: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'g' + (n % 20) as u8);
        n /= 20;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

async fn open(host: &Host, run: &str, from: usize, to: usize, race_every: usize) -> Result<Vec<Incident>> {
    let jobs = (from..to).map(|i| async move {
        let message = format!("incident {} of bench {}: payment provider timed out", word(i), run);
        let first = format!("inc-{run}-{i}");
        if race_every > 0 && i % race_every == 0 {
            // Two error events of one failure, at once: they race on the fingerprint.
            let second = format!("inc-{run}-{i}-again");
            let (a, b) = tokio::join!(host.diagnose(&first, &message), host.diagnose(&second, &message));
            Ok::<_, anyhow::Error>(Incident { tasks: vec![a?, b?] })
        } else {
            Ok(Incident { tasks: vec![host.diagnose(&first, &message).await?] })
        }
    });
    futures::future::join_all(jobs).await.into_iter().collect()
}

fn tasks_of(incidents: &[Incident]) -> Vec<String> {
    incidents.iter().flat_map(|i| i.tasks.iter().cloned()).collect()
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find(|l| l.starts_with(name) && l[name.len()..].starts_with(' ')).and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

pub async fn run(plan: Plan) -> Result<()> {
    if plan.count < 3 {
        bail!("--count must be at least 3 (a third before, during and after the outage)");
    }
    let dir = std::env::temp_dir().join(format!("casefile-bench-incidents-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let tickets = TicketSystem::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = Router::new()
        .route("/internal/ticket/create", post(create))
        .route("/internal/ticket/update", post(update))
        .route("/internal/debug/regression/run", post(regression))
        .with_state(tickets.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let host = start_host(&dir, addr)?;
    // Letters only (see `word`), different on every run.
    let run = word(rand::random::<u32>() as usize);
    let (a, b) = (plan.count / 3, plan.count * 2 / 3);
    let started = Instant::now();
    let until = started + plan.deadline;
    println!("{} incidents ({} diagnosed twice at once), ticket system down for {:.1} s in the middle; host {}", plan.count,
        if plan.race_every == 0 { 0 } else { plan.count.div_ceil(plan.race_every) }, plan.outage.as_secs_f64(), host.base);

    // Up: the first third is diagnosed and ticketed.
    let first = open(&host, &run, 0, a, plan.race_every).await?;
    let stuck = host.wait_all(&tasks_of(&first), &["awaiting_fix"], until).await?;
    if !stuck.is_empty() {
        bail!("{} tasks of the first third did not reach awaiting_fix: {stuck:?}", stuck.len());
    }
    // Down: the second third comes in, and the first third's fixes are verified.
    tickets.down.store(true, Ordering::SeqCst);
    let outage_started = Instant::now();
    let second = open(&host, &run, a, b, plan.race_every).await?;
    for i in &first {
        host.regress(&i.tasks[0]).await?;
    }
    tokio::time::sleep(plan.outage.saturating_sub(outage_started.elapsed())).await;
    tickets.down.store(false, Ordering::SeqCst);
    let refused = tickets.refused.load(Ordering::SeqCst);
    // Up again: the last third, then every other fix.
    let third = open(&host, &run, b, plan.count, plan.race_every).await?;
    let rest: Vec<&Incident> = second.iter().chain(third.iter()).collect();
    let rest_tasks: Vec<String> = rest.iter().flat_map(|i| i.tasks.iter().cloned()).collect();
    let stuck = host.wait_all(&rest_tasks, &["awaiting_fix", "closed"], until).await?;
    if !stuck.is_empty() {
        bail!("{} tasks did not reach awaiting_fix after the outage: {stuck:?}", stuck.len());
    }
    for i in &rest {
        host.regress(&i.tasks[0]).await?;
    }
    let all: Vec<String> = first.iter().chain(second.iter()).chain(third.iter()).flat_map(|i| i.tasks.iter().cloned()).collect();
    let open_tasks = host.wait_all(&all, &["closed", "failed"], until).await?;
    let elapsed = started.elapsed();

    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    for t in &all {
        *by_state.entry(host.state(t).await?).or_default() += 1;
    }
    let creates = tickets.creates.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let closes = tickets.closes.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let fingerprints: BTreeSet<&str> = creates.iter().map(|(_, fp)| fp.as_str()).collect();
    let closed: BTreeSet<&str> = closes.iter().map(String::as_str).collect();
    let duplicates = creates.len() - fingerprints.len();
    let metrics = host.http.get(format!("{}/metrics", host.base)).bearer_auth(&host.token).send().await?.text().await?;

    println!("diagnoses: {} ({} tasks {:?}), in {:.1} s", all.len(), all.len(), by_state, elapsed.as_secs_f64());
    println!("ticket system: {refused} requests answered 503 during the outage, {} updates, {} regression runs", tickets.updates.load(Ordering::SeqCst), tickets.regressions.load(Ordering::SeqCst));
    println!("tickets created: {} (for {} incidents)", creates.len(), plan.count);
    println!("duplicates: {duplicates}");
    println!("closed automatically: {} (close requests: {})", closed.len(), closes.len());
    let rate = if creates.is_empty() { 0.0 } else { closed.len() as f64 / creates.len() as f64 };
    println!("auto-close rate: {:.1} % of tickets created were closed by a passing regression", rate * 100.0);
    println!(
        "host's debug_ticket_autoclose_rate: {} ({} closes after a passing regression ended, {} taken)",
        metric(&metrics, "debug_ticket_autoclose_rate").map(|r| format!("{:.1} %", r * 100.0)).unwrap_or_else(|| "absent".into()),
        metric(&metrics, "debug_ticket_autoclose_attempts").map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
        metric(&metrics, "debug_ticket_autoclosed").map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
    );
    drop(host);
    if open_tasks.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        bail!("{} tasks not closed within {} s: {:?} (host log kept in {})", open_tasks.len(), plan.deadline.as_secs(), open_tasks, dir.join("host.log").display());
    }
    if fingerprints.len() != plan.count || duplicates > 0 {
        bail!("expected one ticket per incident: {} incidents, {} tickets, {duplicates} duplicates", plan.count, creates.len());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn words_are_letters_the_fingerprint_keeps_apart() {
        let words: Vec<String> = (0..500).map(super::word).collect();
        assert!(words.iter().all(|w| w.bytes().all(|b| (b'g'..=b'z').contains(&b))));
        let distinct: std::collections::BTreeSet<&String> = words.iter().collect();
        assert_eq!(distinct.len(), 500);
        let fp = |w: &str| crate::report::fingerprint("t", "p", &format!("incident {w} of bench x"));
        assert_ne!(fp(&words[1]), fp(&words[2]));
    }
}
