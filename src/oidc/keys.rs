//! Signing keys for ID tokens and access tokens, and the master key that encrypts them at rest.
//!
//! Private keys are exchanged as unencrypted PKCS#8 v1 DER for every algorithm (the form
//! aws-lc-rs exports); jsonwebtoken reads PKCS#8 RSA keys through PEM.

use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, anyhow, ensure};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use aws_lc_rs::{aead, digest, hmac, rsa};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::json;

/// JWS algorithms Civitas signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA 2048).
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl Alg {
    /// Every supported algorithm.
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    /// The JOSE `alg` name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE `alg` name (case-sensitive).
    pub fn parse(s: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The matching jsonwebtoken algorithm.
    pub fn jwt(&self) -> jsonwebtoken::Algorithm {
        match self {
            Alg::RS256 => jsonwebtoken::Algorithm::RS256,
            Alg::ES256 => jsonwebtoken::Algorithm::ES256,
            Alg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// A freshly generated key pair.
pub struct NewKey {
    /// Key id (16 random bytes, base64url).
    pub kid: String,
    /// Algorithm the key signs with.
    pub alg: Alg,
    /// Private key as PKCS#8 v1 DER, the form [`SigningKey::from_der`] accepts.
    pub private_der: Vec<u8>,
    /// Public key as a JWK (RFC 7517/7518/8037) with `kid`, `use` and `alg`.
    pub public_jwk: serde_json::Value,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Generates a key pair for `alg` (RSA 2048, P-256 or Ed25519) with a random kid.
pub fn generate(alg: Alg) -> anyhow::Result<NewKey> {
    let kid = b64(&rand::random::<[u8; 16]>());
    let failed = |_| anyhow!("{alg} key generation failed");
    let (private_der, params) = match alg {
        Alg::RS256 => {
            let pair = rsa::KeyPair::generate(rsa::KeySize::Rsa2048).map_err(failed)?;
            let der: Pkcs8V1Der<'static> = pair.as_der().map_err(failed)?;
            let public = pair.public_key();
            let n = b64(public.modulus().big_endian_without_leading_zero());
            let e = b64(public.exponent().big_endian_without_leading_zero());
            (der.as_ref().to_vec(), json!({"kty": "RSA", "n": n, "e": e}))
        }
        Alg::ES256 => {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(failed)?;
            let der = pair.to_pkcs8v1().map_err(failed)?;
            // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
            let point = pair.public_key().as_ref();
            ensure!(
                point.len() == 65 && point.first() == Some(&4),
                "unexpected P-256 point"
            );
            let (x, y) = point[1..].split_at(32);
            (
                der.as_ref().to_vec(),
                json!({"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)}),
            )
        }
        Alg::EdDSA => {
            let pair = Ed25519KeyPair::generate().map_err(failed)?;
            let der = pair.to_pkcs8v1().map_err(failed)?;
            let x = b64(pair.public_key().as_ref());
            (
                der.as_ref().to_vec(),
                json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
            )
        }
    };
    let mut public_jwk = params;
    public_jwk["kid"] = json!(kid);
    public_jwk["use"] = json!("sig");
    public_jwk["alg"] = json!(alg.as_str());
    Ok(NewKey {
        kid,
        alg,
        private_der,
        public_jwk,
    })
}

/// A private key ready to sign (validated once, reused for every token).
#[derive(Clone)]
pub struct SigningKey {
    /// Key id put in the JWS header.
    pub kid: String,
    /// Algorithm the key signs with.
    pub alg: Alg,
    key: jsonwebtoken::EncodingKey,
}

impl SigningKey {
    /// Parses a PKCS#8 DER private key for `alg`.
    pub fn from_der(kid: &str, alg: Alg, private_der: &[u8]) -> anyhow::Result<SigningKey> {
        let key = match alg {
            Alg::RS256 => rsa_encoding_key(private_der)?,
            Alg::ES256 => {
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, private_der)
                    .map_err(|e| anyhow!("invalid ES256 (P-256 PKCS#8) private key: {e}"))?;
                jsonwebtoken::EncodingKey::from_ec_der(private_der)
            }
            Alg::EdDSA => {
                Ed25519KeyPair::from_pkcs8(private_der)
                    .map_err(|e| anyhow!("invalid EdDSA (Ed25519 PKCS#8) private key: {e}"))?;
                jsonwebtoken::EncodingKey::from_ed_der(private_der)
            }
        };
        Ok(SigningKey {
            kid: kid.to_owned(),
            alg,
            key,
        })
    }

    /// Compact JWS with header {alg, kid, typ}; `typ` e.g. "JWT" or "at+jwt".
    pub fn sign<T: serde::Serialize>(&self, typ: &str, claims: &T) -> anyhow::Result<String> {
        let mut header = jsonwebtoken::Header::new(self.alg.jwt());
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_owned());
        jsonwebtoken::encode(&header, claims, &self.key)
            .with_context(|| format!("cannot sign JWT with key {} ({})", self.kid, self.alg))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// An RS256 signing key from PKCS#8 DER. jsonwebtoken reads PKCS#8 RSA keys
/// only through PEM, so the DER is wrapped as PEM (no parsing of our own).
fn rsa_encoding_key(der: &[u8]) -> anyhow::Result<jsonwebtoken::EncodingKey> {
    aws_lc_rs::rsa::KeyPair::from_pkcs8(der)
        .map_err(|e| anyhow!("invalid RS256 (RSA PKCS#8) private key: {e}"))?;
    let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.to_vec()));
    jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|e| anyhow!("jsonwebtoken refused the RSA key: {e}"))
}

/// OIDC `at_hash`/`c_hash`: base64url of the left half of the token's SHA-256 (RS256, ES256) or SHA-512 (EdDSA).
pub fn half_hash(alg: Alg, token: &str) -> String {
    let algorithm = match alg {
        Alg::RS256 | Alg::ES256 => &digest::SHA256,
        Alg::EdDSA => &digest::SHA512,
    };
    let hash = digest::digest(algorithm, token.as_bytes());
    let hash = hash.as_ref();
    b64(&hash[..hash.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{DecodingKey, Validation, decode, decode_header, jwk::Jwk};
    use serde_json::Value;

    fn master() -> MasterKey {
        MasterKey::from_bytes(rand::random::<[u8; 32]>())
    }

    fn temp_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("civitas-keys-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn alg_names_round_trip() {
        for alg in Alg::ALL {
            assert_eq!(Alg::parse(alg.as_str()), Some(alg));
            assert_eq!(serde_json::to_value(alg).unwrap(), json!(alg.as_str()));
            assert_eq!(format!("{:?}", alg.jwt()), alg.as_str());
        }
        assert_eq!(Alg::parse("HS256"), None);
        assert_eq!(Alg::parse("rs256"), None);
    }

    #[test]
    fn every_alg_signs_tokens_that_verify_against_the_published_jwk() {
        let master = master();
        for alg in Alg::ALL {
            let new = generate(alg).unwrap();
            assert_eq!(new.alg, alg);
            assert_eq!(new.public_jwk["kid"], json!(new.kid));
            assert_eq!(new.public_jwk["use"], json!("sig"));
            assert_eq!(new.public_jwk["alg"], json!(alg.as_str()));

            let sealed = master.seal(&new.private_der, new.kid.as_bytes()).unwrap();
            assert!(
                !sealed
                    .windows(new.private_der.len())
                    .any(|w| w == new.private_der)
            );
            let der = master.open(&sealed, new.kid.as_bytes()).unwrap();
            assert_eq!(der, new.private_der);
            let key = SigningKey::from_der(&new.kid, alg, &der).unwrap();

            let now = jsonwebtoken::get_current_timestamp();
            let claims = json!({"sub": "x", "exp": now + 60, "iss": "i", "aud": "a"});
            for typ in ["JWT", "at+jwt"] {
                let token = key.sign(typ, &claims).unwrap();
                let header = decode_header(&token).unwrap();
                assert_eq!(header.kid.as_deref(), Some(new.kid.as_str()));
                assert_eq!(header.alg, alg.jwt());
                assert_eq!(header.typ.as_deref(), Some(typ));

                let jwk: Jwk = serde_json::from_value(new.public_jwk.clone()).unwrap();
                let decoding = DecodingKey::from_jwk(&jwk).unwrap();
                let mut validation = Validation::new(alg.jwt());
                validation.set_audience(&["a"]);
                validation.set_issuer(&["i"]);
                let data = decode::<Value>(&token, &decoding, &validation).unwrap();
                assert_eq!(data.claims, claims);

                // A different key of the same algorithm must not verify it.
                let other: Jwk = serde_json::from_value(generate(alg).unwrap().public_jwk).unwrap();
                let other = DecodingKey::from_jwk(&other).unwrap();
                assert!(decode::<Value>(&token, &other, &validation).is_err());
            }
        }
    }

    #[test]
    fn jwk_shapes_and_rsa_size() {
        let rsa = generate(Alg::RS256).unwrap();
        assert_eq!(rsa.public_jwk["kty"], "RSA");
        let n = URL_SAFE_NO_PAD
            .decode(rsa.public_jwk["n"].as_str().unwrap())
            .unwrap();
        assert!(
            n.len() * 8 >= 2048 && n[0] != 0,
            "modulus is {} bytes",
            n.len()
        );
        assert!(n[0] & 0x80 != 0, "modulus must have its top bit set");
        assert_eq!(rsa.public_jwk["e"], "AQAB");

        let ec = generate(Alg::ES256).unwrap();
        assert_eq!(
            (&ec.public_jwk["kty"], &ec.public_jwk["crv"]),
            (&json!("EC"), &json!("P-256"))
        );
        for c in ["x", "y"] {
            let v = URL_SAFE_NO_PAD
                .decode(ec.public_jwk[c].as_str().unwrap())
                .unwrap();
            assert_eq!(v.len(), 32);
        }

        let ed = generate(Alg::EdDSA).unwrap();
        assert_eq!(
            (&ed.public_jwk["kty"], &ed.public_jwk["crv"]),
            (&json!("OKP"), &json!("Ed25519"))
        );
        let x = URL_SAFE_NO_PAD
            .decode(ed.public_jwk["x"].as_str().unwrap())
            .unwrap();
        assert_eq!(x.len(), 32);
    }

    #[test]
    fn kids_are_unique_and_128_bit() {
        let kids: std::collections::HashSet<String> = (0..20)
            .map(|i| generate(Alg::ALL[i % 3]).unwrap().kid)
            .collect();
        assert_eq!(kids.len(), 20);
        for kid in &kids {
            assert_eq!(URL_SAFE_NO_PAD.decode(kid).unwrap().len(), 16);
        }
    }

    #[test]
    fn from_der_rejects_mismatched_or_garbage_keys() {
        let ed = generate(Alg::EdDSA).unwrap();
        let ec = generate(Alg::ES256).unwrap();
        assert!(SigningKey::from_der("k", Alg::RS256, &ed.private_der).is_err());
        assert!(SigningKey::from_der("k", Alg::ES256, &ed.private_der).is_err());
        assert!(SigningKey::from_der("k", Alg::EdDSA, &ec.private_der).is_err());
        for alg in Alg::ALL {
            assert!(SigningKey::from_der("k", alg, b"not a key").is_err());
            assert!(SigningKey::from_der("k", alg, &[]).is_err());
        }
        let rsa = generate(Alg::RS256).unwrap();
        let key = SigningKey::from_der("k", Alg::RS256, &rsa.private_der).unwrap();
        assert!(key.sign("JWT", &json!({"sub": "x"})).is_ok());
        assert_eq!(
            format!("{key:?}"),
            r#"SigningKey { kid: "k", alg: RS256, .. }"#
        );
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

    #[test]
    fn half_hash_matches_independent_computation() {
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        let expect = |algorithm: &'static digest::Algorithm| {
            let d = digest::digest(algorithm, token.as_bytes());
            let half = &d.as_ref()[..d.as_ref().len() / 2];
            URL_SAFE_NO_PAD.encode(half)
        };
        assert_eq!(half_hash(Alg::RS256, token), expect(&digest::SHA256));
        assert_eq!(half_hash(Alg::ES256, token), expect(&digest::SHA256));
        assert_eq!(half_hash(Alg::EdDSA, token), expect(&digest::SHA512));
        assert_eq!(half_hash(Alg::RS256, token).len(), 22);
        assert_eq!(half_hash(Alg::EdDSA, token).len(), 43);
        // OIDC Core example (section A.3): access token -> at_hash for RS256.
        assert_eq!(
            half_hash(Alg::RS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
