//! Checkpoints: a statement of how long the log was and what its last hash
//! was, signed with the provider's ES256 key and kept away from the
//! database (published, or sent to auditors). Whoever holds the database
//! can rewrite a log whole, but not so that it still extends a checkpoint
//! made before: that would need the same hash at the same entry.

use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde::{Deserialize, Serialize};

use crate::oidc::signing::{Alg, SigningKey};
use crate::secrets::MasterKey;
use crate::store::{Store, StoreError};

/// The JWS `typ` of a checkpoint.
pub const TYP: &str = "audit-checkpoint+jwt";

/// What a checkpoint states (the JWS claims).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The issuer of the provider that made it.
    pub iss: String,
    /// The number of entries, which is the last entry's sequence number.
    pub seq: i64,
    /// The hash of entry `seq`.
    pub hash: String,
    /// The first keyed entry at the time.
    pub keyed_from: i64,
    /// When it was made (Unix seconds).
    pub iat: i64,
}

/// A checkpoint read back, and the key that signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub checkpoint: Checkpoint,
    pub kid: String,
}

/// Why a checkpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("not an audit checkpoint: {0}")]
    NotACheckpoint(&'static str),
    #[error(
        "no signing key {0} in this database: the checkpoint was not made with one of its keys"
    )]
    UnknownKey(String),
    #[error(
        "signing key {0} is not sealed under this master key: someone else put it in the database"
    )]
    PlantedKey(String),
    #[error("the checkpoint's signature does not verify with key {0}")]
    BadSignature(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Checkpoint {
    /// The compact JWS, signed with `key` (an ES256 key).
    pub fn sign(&self, key: &SigningKey) -> anyhow::Result<String> {
        anyhow::ensure!(key.alg == Alg::ES256, "checkpoints are signed with ES256");
        key.sign(TYP, self)
    }
}

/// Reads a checkpoint: a compact JWS of type [`TYP`], signed with ES256 by
/// one of this database's signing keys in any state (still signing,
/// retired, unpublished or revoked since) that is sealed under `master`.
pub async fn read(
    store: &Store,
    master: &MasterKey,
    text: &str,
) -> Result<Signed, CheckpointError> {
    let text = text.trim();
    let header = decode_header(text).map_err(|_| CheckpointError::NotACheckpoint("not a JWS"))?;
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(TYP))
    {
        return Err(CheckpointError::NotACheckpoint(
            "its type is not audit-checkpoint+jwt",
        ));
    }
    if header.alg != Alg::ES256.jwt() {
        return Err(CheckpointError::NotACheckpoint(
            "it is not signed with ES256",
        ));
    }
    let kid = header
        .kid
        .ok_or(CheckpointError::NotACheckpoint("it names no key"))?;
    let row = store
        .signing_key(&kid)
        .await?
        .filter(|row| row.alg == Alg::ES256.as_str())
        .ok_or_else(|| CheckpointError::UnknownKey(kid.clone()))?;
    if crate::oidc::keyring::unseal(master, &row).is_err() {
        return Err(CheckpointError::PlantedKey(kid));
    }
    let bad = || CheckpointError::BadSignature(kid.clone());
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&row.public_jwk).map_err(|_| bad())?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| bad())?;
    let mut validation = Validation::new(Alg::ES256.jwt());
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = decode::<serde_json::Value>(text, &key, &validation).map_err(|_| bad())?;
    let checkpoint = serde_json::from_value(data.claims)
        .map_err(|_| CheckpointError::NotACheckpoint("its claims are not a checkpoint's"))?;
    Ok(Signed { checkpoint, kid })
}
