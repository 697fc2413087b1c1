//! Passkey assertion verification, as `/api/v1/login/finish` does it: parse
//! the browser's JSON, identify the credential, verify the ES256 signature
//! over authenticatorData and clientDataJSON (webauthn-rs). The assertions
//! come from the load generator's software authenticator.

use std::hint::black_box;

use civitas_load::authenticator::{Authenticator, Passkey as SoftPasskey};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

const ORIGIN: &str = "https://id.example.gov";

fn relying_party() -> Webauthn {
    let origin = url::Url::parse(ORIGIN).expect("origin");
    WebauthnBuilder::new("id.example.gov", &origin)
        .and_then(|b| b.build())
        .expect("relying party")
}

/// A registered passkey: the server's record and the authenticator's key.
fn register(rp: &Webauthn, authenticator: &Authenticator) -> (Passkey, SoftPasskey) {
    let (ccr, state) = rp
        .start_passkey_registration(Uuid::new_v4(), "citizen", "Citizen", None)
        .expect("options");
    let options = serde_json::to_value(&ccr).expect("json")["publicKey"].clone();
    let (response, soft) = authenticator.create(&options).expect("create");
    let response: RegisterPublicKeyCredential = serde_json::from_value(response).expect("parse");
    let passkey = rp
        .finish_passkey_registration(&response, &state)
        .expect("registration");
    (passkey, soft)
}

/// A fresh sign-in: the server's ceremony state and the browser's answer.
fn assertion(
    rp: &Webauthn,
    authenticator: &Authenticator,
    soft: &mut SoftPasskey,
) -> (DiscoverableAuthentication, Value) {
    let (rcr, state) = rp.start_discoverable_authentication().expect("options");
    let options = serde_json::to_value(&rcr).expect("json")["publicKey"].clone();
    let answer = authenticator.get(soft, &options).expect("assertion");
    (state, answer)
}

fn passkey(c: &mut Criterion) {
    let rp = relying_party();
    let authenticator = Authenticator::new(ORIGIN);
    let (passkey, mut soft) = register(&rp, &authenticator);
    let stored = serde_json::to_string(&passkey).expect("stored passkey");

    let mut group = c.benchmark_group("passkey_assertion");
    group.bench_function("verify", |b| {
        b.iter_batched(
            || assertion(&rp, &authenticator, &mut soft),
            |(state, answer)| {
                let credential: PublicKeyCredential =
                    serde_json::from_value(black_box(answer)).expect("parse");
                rp.identify_discoverable_authentication(&credential)
                    .expect("identify");
                rp.finish_discoverable_authentication(
                    &credential,
                    state,
                    &[DiscoverableKey::from(&passkey)],
                )
                .expect("verified")
            },
            BatchSize::SmallInput,
        )
    });
    // What login/finish adds around the verification: the ceremony state
    // and the passkey record come from the database as JSON.
    group.bench_function("verify_with_stored_state", |b| {
        b.iter_batched(
            || {
                let (state, answer) = assertion(&rp, &authenticator, &mut soft);
                (serde_json::to_string(&state).expect("state"), answer)
            },
            |(state, answer)| {
                let state: DiscoverableAuthentication =
                    serde_json::from_str(black_box(&state)).expect("state");
                let credential: PublicKeyCredential =
                    serde_json::from_value(black_box(answer)).expect("parse");
                let passkey: Passkey = serde_json::from_str(&stored).expect("passkey");
                rp.identify_discoverable_authentication(&credential)
                    .expect("identify");
                rp.finish_discoverable_authentication(
                    &credential,
                    state,
                    &[DiscoverableKey::from(&passkey)],
                )
                .expect("verified")
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, passkey);
criterion_main!(benches);
