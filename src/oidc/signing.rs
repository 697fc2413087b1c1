//! Signing keys for ID tokens and access tokens: the algorithms, key
//! generation, and parsed private keys ready to sign.
//!
//! Private keys are exchanged as unencrypted PKCS#8 v1 DER for every algorithm (the form
//! aws-lc-rs exports); jsonwebtoken reads PKCS#8 RSA keys through PEM.

use std::fmt;

use anyhow::{Context, anyhow, ensure};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use aws_lc_rs::{digest, rsa};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
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

    use crate::secrets::MasterKey;

    fn master() -> MasterKey {
        MasterKey::from_bytes(rand::random::<[u8; 32]>())
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
