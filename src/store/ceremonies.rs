//! Finished WebAuthn ceremonies: the hash of each one's challenge, kept
//! until the ceremony would have expired, so that each finishes once (the
//! ceremony state itself travels with the client, sealed; see
//! `passkey::ceremony`).

use super::{Store, StoreError, Tx, on_pool};

/// The mark a finished ceremony leaves: its challenge's hash, kept until
/// the ceremony would have expired anyway.
#[derive(Debug, Clone)]
pub struct UsedCeremony {
    pub challenge_hash: String,
    pub expires_at: i64,
}

impl Store {
    /// Whether a ceremony with this challenge hash has finished.
    pub async fn ceremony_used(&self, challenge_hash: &str) -> Result<bool, StoreError> {
        let found: Option<i32> = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT 1 FROM used_ceremonies WHERE challenge_hash = $1"
        )
        .bind(challenge_hash)
        .fetch_optional(pool)
        .await)?;
        Ok(found.is_some())
    }
}

impl Tx {
    /// Records a finished ceremony; false when it was recorded already.
    pub async fn use_ceremony(&mut self, used: &UsedCeremony) -> Result<bool, StoreError> {
        let inserted = on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO used_ceremonies (challenge_hash, expires_at) VALUES ($1, $2) \
             ON CONFLICT (challenge_hash) DO NOTHING"
        )
        .bind(&used.challenge_hash)
        .bind(used.expires_at)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(inserted == 1)
    }
}
