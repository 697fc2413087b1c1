//! A software WebAuthn authenticator (ES256, attestation "none") standing in for a browser and
//! a platform authenticator, so that tests can register and sign in with passkeys.
//!
//! Options go in and responses come out in the WebAuthn JSON encoding
//! (`PublicKeyCredential.toJSON()`): every binary field is base64url without padding.
//!
//! Ceremonies a real authenticator would refuse (an excluded credential, no usable
//! credential, no ES256 in `pubKeyCredParams`) make `create`/`get` panic with the
//! `DOMException` name the browser would raise; `try_create_with` and `try_get_with` return
//! the same outcome as a [`CeremonyError`] instead.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value as Cbor;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// authenticatorData flag: user present.
const FLAG_UP: u8 = 0x01;
/// authenticatorData flag: user verified.
const FLAG_UV: u8 = 0x04;
/// authenticatorData flag: backup eligible.
const FLAG_BE: u8 = 0x08;
/// authenticatorData flag: backed up.
const FLAG_BS: u8 = 0x10;
/// authenticatorData flag: attested credential data included.
const FLAG_AT: u8 = 0x40;
/// COSE algorithm identifier of ES256 (ECDSA P-256 with SHA-256).
const COSE_ALG_ES256: i64 = -7;

/// Knobs for building deliberately wrong responses in negative tests.
#[derive(Clone, Debug)]
pub struct Tweaks {
    /// Override `clientDataJSON.origin`.
    pub origin: Option<String>,
    /// Hash this RP id into authenticatorData instead of the requested one.
    pub rp_id: Option<String>,
    /// Override `clientDataJSON.type` ("webauthn.create" / "webauthn.get").
    pub ceremony_type: Option<String>,
    /// Override the challenge echoed in `clientDataJSON`.
    pub challenge: Option<Vec<u8>>,
    /// User verified (UV) flag.
    pub user_verified: bool,
    /// Backup eligible (BE) flag.
    pub backup_eligible: bool,
    /// Backed up (BS) flag.
    pub backup_state: bool,
    /// Signature counter to report (default: 0 at create, previous + 1 at get).
    pub counter: Option<u32>,
    /// Report this credential id at create instead of a fresh random one.
    pub credential_id: Option<Vec<u8>>,
}

impl Default for Tweaks {
    fn default() -> Self {
        Self {
            origin: None,
            rp_id: None,
            ceremony_type: None,
            challenge: None,
            user_verified: true,
            backup_eligible: false,
            backup_state: false,
            counter: None,
            credential_id: None,
        }
    }
}

/// Why the authenticator refused a ceremony, named after the browser's `DOMException`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CeremonyError {
    /// `InvalidStateError`: a credential listed in `excludeCredentials` lives here.
    InvalidState(String),
    /// `NotAllowedError`: no credential here may answer the request.
    NotAllowed(String),
    /// `NotSupportedError`: none of the requested algorithms is ES256.
    NotSupported(String),
}

impl fmt::Display for CeremonyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidState(why) => write!(f, "InvalidStateError: {why}"),
            Self::NotAllowed(why) => write!(f, "NotAllowedError: {why}"),
            Self::NotSupported(why) => write!(f, "NotSupportedError: {why}"),
        }
    }
}

impl std::error::Error for CeremonyError {}

/// One discoverable (resident) ES256 credential held by a [`SoftAuthenticator`].
#[derive(Debug)]
pub struct SoftCredential {
    /// Credential id (16 random bytes).
    pub id: Vec<u8>,
    /// User handle given as `user.id` at creation.
    pub user_handle: Vec<u8>,
    /// RP id the credential is scoped to.
    pub rp_id: String,
    /// Highest signature counter reported so far.
    pub counter: u32,
    /// The P-256 private key.
    key: EcdsaKeyPair,
}

/// A browser at one origin together with a platform authenticator holding passkeys.
#[derive(Debug)]
pub struct SoftAuthenticator {
    /// Origin the browser reports in `clientDataJSON`.
    origin: String,
    /// Credentials, oldest first.
    credentials: Vec<SoftCredential>,
    /// Randomness for credential ids, keys and signatures.
    rng: SystemRandom,
}

impl SoftAuthenticator {
    /// A new authenticator whose browser runs at `origin` (e.g. "http://localhost:43123").
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.to_string(),
            credentials: Vec::new(),
            rng: SystemRandom::new(),
        }
    }

    /// Answers creation options (the `publicKey` object) with a new resident credential; panics
    /// if the authenticator refuses (see [`Self::try_create_with`]).
    pub fn create(&mut self, options: &Value) -> Value {
        self.create_with(options, &Tweaks::default())
    }

    /// Like [`Self::create`], with deliberate deviations from a correct response.
    pub fn create_with(&mut self, options: &Value, tweaks: &Tweaks) -> Value {
        self.try_create_with(options, tweaks)
            .unwrap_or_else(|err| panic!("soft authenticator refused to create: {err}"))
    }

    /// Like [`Self::create_with`], but a refusal is returned instead of panicking.
    ///
    /// Every call adds a credential, even for a user that already has one here, so one
    /// instance can stand in for several devices.
    pub fn try_create_with(
        &mut self,
        options: &Value,
        tweaks: &Tweaks,
    ) -> Result<Value, CeremonyError> {
        let rp_id = options["rp"]["id"]
            .as_str()
            .map_or_else(|| self.origin_host(), str::to_string);

        if let Some(params) = options["pubKeyCredParams"].as_array()
            && !params.is_empty()
            && !params
                .iter()
                .any(|p| p["alg"].as_i64() == Some(COSE_ALG_ES256))
        {
            return Err(CeremonyError::NotSupported(format!(
                "only ES256 (-7) is supported, pubKeyCredParams is {}",
                Value::Array(params.clone())
            )));
        }

        for excluded in descriptor_ids(&options["excludeCredentials"]) {
            if let Some(index) = self
                .credentials
                .iter()
                .position(|c| c.rp_id == rp_id && c.id == excluded)
            {
                return Err(CeremonyError::InvalidState(format!(
                    "credential #{index} ({}) is listed in excludeCredentials",
                    b64(&excluded)
                )));
            }
        }

        let user_handle = b64_decode(
            options["user"]["id"]
                .as_str()
                .expect("creation options have no user.id"),
        );

        let mut id = vec![0u8; 16];
        self.rng.fill(&mut id).expect("random credential id");
        if let Some(forced) = &tweaks.credential_id {
            id.clone_from(forced);
        }
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng)
            .expect("generate a P-256 key");
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &self.rng)
                .expect("load the generated P-256 key");
        let counter = tweaks.counter.unwrap_or(0);

        let mut auth_data = authenticator_data(
            tweaks.rp_id.as_deref().unwrap_or(&rp_id),
            flags(tweaks) | FLAG_AT,
            counter,
        );
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        let id_len = u16::try_from(id.len()).expect("credential id fits in u16");
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose_es256_key(key.public_key().as_ref()));

        let attestation_object = cbor(&Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(Vec::new())),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]));
        let client_data = self.client_data(options, tweaks, "webauthn.create");

        let response = json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "attestationObject": b64(&attestation_object),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        });

        self.credentials.push(SoftCredential {
            id,
            user_handle,
            rp_id,
            counter,
            key,
        });
        Ok(response)
    }

    /// Answers request options (the `publicKey` object) with an assertion; panics if no
    /// credential may answer (see [`Self::try_get_with`]).
    pub fn get(&mut self, options: &Value) -> Value {
        self.get_with(options, &Tweaks::default())
    }

    /// Like [`Self::get`], with deliberate deviations from a correct response.
    pub fn get_with(&mut self, options: &Value, tweaks: &Tweaks) -> Value {
        self.try_get_with(options, tweaks)
            .unwrap_or_else(|err| panic!("soft authenticator refused to sign: {err}"))
    }

    /// Like [`Self::get_with`], but a refusal is returned instead of panicking.
    ///
    /// Uses the newest credential for the RP id that `allowCredentials` lists or, when that
    /// list is empty (discoverable / usernameless sign-in), the newest one for the RP id.
    pub fn try_get_with(
        &mut self,
        options: &Value,
        tweaks: &Tweaks,
    ) -> Result<Value, CeremonyError> {
        let rp_id = self.request_rp_id(options);
        let allowed = descriptor_ids(&options["allowCredentials"]);
        let index = self
            .credentials
            .iter()
            .rposition(|c| c.rp_id == rp_id && (allowed.is_empty() || allowed.contains(&c.id)))
            .ok_or_else(|| {
                CeremonyError::NotAllowed(format!(
                    "no credential for RP id {rp_id:?} among {} allowed",
                    if allowed.is_empty() {
                        "all".to_string()
                    } else {
                        allowed.len().to_string()
                    }
                ))
            })?;
        Ok(self.get_using(index, options, tweaks))
    }

    /// Same as [`Self::get_with`] but with an explicit credential (index into `credentials()`),
    /// whatever `allowCredentials` and its RP id say.
    pub fn get_using(&mut self, index: usize, options: &Value, tweaks: &Tweaks) -> Value {
        let rp_id = self.request_rp_id(options);
        let client_data = self.client_data(options, tweaks, "webauthn.get");
        let rng = &self.rng;
        let count = self.credentials.len();
        let credential = self
            .credentials
            .get_mut(index)
            .unwrap_or_else(|| panic!("no credential #{index}, the authenticator holds {count}"));

        // A tweaked counter is reported as is; the stored one never goes down, so that
        // after a replayed (lower) counter the next honest assertion is accepted again.
        let counter = tweaks
            .counter
            .unwrap_or_else(|| credential.counter.wrapping_add(1));
        credential.counter = credential.counter.max(counter);

        let auth_data = authenticator_data(
            tweaks.rp_id.as_deref().unwrap_or(&rp_id),
            flags(tweaks),
            counter,
        );
        let mut signed = auth_data.clone();
        signed.extend_from_slice(digest(&SHA256, client_data.as_bytes()).as_ref());
        let signature = credential.key.sign(rng, &signed).expect("ECDSA signature");

        json!({
            "id": b64(&credential.id),
            "rawId": b64(&credential.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.as_ref()),
                "userHandle": b64(&credential.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }

    /// The credentials held, oldest first.
    pub fn credentials(&self) -> &[SoftCredential] {
        &self.credentials
    }

    /// Removes a credential (simulates a lost device); later indices shift down by one.
    pub fn forget(&mut self, index: usize) {
        self.credentials.remove(index);
    }

    /// The host of the browser's origin, the default RP id.
    fn origin_host(&self) -> String {
        url::Url::parse(&self.origin)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| panic!("origin {:?} has no host", self.origin))
    }

    /// The RP id of request options: `rpId`, or the origin's host.
    fn request_rp_id(&self, options: &Value) -> String {
        options["rpId"]
            .as_str()
            .map_or_else(|| self.origin_host(), str::to_string)
    }

    /// `clientDataJSON`, with its members in the order browsers write them.
    fn client_data(&self, options: &Value, tweaks: &Tweaks, ceremony_type: &str) -> String {
        let challenge = match &tweaks.challenge {
            Some(bytes) => b64(bytes),
            None => options["challenge"]
                .as_str()
                .expect("options have no challenge")
                .to_string(),
        };
        format!(
            r#"{{"type":{},"challenge":{},"origin":{},"crossOrigin":false}}"#,
            Value::from(tweaks.ceremony_type.as_deref().unwrap_or(ceremony_type)),
            Value::from(challenge),
            Value::from(tweaks.origin.as_deref().unwrap_or(&self.origin)),
        )
    }
}

/// The UP, UV, BE and BS flags for the tweaks.
fn flags(tweaks: &Tweaks) -> u8 {
    let mut flags = FLAG_UP;
    if tweaks.user_verified {
        flags |= FLAG_UV;
    }
    if tweaks.backup_eligible {
        flags |= FLAG_BE;
    }
    if tweaks.backup_state {
        flags |= FLAG_BS;
    }
    flags
}

/// authenticatorData up to the counter: SHA-256(rp id) || flags || big-endian counter.
fn authenticator_data(rp_id: &str, flags: u8, counter: u32) -> Vec<u8> {
    let mut data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
    data.push(flags);
    data.extend_from_slice(&counter.to_be_bytes());
    data
}

/// The COSE_Key (kty EC2, alg ES256, crv P-256) of an uncompressed SEC1 P-256 public key.
fn cose_es256_key(public_key: &[u8]) -> Vec<u8> {
    assert_eq!(public_key.len(), 65, "uncompressed P-256 point");
    assert_eq!(public_key[0], 0x04, "uncompressed P-256 point");
    let int = |i: i64| Cbor::Integer(i.into());
    cbor(&Cbor::Map(vec![
        (int(1), int(2)),              // kty: EC2
        (int(3), int(COSE_ALG_ES256)), // alg: ES256
        (int(-1), int(1)),             // crv: P-256
        (int(-2), Cbor::Bytes(public_key[1..33].to_vec())),
        (int(-3), Cbor::Bytes(public_key[33..65].to_vec())),
    ]))
}

/// CBOR encoding of a value.
fn cbor(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).expect("CBOR encoding");
    out
}

/// The decoded `id`s of a list of credential descriptors (absent list: none).
fn descriptor_ids(list: &Value) -> Vec<Vec<u8>> {
    list.as_array()
        .map(|descriptors| {
            descriptors
                .iter()
                .map(|d| b64_decode(d["id"].as_str().expect("credential descriptor has no id")))
                .collect()
        })
        .unwrap_or_default()
}

/// base64url without padding.
fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url, with or without padding.
fn b64_decode(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .unwrap_or_else(|err| panic!("{text:?} is not base64url: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use webauthn_rs::prelude::{
        DiscoverableKey, Passkey, PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
        WebauthnError,
    };
    use webauthn_rs::{Webauthn, WebauthnBuilder};

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    const ORIGIN: &str = "http://localhost:8080";

    /// A relying party for `localhost` served at [`ORIGIN`].
    fn relying_party() -> Result<Webauthn, WebauthnError> {
        WebauthnBuilder::new("localhost", &url::Url::parse(ORIGIN).expect("origin"))?.build()
    }

    /// Starts a passkey registration for a new user: (user id, options, state).
    fn start_registration(
        rp: &Webauthn,
    ) -> Result<(Uuid, Value, webauthn_rs::prelude::PasskeyRegistration), Box<dyn std::error::Error>>
    {
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
    fn sign_in_with(
        tweaks: &Tweaks,
    ) -> Result<Result<u32, WebauthnError>, Box<dyn std::error::Error>> {
        let rp = relying_party()?;
        let mut authenticator = SoftAuthenticator::new(ORIGIN);
        let passkey = register(&rp, &mut authenticator)?;
        let (rcr, state) = rp.start_discoverable_authentication()?;
        let options = serde_json::to_value(&rcr)?["publicKey"].clone();
        let credential: PublicKeyCredential =
            serde_json::from_value(authenticator.get_with(&options, tweaks))?;
        Ok(rp
            .finish_discoverable_authentication(
                &credential,
                state,
                &[DiscoverableKey::from(&passkey)],
            )
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
            let credential: PublicKeyCredential =
                serde_json::from_value(authenticator.get(&options))?;
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
        let client_data = b64_decode(response["response"]["clientDataJSON"].as_str().unwrap());
        let client_data: Value = serde_json::from_slice(&client_data)?;
        assert_eq!(client_data["type"], "webauthn.create");
        assert_eq!(client_data["challenge"], options["challenge"]);
        assert_eq!(client_data["origin"], ORIGIN);
        assert_eq!(client_data["crossOrigin"], false);

        let attestation = b64_decode(response["response"]["attestationObject"].as_str().unwrap());
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
}
