//! Keys at rest: each tenant's pseudonym key is stored sealed with a key-encryption
//! key (the master key), ChaCha20-Poly1305 with the tenant's name as associated data,
//! so a database dump alone reverses no pseudonym and a sealed key cannot be moved to
//! another tenant's row.
//!
//! The master key comes from `CASEFILE_MASTER_KEY` (64 hex characters) or, without
//! it, from `master.key` in the data dir, generated on first start with owner-only
//! permissions. `casefile keys rotate` re-seals every tenant key under a new one.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

/// The prefix of a sealed value; anything else in the column is a key stored before
/// sealing existed (plain hex), which is sealed the next time it is read.
const SEALED: &str = "v1:";

/// Where the master key came from, for the start-up log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    pub fn generate() -> MasterKey {
        MasterKey(rand::random())
    }

    pub fn from_hex(text: &str) -> Result<MasterKey> {
        let bytes = hex::decode(text.trim()).map_err(|_| anyhow::anyhow!("the master key is not hex"))?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("the master key must be 32 bytes (64 hex characters)"))?;
        Ok(MasterKey(key))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// `CASEFILE_MASTER_KEY`, else `<data_dir>/master.key`, generated when missing.
    pub fn load(data_dir: &Path) -> Result<(MasterKey, Origin)> {
        if let Ok(text) = std::env::var("CASEFILE_MASTER_KEY") {
            if !text.trim().is_empty() {
                let key = MasterKey::from_hex(&text).context("CASEFILE_MASTER_KEY")?;
                return Ok((key, Origin::Environment));
            }
        }
        let path = data_dir.join("master.key");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let key = MasterKey::from_hex(&text).with_context(|| format!("{}", path.display()))?;
                Ok((key, Origin::File(path)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = MasterKey::generate();
                key.write(&path)?;
                Ok((key, Origin::Generated(path)))
            }
            Err(e) => Err(e).with_context(|| format!("cannot read the master key {}", path.display())),
        }
    }

    /// Writes the key file readable by its owner only (a new file, then a rename, so
    /// a crash never leaves half a key).
    pub fn write(&self, path: &Path) -> Result<()> {
        use std::io::Write;
        let tmp = path.with_extension(format!("tmp{}", uuid::Uuid::new_v4().simple()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp).with_context(|| format!("cannot write the master key {}", tmp.display()))?;
        file.write_all(self.to_hex().as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write the master key {}", path.display()))?;
        Ok(())
    }

    /// `v1:<nonce hex>:<ciphertext hex>`; the tenant is bound as associated data.
    pub fn seal(&self, tenant: &str, key: &[u8]) -> Result<String> {
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.0));
        let nonce: [u8; 12] = rand::random();
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: key, aad: tenant.as_bytes() })
            .map_err(|_| anyhow::anyhow!("cannot seal the key of tenant `{tenant}`"))?;
        Ok(format!("{SEALED}{}:{}", hex::encode(nonce), hex::encode(sealed)))
    }

    /// The tenant's key from its stored form; a plain hex key from before sealing is
    /// returned as it is (`is_sealed` says whether to seal it now).
    pub fn open(&self, tenant: &str, stored: &str) -> Result<Vec<u8>> {
        let Some(rest) = stored.strip_prefix(SEALED) else {
            return hex::decode(stored).context("the stored tenant key is neither sealed nor hex");
        };
        let (nonce, sealed) = rest.split_once(':').context("the sealed tenant key is malformed")?;
        let nonce = hex::decode(nonce).ok().filter(|n| n.len() == 12).context("the sealed tenant key is malformed")?;
        let sealed = hex::decode(sealed).context("the sealed tenant key is malformed")?;
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&self.0));
        match cipher.decrypt(Nonce::from_slice(&nonce), Payload { msg: &sealed, aad: tenant.as_bytes() }) {
            Ok(key) => Ok(key),
            Err(_) => bail!(
                "the key of tenant `{tenant}` does not open with this master key: the master key changed \
                 (set CASEFILE_MASTER_KEY or restore master.key), or the row was copied from another tenant"
            ),
        }
    }

    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(SEALED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_per_tenant_and_refuses_the_wrong_master_or_tenant() {
        let m = MasterKey::generate();
        let key = [7u8; 32];
        let sealed = m.seal("acme", &key).unwrap();
        assert!(MasterKey::is_sealed(&sealed));
        assert!(!sealed.contains(&hex::encode(key)), "the key is not stored in the clear");
        assert_eq!(m.open("acme", &sealed).unwrap(), key);
        assert_ne!(m.seal("acme", &key).unwrap(), sealed, "a fresh nonce each time");
        let e = m.open("globex", &sealed).unwrap_err().to_string();
        assert!(e.contains("does not open"), "{e}");
        assert!(MasterKey::generate().open("acme", &sealed).is_err());
        // A key stored before sealing existed still reads.
        assert_eq!(m.open("acme", &"11".repeat(32)).unwrap(), vec![0x11; 32]);
        assert!(m.open("acme", "v1:zz:00").is_err());
    }

    #[test]
    fn a_generated_key_file_is_owner_only_and_loads_again() {
        let dir = tempfile::tempdir().unwrap();
        let (first, origin) = MasterKey::load(dir.path()).unwrap();
        assert_eq!(origin, Origin::Generated(dir.path().join("master.key")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("master.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, origin) = MasterKey::load(dir.path()).unwrap();
        assert_eq!(origin, Origin::File(dir.path().join("master.key")));
        assert_eq!(again.to_hex(), first.to_hex());
        assert!(MasterKey::from_hex("abcd").is_err());
    }
}
