//! A software WebAuthn authenticator: real P-256 keys, real attestation
//! ("none") and assertion responses, in the WebAuthn JSON encoding
//! (`PublicKeyCredential.toJSON()`, binary fields as unpadded base64url).
//!
//! It stands in for a browser at one origin plus a platform authenticator,
//! so a load run exercises exactly the verification a real passkey costs.
//! Each [`Passkey`] belongs to one citizen; the signature counter rises with
//! every assertion, so one passkey must not be used by two journeys at once.

use anyhow::{Context, anyhow, bail, ensure};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value as Cbor;
use ring::digest::{SHA256, digest};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};

/// authenticatorData flags: user present, user verified, attested data.
const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_AT: u8 = 0x40;
/// COSE algorithm identifier of ES256.
const COSE_ALG_ES256: i64 = -7;

/// One discoverable ES256 credential.
pub struct Passkey {
    /// Credential id (16 random bytes).
    pub id: Vec<u8>,
    /// The `user.id` given at creation (the citizen's handle).
    pub user_handle: Vec<u8>,
    /// RP id the credential is scoped to.
    pub rp_id: String,
    /// Last signature counter reported.
    pub counter: u32,
    key: EcdsaKeyPair,
}

impl std::fmt::Debug for Passkey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passkey")
            .field("id", &b64(&self.id))
            .field("rp_id", &self.rp_id)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

/// A browser at `origin` with a platform authenticator.
#[derive(Debug, Clone)]
pub struct Authenticator {
    origin: String,
    rng: SystemRandom,
}

impl Authenticator {
    /// An authenticator whose browser reports `origin` (the issuer's origin).
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.trim_end_matches('/').to_string(),
            rng: SystemRandom::new(),
        }
    }

    /// Answers creation options (the `publicKey` object) with a new resident
    /// credential; returns the response and the passkey to keep.
    pub fn create(&self, options: &Value) -> anyhow::Result<(Value, Passkey)> {
        let rp_id = options["rp"]["id"]
            .as_str()
            .context("creation options have no rp.id")?
            .to_string();
        if let Some(params) = options["pubKeyCredParams"].as_array() {
            ensure!(
                params
                    .iter()
                    .any(|p| p["alg"].as_i64() == Some(COSE_ALG_ES256)),
                "the server does not accept ES256 passkeys"
            );
        }
        let user_handle = b64_decode(
            options["user"]["id"]
                .as_str()
                .context("creation options have no user.id")?,
        )?;
        let mut id = vec![0u8; 16];
        self.rng
            .fill(&mut id)
            .map_err(|_| anyhow!("no randomness for a credential id"))?;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &self.rng)
            .map_err(|_| anyhow!("cannot generate a P-256 key"))?;
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &self.rng)
                .map_err(|_| anyhow!("cannot load the generated P-256 key"))?;

        let mut auth_data = authenticator_data(&rp_id, FLAG_UP | FLAG_UV | FLAG_AT, 0);
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID: none.
        auth_data.extend_from_slice(&(id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&id);
        auth_data.extend_from_slice(&cose_es256_key(key.public_key().as_ref())?);
        let attestation_object = cbor(&Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(Vec::new())),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]))?;
        let client_data = self.client_data(options, "webauthn.create")?;
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
            counter: 0,
            key,
        };
        Ok((response, passkey))
    }

    /// Answers request options with an assertion by `passkey`, raising its
    /// signature counter.
    pub fn get(&self, passkey: &mut Passkey, options: &Value) -> anyhow::Result<Value> {
        let rp_id = options["rpId"].as_str().unwrap_or(&passkey.rp_id);
        if rp_id != passkey.rp_id {
            bail!(
                "the server asks for RP id {rp_id:?}, the passkey belongs to {:?}",
                passkey.rp_id
            );
        }
        passkey.counter = passkey.counter.wrapping_add(1);
        let client_data = self.client_data(options, "webauthn.get")?;
        let auth_data = authenticator_data(rp_id, FLAG_UP | FLAG_UV, passkey.counter);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(digest(&SHA256, client_data.as_bytes()).as_ref());
        let signature = passkey
            .key
            .sign(&self.rng, &signed)
            .map_err(|_| anyhow!("ECDSA signing failed"))?;
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

    /// `clientDataJSON`, members in the order browsers write them.
    fn client_data(&self, options: &Value, ceremony_type: &str) -> anyhow::Result<String> {
        let challenge = options["challenge"]
            .as_str()
            .context("options have no challenge")?;
        Ok(format!(
            r#"{{"type":{},"challenge":{},"origin":{},"crossOrigin":false}}"#,
            Value::from(ceremony_type),
            Value::from(challenge),
            Value::from(self.origin.as_str()),
        ))
    }
}

/// SHA-256(rp id) || flags || big-endian counter.
fn authenticator_data(rp_id: &str, flags: u8, counter: u32) -> Vec<u8> {
    let mut data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
    data.push(flags);
    data.extend_from_slice(&counter.to_be_bytes());
    data
}

/// The COSE_Key (EC2, ES256, P-256) of an uncompressed SEC1 public key.
fn cose_es256_key(public_key: &[u8]) -> anyhow::Result<Vec<u8>> {
    ensure!(
        public_key.len() == 65 && public_key[0] == 0x04,
        "not an uncompressed P-256 point"
    );
    let int = |i: i64| Cbor::Integer(i.into());
    cbor(&Cbor::Map(vec![
        (int(1), int(2)),              // kty: EC2
        (int(3), int(COSE_ALG_ES256)), // alg: ES256
        (int(-1), int(1)),             // crv: P-256
        (int(-2), Cbor::Bytes(public_key[1..33].to_vec())),
        (int(-3), Cbor::Bytes(public_key[33..65].to_vec())),
    ]))
}

fn cbor(value: &Cbor) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).context("CBOR encoding failed")?;
    Ok(out)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_decode(text: &str) -> anyhow::Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .with_context(|| format!("{text:?} is not base64url"))
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
