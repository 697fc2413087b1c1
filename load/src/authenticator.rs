//! A software WebAuthn authenticator: real P-256 keys, real attestation
//! ("none") and assertion responses, in the WebAuthn JSON encoding
//! (`PublicKeyCredential.toJSON()`, binary fields as unpadded base64url).
//!
//! It stands in for a browser at one origin plus a platform authenticator,
//! so a load run exercises exactly the verification a real passkey costs,
//! and the integration tests register and sign in as a citizen would. Each
//! [`Passkey`] belongs to one citizen; the signature counter rises with
//! every assertion, so one passkey must not be used by two journeys at once.
//!
//! [`Tweaks`] make deliberately wrong responses for negative tests, and
//! [`SoftAuthenticator`] is a device holding several passkeys, which honours
//! `excludeCredentials` and `allowCredentials` as a real one does.

mod device;
mod encoding;

use std::fmt;

use ciborium::Value as Cbor;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

pub use device::SoftAuthenticator;
pub use encoding::{b64, b64_decode};

use encoding::{authenticator_data, cbor, cose_es256_key, flags};

/// authenticatorData flag: user present.
pub const FLAG_UP: u8 = 0x01;
/// authenticatorData flag: user verified.
pub const FLAG_UV: u8 = 0x04;
/// authenticatorData flag: backup eligible.
pub const FLAG_BE: u8 = 0x08;
/// authenticatorData flag: backed up.
pub const FLAG_BS: u8 = 0x10;
/// authenticatorData flag: attested credential data included.
pub const FLAG_AT: u8 = 0x40;
/// COSE algorithm identifier of ES256 (ECDSA P-256 with SHA-256).
const COSE_ALG_ES256: i64 = -7;

/// Knobs for building deliberately wrong responses in negative tests; the
/// default is a correct response.
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

/// Why the authenticator refused a ceremony, named after what the browser
/// raises.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CeremonyError {
    /// `InvalidStateError`: a credential listed in `excludeCredentials` lives here.
    InvalidState(String),
    /// `NotAllowedError`: no credential here may answer the request.
    NotAllowed(String),
    /// `NotSupportedError`: none of the requested algorithms is ES256.
    NotSupported(String),
    /// `TypeError`: the options are malformed (a member missing, bad base64url).
    Type(String),
}

impl fmt::Display for CeremonyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidState(why) => write!(f, "InvalidStateError: {why}"),
            Self::NotAllowed(why) => write!(f, "NotAllowedError: {why}"),
            Self::NotSupported(why) => write!(f, "NotSupportedError: {why}"),
            Self::Type(why) => write!(f, "TypeError: {why}"),
        }
    }
}

impl std::error::Error for CeremonyError {}

/// One discoverable (resident) ES256 credential.
pub struct Passkey {
    /// Credential id (16 random bytes unless tweaked).
    pub id: Vec<u8>,
    /// The `user.id` given at creation (the citizen's handle).
    pub user_handle: Vec<u8>,
    /// RP id the credential is scoped to.
    pub rp_id: String,
    /// Highest signature counter reported so far.
    pub counter: u32,
    /// The P-256 private key.
    key: EcdsaKeyPair,
}

impl fmt::Debug for Passkey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Passkey")
            .field("id", &b64(&self.id))
            .field("rp_id", &self.rp_id)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// A browser at one origin with a platform authenticator.
#[derive(Debug, Clone)]
pub struct Authenticator {
    /// Origin the browser reports in `clientDataJSON`.
    origin: String,
    /// Randomness for credential ids, keys and signatures.
    rng: SystemRandom,
}

impl Authenticator {
    /// An authenticator whose browser runs at `origin` (e.g. "http://localhost:43123").
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.trim_end_matches('/').to_string(),
            rng: SystemRandom::new(),
        }
    }

    /// Answers creation options (the `publicKey` object) with a new resident
    /// credential; returns the response and the passkey to keep.
    pub fn create(&self, options: &Value) -> Result<(Value, Passkey), CeremonyError> {
        self.create_with(options, &Tweaks::default())
    }

    /// Like [`Self::create`], with deliberate deviations from a correct response.
    pub fn create_with(
        &self,
        options: &Value,
        tweaks: &Tweaks,
    ) -> Result<(Value, Passkey), CeremonyError> {
        let rp_id = self.creation_rp_id(options)?;
        check_algorithms(options)?;
        let user_handle = b64_decode(
            options["user"]["id"]
                .as_str()
                .ok_or_else(|| CeremonyError::Type("creation options have no user.id".into()))?,
        )?;
        let id = match &tweaks.credential_id {
            Some(forced) => forced.clone(),
            None => {
                let mut id = vec![0u8; 16];
                self.rng
                    .fill(&mut id)
                    .map_err(|_| failed("no randomness for a credential id"))?;
                id
            }
        };
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng)
            .map_err(|_| failed("cannot generate a P-256 key"))?;
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &self.rng)
                .map_err(|_| failed("cannot load the generated P-256 key"))?;
        let counter = tweaks.counter.unwrap_or(0);

        let mut auth_data = authenticator_data(
            tweaks.rp_id.as_deref().unwrap_or(&rp_id),
            flags(tweaks) | FLAG_AT,
            counter,
        );
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: none.
        let id_len = u16::try_from(id.len())
            .map_err(|_| CeremonyError::Type("credential id longer than 65535 bytes".into()))?;
        auth_data.extend_from_slice(&id_len.to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose_es256_key(key.public_key().as_ref())?);
        let attestation_object = cbor(&Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(Vec::new())),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]))?;
        let client_data = self.client_data(options, tweaks, "webauthn.create")?;
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
        let passkey = Passkey {
            id,
            user_handle,
            rp_id,
            counter,
            key,
        };
        Ok((response, passkey))
    }

    /// Answers request options with an assertion by `passkey`, raising its
    /// signature counter.
    pub fn get(&self, passkey: &mut Passkey, options: &Value) -> Result<Value, CeremonyError> {
        self.get_with(passkey, options, &Tweaks::default())
    }

    /// Like [`Self::get`], with deliberate deviations from a correct response.
    pub fn get_with(
        &self,
        passkey: &mut Passkey,
        options: &Value,
        tweaks: &Tweaks,
    ) -> Result<Value, CeremonyError> {
        let rp_id = options["rpId"].as_str().unwrap_or(&passkey.rp_id);
        if rp_id != passkey.rp_id {
            return Err(CeremonyError::NotAllowed(format!(
                "the request is for RP id {rp_id:?}, the passkey belongs to {:?}",
                passkey.rp_id
            )));
        }
        let client_data = self.client_data(options, tweaks, "webauthn.get")?;
        // A tweaked counter is reported as is; the stored one never goes down, so that
        // after a replayed (lower) counter the next honest assertion is accepted again.
        let counter = tweaks
            .counter
            .unwrap_or_else(|| passkey.counter.wrapping_add(1));
        passkey.counter = passkey.counter.max(counter);

        let auth_data = authenticator_data(
            tweaks.rp_id.as_deref().unwrap_or(&passkey.rp_id),
            flags(tweaks),
            counter,
        );
        let mut signed = auth_data.clone();
        signed.extend_from_slice(digest(&SHA256, client_data.as_bytes()).as_ref());
        let signature = passkey
            .key
            .sign(&self.rng, &signed)
            .map_err(|_| failed("ECDSA signing failed"))?;
        Ok(json!({
            "id": b64(&passkey.id),
            "rawId": b64(&passkey.id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.as_ref()),
                "userHandle": b64(&passkey.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }))
    }

    /// The RP id of creation options: `rp.id`, or the origin's host.
    fn creation_rp_id(&self, options: &Value) -> Result<String, CeremonyError> {
        match options["rp"]["id"].as_str() {
            Some(id) => Ok(id.to_string()),
            None => self.origin_host(),
        }
    }

    /// The RP id of request options: `rpId`, or the origin's host.
    fn request_rp_id(&self, options: &Value) -> Result<String, CeremonyError> {
        match options["rpId"].as_str() {
            Some(id) => Ok(id.to_string()),
            None => self.origin_host(),
        }
    }

    /// The host of the browser's origin, the default RP id.
    fn origin_host(&self) -> Result<String, CeremonyError> {
        url::Url::parse(&self.origin)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .ok_or_else(|| CeremonyError::Type(format!("origin {:?} has no host", self.origin)))
    }

    /// `clientDataJSON`, with its members in the order browsers write them.
    fn client_data(
        &self,
        options: &Value,
        tweaks: &Tweaks,
        ceremony_type: &str,
    ) -> Result<String, CeremonyError> {
        let challenge = match &tweaks.challenge {
            Some(bytes) => b64(bytes),
            None => options["challenge"]
                .as_str()
                .ok_or_else(|| CeremonyError::Type("options have no challenge".into()))?
                .to_string(),
        };
        Ok(format!(
            r#"{{"type":{},"challenge":{},"origin":{},"crossOrigin":false}}"#,
            Value::from(tweaks.ceremony_type.as_deref().unwrap_or(ceremony_type)),
            Value::from(challenge),
            Value::from(tweaks.origin.as_deref().unwrap_or(&self.origin)),
        ))
    }
}

/// Refuses creation options whose `pubKeyCredParams` lists algorithms but
/// not ES256 (an empty list means the defaults, which include it).
fn check_algorithms(options: &Value) -> Result<(), CeremonyError> {
    match options["pubKeyCredParams"].as_array() {
        Some(params)
            if !params.is_empty()
                && !params
                    .iter()
                    .any(|p| p["alg"].as_i64() == Some(COSE_ALG_ES256)) =>
        {
            Err(CeremonyError::NotSupported(format!(
                "only ES256 (-7) is supported, pubKeyCredParams is {}",
                Value::Array(params.clone())
            )))
        }
        _ => Ok(()),
    }
}

/// A failure of the authenticator itself (no randomness, a key it cannot
/// use), reported as the browser's catch-all.
fn failed(why: &str) -> CeremonyError {
    CeremonyError::NotAllowed(why.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creation_options() -> Value {
        json!({
            "rp": {"id": "localhost", "name": "Civitas"},
            "user": {"id": b64(b"citizen-1"), "name": "a", "displayName": "a"},
            "challenge": b64(&[7u8; 32]),
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        })
    }

    #[test]
    fn creates_a_none_attestation_with_the_rp_id_hash() {
        let authenticator = Authenticator::new("http://localhost:8080/");
        let (response, passkey) = authenticator.create(&creation_options()).unwrap();
        assert_eq!(response["id"], b64(&passkey.id));
        let object =
            b64_decode(response["response"]["attestationObject"].as_str().unwrap()).unwrap();
        let object: Cbor = ciborium::from_reader(object.as_slice()).unwrap();
        let fields = object.as_map().unwrap();
        let auth_data = fields[2].1.as_bytes().unwrap();
        assert_eq!(&auth_data[..32], digest(&SHA256, b"localhost").as_ref());
        assert_eq!(auth_data[32], FLAG_UP | FLAG_UV | FLAG_AT);
        let client_data =
            b64_decode(response["response"]["clientDataJSON"].as_str().unwrap()).unwrap();
        let client_data: Value = serde_json::from_slice(&client_data).unwrap();
        assert_eq!(client_data["origin"], "http://localhost:8080");
        assert_eq!(client_data["type"], "webauthn.create");
    }

    #[test]
    fn assertions_raise_the_counter_and_verify() {
        let authenticator = Authenticator::new("http://localhost:8080");
        let (_, mut passkey) = authenticator.create(&creation_options()).unwrap();
        let options = json!({"challenge": b64(&[9u8; 32]), "rpId": "localhost"});
        let first = authenticator.get(&mut passkey, &options).unwrap();
        let second = authenticator.get(&mut passkey, &options).unwrap();
        assert_eq!(passkey.counter, 2);
        assert_ne!(
            first["response"]["signature"],
            second["response"]["signature"]
        );
        let wrong = json!({"challenge": b64(&[9u8; 32]), "rpId": "evil.example"});
        assert!(authenticator.get(&mut passkey, &wrong).is_err());
    }
}
