//! Sealed values that travel with the client: AES-256-GCM under a key
//! derived from the master key for one purpose, with a random nonce, as
//! base64url. Whoever holds the text can neither read nor alter it, nor
//! use it for another purpose; every instance with the master key opens it.

use aws_lc_rs::aead;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::MasterKey;

/// Seals and opens values for one purpose.
pub struct Sealer {
    key: aead::RandomizedNonceKey,
}

impl Sealer {
    /// The sealer for `purpose` (a label naming the use and its version).
    pub fn new(master: &MasterKey, purpose: &str) -> anyhow::Result<Self> {
        let key = aead::RandomizedNonceKey::new(&aead::AES_256_GCM, &master.derive(purpose))
            .map_err(|_| anyhow::anyhow!("cannot build an AES-256-GCM key"))?;
        Ok(Self { key })
    }

    /// `plaintext` sealed and bound to `context` (which must be given again
    /// to open it), as base64url.
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> anyhow::Result<String> {
        let mut buf = plaintext.to_vec();
        let nonce = self
            .key
            .seal_in_place_append_tag(aead::Aad::from(context), &mut buf)
            .map_err(|_| anyhow::anyhow!("AES-256-GCM encryption failed"))?;
        let mut out = Vec::with_capacity(aead::NONCE_LEN + buf.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        Ok(URL_SAFE_NO_PAD.encode(out))
    }

    /// What `sealed` holds, if it is genuine and was sealed with `context`.
    pub fn open(&self, sealed: &str, context: &[u8]) -> Option<Vec<u8>> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed.trim()).ok()?;
        if bytes.len() < aead::NONCE_LEN + aead::AES_256_GCM.tag_len() {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(aead::NONCE_LEN);
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = ciphertext.to_vec();
        let len = self
            .key
            .open_in_place(nonce, aead::Aad::from(context), &mut buf)
            .ok()?
            .len();
        buf.truncate(len);
        Some(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(purpose: &str) -> Sealer {
        Sealer::new(&MasterKey::from_bytes([3; 32]), purpose).unwrap()
    }

    #[test]
    fn opens_only_what_it_sealed_for_the_same_context() {
        let s = sealer("test v1");
        let sealed = s.seal(b"state", b"ctx").unwrap();
        assert_eq!(s.open(&sealed, b"ctx").unwrap(), b"state");
        assert!(s.open(&sealed, b"other").is_none());
        assert!(sealer("test v2").open(&sealed, b"ctx").is_none());
        let other_master = Sealer::new(&MasterKey::from_bytes([4; 32]), "test v1").unwrap();
        assert!(other_master.open(&sealed, b"ctx").is_none());
        // One changed character anywhere breaks it.
        for i in 0..sealed.len() {
            let mut altered = sealed.clone().into_bytes();
            altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(altered).unwrap();
            assert!(s.open(&altered, b"ctx").is_none(), "position {i}");
        }
        for junk in ["", "!!", "AAAA", &"A".repeat(200)] {
            assert!(s.open(junk, b"ctx").is_none(), "{junk}");
        }
        assert_ne!(s.seal(b"state", b"ctx").unwrap(), sealed, "random nonce");
    }
}
