//! `casefile component push|list|show|approve|reject|revoke|verify`, `casefile bind`
//! and `casefile rollback`: the registry's lifecycle through the server's API.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::{json, Value};

use super::{error_text, print, Client};
use crate::store::sha256_hex;

#[derive(Subcommand)]
pub enum ComponentCommand {
    /// Upload a component (platform); it waits for a security review.
    Push {
        file: PathBuf,
        /// masker, connector or ticket-mapper
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        version: Option<String>,
        /// A file holding the publisher's ed25519 signature over the SHA-256 (hex,
        /// base64, or the 64 raw bytes).
        #[arg(long)]
        signature: Option<PathBuf>,
    },
    /// Every component: hash, kind, status, where it is bound.
    List,
    /// One component: world, imports, grants, uploader, signature, review, bindings.
    Show { sha256: String },
    /// Approve a pending component (security).
    Approve {
        sha256: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject a pending component (security).
    Reject {
        sha256: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Revoke a component and unbind it everywhere (security).
    Revoke {
        sha256: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Print a file's SHA-256 and what the registry knows of it: status, who
    /// approved it, where it is bound. Rebuild from source and compare.
    Verify { file: PathBuf },
}

/// A signature file: text (hex or base64) as it is, or 64 raw bytes as hex.
fn signature_text(path: &PathBuf) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read signature file {}", path.display()))?;
    if bytes.len() == 64 && std::str::from_utf8(&bytes).map_or(true, |t| !t.trim().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')) {
        return Ok(hex::encode(bytes));
    }
    Ok(String::from_utf8(bytes).context("the signature file is neither text nor 64 raw bytes")?.trim().to_string())
}

fn one_line(v: &Value) -> String {
    let bound: Vec<String> = v["bound"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| format!("{}/{}{}", b["tenant"].as_str().unwrap_or("?"), b["slot"].as_str().unwrap_or("?"), if b["mode"] == "shadow" { " (shadow)" } else { "" }))
        .collect();
    format!(
        "{} {} {}{} [{}]{}",
        v["sha256"].as_str().unwrap_or("?"),
        v["kind"].as_str().unwrap_or("?"),
        v["name"].as_str().unwrap_or("?"),
        v["version"].as_str().map(|x| format!(" {x}")).unwrap_or_default(),
        v["status"].as_str().unwrap_or("?"),
        if bound.is_empty() { String::new() } else { format!(" bound: {}", bound.join(", ")) }
    )
}

fn details(v: &Value) -> String {
    let mut out = one_line(v);
    let who = |a: &Value| a["name"].as_str().map(str::to_string).unwrap_or_else(|| a.as_str().unwrap_or("?").to_string());
    out.push_str(&format!("\n  world: {}\n  uploaded by: {}\n  signature: {}", v["world"].as_str().unwrap_or("?"), who(&v["uploader"]), v["signature"].as_str().unwrap_or("?")));
    if !v["reviewer"].is_null() {
        out.push_str(&format!("\n  reviewed by: {}{}", who(&v["reviewer"]), v["reason"].as_str().map(|r| format!(" ({r})")).unwrap_or_default()));
    }
    for i in v["imports"].as_array().into_iter().flatten() {
        out.push_str(&format!("\n  imports {}", i.as_str().unwrap_or("?")));
    }
    for g in v["grants"].as_array().into_iter().flatten() {
        out.push_str(&format!("\n  may be granted: {}", g.as_str().unwrap_or("?")));
    }
    out
}

pub async fn component(client: &Client, command: ComponentCommand, as_json: bool) -> Result<()> {
    match command {
        ComponentCommand::Push { file, kind, name, version, signature } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let mut query = vec![("kind", kind)];
            query.extend(name.map(|n| ("name", n)));
            query.extend(version.map(|v| ("version", v)));
            let mut req = client.http.post(client.url("/internal/components")).query(&query).body(bytes);
            if let Some(sig) = signature {
                req = req.header(crate::api::registry::SIGNATURE_HEADER, signature_text(&sig)?);
            }
            let r = client.send(req).await?;
            print(as_json, &r, |v| format!("{} (review it with `casefile component approve {}`)", one_line(v), v["sha256"].as_str().unwrap_or("")))
        }
        ComponentCommand::List => {
            let r = client.send(client.http.get(client.url("/internal/components"))).await?;
            print(as_json, &r, |v| v["components"].as_array().into_iter().flatten().map(one_line).collect::<Vec<_>>().join("\n"))
        }
        ComponentCommand::Show { sha256 } => {
            let r = client.send(client.http.get(client.url(&format!("/internal/components/{sha256}")))).await?;
            print(as_json, &r, details)
        }
        ComponentCommand::Approve { sha256, reason } => decide(client, &sha256, "approve", reason, as_json).await,
        ComponentCommand::Reject { sha256, reason } => decide(client, &sha256, "reject", reason, as_json).await,
        ComponentCommand::Revoke { sha256, reason } => decide(client, &sha256, "revoke", reason, as_json).await,
        ComponentCommand::Verify { file } => {
            let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let sha = sha256_hex(&bytes);
            let resp = client.authed(client.http.get(client.url(&format!("/internal/components/{sha}")))).send().await.with_context(|| client.unreachable())?;
            let shown = match resp.status().as_u16() {
                200 => json!({"sha256": sha, "file": file, "known": true, "component": resp.json::<Value>().await?}),
                404 => json!({"sha256": sha, "file": file, "known": false}),
                _ => bail!("{}", error_text(resp).await),
            };
            print(as_json, &shown, |v| match v["known"].as_bool() {
                Some(true) => format!("{}  {}\n{}", v["sha256"].as_str().unwrap_or(""), v["file"].as_str().unwrap_or(""), details(&v["component"])),
                _ => format!("{}  {}\nunknown to the registry: these bytes were never uploaded or declared", v["sha256"].as_str().unwrap_or(""), v["file"].as_str().unwrap_or("")),
            })
        }
    }
}

async fn decide(client: &Client, sha: &str, verb: &str, reason: Option<String>, as_json: bool) -> Result<()> {
    let r = client.send(client.http.post(client.url(&format!("/internal/components/{sha}/{verb}"))).json(&json!({"reason": reason}))).await?;
    print(as_json, &r, one_line)
}

fn binding_line(v: &Value) -> String {
    let comps: Vec<&str> = v["components"].as_array().into_iter().flatten().filter_map(|c| c.as_str()).collect();
    format!(
        "{}/{} ({}) is at version {}: {}",
        v["tenant"].as_str().unwrap_or("?"),
        v["slot"].as_str().unwrap_or("?"),
        v["mode"].as_str().unwrap_or("?"),
        v["version"],
        if comps.is_empty() { "inherits".to_string() } else { comps.join(" → ") }
    )
}

fn mode(shadow: bool) -> &'static str {
    if shadow { "shadow" } else { "active" }
}

/// `casefile bind`: components to a tenant's slot.
pub async fn bind(client: &Client, tenant: &str, slot: &str, components: Vec<String>, shadow: bool, as_json: bool) -> Result<()> {
    let url = client.url(&format!("/internal/tenants/{tenant}/bindings/{slot}"));
    let r = client.send(client.http.put(url).json(&json!({"components": components, "mode": mode(shadow)}))).await?;
    print(as_json, &r, binding_line)
}

/// `casefile rollback`: the slot's previous binding.
pub async fn rollback(client: &Client, tenant: &str, slot: &str, shadow: bool, as_json: bool) -> Result<()> {
    let url = client.url(&format!("/internal/tenants/{tenant}/bindings/{slot}/rollback"));
    let r = client.send(client.http.post(url).json(&json!({"mode": mode(shadow)}))).await?;
    print(as_json, &r, binding_line)
}
