//! `casefile policy get|set|versions|diff|rollback` and the same for `casefile
//! template`: a tenant's masking policy and report layout as versioned data, through
//! the server's API.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::Value;

use super::{print, Client};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// The version in force.
    Get {
        #[arg(long)]
        tenant: String,
    },
    /// Replace it with FILE (JSON or YAML; a policy is `{policy, fail_closed,
    /// review_sample_rate}`, a report layout `{sections, limits}`); checked before it
    /// is stored.
    Set {
        #[arg(long)]
        tenant: String,
        file: PathBuf,
    },
    /// Every stored version, newest first.
    Versions {
        #[arg(long)]
        tenant: String,
    },
    /// What changed between two versions, field by field.
    Diff {
        #[arg(long)]
        tenant: String,
        from: i64,
        to: i64,
    },
    /// Store the version before the current one again.
    Rollback {
        #[arg(long)]
        tenant: String,
    },
}

/// What is versioned: where the API keeps it and which fields are its content.
#[derive(Clone, Copy)]
pub enum Doc {
    MaskingPolicy,
    ReportLayout,
}

impl Doc {
    fn route(self) -> &'static str {
        match self {
            Doc::MaskingPolicy => "masking-policy",
            Doc::ReportLayout => "report-template",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Doc::MaskingPolicy => "masking policy",
            Doc::ReportLayout => "report layout",
        }
    }

    fn fields(self) -> &'static [&'static str] {
        match self {
            Doc::MaskingPolicy => &["policy", "fail_closed", "review_sample_rate"],
            Doc::ReportLayout => &["sections", "limits"],
        }
    }

    fn path(self, tenant: &str) -> String {
        format!("/internal/tenants/{tenant}/{}", self.route())
    }

    /// The version's content without its bookkeeping.
    fn content(self, v: &Value) -> Value {
        Value::Object(self.fields().iter().map(|f| (f.to_string(), v[*f].clone())).collect())
    }

    fn shown(self, v: &Value) -> String {
        format!(
            "{} {} version {} (by {}):\n{}",
            v["tenant"].as_str().unwrap_or("?"),
            self.noun(),
            v["version"],
            v["actor"]["name"].as_str().or(v["actor"].as_str()).unwrap_or("?"),
            serde_json::to_string_pretty(&self.content(v)).unwrap_or_default()
        )
    }
}

pub async fn run(client: &Client, doc: Doc, command: PolicyCommand, as_json: bool) -> Result<()> {
    let path = |tenant: &str| doc.path(tenant);
    let shown = |v: &Value| doc.shown(v);
    match command {
        PolicyCommand::Get { tenant } => {
            let r = client.send(client.http.get(client.url(&path(&tenant)))).await?;
            print(as_json, &r, shown)
        }
        PolicyCommand::Set { tenant, file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let body: Value = match serde_json::from_str(&text) {
                Ok(v) => v,
                Err(_) => serde_yaml::from_str(&text).with_context(|| format!("{} is neither JSON nor YAML", file.display()))?,
            };
            let r = client.send(client.http.put(client.url(&path(&tenant))).json(&body)).await?;
            print(as_json, &r, shown)
        }
        PolicyCommand::Versions { tenant } => {
            let r = client.send(client.http.get(client.url(&format!("{}/versions", path(&tenant))))).await?;
            print(as_json, &r, |v| {
                v["versions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|x| format!("v{} by {} at {}", x["version"], x["actor"]["name"].as_str().or(x["actor"].as_str()).unwrap_or("?"), x["created_at"]))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        PolicyCommand::Diff { tenant, from, to } => {
            let r = client.send(client.http.get(client.url(&format!("{}/versions", path(&tenant))))).await?;
            let find = |n: i64| -> Result<Value> {
                match r["versions"].as_array().into_iter().flatten().find(|x| x["version"] == n) {
                    Some(v) => Ok(v.clone()),
                    None => bail!("tenant `{tenant}` has no stored {} version {n} (see the `versions` command)", doc.noun()),
                }
            };
            let (a, b) = (find(from)?, find(to)?);
            let lines = diff(&doc.content(&a), &doc.content(&b));
            print(as_json, &serde_json::json!({"from": from, "to": to, "changes": lines}), |v| {
                let changes: Vec<&str> = v["changes"].as_array().into_iter().flatten().filter_map(|l| l.as_str()).collect();
                if changes.is_empty() { "no difference".into() } else { changes.join("\n") }
            })
        }
        PolicyCommand::Rollback { tenant } => {
            let r = client.send(client.http.post(client.url(&format!("{}/rollback", path(&tenant))))).await?;
            print(as_json, &r, shown)
        }
    }
}

/// Every leaf as `path = value`, so two versions compare line by line.
fn flatten(v: &Value, at: String, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) if !m.is_empty() => m.iter().for_each(|(k, x)| flatten(x, format!("{at}.{k}"), out)),
        Value::Array(a) if !a.is_empty() => a.iter().enumerate().for_each(|(i, x)| flatten(x, format!("{at}[{i}]"), out)),
        _ => {
            out.insert(at.trim_start_matches('.').to_string(), v.to_string());
        }
    }
}

/// `- path = old` and `+ path = new` for what differs.
pub fn diff(a: &Value, b: &Value) -> Vec<String> {
    let (mut fa, mut fb) = (BTreeMap::new(), BTreeMap::new());
    flatten(a, String::new(), &mut fa);
    flatten(b, String::new(), &mut fb);
    let keys: std::collections::BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    let mut out = Vec::new();
    for k in keys {
        match (fa.get(k), fb.get(k)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => {
                if let Some(x) = x {
                    out.push(format!("- {k} = {x}"));
                }
                if let Some(y) = y {
                    out.push(format!("+ {k} = {y}"));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_each_changed_leaf() {
        let a = serde_json::json!({"policy": {"fields": ["a"]}, "fail_closed": false});
        let b = serde_json::json!({"policy": {"fields": ["a", "b"]}, "fail_closed": true});
        assert_eq!(diff(&a, &b), vec!["- fail_closed = false", "+ fail_closed = true", "+ policy.fields[1] = \"b\""]);
        assert!(diff(&a, &a).is_empty());
    }
}
