//! Ceremony state travels with the client, sealed: the WebAuthn state and
//! what the flow remembers between start and finish, bound to the ceremony
//! kind, this issuer and an expiry of five minutes. Starting a ceremony
//! writes nothing, so a flood of starts costs no database write; any
//! instance with the master key finishes a ceremony another started.
//!
//! Single use is enforced when a ceremony finishes: only after the
//! assertion or attestation verified is the hash of its challenge recorded,
//! by a unique insert in the transaction that creates the session, citizen
//! or passkey (`Tx::use_ceremony`). A replay, or the second of two parallel
//! finishes, finds it recorded and is refused.

use serde_json::Value;
use time::Duration;
use uuid::Uuid;

use super::Passkeys;
use crate::error::AppError;
use crate::secrets::hash_secret;
use crate::store::{Tx, UsedCeremony};

/// How long a ceremony may take.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);

/// A started ceremony: its sealed state and the WebAuthn options for the
/// browser.
#[derive(Debug, serde::Serialize)]
pub struct Started {
    pub ceremony_id: String,
    #[serde(rename = "publicKey")]
    pub public_key: Value,
}

/// The flows a ceremony can belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Kind {
    Enrollment,
    Login,
    AddPasskey,
}

/// What a ceremony carries from start to finish, sealed.
#[derive(serde::Serialize, serde::Deserialize)]
struct Sealed {
    kind: Kind,
    expires_at: i64,
    /// The WebAuthn challenge, whose hash marks the ceremony used.
    challenge: String,
    /// webauthn-rs state, as JSON.
    state: String,
    /// What the flow remembers (JSON, or empty).
    payload: String,
    citizen_id: Option<Uuid>,
}

/// An opened ceremony, not yet used.
pub(super) struct Opened {
    pub state: String,
    pub payload: String,
    pub citizen_id: Option<Uuid>,
    used: UsedCeremony,
}

impl Opened {
    pub fn used(&self) -> &UsedCeremony {
        &self.used
    }
}

fn unknown() -> AppError {
    AppError::bad_request(
        "unknown_ceremony",
        "This request is unknown or was already used. Start again from the beginning.",
    )
}

impl Passkeys {
    /// What the seal is bound to besides its purpose: this issuer.
    fn seal_context(&self) -> Vec<u8> {
        format!("ceremony\n{}", self.issuer).into_bytes()
    }

    /// Seals ceremony state and returns it with the browser options.
    pub(super) fn begin(
        &self,
        kind: Kind,
        options: Value,
        state: String,
        payload: String,
        citizen_id: Option<Uuid>,
    ) -> Result<Started, AppError> {
        let challenge = options
            .get("challenge")
            .and_then(Value::as_str)
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("options without a challenge")))?
            .to_string();
        let sealed = Sealed {
            kind,
            expires_at: self.clock.unix() + CEREMONY_TTL.whole_seconds(),
            challenge,
            state,
            payload,
            citizen_id,
        };
        let text = serde_json::to_vec(&sealed).map_err(AppError::internal)?;
        let ceremony_id = self
            .ceremonies
            .seal(&text, &self.seal_context())
            .map_err(AppError::internal)?;
        Ok(Started {
            ceremony_id,
            public_key: options,
        })
    }

    /// Opens a ceremony of `kind`: unknown, altered, other-flow, expired
    /// and already finished ceremonies are refused.
    pub(super) async fn open(&self, ceremony_id: &str, kind: Kind) -> Result<Opened, AppError> {
        let sealed: Sealed = self
            .ceremonies
            .open(ceremony_id, &self.seal_context())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or_else(unknown)?;
        if sealed.kind != kind {
            return Err(AppError::bad_request(
                "wrong_ceremony",
                "This ceremony belongs to another step. Start again from the beginning.",
            ));
        }
        if self.clock.unix() >= sealed.expires_at {
            return Err(AppError::bad_request(
                "ceremony_expired",
                "This took longer than five minutes. Start again from the beginning.",
            ));
        }
        let used = UsedCeremony {
            challenge_hash: hash_secret(&sealed.challenge),
            expires_at: sealed.expires_at,
        };
        // A cheap early answer for a replay; the unique insert at the end
        // is what guarantees it.
        if self.store.ceremony_used(&used.challenge_hash).await? {
            return Err(unknown());
        }
        Ok(Opened {
            state: sealed.state,
            payload: sealed.payload,
            citizen_id: sealed.citizen_id,
            used,
        })
    }
}

/// Marks the ceremony used inside `tx`; refused when another finish
/// marked it first.
pub(super) async fn use_ceremony(tx: &mut Tx, used: &UsedCeremony) -> Result<(), AppError> {
    if tx.use_ceremony(used).await? {
        Ok(())
    } else {
        Err(unknown())
    }
}
