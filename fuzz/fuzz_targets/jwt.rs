//! JWTs Civitas reads (`id_token_hint`, bearer access tokens): the header,
//! then the verification and claims as `Provider::verify` does them, with
//! a key of each algorithm.
//!
//! The first input byte chooses the mode. Even: the rest is a token as
//! sent; nothing in it can carry a valid signature, so nothing may verify.
//! Odd: the rest is a payload that is signed here with one of the keys, to
//! reach the claims checks behind the signature.
#![no_main]

use std::collections::HashMap;
use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use civitas::oidc::jwt::{AccessClaims, IdClaims, check};
use civitas::oidc::signing::{Alg, generate};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, EncodingKey, decode_header};
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://id.example.gov";
const NOW: i64 = 1_780_000_000;

struct Key {
    verify: (Alg, DecodingKey),
    sign: EncodingKey,
}

/// A key per algorithm under a fixed kid (`fuzz-RS256`, ...), so that inputs
/// can name them.
static KEYS: LazyLock<HashMap<String, Key>> = LazyLock::new(|| {
    Alg::ALL
        .into_iter()
        .map(|alg| {
            let new = generate(alg).expect("key generation");
            let jwk: Jwk = serde_json::from_value(new.public_jwk).expect("jwk");
            let der = new.private_der;
            let sign = match alg {
                Alg::RS256 => {
                    let pem = pem_encode(&der);
                    EncodingKey::from_rsa_pem(pem.as_bytes()).expect("RSA key")
                }
                Alg::ES256 => EncodingKey::from_ec_der(&der),
                Alg::EdDSA => EncodingKey::from_ed_der(&der),
            };
            let verify = (alg, DecodingKey::from_jwk(&jwk).expect("decoding key"));
            (format!("fuzz-{alg}"), Key { verify, sign })
        })
        .collect()
});

fn pem_encode(der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// What `Provider::verify` does once it has the token: header, kid, key,
/// then `check` for an ID token hint and for an access token.
fn verify(token: &str) -> (Option<IdClaims>, Option<AccessClaims>) {
    let Ok(header) = decode_header(token) else {
        return (None, None);
    };
    let Some(key) = header.kid.as_deref().and_then(|kid| KEYS.get(kid)) else {
        return (None, None);
    };
    let hint = check::<IdClaims>(&key.verify, &header, token, ISSUER, Some("jwt"), None);
    let access = check::<AccessClaims>(
        &key.verify,
        &header,
        token,
        ISSUER,
        Some("at+jwt"),
        Some(NOW),
    );
    (hint, access)
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(token) = std::str::from_utf8(rest) else {
            return;
        };
        let (hint, access) = verify(token);
        assert!(
            hint.is_none() && access.is_none(),
            "a forged token verified"
        );
        return;
    }
    // Signed here: key and typ from the mode byte, the payload as given.
    let alg = Alg::ALL[usize::from(mode / 2) % 3];
    let typ = if mode & 0x40 == 0 { "JWT" } else { "at+jwt" };
    let kid = format!("fuzz-{alg}");
    let header = serde_json::json!({"alg": alg.as_str(), "kid": kid, "typ": typ});
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(rest)
    );
    let Ok(signature) = jsonwebtoken::crypto::sign(message.as_bytes(), &KEYS[&kid].sign, alg.jwt())
    else {
        return;
    };
    let token = format!("{message}.{signature}");
    let (hint, access) = verify(&token);
    if let Some(claims) = hint {
        assert_eq!(claims.iss, ISSUER);
    }
    if let Some(claims) = access {
        assert_eq!(claims.iss, ISSUER);
        assert!(claims.exp > NOW);
    }
});
