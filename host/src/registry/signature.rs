//! Publisher signatures: an ed25519 signature over the component's SHA-256 digest
//! (the 32 raw bytes), by a key the config trusts. Keys and signatures are written
//! in hex or base64.

use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};

/// What the registry knows about an upload's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureStatus {
    /// None was given.
    None,
    /// Valid under one of the trusted keys.
    Valid,
}

impl SignatureStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureStatus::None => "none",
            SignatureStatus::Valid => "valid",
        }
    }
}

fn decode(what: &str, text: &str) -> Result<Vec<u8>, String> {
    let t = text.trim();
    if !t.is_empty() && t.len() % 2 == 0 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return hex::decode(t).map_err(|e| format!("{what} is not valid hex: {e}"));
    }
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .map_err(|_| format!("{what} must be hex or base64"))
}

/// Parses a trusted publisher key (32 bytes).
pub fn parse_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = decode("a trusted key", text)?;
    let arr: [u8; 32] = bytes.try_into().map_err(|_| "a trusted ed25519 key is 32 bytes".to_string())?;
    VerifyingKey::from_bytes(&arr).map_err(|e| format!("not an ed25519 public key: {e}"))
}

/// Checks `signature` over the digest `sha256_hex` against `trusted`. Err says why
/// it is refused: malformed, or valid under none of the keys (a forgery, or a key
/// the config does not trust).
pub fn verify(sha256_hex: &str, signature: &str, trusted: &[VerifyingKey]) -> Result<SignatureStatus, String> {
    let digest = hex::decode(sha256_hex).map_err(|e| format!("bad digest: {e}"))?;
    let bytes = decode("the signature", signature)?;
    let arr: [u8; 64] = bytes.try_into().map_err(|_| "an ed25519 signature is 64 bytes".to_string())?;
    let sig = Signature::from_bytes(&arr);
    if trusted.is_empty() {
        return Err("no publisher keys are trusted (registry.trusted_keys), so no signature can be checked".into());
    }
    if trusted.iter().any(|k| k.verify(&digest, &sig).is_ok()) {
        Ok(SignatureStatus::Valid)
    } else {
        Err("the signature does not verify under any trusted publisher key".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn a_signature_by_a_trusted_key_verifies_and_others_do_not() {
        let publisher = SigningKey::from_bytes(&[7u8; 32]);
        let stranger = SigningKey::from_bytes(&[9u8; 32]);
        let sha = "ab".repeat(32);
        let digest = hex::decode(&sha).unwrap();
        let trusted = vec![parse_key(&hex::encode(publisher.verifying_key().to_bytes())).unwrap()];
        let good = hex::encode(publisher.sign(&digest).to_bytes());
        assert_eq!(verify(&sha, &good, &trusted), Ok(SignatureStatus::Valid));
        let b64 = base64::engine::general_purpose::STANDARD.encode(publisher.sign(&digest).to_bytes());
        assert_eq!(verify(&sha, &b64, &trusted), Ok(SignatureStatus::Valid));
        let forged = hex::encode(stranger.sign(&digest).to_bytes());
        assert!(verify(&sha, &forged, &trusted).unwrap_err().contains("does not verify"));
        let other = hex::encode(publisher.sign(&hex::decode("cd".repeat(32)).unwrap()).to_bytes());
        assert!(verify(&sha, &other, &trusted).is_err(), "a signature over other bytes");
        assert!(verify(&sha, "zz", &trusted).is_err());
    }
}
