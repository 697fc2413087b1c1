//! The bytes of WebAuthn responses: authenticatorData, the COSE public key,
//! CBOR and base64url.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ciborium::Value as Cbor;
use ring::digest::{SHA256, digest};

use super::{COSE_ALG_ES256, CeremonyError, FLAG_BE, FLAG_BS, FLAG_UP, FLAG_UV, Tweaks, failed};

/// The UP, UV, BE and BS flags for the tweaks.
pub(super) fn flags(tweaks: &Tweaks) -> u8 {
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
pub(super) fn authenticator_data(rp_id: &str, flags: u8, counter: u32) -> Vec<u8> {
    let mut data = digest(&SHA256, rp_id.as_bytes()).as_ref().to_vec();
    data.push(flags);
    data.extend_from_slice(&counter.to_be_bytes());
    data
}

/// The COSE_Key (kty EC2, alg ES256, crv P-256) of an uncompressed SEC1 P-256 public key.
pub(super) fn cose_es256_key(public_key: &[u8]) -> Result<Vec<u8>, CeremonyError> {
    if public_key.len() != 65 || public_key[0] != 0x04 {
        return Err(failed("not an uncompressed P-256 point"));
    }
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
pub(super) fn cbor(value: &Cbor) -> Result<Vec<u8>, CeremonyError> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).map_err(|_| failed("CBOR encoding failed"))?;
    Ok(out)
}

/// base64url without padding, as WebAuthn's JSON encoding writes bytes.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url, with or without padding.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, CeremonyError> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| CeremonyError::Type(format!("{text:?} is not base64url: {e}")))
}
