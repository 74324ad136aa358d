//! `casefile token create|list|revoke` and `casefile audit verify`: through the
//! server's API with an admin (or security) `--token`, or offline against the
//! database when `--config`, `--data-dir` or `--database-url` is given, so the
//! first admin token can be made before the server runs.


use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::{print, Client, Database};
use crate::access::{NewToken, Role, Scope};
use crate::audit::Audit;
use crate::store::Store;

/// Where the database is, for the offline mode; none of it given means "through the server".
#[derive(Args, Debug, Clone)]
pub struct Offline {
    #[command(flatten)]
    db: Database,
}

impl Offline {
    async fn store(&self) -> Result<Option<Store>> {
        if !self.db.given() {
            return Ok(None);
        }
        let (url, dir) = self.db.locate()?;
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
        Ok(Some(Store::open(&url, &dir).await?))
    }
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a token; it is printed once and stored only as its hash.
    Create {
        /// service, developer, platform, security or admin
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
        /// A tenant the token may see (repeat for more); all tenants when absent
        #[arg(long = "tenant")]
        tenants: Vec<String>,
        /// Expire after this many days, e.g. 30d [default: never]
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        offline: Offline,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        offline: Offline,
    },
    /// Revoke a token by id; it stops working at once.
    Revoke {
        id: String,
        #[command(flatten)]
        offline: Offline,
    },
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain; fails naming the first broken entry.
    Verify {
        #[command(flatten)]
        offline: Offline,
    },
    /// Show a closed task's archived audit trail (kept when its regression passed);
    /// fails when the archive no longer matches its hash.
    Archive {
        /// The task id
        task: String,
    },
}

/// Who an offline command acts as, in the audit log.
fn offline_actor() -> String {
    format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()))
}

pub async fn token(client: &Client, command: TokenCommand, as_json: bool) -> Result<()> {
    match command {
        TokenCommand::Create { role, name, tenants, expires, offline } => {
            let role = Role::parse(&role).with_context(|| format!("unknown role `{role}`; use service, developer, platform, security or admin"))?;
            let tenants = if tenants.is_empty() { vec!["*".to_string()] } else { tenants };
            let scope = Scope::from_list(&tenants)?;
            let days = expires.as_deref().map(crate::access::parse_expiry).transpose()?;
            let created = match offline.store().await? {
                Some(store) => {
                    let new = NewToken { name: &name, role, scope, expires_in: days.map(chrono::Duration::days) };
                    let (info, secret) = crate::access::create_token(&store, &Audit::default(), &offline_actor(), new).await?;
                    json!({"id": info.id, "token": secret, "name": info.name, "role": info.role, "tenants": info.tenants, "expires_at": info.expires_at})
                }
                None => {
                    let body = json!({"name": name, "role": role, "tenants": tenants, "expires_in_days": days});
                    client.send(client.http.post(client.url("/internal/tokens")).json(&body)).await?
                }
            };
            print(as_json, &created, |v| {
                format!(
                    "token {} ({}, role {}, tenants {}{})\n{}\nThis is the only time it is shown; send it as `Authorization: Bearer <token>` or set CASEFILE_TOKEN.",
                    v["id"].as_str().unwrap_or(""),
                    v["name"].as_str().unwrap_or(""),
                    v["role"].as_str().unwrap_or(""),
                    tenants_text(&v["tenants"]),
                    match v["expires_at"].as_i64().and_then(chrono::DateTime::from_timestamp_millis) {
                        Some(t) => format!(", expires {}", t.to_rfc3339()),
                        None => String::new(),
                    },
                    v["token"].as_str().unwrap_or(""),
                )
            })
        }
        TokenCommand::List { offline } => {
            let list = match offline.store().await? {
                Some(store) => json!({"tokens": crate::access::list_tokens(&store).await?}),
                None => client.send(client.http.get(client.url("/internal/tokens"))).await?,
            };
            print(as_json, &list, |v| {
                let rows: Vec<String> = v["tokens"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        format!(
                            "{}  {:<10} {:<24} tenants {}{}",
                            t["id"].as_str().unwrap_or(""),
                            t["role"].as_str().unwrap_or(""),
                            t["name"].as_str().unwrap_or(""),
                            tenants_text(&t["tenants"]),
                            if t["revoked_at"].is_null() { "" } else { "  (revoked)" }
                        )
                    })
                    .collect();
                if rows.is_empty() { "no tokens".into() } else { rows.join("\n") }
            })
        }
        TokenCommand::Revoke { id, offline } => {
            let revoked = match offline.store().await? {
                Some(store) => {
                    let info = crate::access::revoke_token(&store, &Audit::default(), &offline_actor(), &id).await?;
                    serde_json::to_value(info.with_context(|| format!("no token `{id}`"))?)?
                }
                None => client.send(client.http.delete(client.url(&format!("/internal/tokens/{id}")))).await?,
            };
            print(as_json, &revoked, |v| format!("token {} ({}) is revoked", v["id"].as_str().unwrap_or(""), v["name"].as_str().unwrap_or("")))
        }
    }
}

fn tenants_text(v: &Value) -> String {
    let list: Vec<&str> = v.as_array().into_iter().flatten().filter_map(|t| t.as_str()).collect();
    if list == ["*"] { "all".into() } else { list.join(",") }
}

pub async fn audit(client: &Client, command: AuditCommand, as_json: bool) -> Result<()> {
    let offline = match command {
        AuditCommand::Verify { offline } => offline,
        AuditCommand::Archive { task } => return archive(client, &task, as_json).await,
    };
    let outcome = match offline.store().await? {
        Some(store) => serde_json::to_value(Audit::verify(&store).await?)?,
        None => client.send(client.http.get(client.url("/internal/audit/verify"))).await?,
    };
    print(as_json, &outcome, |v| match v["first_broken"].as_object() {
        None => format!("audit chain intact: {} entries", v["entries"]),
        Some(b) => format!(
            "audit chain BROKEN at entry {} ({}): {}",
            b.get("seq").cloned().unwrap_or_default(),
            b.get("action").and_then(|a| a.as_str()).unwrap_or(""),
            b.get("reason").and_then(|a| a.as_str()).unwrap_or("")
        ),
    })?;
    if outcome["intact"] == false {
        anyhow::bail!("the audit chain is broken");
    }
    Ok(())
}

async fn archive(client: &Client, task: &str, as_json: bool) -> Result<()> {
    let v = client.send(client.http.get(client.url(&format!("/internal/audit/archives/{task}")))).await?;
    print(as_json, &v, |v| {
        let mut out = format!(
            "audit archive of {} (tenant {}): {} entries, sha256 {}, {}",
            v["task_id"].as_str().unwrap_or(""),
            v["tenant"].as_str().unwrap_or(""),
            v["entries"].as_array().map_or(0, Vec::len),
            v["sha256"].as_str().unwrap_or(""),
            if v["intact"] == true { "intact" } else { "BROKEN" }
        );
        for e in v["entries"].as_array().into_iter().flatten() {
            out.push_str(&format!("\n  #{} {} {}", e["seq"], e["action"].as_str().unwrap_or(""), e["subject"].as_str().unwrap_or("")));
        }
        out
    })?;
    if v["intact"] != true {
        anyhow::bail!("the archive of {task} no longer matches its hash");
    }
    Ok(())
}
