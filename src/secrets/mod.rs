//! Secrets: the master key (sealing and key derivation), and the random
//! bearer secrets (session tokens, codes, invitations) that the database
//! keeps only as hashes.

mod check;
mod master;
mod sealer;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub use check::check_master_key;
pub use master::{MasterKey, SEAL_VERSION};
pub use sealer::Sealer;

/// A new random secret, base64url-encoded, and its hash for storage.
pub fn new_secret() -> (String, String) {
    let bytes: [u8; 32] = rand::random();
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_secret(&token);
    (token, hash)
}

/// SHA-256 of a secret, hex-encoded: what the database keeps.
pub fn hash_secret(secret: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, secret.as_bytes());
    crate::encoding::hex(digest.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashed() {
        let (a, ha) = new_secret();
        let (b, hb) = new_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(ha.len(), 64);
        assert_ne!(ha, hb);
        assert_eq!(hash_secret(&a), ha);
    }
}
