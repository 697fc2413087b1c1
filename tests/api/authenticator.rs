//! The software authenticator of `civitas-load` against webauthn-rs, the
//! relying party library the server uses: correct responses verify, and
//! each tweak is refused for the reason it stands for.

use ciborium::Value as Cbor;
use civitas_load::authenticator::{
    CeremonyError, FLAG_AT, FLAG_UP, FLAG_UV, SoftAuthenticator, Tweaks, b64_decode,
};
use ring::digest::{SHA256, digest};
use serde_json::{Value, json};
use webauthn_rs::prelude::{
    DiscoverableKey, Passkey, PublicKeyCredential, RegisterPublicKeyCredential, Uuid, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::support::passkeys::Device;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const ORIGIN: &str = "http://localhost:8080";

/// A relying party for `localhost` served at [`ORIGIN`].
fn relying_party() -> Result<Webauthn, WebauthnError> {
    WebauthnBuilder::new("localhost", &url::Url::parse(ORIGIN).expect("origin"))?.build()
}

/// Starts a passkey registration for a new user: (user id, options, state).
fn start_registration(
    rp: &Webauthn,
) -> Result<(Uuid, Value, webauthn_rs::prelude::PasskeyRegistration), Box<dyn std::error::Error>> {
    let user = Uuid::new_v4();
    let (ccr, state) = rp.start_passkey_registration(user, "name", "Name", None)?;
    Ok((
        user,
        serde_json::to_value(&ccr)?["publicKey"].clone(),
        state,
    ))
}

/// Registers a new user's passkey with default tweaks.
fn register(
    rp: &Webauthn,
    authenticator: &mut SoftAuthenticator,
) -> Result<Passkey, Box<dyn std::error::Error>> {
    let (_, options, state) = start_registration(rp)?;
    let response: RegisterPublicKeyCredential =
        serde_json::from_value(authenticator.create(&options))?;
    Ok(rp.finish_passkey_registration(&response, &state)?)
}

/// Answers a registration with the tweaks and returns the relying party's verdict.
fn register_with(
    tweaks: &Tweaks,
) -> Result<Result<Passkey, WebauthnError>, Box<dyn std::error::Error>> {
    let rp = relying_party()?;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let (_, options, state) = start_registration(&rp)?;
    let response: RegisterPublicKeyCredential =
        serde_json::from_value(authenticator.create_with(&options, tweaks))?;
    Ok(rp.finish_passkey_registration(&response, &state))
}

/// Registers a passkey, then answers a discoverable sign-in with the tweaks.
fn sign_in_with(tweaks: &Tweaks) -> Result<Result<u32, WebauthnError>, Box<dyn std::error::Error>> {
    let rp = relying_party()?;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let passkey = register(&rp, &mut authenticator)?;
    let (rcr, state) = rp.start_discoverable_authentication()?;
    let options = serde_json::to_value(&rcr)?["publicKey"].clone();
    let credential: PublicKeyCredential =
        serde_json::from_value(authenticator.get_with(&options, tweaks))?;
    Ok(rp
        .finish_discoverable_authentication(&credential, state, &[DiscoverableKey::from(&passkey)])
        .map(|result| result.counter()))
}

#[test]
fn registers_and_signs_in_with_a_discoverable_passkey() -> TestResult {
    let rp = relying_party()?;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);

    let (user, options, state) = start_registration(&rp)?;
    let response: RegisterPublicKeyCredential =
        serde_json::from_value(authenticator.create(&options))?;
    let passkey = rp.finish_passkey_registration(&response, &state)?;

    let held = &authenticator.credentials()[0];
    assert_eq!(passkey.cred_id().as_slice(), held.id.as_slice());
    assert_eq!(held.user_handle, user.as_bytes());
    assert_eq!(held.rp_id, "localhost");
    assert_eq!(held.counter, 0);

    let (rcr, state) = rp.start_discoverable_authentication()?;
    let options = serde_json::to_value(&rcr)?["publicKey"].clone();
    assert_eq!(options["allowCredentials"], json!([]));
    let credential: PublicKeyCredential = serde_json::from_value(authenticator.get(&options))?;
    let (identified, cred_id) = rp.identify_discoverable_authentication(&credential)?;
    assert_eq!(identified, user);
    assert_eq!(cred_id, passkey.cred_id().as_slice());

    let result = rp.finish_discoverable_authentication(
        &credential,
        state,
        &[DiscoverableKey::from(&passkey)],
    )?;
    assert!(result.user_verified());
    assert_eq!(result.counter(), 1);
    assert_eq!(authenticator.credentials()[0].counter, 1);
    Ok(())
}

#[test]
fn signs_in_with_the_credential_in_allow_credentials() -> TestResult {
    let rp = relying_party()?;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let mut first = register(&rp, &mut authenticator)?;
    let second = register(&rp, &mut authenticator)?;
    assert_eq!(authenticator.credentials().len(), 2);

    for _ in 0..2 {
        let (rcr, state) = rp.start_passkey_authentication(std::slice::from_ref(&first))?;
        let options = serde_json::to_value(&rcr)?["publicKey"].clone();
        let credential: PublicKeyCredential = serde_json::from_value(authenticator.get(&options))?;
        assert_eq!(credential.get_credential_id(), first.cred_id().as_slice());
        let result = rp.finish_passkey_authentication(&credential, &state)?;
        first.update_credential(&result);
    }

    // An explicit credential outside allowCredentials is refused by the relying party.
    let (rcr, state) = rp.start_passkey_authentication(std::slice::from_ref(&first))?;
    let options = serde_json::to_value(&rcr)?["publicKey"].clone();
    let credential: PublicKeyCredential =
        serde_json::from_value(authenticator.get_using(1, &options, &Tweaks::default()))?;
    assert_eq!(credential.get_credential_id(), second.cred_id().as_slice());
    assert!(
        rp.finish_passkey_authentication(&credential, &state)
            .is_err()
    );

    // Once the device holding the first credential is lost, it cannot answer any more.
    authenticator.forget(0);
    assert_eq!(authenticator.credentials().len(), 1);
    assert!(matches!(
        authenticator.try_get_with(&options, &Tweaks::default()),
        Err(CeremonyError::NotAllowed(_))
    ));
    Ok(())
}

#[test]
fn refuses_to_create_an_excluded_credential() -> TestResult {
    let rp = relying_party()?;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let passkey = register(&rp, &mut authenticator)?;

    let (ccr, _) = rp.start_passkey_registration(
        Uuid::new_v4(),
        "name",
        "Name",
        Some(vec![passkey.cred_id().clone()]),
    )?;
    let options = serde_json::to_value(&ccr)?["publicKey"].clone();
    let refusal = authenticator.try_create_with(&options, &Tweaks::default());
    assert!(
        matches!(refusal, Err(CeremonyError::InvalidState(_))),
        "{refusal:?}"
    );
    assert_eq!(authenticator.credentials().len(), 1);

    // Another authenticator does not hold the excluded credential and may register.
    let mut other = SoftAuthenticator::new(ORIGIN);
    other.create(&options);
    Ok(())
}

#[test]
#[should_panic(expected = "InvalidStateError")]
fn create_panics_on_an_excluded_credential() {
    let rp = relying_party().expect("relying party");
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let passkey = register(&rp, &mut authenticator).expect("registration");
    let (ccr, _) = rp
        .start_passkey_registration(
            Uuid::new_v4(),
            "name",
            "Name",
            Some(vec![passkey.cred_id().clone()]),
        )
        .expect("options");
    let options = serde_json::to_value(&ccr).expect("json")["publicKey"].clone();
    authenticator.create(&options);
}

#[test]
fn registration_without_user_verification_is_rejected() -> TestResult {
    let verdict = register_with(&Tweaks {
        user_verified: false,
        ..Tweaks::default()
    })?;
    assert!(
        matches!(verdict, Err(WebauthnError::UserNotVerified)),
        "{verdict:?}"
    );
    Ok(())
}

#[test]
fn registration_from_another_origin_is_rejected() -> TestResult {
    let verdict = register_with(&Tweaks {
        origin: Some("http://evil.example:8080".into()),
        ..Tweaks::default()
    })?;
    assert!(
        matches!(verdict, Err(WebauthnError::InvalidRPOrigin)),
        "{verdict:?}"
    );
    Ok(())
}

#[test]
fn registration_answered_with_an_assertion_type_is_rejected() -> TestResult {
    let verdict = register_with(&Tweaks {
        ceremony_type: Some("webauthn.get".into()),
        ..Tweaks::default()
    })?;
    assert!(
        matches!(verdict, Err(WebauthnError::InvalidClientDataType)),
        "{verdict:?}"
    );
    Ok(())
}

#[test]
fn registration_for_another_rp_id_is_rejected() -> TestResult {
    let verdict = register_with(&Tweaks {
        rp_id: Some("evil.example".into()),
        ..Tweaks::default()
    })?;
    assert!(
        matches!(verdict, Err(WebauthnError::InvalidRPIDHash)),
        "{verdict:?}"
    );
    Ok(())
}

#[test]
fn registration_with_another_challenge_is_rejected() -> TestResult {
    let verdict = register_with(&Tweaks {
        challenge: Some(vec![7; 32]),
        ..Tweaks::default()
    })?;
    assert!(
        matches!(verdict, Err(WebauthnError::MismatchedChallenge)),
        "{verdict:?}"
    );
    Ok(())
}

#[test]
fn registration_reports_backup_flags() -> TestResult {
    let synced = register_with(&Tweaks {
        backup_eligible: true,
        backup_state: true,
        ..Tweaks::default()
    })??;
    assert_eq!(synced.cred_id().len(), 16);

    let inconsistent = register_with(&Tweaks {
        backup_state: true,
        ..Tweaks::default()
    })?;
    assert!(inconsistent.is_err(), "backed up without being eligible");
    Ok(())
}

#[test]
fn sign_in_with_tweaks_is_rejected() -> TestResult {
    assert_eq!(sign_in_with(&Tweaks::default())?.ok(), Some(1));
    assert_eq!(
        sign_in_with(&Tweaks {
            counter: Some(41),
            ..Tweaks::default()
        })?
        .ok(),
        Some(41)
    );

    let wrong_origin = sign_in_with(&Tweaks {
        origin: Some("http://localhost:9999".into()),
        ..Tweaks::default()
    })?;
    assert!(
        matches!(wrong_origin, Err(WebauthnError::InvalidRPOrigin)),
        "{wrong_origin:?}"
    );

    let wrong_rp_id = sign_in_with(&Tweaks {
        rp_id: Some("evil.example".into()),
        ..Tweaks::default()
    })?;
    assert!(
        matches!(wrong_rp_id, Err(WebauthnError::InvalidRPIDHash)),
        "{wrong_rp_id:?}"
    );

    let wrong_type = sign_in_with(&Tweaks {
        ceremony_type: Some("webauthn.create".into()),
        ..Tweaks::default()
    })?;
    assert!(
        matches!(wrong_type, Err(WebauthnError::InvalidClientDataType)),
        "{wrong_type:?}"
    );

    let wrong_challenge = sign_in_with(&Tweaks {
        challenge: Some(vec![7; 32]),
        ..Tweaks::default()
    })?;
    assert!(
        matches!(wrong_challenge, Err(WebauthnError::MismatchedChallenge)),
        "{wrong_challenge:?}"
    );

    let unverified = sign_in_with(&Tweaks {
        user_verified: false,
        ..Tweaks::default()
    })?;
    assert!(
        matches!(unverified, Err(WebauthnError::UserNotVerified)),
        "{unverified:?}"
    );
    Ok(())
}

#[test]
fn replayed_counter_is_rejected_and_the_device_recovers() -> TestResult {
    let rp = relying_party()?;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let mut passkey = register(&rp, &mut authenticator)?;

    let mut sign_in = |tweaks: &Tweaks| -> Result<bool, Box<dyn std::error::Error>> {
        let (rcr, state) = rp.start_discoverable_authentication()?;
        let options = serde_json::to_value(&rcr)?["publicKey"].clone();
        let credential: PublicKeyCredential =
            serde_json::from_value(authenticator.get_with(&options, tweaks))?;
        Ok(
            match rp.finish_discoverable_authentication(
                &credential,
                state,
                &[DiscoverableKey::from(&passkey)],
            ) {
                Ok(result) => {
                    passkey.update_credential(&result);
                    true
                }
                Err(WebauthnError::CredentialPossibleCompromise) => false,
                Err(other) => return Err(other.into()),
            },
        )
    };

    assert!(sign_in(&Tweaks::default())?); // counter 1
    assert!(sign_in(&Tweaks::default())?); // counter 2
    let replay = Tweaks {
        counter: Some(2),
        ..Tweaks::default()
    };
    assert!(!sign_in(&replay)?);
    assert!(sign_in(&Tweaks::default())?); // counter 3
    Ok(())
}

#[test]
fn responses_use_the_webauthn_json_encoding() -> TestResult {
    let rp = relying_party()?;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let (_, options, _) = start_registration(&rp)?;
    let response = authenticator.create(&options);

    assert_eq!(response["type"], "public-key");
    assert_eq!(response["id"], response["rawId"]);
    assert_eq!(response["response"]["transports"], json!(["internal"]));
    let client_data = b64_decode(response["response"]["clientDataJSON"].as_str().unwrap())?;
    let client_data: Value = serde_json::from_slice(&client_data)?;
    assert_eq!(client_data["type"], "webauthn.create");
    assert_eq!(client_data["challenge"], options["challenge"]);
    assert_eq!(client_data["origin"], ORIGIN);
    assert_eq!(client_data["crossOrigin"], false);

    let attestation = b64_decode(response["response"]["attestationObject"].as_str().unwrap())?;
    let attestation: Cbor = ciborium::from_reader(attestation.as_slice())?;
    let fields = attestation.as_map().expect("attestation object is a map");
    assert_eq!(
        fields[0],
        (Cbor::Text("fmt".into()), Cbor::Text("none".into()))
    );
    let auth_data = fields[2].1.as_bytes().expect("authData is a byte string");
    assert_eq!(&auth_data[..32], digest(&SHA256, b"localhost").as_ref());
    assert_eq!(auth_data[32], FLAG_UP | FLAG_UV | FLAG_AT);
    assert_eq!(&auth_data[37..53], &[0u8; 16]);
    Ok(())
}
