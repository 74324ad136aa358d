//! The command line: `serve` runs the host; the other commands are clients of its
//! API (`--server`, `CASEFILE_SERVER`) that print JSON with `--json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use serde::Deserialize;
use serde_json::{json, Value};

mod mask;
mod policy;
mod registry;
mod tokens;

use crate::api::TaskView;
use crate::app::App;
use crate::config::Config;

#[derive(Parser)]
#[command(name = "casefile", version, about = "Diagnostic host for plugin platforms")]
pub struct Cli {
    /// The casefile server client commands talk to.
    #[arg(long, global = true, env = "CASEFILE_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Print JSON instead of a summary.
    #[arg(long, global = true)]
    json: bool,
    /// The bearer token client commands send (make one with `casefile token create`).
    #[arg(long, global = true, env = "CASEFILE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the host: API, workers and components.
    Serve {
        #[arg(long, env = "CASEFILE_CONFIG", default_value = "config/casefile.yaml")]
        config: PathBuf,
        /// Address to listen on [default: 127.0.0.1:8080, or server.listen in the config]
        #[arg(long, env = "CASEFILE_LISTEN")]
        listen: Option<String>,
        /// Where the database, blobs and compiled components live [default: ./data]
        #[arg(long, env = "CASEFILE_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// sqlite://... or postgres://... [default: a SQLite file in the data dir]
        #[arg(long, env = "CASEFILE_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Bring the database schema to this release (`serve` does it too, at start).
    /// A database made before versioned migrations is recorded as at migration 1.
    Migrate {
        #[command(flatten)]
        db: Database,
    },
    /// Make, list and revoke API tokens: through the server (with an admin --token),
    /// or offline against the database when --config, --data-dir or --database-url is
    /// given (how the first admin token is made).
    Token {
        #[command(subcommand)]
        command: tokens::TokenCommand,
    },
    /// The master key that seals the tenants' pseudonym keys at rest.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: tokens::AuditCommand,
    },
    /// Open a diagnosis for a failed plugin.
    Diagnose {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        plugin: String,
        #[arg(long)]
        plugin_version: Option<String>,
        /// The error event id; a repeat with the same id returns the same task.
        #[arg(long)]
        event: String,
        #[arg(long = "env")]
        environments: Vec<String>,
        /// RFC 3339 start of the window [default: the server's default window]
        #[arg(long, requires = "end")]
        start: Option<String>,
        #[arg(long, requires = "start")]
        end: Option<String>,
        #[arg(long)]
        message: Option<String>,
        #[arg(long = "trace-id")]
        trace_ids: Vec<String>,
        /// webhook, command or none
        #[arg(long)]
        regression: Option<String>,
        /// Wait up to this many seconds for the report.
        #[arg(long)]
        wait: Option<u64>,
    },
    /// Show a task: state, report summary, ticket.
    Show { task_id: String },
    /// Download a task's masked bundle (tar.gz).
    Bundle {
        task_id: String,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Run regression for a task's fix; on pass the ticket is closed.
    Regress {
        task_id: String,
        #[arg(long = "ref")]
        git_ref: Option<String>,
        #[arg(long)]
        wait: Option<u64>,
    },
    /// The component registry: push, list, show, review, verify.
    Component {
        #[command(subcommand)]
        command: registry::ComponentCommand,
    },
    /// Bind components to a tenant's slot (`masker`, `ticket-mapper`,
    /// `source:<name>`); the next task runs them. `--tenant '*'` binds the default.
    Bind {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        slot: String,
        /// Component hashes (or names of approved components), in chain order; none
        /// to inherit again.
        components: Vec<String>,
        /// Bind a candidate masker beside the active one; its output is discarded.
        #[arg(long)]
        shadow: bool,
    },
    /// Feature flags: `flag list`, `flag set NAME on|off` (every host, within a second).
    Flag {
        #[command(subcommand)]
        command: FlagCommand,
    },
    /// A tenant's masking policy as versioned data.
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// A tenant's report layout (the template's sections and limits) as versioned
    /// data: `template get|set|versions|diff|rollback --tenant T`.
    Template {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Re-bind a slot's previous version.
    Rollback {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        slot: String,
        #[arg(long)]
        shadow: bool,
    },
    /// Run a failed diagnosis again (after fixing its cause).
    Retry {
        task_id: String,
        /// Wait up to this many seconds for the report.
        #[arg(long)]
        wait: Option<u64>,
    },
    /// Compare tasks, the ticket outbox and tickets (as last synced) and repair the
    /// drift: stuck outbox entries, open tickets of closed tasks, tasks waiting on
    /// closed tickets, tasks that never got their ticket. Safe to run at any time.
    Reconcile {
        /// Print what would be repaired and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Upload a component (same as `component push`).
    #[command(hide = true)]
    Upload {
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: Option<String>,
        file: PathBuf,
    },
    /// Mask stdin to stdout with a masker component (each line is a record).
    Mask {
        /// A masker component file.
        #[arg(long, conflicts_with = "tenant")]
        component: Option<PathBuf>,
        /// Use this tenant's masker and policy from the config.
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long, env = "CASEFILE_CONFIG", default_value = "config/casefile.yaml")]
        config: PathBuf,
        /// Read `{"line": ...}` objects and write `{"line": masked}`.
        #[arg(long)]
        jsonl: bool,
        /// Read review cases (`{"line", "expected_masked"}`) and fail if a value survives.
        #[arg(long)]
        check: bool,
    },
    /// Measure report latency and component call overhead on a synthetic incident;
    /// `bench incidents` measures the ticket loop end to end.
    #[command(args_conflicts_with_subcommands = true)]
    Bench {
        #[command(subcommand)]
        what: Option<BenchCommand>,
        #[arg(long, default_value_t = 100_000)]
        logs: usize,
        #[arg(long, default_value_t = 5_000)]
        spans: usize,
        #[arg(long, default_value_t = 10)]
        iterations: usize,
        #[arg(long, default_value_t = 2_000)]
        calls: usize,
        /// Records per masker call [default: runtime.mask_chunk_records's default]
        #[arg(long)]
        chunk: Option<usize>,
        /// Measure this masker component instead of the built-in masker-default.
        #[arg(long)]
        masker: Option<PathBuf>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init_logs();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    let client = Client { base: cli.server.trim_end_matches('/').to_string(), http: reqwest::Client::new(), token: cli.token.clone() };
    match cli.command {
        Command::Serve { config, listen, data_dir, database_url } => serve(config, listen, data_dir, database_url).await,
        Command::Migrate { db } => migrate(&db, cli.json).await,
        Command::Keys { command: KeysCommand::Rotate { db } } => rotate_master_key(&db, cli.json).await,
        Command::Token { command } => tokens::token(&client, command, cli.json).await,
        Command::Audit { command } => tokens::audit(&client, command, cli.json).await,
        Command::Diagnose { tenant, plugin, plugin_version, event, environments, start, end, message, trace_ids, regression, wait } => {
            let mut body = json!({"error_event_id": event, "tenant": tenant, "plugin": {"id": plugin, "version": plugin_version}});
            if !environments.is_empty() {
                body["environments"] = json!(environments);
            }
            if let (Some(s), Some(e)) = (start, end) {
                body["window"] = json!({"start": s, "end": e});
            }
            if let Some(m) = message {
                body["message"] = json!(m);
            }
            if !trace_ids.is_empty() {
                body["trace_ids"] = json!(trace_ids);
            }
            if let Some(r) = regression {
                body["regression"] = json!({"strategy": r});
            }
            let created = client.send(client.http.post(client.url("/internal/debug/report")).json(&body)).await?;
            let id = created["task_id"].as_str().context("server answered without task_id")?.to_string();
            let shown = match wait {
                Some(secs) => client.wait_for(&id, &["awaiting_fix", "closed", "failed"], secs).await?,
                None => created,
            };
            print(cli.json, &shown, summarize)
        }
        Command::Show { task_id } => {
            let t = client.send(client.http.get(client.url(&format!("/internal/debug/report/{task_id}")))).await?;
            print(cli.json, &t, summarize)
        }
        Command::Bundle { task_id, output } => {
            let resp = client.authed(client.http.get(client.url(&format!("/internal/debug/report/{task_id}/bundle")))).send().await.with_context(|| client.unreachable())?;
            if !resp.status().is_success() {
                bail!("{}", error_text(resp).await);
            }
            let bytes = resp.bytes().await?;
            let path = output.unwrap_or_else(|| PathBuf::from(format!("{task_id}.tar.gz")));
            std::fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
            print(cli.json, &json!({"path": path, "bytes": bytes.len()}), |v| format!("wrote {} ({} bytes)", v["path"].as_str().unwrap_or(""), v["bytes"]))
        }
        Command::Regress { task_id, git_ref, wait } => {
            let body = json!({"ref": git_ref});
            let r = client.send(client.http.post(client.url(&format!("/internal/debug/report/{task_id}/regression"))).json(&body)).await?;
            let shown = match wait {
                Some(secs) => client.wait_for(&task_id, &["awaiting_fix", "closed", "failed"], secs).await?,
                None => r,
            };
            print(cli.json, &shown, summarize)
        }
        Command::Retry { task_id, wait } => {
            let r = client.send(client.http.post(client.url(&format!("/internal/debug/report/{task_id}/retry"))).json(&json!({}))).await?;
            let shown = match wait {
                Some(secs) => client.wait_for(&task_id, &["awaiting_fix", "closed", "failed"], secs).await?,
                None => r,
            };
            print(cli.json, &shown, summarize)
        }
        Command::Reconcile { dry_run } => {
            let r = client.send(client.http.post(client.url("/internal/debug/reconcile")).json(&json!({"dry_run": dry_run}))).await?;
            print(cli.json, &r, reconcile_lines)
        }
        Command::Component { command } => registry::component(&client, command, cli.json).await,
        Command::Bind { tenant, slot, components, shadow } => registry::bind(&client, &tenant, &slot, components, shadow, cli.json).await,
        Command::Flag { command } => match command {
            FlagCommand::List => {
                let r = client.send(client.http.get(client.url("/internal/flags"))).await?;
                print(cli.json, &r, flag_lines)
            }
            FlagCommand::Set { name, state } => {
                let enabled = match state.as_str() {
                    "on" | "true" => true,
                    "off" | "false" => false,
                    other => bail!("say `on` or `off`, not `{other}`"),
                };
                let r = client.send(client.http.put(client.url(&format!("/internal/flags/{name}"))).json(&json!({"enabled": enabled}))).await?;
                print(cli.json, &r, flag_lines)
            }
        },
        Command::Policy { command } => policy::run(&client, policy::Doc::MaskingPolicy, command, cli.json).await,
        Command::Template { command } => policy::run(&client, policy::Doc::ReportLayout, command, cli.json).await,
        Command::Rollback { tenant, slot, shadow } => registry::rollback(&client, &tenant, &slot, shadow, cli.json).await,
        Command::Upload { kind, name, file } => {
            registry::component(&client, registry::ComponentCommand::Push { file, kind, name, version: None, signature: None }, cli.json).await
        }
        Command::Mask { component, tenant, config, jsonl, check } => mask::run(component, tenant, &config, jsonl, check).await,
        Command::Bench { what: Some(BenchCommand::Incidents { count, race_every, outage_seconds, deadline_seconds }), .. } => {
            let plan = crate::bench::incidents::Plan {
                count,
                race_every,
                outage: Duration::from_secs_f64(outage_seconds.max(0.0)),
                deadline: Duration::from_secs(deadline_seconds),
            };
            crate::bench::incidents::run(plan).await
        }
        Command::Bench { what: Some(BenchCommand::Http { count, logs, spans, slow_ms }), .. } => {
            crate::bench::http::run(crate::bench::http::Plan { count, logs, spans, slow: std::time::Duration::from_millis(slow_ms) }).await
        }
        Command::Bench { what: None, logs, spans, iterations, calls, chunk, masker } => crate::bench::run(logs, spans, iterations, calls, chunk, masker).await,
    }
}

async fn serve(config_path: PathBuf, listen: Option<String>, data_dir: Option<PathBuf>, database_url: Option<String>) -> Result<()> {
    let config = Config::load(&config_path)?;
    let listen = listen.or_else(|| config.server.listen.clone()).unwrap_or_else(|| "127.0.0.1:8080".into());
    let data_dir = data_dir.or_else(|| config.data_dir.clone().map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("./data"));
    let app = App::start(config, &data_dir, database_url).await?;
    if let Some(secret) = std::env::var("CASEFILE_ADMIN_TOKEN").ok().filter(|t| !t.is_empty()) {
        crate::access::install_env_admin(&app.store, &app.audit, &secret).await?;
        tracing::info!("CASEFILE_ADMIN_TOKEN is accepted as an admin token (stored as its hash, id {})", crate::access::ENV_ADMIN_TOKEN_ID);
    }
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    crate::pipeline::spawn_workers(app.clone());
    crate::retention::spawn(app.clone());
    crate::trigger::nats::spawn(app.clone());
    // This line is the contract with scripts and tests that start the binary.
    println!("casefile listening on http://{addr} (data in {})", data_dir.display());
    tracing::info!(%addr, data_dir = %data_dir.display(), "serving");
    axum::serve(listener, crate::api::router(app))
        .with_graceful_shutdown(async {
            let ctrl_c = tokio::signal::ctrl_c();
            #[cfg(unix)]
            {
                let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(t) => t,
                    Err(_) => return std::future::pending().await,
                };
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            #[cfg(not(unix))]
            let _ = ctrl_c.await;
        })
        .await?;
    Ok(())
}

async fn migrate(db: &Database, as_json: bool) -> Result<()> {
    let (url, _) = db.locate()?;
    let outcome = crate::store::Store::migrate(&url).await?;
    let shown = json!({
        "database": crate::store::redact_url(&url),
        "version": outcome.version,
        "applied": outcome.applied,
        "baselined": outcome.baselined,
    });
    print(as_json, &shown, |v| {
        let mut out = format!("{}: schema at migration {}", v["database"].as_str().unwrap_or(""), v["version"]);
        if v["baselined"] == true {
            out.push_str(" (a database from before versioned migrations, recorded as migration 1)");
        }
        match v["applied"].as_array().filter(|a| !a.is_empty()) {
            Some(a) => out.push_str(&format!("; applied {}", a.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", "))),
            None => out.push_str("; nothing to apply"),
        }
        out
    })
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Start a host (this binary) beside a loopback ticket system and regression
    /// runner, drive simulated incidents whose fixes pass through its HTTP API, with
    /// the ticket system down (503) for a stretch in the middle and some incidents
    /// diagnosed twice at once; print tickets created, duplicates, closed
    /// automatically and the auto-close rate.
    Incidents {
        #[arg(long, default_value_t = 100)]
        count: usize,
        /// Every n-th incident is diagnosed twice at once (0: none).
        #[arg(long, default_value_t = 5)]
        race_every: usize,
        /// How long the ticket system answers 503 in the middle.
        #[arg(long, default_value_t = 5.0)]
        outage_seconds: f64,
        /// How long all the tasks may take to close.
        #[arg(long, default_value_t = 300)]
        deadline_seconds: u64,
    },
    /// Start a host (this binary) with three sources (NDJSON files; a platform export
    /// that answers after `--slow-ms`; one that answers 500) and time diagnoses
    /// through its HTTP API, from the trigger to the report being readable: p50, p99.
    Http {
        #[arg(long, default_value_t = 20)]
        count: usize,
        #[arg(long, default_value_t = 100_000)]
        logs: usize,
        #[arg(long, default_value_t = 5_000)]
        spans: usize,
        #[arg(long, default_value_t = 2_000)]
        slow_ms: u64,
    },
}

#[derive(Subcommand)]
enum FlagCommand {
    /// Every flag and whether it is on.
    List,
    /// Switch a flag: debug-ticket-bridge, debug-observability-v2, debug-regression-auto.
    Set { name: String, state: String },
}

/// A reconcile run for people: one line per repair, then what was left and why.
fn reconcile_lines(v: &Value) -> String {
    let dry = v["dry_run"] == true;
    let repairs = v["repairs"].as_array().cloned().unwrap_or_default();
    let mut out = format!(
        "reconcile{}: {} tasks, {} tickets, {} pending ticket actions checked; ticket states: {}",
        if dry { " (dry run, nothing changed)" } else { "" },
        v["checked"]["tasks"],
        v["checked"]["tickets"],
        v["checked"]["pending_entries"],
        v["ticket_states"].as_str().unwrap_or("")
    );
    if repairs.is_empty() {
        out.push_str("\nnothing to repair");
    }
    for r in &repairs {
        let verb = match (dry, r["applied"] == true) {
            (true, _) => "would",
            (false, true) => "done:",
            (false, false) => "skipped (moved on meanwhile):",
        };
        out.push_str(&format!(
            "\n{} [{}] tenant {} task {}{}: {}; {verb} {}",
            r["kind"].as_str().unwrap_or(""),
            if r["applied"] == true { "repaired" } else if dry { "found" } else { "not repaired" },
            r["tenant"].as_str().unwrap_or(""),
            r["task_id"].as_str().unwrap_or(""),
            r["ticket_id"].as_str().map(|t| format!(" ticket {t}")).unwrap_or_default(),
            r["found"].as_str().unwrap_or(""),
            r["action"].as_str().unwrap_or("")
        ));
    }
    for l in v["left"].as_array().into_iter().flatten() {
        out.push_str(&format!("\nleft as is: tenant {}: {}", l["tenant"].as_str().unwrap_or(""), l["reason"].as_str().unwrap_or("")));
    }
    if v["checked"]["manual_hand_off"].as_i64().unwrap_or(0) > 0 {
        out.push_str(&format!("\n{} task(s) without a ticket stay with manual hand-off (bridge off, or no ticket endpoint or mapper)", v["checked"]["manual_hand_off"]));
    }
    out
}

fn flag_lines(v: &Value) -> String {
    v["flags"]
        .as_object()
        .map(|m| m.iter().map(|(k, b)| format!("{k}: {}", if b == true { "on" } else { "off" })).collect::<Vec<_>>().join("\n"))
        .unwrap_or_default()
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Re-seal every tenant key under a new master key (offline, against the
    /// database). With a master key file, the new key replaces it and the old one is
    /// kept as master.key.old; with CASEFILE_MASTER_KEY, the new key is printed once.
    Rotate {
        #[command(flatten)]
        db: Database,
    },
}

/// Where the offline commands (`migrate`, `keys`, offline `token` and `audit`) find
/// the database: `--database-url`, else the config's `database_url`, else the SQLite
/// file in `--data-dir` (or the config's `data_dir`, or ./data).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Database {
    /// Read data_dir and database_url from this config [default: config/casefile.yaml, when it exists]
    #[arg(long, env = "CASEFILE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The SQLite database in this data dir [default: ./data, or data_dir in the config]
    #[arg(long, env = "CASEFILE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// sqlite://... or postgres://...; wins over --data-dir
    #[arg(long, env = "CASEFILE_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl Database {
    pub fn given(&self) -> bool {
        self.config.is_some() || self.data_dir.is_some() || self.database_url.is_some()
    }

    /// The database URL and the data dir.
    pub fn locate(&self) -> Result<(String, PathBuf)> {
        database_of(self.config.clone(), self.data_dir.clone(), self.database_url.clone())
    }
}

/// `casefile keys rotate`. The new key is written beside the old one before the
/// database changes, so whichever step a crash interrupts, a key that opens the
/// stored keys is on disk.
async fn rotate_master_key(db: &Database, as_json: bool) -> Result<()> {
    use crate::keys::{MasterKey, Origin};
    let (url, data_dir) = db.locate()?;
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    let store = crate::store::Store::open(&url, &data_dir).await?;
    let (old, origin) = MasterKey::load(&data_dir)?;
    let new = MasterKey::generate();
    let staged = data_dir.join("master.key.new");
    let _ = std::fs::remove_file(&staged);
    new.write(&staged)?;
    let count = store.reseal_keys(&old, &new).await?;
    let shown = match origin {
        Origin::Environment => {
            json!({"resealed": count, "new_key": new.to_hex(), "staged": staged.display().to_string(),
                   "next": "set CASEFILE_MASTER_KEY to new_key before the next start"})
        }
        Origin::File(path) | Origin::Generated(path) => {
            let backup = data_dir.join("master.key.old");
            std::fs::rename(&path, &backup).with_context(|| format!("cannot keep the old key as {}", backup.display()))?;
            std::fs::rename(&staged, &path).with_context(|| format!("cannot install {}", path.display()))?;
            json!({"resealed": count, "key_file": path.display().to_string(), "old_key_file": backup.display().to_string()})
        }
    };
    print(as_json, &shown, |v| match v.get("new_key") {
        Some(k) => format!("re-sealed {} tenant keys; set CASEFILE_MASTER_KEY={} before the next start", v["resealed"], k.as_str().unwrap_or("")),
        None => format!("re-sealed {} tenant keys under a new master key in {} (the old one is {})", v["resealed"], v["key_file"].as_str().unwrap_or(""), v["old_key_file"].as_str().unwrap_or("")),
    })
}

/// The database the offline commands (`migrate`, `token`, `audit verify`) work on,
/// and the data dir: `--database-url`, else the config's `database_url`, else the
/// SQLite file in `--data-dir` (or the config's `data_dir`, or ./data).
fn database_of(config_path: Option<PathBuf>, data_dir: Option<PathBuf>, database_url: Option<String>) -> Result<(String, PathBuf)> {
    let default_config = PathBuf::from("config/casefile.yaml");
    let config = match config_path {
        Some(p) => Some(Config::load(&p)?),
        None if default_config.exists() => Some(Config::load(&default_config)?),
        None => None,
    };
    let dir = data_dir
        .or_else(|| config.as_ref().and_then(|c| c.data_dir.clone()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("./data"));
    let url = match database_url.or_else(|| config.as_ref().and_then(|c| c.database_url.clone())).filter(|u| !u.is_empty()) {
        Some(u) => u,
        None => {
            std::fs::create_dir_all(&dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
            crate::store::Store::default_url(&dir)
        }
    };
    Ok((url, dir))
}

struct Client {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl Client {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn unreachable(&self) -> String {
        format!("cannot reach the casefile server at {} (is `casefile serve` running? set --server or CASEFILE_SERVER)", self.base)
    }

    /// The request with the bearer token, when there is one.
    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value> {
        let resp = self.authed(req).send().await.with_context(|| self.unreachable())?;
        if !resp.status().is_success() {
            bail!("{}", error_text(resp).await);
        }
        resp.json().await.context("server answered with something that is not JSON")
    }

    async fn wait_for(&self, id: &str, states: &[&str], secs: u64) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let t = self.send(self.http.get(self.url(&format!("/internal/debug/report/{id}")))).await?;
            if states.contains(&t["state"].as_str().unwrap_or("")) || tokio::time::Instant::now() > deadline {
                return Ok(t);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

async fn error_text(resp: reqwest::Response) -> String {
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    match serde_json::from_str::<Value>(&body) {
        Ok(v) if v["error"]["message"].is_string() => format!("{} ({status}): {}", v["error"]["code"].as_str().unwrap_or("error"), v["error"]["message"].as_str().unwrap_or("")),
        _ => format!("server answered {status}: {}", body.chars().take(300).collect::<String>()),
    }
}

fn print(as_json: bool, v: &Value, human: impl Fn(&Value) -> String) -> Result<()> {
    if as_json {
        println!("{}", serde_json::to_string_pretty(v)?);
    } else {
        println!("{}", human(v));
    }
    Ok(())
}

/// A task for people: its state, the report's headline, sources and ticket. Reads
/// the API's own [`TaskView`]; an answer that is only a task reference (`diagnose`
/// without `--wait`) shows the id and state.
fn summarize(v: &Value) -> String {
    match TaskView::deserialize(v) {
        Ok(t) => summarize_task(&t),
        Err(_) => format!("task {}: {}", v["task_id"].as_str().unwrap_or("?"), v["state"].as_str().unwrap_or("?")),
    }
}

fn summarize_task(t: &TaskView) -> String {
    let mut out = format!("task {}: {}", t.task_id, t.state);
    if let Some(r) = &t.report {
        out.push_str(&format!("\n  {}\n  severity {}, fingerprint {}", r.title, r.severity.as_str(), r.fingerprint));
        if let Some(s) = &r.summary {
            out.push_str(&format!("\n  {} logs ({} errors), {} spans, {} metrics", s.logs, s.errors, s.spans, s.metrics));
        }
        for s in r.sources.iter().flatten() {
            out.push_str(&format!("\n  source {} [{}]: {}", s.name, s.environment, s.status.as_str()));
        }
    }
    if let Some(ticket) = &t.ticket {
        out.push_str(&format!("\n  ticket {} ({})", ticket.id, ticket.state));
        if let Some(d) = &ticket.delivery {
            out.push_str(&format!("\n  {}", d.detail));
        }
    }
    if let Some(e) = &t.error {
        out.push_str(&format!("\n  error: {}", e.message));
    }
    out
}
