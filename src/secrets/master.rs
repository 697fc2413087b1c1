//! The master key: seals private keys at rest (AES-256-GCM) and derives the
//! sub-keys of every keyed hash, so that a copy of the database alone
//! reveals no secret.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, anyhow, ensure};
use aws_lc_rs::{aead, hmac};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// 32-byte master key: encrypts private keys (AES-256-GCM) and derives sub-keys.
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// Loads the key from `env_value` (base64/base64url of 32 bytes) if given, else from `file` (created 0600 if missing).
    pub fn load(env_value: Option<&str>, file: &Path) -> anyhow::Result<MasterKey> {
        match env_value {
            Some(value) => Self::from_base64(value),
            None => Self::load_file(file),
        }
    }

    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(bytes)
    }

    fn from_base64(value: &str) -> anyhow::Result<MasterKey> {
        let value = value.trim();
        ensure!(!value.is_empty(), "CIVITAS_MASTER_KEY is set but empty");
        let bytes = [URL_SAFE_NO_PAD, URL_SAFE, STANDARD, STANDARD_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(value).ok())
            .ok_or_else(|| anyhow!("CIVITAS_MASTER_KEY is not valid base64/base64url"))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            anyhow!(
                "CIVITAS_MASTER_KEY must decode to exactly 32 bytes, got {}",
                b.len()
            )
        })?;
        Ok(MasterKey(bytes))
    }

    fn load_file(file: &Path) -> anyhow::Result<MasterKey> {
        let shown = file.display();
        let mut f = match std::fs::File::open(file) {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::NotFound => return Self::create_file(file),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot open master key file {shown}"));
            }
        };
        let mode = f.metadata()?.permissions().mode();
        ensure!(
            mode & 0o077 == 0,
            "master key file {shown} has mode {:04o}; it must not be accessible by group or \
             others (run `chmod 600 {shown}`)",
            mode & 0o7777
        );
        let mut bytes = Vec::with_capacity(33);
        f.read_to_end(&mut bytes)
            .with_context(|| format!("cannot read master key file {shown}"))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            anyhow!(
                "master key file {shown} must hold exactly 32 bytes, found {}",
                b.len()
            )
        })?;
        Ok(MasterKey(bytes))
    }

    fn create_file(file: &Path) -> anyhow::Result<MasterKey> {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create directory {}", dir.display()))?;
        }
        let mut f = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
        {
            Ok(f) => f,
            // Another process created it first: use theirs.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => return Self::load_file(file),
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("cannot create master key file {}", file.display()));
            }
        };
        let key = MasterKey(rand::random::<[u8; 32]>());
        if let Err(e) = f.write_all(&key.0).and_then(|()| f.sync_all()) {
            let _ = std::fs::remove_file(file);
            return Err(e)
                .with_context(|| format!("cannot write master key file {}", file.display()));
        }
        Ok(key)
    }

    fn aead_key(&self) -> anyhow::Result<aead::RandomizedNonceKey> {
        aead::RandomizedNonceKey::new(&aead::AES_256_GCM, &self.0)
            .map_err(|_| anyhow!("cannot build AES-256-GCM key"))
    }

    /// Encrypts with AES-256-GCM under a random nonce; returns nonce || ciphertext || tag.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut buf = plaintext.to_vec();
        let nonce = self
            .aead_key()?
            .seal_in_place_append_tag(aead::Aad::from(aad), &mut buf)
            .map_err(|_| anyhow!("AES-256-GCM encryption failed"))?;
        let mut out = Vec::with_capacity(aead::NONCE_LEN + buf.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts the output of [`MasterKey::seal`]; fails on a wrong key, wrong `aad` or tampering.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> anyhow::Result<Vec<u8>> {
        ensure!(
            sealed.len() >= aead::NONCE_LEN + aead::AES_256_GCM.tag_len(),
            "sealed data is too short"
        );
        let (nonce, ciphertext) = sealed.split_at(aead::NONCE_LEN);
        let nonce =
            aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow!("invalid nonce"))?;
        let mut buf = ciphertext.to_vec();
        let len = self
            .aead_key()?
            .open_in_place(nonce, aead::Aad::from(aad), &mut buf)
            .map_err(|_| {
                anyhow!("cannot decrypt: wrong master key, wrong purpose or corrupted data")
            })?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    /// A 32-byte sub-key for `label`: HMAC-SHA-256(master, label).
    pub fn derive(&self, label: &str) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&key, label.as_bytes()).as_ref());
        out
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master() -> MasterKey {
        MasterKey::from_bytes(rand::random::<[u8; 32]>())
    }

    fn temp_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("civitas-keys-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn seal_and_open() {
        let key = master();
        let a = key.seal(b"secret", b"kid-1").unwrap();
        let b = key.seal(b"secret", b"kid-1").unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 12 + 6 + 16);
        assert_eq!(key.open(&a, b"kid-1").unwrap(), b"secret");
        assert_eq!(key.open(&b, b"kid-1").unwrap(), b"secret");
        assert!(key.open(&a, b"kid-2").is_err());
        assert!(master().open(&a, b"kid-1").is_err());
        for i in 0..a.len() {
            let mut flipped = a.clone();
            flipped[i] ^= 0x01;
            assert!(key.open(&flipped, b"kid-1").is_err(), "flip at {i}");
        }
        assert!(key.open(&a[..27], b"kid-1").is_err());
        assert!(key.open(&[], b"kid-1").is_err());
        assert_eq!(key.open(&key.seal(b"", b"").unwrap(), b"").unwrap(), b"");
    }

    #[test]
    fn derive_is_hmac_sha256_and_label_specific() {
        let key = MasterKey::from_bytes([7; 32]);
        let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]), b"pairwise");
        assert_eq!(key.derive("pairwise").as_slice(), expected.as_ref());
        assert_ne!(key.derive("pairwise"), key.derive("other"));
        assert_ne!(
            key.derive("pairwise"),
            MasterKey::from_bytes([8; 32]).derive("pairwise")
        );
        assert_eq!(format!("{key:?}"), "MasterKey(..)");
    }

    #[test]
    fn load_creates_and_reloads_a_0600_key_file() {
        let dir = temp_dir();
        let file = dir.join("sub").join("master.key");
        let created = MasterKey::load(None, &file).unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 32);
        assert_eq!(std::fs::read(&file).unwrap(), created.0);
        let again = MasterKey::load(None, &file).unwrap();
        assert_eq!(again.0, created.0);

        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = MasterKey::load(None, &file).unwrap_err().to_string();
        assert!(err.contains("0644") && err.contains("chmod 600"), "{err}");

        let short = dir.join("short.key");
        std::fs::write(&short, [1u8; 31]).unwrap();
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(MasterKey::load(None, &short).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn load_from_env_value() {
        let dir = temp_dir();
        let file = dir.join("never-created.key");
        let bytes: [u8; 32] = std::array::from_fn(|i| (i * 8 + 3) as u8);
        for encoded in [
            URL_SAFE_NO_PAD.encode(bytes),
            STANDARD.encode(bytes),
            URL_SAFE.encode(bytes),
        ] {
            let key = MasterKey::load(Some(&format!("{encoded}\n")), &file).unwrap();
            assert_eq!(key.0, bytes);
        }
        assert!(!file.exists(), "env key must not touch the key file");
        for bad in [
            URL_SAFE_NO_PAD.encode([0u8; 31]),
            URL_SAFE_NO_PAD.encode([0u8; 33]),
            URL_SAFE_NO_PAD.encode([0u8; 16]),
            String::new(),
            "not base64 at all!".to_owned(),
        ] {
            assert!(
                MasterKey::load(Some(&bad), &file).is_err(),
                "accepted {bad:?}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
