//! Who may call the API: roles, tenant scopes and tokens.
//!
//! A token is 256 random bits, shown once when it is made and stored only as its
//! SHA-256, with a name, a role, the tenants it may see (a list, or all) and an
//! optional expiry. A request's bearer token is looked up by its hash, so no
//! comparison of secrets happens here. What each role may do per route is the one
//! table in `api::access`; this module knows nothing of routes.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::Row;
use utoipa::ToSchema;

use crate::audit::Audit;
use crate::store::{now_ms, sha256_hex, Store};

/// What a token may do; each route names the roles it admits (`admin` is admitted everywhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Opens diagnoses, sends events and Alertmanager webhooks for its tenants.
    Service,
    /// Reads reports, Markdown and bundles of its tenants, starts regression.
    Developer,
    /// Uploads and binds components, changes masking policy and flags.
    Platform,
    /// Reviews components and masked samples, reads and verifies the audit log.
    Security,
    /// Everything, including tokens.
    Admin,
}

impl Role {
    pub const ALL: [Role; 5] = [Role::Service, Role::Developer, Role::Platform, Role::Security, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Service => "service",
            Role::Developer => "developer",
            Role::Platform => "platform",
            Role::Security => "security",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tenants a token may see: `["*"]` on the wire means all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Tenants(Vec<String>),
}

impl Scope {
    /// From the wire form; an empty list is refused (a token that sees nothing is a mistake).
    pub fn from_list(list: &[String]) -> Result<Scope> {
        if list.is_empty() {
            bail!("name the tenants the token may see (or \"*\" for all)");
        }
        if list.iter().any(|t| t == "*") {
            if list.len() > 1 {
                bail!("\"*\" (all tenants) cannot be combined with named tenants");
            }
            return Ok(Scope::All);
        }
        for t in list {
            if t.trim().is_empty() || t.len() > 256 || t.chars().any(char::is_control) {
                bail!("tenant names are 1 to 256 printable characters");
            }
        }
        let mut v = list.to_vec();
        v.sort();
        v.dedup();
        Ok(Scope::Tenants(v))
    }

    pub fn to_list(&self) -> Vec<String> {
        match self {
            Scope::All => vec!["*".to_string()],
            Scope::Tenants(t) => t.clone(),
        }
    }

    pub fn allows(&self, tenant: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Tenants(t) => t.iter().any(|x| x == tenant),
        }
    }

    /// Whether every tenant `other` may see, this scope may see too.
    pub fn covers(&self, other: &Scope) -> bool {
        match (self, other) {
            (Scope::All, _) => true,
            (Scope::Tenants(_), Scope::All) => false,
            (Scope::Tenants(_), Scope::Tenants(o)) => o.iter().all(|t| self.allows(t)),
        }
    }
}

/// The caller of a request, as its token says.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub token_id: String,
    pub name: String,
    pub role: Role,
    pub scope: Scope,
}

impl Principal {
    /// The configured review token (`auth.security_token`): the security role over all tenants.
    pub fn config_security() -> Principal {
        Principal { token_id: "config:auth.security_token".into(), name: "auth.security_token".into(), role: Role::Security, scope: Scope::All }
    }

    /// How the audit log names this caller: its token's id, name and role, never the token.
    pub fn audit_actor(&self) -> String {
        json!({"token_id": self.token_id, "name": self.name, "role": self.role}).to_string()
    }
}

/// A token as listed: everything but the secret (which is not stored) and its hash.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    /// The tenants it may see; `["*"]` for all.
    pub tenants: Vec<String>,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// Milliseconds since the Unix epoch; null when it does not expire.
    pub expires_at: Option<i64>,
    /// Milliseconds since the Unix epoch; null while it is valid.
    pub revoked_at: Option<i64>,
}

/// A token's secret: `cf_` and 64 hex digits (256 random bits).
pub fn generate_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("cf_{}", hex::encode(bytes))
}

/// `30d` or a plain number of days.
pub fn parse_expiry(s: &str) -> Result<i64> {
    let s = s.trim();
    let num = s.strip_suffix('d').unwrap_or(s);
    let n: i64 = num.parse().with_context(|| format!("expiry `{s}` is not a number of days like 30d"))?;
    if n <= 0 || n > 3650 {
        bail!("expiry `{s}` must be between 1 and 3650 days");
    }
    Ok(n)
}

/// What a new token is.
pub struct NewToken<'a> {
    pub name: &'a str,
    pub role: Role,
    pub scope: Scope,
    pub expires_in: Option<chrono::Duration>,
}

/// Makes a token and audits it (without the secret); returns it with its secret,
/// which is not stored anywhere.
pub async fn create_token(store: &Store, audit: &Audit, actor: &str, new: NewToken<'_>) -> Result<(TokenInfo, String)> {
    let name = new.name.trim();
    if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
        bail!("a token's name is 1 to 128 printable characters");
    }
    let secret = generate_secret();
    let now = now_ms();
    let info = TokenInfo {
        id: format!("tok_{}", uuid::Uuid::new_v4().simple()),
        name: name.to_string(),
        role: new.role,
        tenants: new.scope.to_list(),
        created_at: now,
        expires_at: new.expires_in.map(|d| now + d.num_milliseconds()),
        revoked_at: None,
    };
    insert(store, &info, &sha256_hex(secret.as_bytes())).await?;
    audit
        .append(store, actor, "token.created", &info.id, json!({"name": info.name, "role": info.role, "tenants": info.tenants, "expires_at": info.expires_at}))
        .await?;
    Ok((info, secret))
}

async fn insert(store: &Store, t: &TokenInfo, hash: &str) -> Result<()> {
    sqlx::query("INSERT INTO tokens (id, name, role, tenants, hash, created_at, expires_at, revoked_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)")
        .bind(&t.id)
        .bind(&t.name)
        .bind(t.role.as_str())
        .bind(serde_json::to_string(&t.tenants)?)
        .bind(hash)
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.revoked_at)
        .execute(&store.pool)
        .await
        .context("cannot store the token")?;
    Ok(())
}

/// The token id under which `CASEFILE_ADMIN_TOKEN` is kept: one row, replaced when
/// the variable changes, so an old value stops working.
pub const ENV_ADMIN_TOKEN_ID: &str = "tok_env_admin";

/// Accepts `secret` (from `CASEFILE_ADMIN_TOKEN`) as an admin token over all tenants,
/// stored as a hash like any other.
pub async fn install_env_admin(store: &Store, audit: &Audit, secret: &str) -> Result<()> {
    if secret.len() < 32 || secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("CASEFILE_ADMIN_TOKEN must be at least 32 characters without spaces (make one with `openssl rand -hex 32`)");
    }
    let hash = sha256_hex(secret.as_bytes());
    let current: Option<String> = sqlx::query("SELECT hash FROM tokens WHERE id = $1 AND revoked_at IS NULL")
        .bind(ENV_ADMIN_TOKEN_ID)
        .fetch_optional(&store.pool)
        .await?
        .map(|r| r.try_get("hash"))
        .transpose()?;
    if current.as_deref() == Some(hash.as_str()) {
        return Ok(());
    }
    sqlx::query("DELETE FROM tokens WHERE id = $1").bind(ENV_ADMIN_TOKEN_ID).execute(&store.pool).await?;
    let info = TokenInfo {
        id: ENV_ADMIN_TOKEN_ID.into(),
        name: "CASEFILE_ADMIN_TOKEN".into(),
        role: Role::Admin,
        tenants: Scope::All.to_list(),
        created_at: now_ms(),
        expires_at: None,
        revoked_at: None,
    };
    insert(store, &info, &hash).await?;
    audit.append(store, "startup", "token.installed", ENV_ADMIN_TOKEN_ID, json!({"name": info.name, "role": info.role, "tenants": info.tenants})).await
}

/// The principal of a valid (known, not revoked, not expired) token.
pub async fn authenticate(store: &Store, secret: &str) -> Result<Option<Principal>> {
    let row = sqlx::query("SELECT * FROM tokens WHERE hash = $1").bind(sha256_hex(secret.as_bytes())).fetch_optional(&store.pool).await?;
    let Some(row) = row else { return Ok(None) };
    let t = token_from_row(&row)?;
    let now = now_ms();
    if t.revoked_at.is_some() || t.expires_at.is_some_and(|e| e <= now) {
        return Ok(None);
    }
    let scope = Scope::from_list(&t.tenants).context("a stored token has no tenants")?;
    Ok(Some(Principal { token_id: t.id, name: t.name, role: t.role, scope }))
}

pub async fn list_tokens(store: &Store) -> Result<Vec<TokenInfo>> {
    let rows = sqlx::query("SELECT * FROM tokens ORDER BY created_at, id").fetch_all(&store.pool).await?;
    rows.iter().map(token_from_row).collect()
}

/// Revokes a token; None when there is no such token, the token when it is (or already was) revoked.
pub async fn revoke_token(store: &Store, audit: &Audit, actor: &str, id: &str) -> Result<Option<TokenInfo>> {
    let n = sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(id)
        .execute(&store.pool)
        .await?
        .rows_affected();
    let row = sqlx::query("SELECT * FROM tokens WHERE id = $1").bind(id).fetch_optional(&store.pool).await?;
    let Some(row) = row else { return Ok(None) };
    let info = token_from_row(&row)?;
    if n == 1 {
        audit.append(store, actor, "token.revoked", id, json!({"name": info.name, "role": info.role})).await?;
    }
    Ok(Some(info))
}

fn token_from_row(r: &sqlx::any::AnyRow) -> Result<TokenInfo> {
    let role: String = r.try_get("role")?;
    let tenants: String = r.try_get("tenants")?;
    Ok(TokenInfo {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: Role::parse(&role).with_context(|| format!("stored token has unknown role `{role}`"))?,
        tenants: serde_json::from_str(&tenants).context("stored token tenants are not a JSON list")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Store::default_url(dir.path()), dir.path()).await.unwrap();
        (dir, store)
    }

    #[test]
    fn scopes_and_expiries_parse_strictly() {
        assert_eq!(Scope::from_list(&["*".into()]).unwrap(), Scope::All);
        assert_eq!(Scope::from_list(&["b".into(), "a".into(), "a".into()]).unwrap(), Scope::Tenants(vec!["a".into(), "b".into()]));
        assert!(Scope::from_list(&[]).is_err());
        assert!(Scope::from_list(&["*".into(), "a".into()]).is_err());
        let a = Scope::Tenants(vec!["a".into()]);
        assert!(a.allows("a") && !a.allows("b"));
        assert!(Scope::All.covers(&a) && !a.covers(&Scope::All) && a.covers(&a));
        assert_eq!(parse_expiry("30d").unwrap(), 30);
        assert_eq!(parse_expiry("7").unwrap(), 7);
        for bad in ["", "0d", "-1d", "30w", "12h", "d", "99999d"] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn tokens_are_stored_as_hashes_and_stop_working_when_revoked_or_expired() {
        let (_dir, store) = store().await;
        let audit = Audit::default();
        let new = NewToken { name: "ci", role: Role::Developer, scope: Scope::Tenants(vec!["a".into()]), expires_in: None };
        let (info, secret) = create_token(&store, &audit, "test", new).await.unwrap();
        assert!(secret.starts_with("cf_") && secret.len() == 67, "{secret}");
        let p = authenticate(&store, &secret).await.unwrap().expect("valid");
        assert_eq!((p.role, p.scope.clone(), p.token_id.clone()), (Role::Developer, Scope::Tenants(vec!["a".into()]), info.id.clone()));
        assert!(authenticate(&store, "cf_nope").await.unwrap().is_none());
        // Neither the secret nor its hash is anywhere but the hash column.
        let dump: Vec<String> = sqlx::query("SELECT detail FROM audit").fetch_all(&store.pool).await.unwrap().iter().map(|r| r.get("detail")).collect();
        assert!(dump.iter().all(|d| !d.contains(&secret) && !d.contains(&sha256_hex(secret.as_bytes()))), "{dump:?}");
        assert!(list_tokens(&store).await.unwrap().iter().all(|t| serde_json::to_string(t).unwrap().find(&secret[3..]).is_none()));

        assert!(revoke_token(&store, &audit, "test", &info.id).await.unwrap().unwrap().revoked_at.is_some());
        assert!(authenticate(&store, &secret).await.unwrap().is_none(), "revoked");
        assert!(revoke_token(&store, &audit, "test", "tok_nope").await.unwrap().is_none());

        let (_, expired) = create_token(&store, &audit, "test", NewToken { name: "old", role: Role::Admin, scope: Scope::All, expires_in: Some(chrono::Duration::milliseconds(-1)) }).await.unwrap();
        assert!(authenticate(&store, &expired).await.unwrap().is_none(), "expired");
    }

    #[tokio::test]
    async fn the_env_admin_token_is_replaced_when_it_changes() {
        let (_dir, store) = store().await;
        let audit = Audit::default();
        let (a, b) = ("a".repeat(40), "b".repeat(40));
        assert!(install_env_admin(&store, &audit, "short").await.is_err());
        install_env_admin(&store, &audit, &a).await.unwrap();
        install_env_admin(&store, &audit, &a).await.unwrap();
        assert_eq!(authenticate(&store, &a).await.unwrap().unwrap().role, Role::Admin);
        install_env_admin(&store, &audit, &b).await.unwrap();
        assert!(authenticate(&store, &a).await.unwrap().is_none(), "the old value stops working");
        assert!(authenticate(&store, &b).await.unwrap().is_some());
        assert_eq!(list_tokens(&store).await.unwrap().len(), 1);
    }
}
