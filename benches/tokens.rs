//! Token work on the hot path of `/token` and `/userinfo`: ID-token signing
//! per algorithm, access-token signing (ES256) and verification, and — to
//! show why keys are parsed once per kid — the cost of parsing a key.

use std::hint::black_box;

use civitas::oidc::jwt::{AccessClaims, IdClaims, check};
use civitas::oidc::signing::{Alg, SigningKey, generate};
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{DecodingKey, decode_header, jwk::Jwk};

const ISSUER: &str = "https://id.example.gov";

fn id_claims() -> IdClaims {
    IdClaims {
        iss: ISSUER.into(),
        sub: "q2Vv0b5aJQ0m0Q3yHc1w3bX8Xw7m0o5s2aY0e4lR1kU".into(),
        aud: "tax-office".into(),
        azp: "tax-office".into(),
        exp: 4_000_000_600,
        iat: 4_000_000_000,
        auth_time: 4_000_000_000,
        nonce: Some("n0nce".into()),
        acr: "urn:civitas:loa:1".into(),
        amr: vec!["user".into(), "mfa".into(), "hwk".into()],
        sid: uuid::Uuid::new_v4().to_string(),
        at_hash: Some("77QmUPtjPfzWtF2AnpK9RQ".into()),
    }
}

fn access_claims() -> AccessClaims {
    AccessClaims {
        iss: ISSUER.into(),
        sub: "q2Vv0b5aJQ0m0Q3yHc1w3bX8Xw7m0o5s2aY0e4lR1kU".into(),
        aud: ISSUER.into(),
        client_id: "tax-office".into(),
        exp: 4_000_000_600,
        iat: 4_000_000_000,
        jti: "k5G0b2l9a3JmVn1xQm8Tqg".into(),
        scope: "openid profile".into(),
        auth_time: 4_000_000_000,
        acr: "urn:civitas:loa:1".into(),
        gid: uuid::Uuid::new_v4(),
    }
}

/// A fresh key pair: the signing key and the published verification key.
fn key(alg: Alg) -> (SigningKey, Vec<u8>, (Alg, DecodingKey)) {
    let new = generate(alg).expect("key generation");
    let signing = SigningKey::from_der(&new.kid, alg, &new.private_der).expect("parse");
    let jwk: Jwk = serde_json::from_value(new.public_jwk).expect("jwk");
    let decoding = DecodingKey::from_jwk(&jwk).expect("decoding key");
    (signing, new.private_der, (alg, decoding))
}

fn tokens(c: &mut Criterion) {
    let mut group = c.benchmark_group("id_token_sign");
    for alg in Alg::ALL {
        let (signing, _, _) = key(alg);
        let claims = id_claims();
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| signing.sign("JWT", black_box(&claims)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("signing_key_parse");
    for alg in Alg::ALL {
        let (signing, der, _) = key(alg);
        group.bench_function(alg.as_str(), |b| {
            b.iter(|| SigningKey::from_der(&signing.kid, alg, black_box(&der)))
        });
    }
    group.finish();

    let (signing, _, verifying) = key(Alg::ES256);
    let claims = access_claims();
    let mut group = c.benchmark_group("access_token");
    group.bench_function("sign_ES256", |b| {
        b.iter(|| signing.sign("at+jwt", black_box(&claims)))
    });
    let token = signing.sign("at+jwt", &claims).expect("sign");
    group.bench_function("verify_ES256", |b| {
        b.iter(|| {
            let header = decode_header(black_box(&token)).expect("header");
            check::<AccessClaims>(
                &verifying,
                &header,
                &token,
                ISSUER,
                Some("at+jwt"),
                Some(4_000_000_001),
            )
            .expect("valid")
        })
    });
    group.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
