//! An append-only, hash-chained audit log: each entry's hash covers the previous
//! entry's hash, so editing or dropping an entry breaks the chain from there on.

use anyhow::Result;
use sqlx::Row;
use tokio::sync::Mutex;

use crate::store::{now_ms, sha256_hex, Store};

#[derive(Default)]
pub struct Audit {
    // Appends are serialised in this process; the primary key on `seq` refuses a
    // second writer's duplicate, which then retries.
    lock: Mutex<()>,
}

fn entry_hash(prev: &str, seq: i64, at: i64, actor: &str, action: &str, subject: &str, detail: &str) -> String {
    sha256_hex(format!("{prev}\n{seq}\n{at}\n{actor}\n{action}\n{subject}\n{detail}").as_bytes())
}

impl Audit {
    pub async fn append(&self, store: &Store, actor: &str, action: &str, subject: &str, detail: serde_json::Value) -> Result<()> {
        let _g = self.lock.lock().await;
        let detail = detail.to_string();
        for _ in 0..5 {
            let last = sqlx::query("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetch_optional(&store.pool).await?;
            let (seq, prev) = match last {
                Some(r) => (r.try_get::<i64, _>("seq")? + 1, r.try_get::<String, _>("hash")?),
                None => (1, "0".repeat(64)),
            };
            let at = now_ms();
            let hash = entry_hash(&prev, seq, at, actor, action, subject, &detail);
            let res = sqlx::query(
                "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
            )
            .bind(seq)
            .bind(at)
            .bind(actor)
            .bind(action)
            .bind(subject)
            .bind(&detail)
            .bind(&prev)
            .bind(&hash)
            .execute(&store.pool)
            .await;
            if res.is_ok() {
                return Ok(());
            }
        }
        anyhow::bail!("could not append to the audit log after 5 tries")
    }

    /// Entries in order, with a flag saying whether the chain holds up to each.
    pub async fn entries(store: &Store, limit: i64) -> Result<Vec<serde_json::Value>> {
        let rows = sqlx::query("SELECT * FROM audit ORDER BY seq LIMIT $1").bind(limit).fetch_all(&store.pool).await?;
        let mut prev = "0".repeat(64);
        let mut out = Vec::new();
        for r in rows {
            let (seq, at): (i64, i64) = (r.try_get("seq")?, r.try_get("at")?);
            let (actor, action, subject, detail, prev_hash, hash): (String, String, String, String, String, String) = (
                r.try_get("actor")?,
                r.try_get("action")?,
                r.try_get("subject")?,
                r.try_get("detail")?,
                r.try_get("prev_hash")?,
                r.try_get("hash")?,
            );
            let intact = prev_hash == prev && entry_hash(&prev, seq, at, &actor, &action, &subject, &detail) == hash;
            prev = hash.clone();
            out.push(serde_json::json!({
                "seq": seq, "at": at, "actor": actor, "action": action, "subject": subject,
                "detail": serde_json::from_str::<serde_json::Value>(&detail).unwrap_or(serde_json::Value::Null),
                "hash": hash, "chain_intact": intact,
            }));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn chain_detects_an_edited_entry() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&Store::default_url(dir.path()), dir.path()).await.unwrap();
        let audit = Audit::default();
        for i in 0..3 {
            audit.append(&store, "test", "thing.done", &format!("s{i}"), serde_json::json!({"i": i})).await.unwrap();
        }
        let e = Audit::entries(&store, 10).await.unwrap();
        assert!(e.iter().all(|x| x["chain_intact"] == true));
        sqlx::query("UPDATE audit SET subject = 'forged' WHERE seq = 2").execute(&store.pool).await.unwrap();
        let e = Audit::entries(&store, 10).await.unwrap();
        assert_eq!(e.iter().map(|x| x["chain_intact"].as_bool().unwrap()).collect::<Vec<_>>(), vec![true, false, true]);
    }
}
