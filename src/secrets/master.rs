//! The master key: derives the sub-keys of every keyed hash and the key
//! that seals private keys at rest (AES-256-GCM), so that a copy of the
//! database alone reveals no secret; and a check value that tells whether
//! two processes hold the same master key without revealing it.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, anyhow, ensure};
use aws_lc_rs::{aead, hmac};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// 32-byte master key: derives sub-keys, among them the one that encrypts
/// private keys (AES-256-GCM).
pub struct MasterKey([u8; 32]);

/// How private keys are sealed now: under a key derived for sealing.
/// Version 1 sealed them under the raw master key.
pub const SEAL_VERSION: i16 = 2;

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

    /// The key private keys are sealed with, by seal version.
    fn sealing_key(&self, version: i16) -> anyhow::Result<aead::RandomizedNonceKey> {
        let bytes = match version {
            1 => self.0,
            SEAL_VERSION => self.derive("civitas private key sealing v2"),
            other => anyhow::bail!("unknown seal version {other}"),
        };
        aead::RandomizedNonceKey::new(&aead::AES_256_GCM, &bytes)
            .map_err(|_| anyhow!("cannot build AES-256-GCM key"))
    }

    /// Encrypts with AES-256-GCM under the sealing key ([`SEAL_VERSION`])
    /// and a random nonce; returns nonce || ciphertext || tag.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> anyhow::Result<Vec<u8>> {
        self.seal_as(SEAL_VERSION, plaintext, aad)
    }

    fn seal_as(&self, version: i16, plaintext: &[u8], aad: &[u8]) -> anyhow::Result<Vec<u8>> {
        let mut buf = plaintext.to_vec();
        let nonce = self
            .sealing_key(version)?
            .seal_in_place_append_tag(aead::Aad::from(aad), &mut buf)
            .map_err(|_| anyhow!("AES-256-GCM encryption failed"))?;
        let mut out = Vec::with_capacity(aead::NONCE_LEN + buf.len());
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Decrypts the output of [`MasterKey::seal`]; fails on a wrong key, wrong `aad` or tampering.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> anyhow::Result<Vec<u8>> {
        self.open_as(SEAL_VERSION, sealed, aad)
    }

    /// Decrypts what was sealed under seal `version` (1: the raw master key,
    /// as before sealing had its own key; 2: [`MasterKey::seal`]).
    pub fn open_as(&self, version: i16, sealed: &[u8], aad: &[u8]) -> anyhow::Result<Vec<u8>> {
        ensure!(
            sealed.len() >= aead::NONCE_LEN + aead::AES_256_GCM.tag_len(),
            "sealed data is too short"
        );
        let (nonce, ciphertext) = sealed.split_at(aead::NONCE_LEN);
        let nonce =
            aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow!("invalid nonce"))?;
        let mut buf = ciphertext.to_vec();
        let len = self
            .sealing_key(version)?
            .open_in_place(nonce, aead::Aad::from(aad), &mut buf)
            .map_err(|_| {
                anyhow!("cannot decrypt: wrong master key, wrong purpose or corrupted data")
            })?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    /// A value the database keeps to tell whether a process holds the
    /// master key it was set up with: HMAC-SHA-256 of a fixed label under a
    /// key derived for this use (hex). It reveals nothing of the master key
    /// or of the other derived keys.
    pub fn check_value(&self) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.derive("civitas key check v1"));
        crate::encoding::hex(hmac::sign(&key, b"civitas master key check").as_ref())
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
    fn sealing_has_its_own_key_and_reads_the_old_seal() {
        let key = master();
        let sealed = key.seal(b"secret", b"kid").unwrap();
        assert!(
            key.open_as(1, &sealed, b"kid").is_err(),
            "sealed under the raw key"
        );
        let raw = aead::RandomizedNonceKey::new(&aead::AES_256_GCM, &key.0).unwrap();
        let (nonce, ciphertext) = sealed.split_at(aead::NONCE_LEN);
        let mut buf = ciphertext.to_vec();
        let nonce = aead::Nonce::try_assume_unique_for_key(nonce).unwrap();
        assert!(
            raw.open_in_place(nonce, aead::Aad::from(b"kid"), &mut buf)
                .is_err()
        );

        let old = key.seal_as(1, b"secret", b"kid").unwrap();
        assert_eq!(key.open_as(1, &old, b"kid").unwrap(), b"secret");
        assert!(key.open(&old, b"kid").is_err());
        assert!(key.open_as(3, &sealed, b"kid").is_err());
    }

    #[test]
    fn check_value_tells_keys_apart_and_reveals_no_derived_key() {
        let key = MasterKey::from_bytes([7; 32]);
        assert_eq!(
            key.check_value(),
            MasterKey::from_bytes([7; 32]).check_value()
        );
        assert_ne!(
            key.check_value(),
            MasterKey::from_bytes([8; 32]).check_value()
        );
        assert_eq!(key.check_value().len(), 64);
        for label in ["civitas key check v1", "civitas private key sealing v2"] {
            assert_ne!(key.check_value(), crate::encoding::hex(&key.derive(label)));
        }
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
