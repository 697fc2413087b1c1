//! The body of the passkey finish endpoints (`/api/v1/enrollment/finish`,
//! `/api/v1/login/finish`, adding a passkey): the JSON as the API receives
//! it, the WebAuthn credential inside it, and its verification by the
//! relying party Civitas configures, clientDataJSON, attestation object
//! and authenticator data included.
//!
//! The ceremony states carry a fixed challenge, so that the seeds (made
//! for that challenge with a fixed P-256 key) reach past the challenge
//! check. The passkey the assertions are checked against is the one the
//! registration seed registers.
#![no_main]

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use civitas::config::Issuer;
use civitas::error::AppError;
use civitas::http::FinishCeremony;
use civitas::passkey::{
    parse_assertion, parse_passkey_name, parse_registration, relying_party, webauthn_error,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyRegistration, Webauthn,
};

/// The issuer of the seeds: the software authenticator answered for it.
const ISSUER: &str = "http://localhost:8080";
/// The challenge of every ceremony here.
const CHALLENGE: [u8; 32] = [42; 32];

static RP: LazyLock<Webauthn> = LazyLock::new(|| {
    relying_party(&Issuer::parse(ISSUER).expect("issuer")).expect("relying party")
});

/// Replaces every `challenge` in a serialised ceremony state.
fn fix_challenge(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "challenge" {
                    *v = Value::String(URL_SAFE_NO_PAD.encode(CHALLENGE));
                } else {
                    fix_challenge(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(fix_challenge),
        _ => {}
    }
}

/// Registration state as Civitas keeps it sealed: JSON.
static REGISTRATION: LazyLock<Value> = LazyLock::new(|| {
    let (_, state) = RP
        .start_passkey_registration(uuid::Uuid::nil(), "fuzz", "Fuzz", None)
        .expect("registration starts");
    let mut state = serde_json::to_value(state).expect("state serialises");
    fix_challenge(&mut state);
    state
});

static AUTHENTICATION: LazyLock<Value> = LazyLock::new(|| {
    let (_, state) = RP
        .start_discoverable_authentication()
        .expect("authentication starts");
    let mut state = serde_json::to_value(state).expect("state serialises");
    fix_challenge(&mut state);
    state
});

/// The passkey of the registration seed (which must register: without it
/// the assertions would stop at the first check).
static PASSKEY: LazyLock<Passkey> = LazyLock::new(|| {
    let seed = include_bytes!("../seeds/passkey_finish/registration.json");
    let body: FinishCeremony = serde_json::from_slice(seed).expect("registration seed");
    let credential = parse_registration(body.credential).expect("registration seed");
    let state: PasskeyRegistration =
        serde_json::from_value(REGISTRATION.clone()).expect("registration state");
    RP.finish_passkey_registration(&credential, &state)
        .expect("the registration seed registers")
});

/// A refused credential is the client's fault: 4xx, never 500.
fn assert_client_error(e: AppError) {
    assert!(e.status.is_client_error(), "{} {}", e.status, e.code);
}

fuzz_target!(|data: &[u8]| {
    // What `web::Json<FinishCeremony>` does with the body.
    let Ok(body) = serde_json::from_slice::<FinishCeremony>(data) else {
        return;
    };
    if let Some(name) = &body.name {
        let _ = parse_passkey_name(name);
    }
    match parse_registration(body.credential.clone()) {
        Ok(credential) => {
            let state: PasskeyRegistration =
                serde_json::from_value(REGISTRATION.clone()).expect("registration state");
            if let Err(e) = RP.finish_passkey_registration(&credential, &state) {
                assert_client_error(webauthn_error(e));
            }
        }
        Err(e) => assert_client_error(e),
    }
    match parse_assertion(body.credential) {
        Ok(credential) => {
            if let Err(e) = RP.identify_discoverable_authentication(&credential) {
                assert_client_error(webauthn_error(e));
            }
            let state: DiscoverableAuthentication =
                serde_json::from_value(AUTHENTICATION.clone()).expect("authentication state");
            if let Err(e) = RP.finish_discoverable_authentication(
                &credential,
                state,
                &[DiscoverableKey::from(&*PASSKEY)],
            ) {
                assert_client_error(webauthn_error(e));
            }
        }
        Err(e) => assert_client_error(e),
    }
});
