//! Ceremony state in the database: stored under a hashed id for five
//! minutes and taken (deleted) before verification.

use serde_json::Value;
use time::Duration;
use uuid::Uuid;

use super::Passkeys;
use crate::error::AppError;
use crate::secrets::{hash_secret, new_secret};
use crate::store::{CeremonyRow, Taken};

/// How long a ceremony may take.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);

/// A started ceremony: its id and the WebAuthn options for the browser.
#[derive(Debug, serde::Serialize)]
pub struct Started {
    pub ceremony_id: String,
    #[serde(rename = "publicKey")]
    pub public_key: Value,
}

/// The flows a ceremony can belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Enrollment,
    Login,
    AddPasskey,
}

impl Kind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Enrollment => "enrollment",
            Self::Login => "login",
            Self::AddPasskey => "add_passkey",
        }
    }
}

impl Passkeys {
    /// Stores ceremony state and returns its id with the browser options.
    pub(super) async fn begin(
        &self,
        kind: Kind,
        options: Value,
        ceremony_state: String,
        payload: String,
        citizen_id: Option<Uuid>,
    ) -> Result<Started, AppError> {
        let (ceremony_id, id_hash) = new_secret();
        let now = self.clock.unix();
        let row = CeremonyRow {
            kind: kind.as_str().to_string(),
            state: ceremony_state,
            payload,
            citizen_id,
            expires_at: now + CEREMONY_TTL.whole_seconds(),
        };
        self.store.insert_ceremony(&id_hash, &row).await?;
        Ok(Started {
            ceremony_id,
            public_key: options,
        })
    }

    /// Takes the ceremony out of the store: unknown, other-flow and expired
    /// ceremonies are refused.
    pub(super) async fn take(
        &self,
        ceremony_id: &str,
        kind: Kind,
    ) -> Result<CeremonyRow, AppError> {
        let row = match self
            .store
            .take_ceremony(&hash_secret(ceremony_id), kind.as_str())
            .await?
        {
            Taken::Found(row) => row,
            Taken::OtherKind => {
                return Err(AppError::bad_request(
                    "wrong_ceremony",
                    "This ceremony belongs to another step. Start again from the beginning.",
                ));
            }
            Taken::Missing => {
                return Err(AppError::bad_request(
                    "unknown_ceremony",
                    "This request is unknown or was already used. Start again from the beginning.",
                ));
            }
        };
        if self.clock.unix() >= row.expires_at {
            return Err(AppError::bad_request(
                "ceremony_expired",
                "This took longer than five minutes. Start again from the beginning.",
            ));
        }
        Ok(row)
    }
}
