//! Browser sessions, stored under the SHA-256 of their token.

use uuid::Uuid;

use super::{Store, StoreError, Tx, on_pool};
use crate::domain::{Citizen, CitizenId};

/// A session as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub token_hash: String,
    pub citizen_id: Uuid,
    pub passkey_id: Uuid,
    pub user_verified: bool,
    pub auth_time: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
}

impl Tx {
    pub async fn insert_session(&mut self, s: &SessionRow) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO sessions (id, token_hash, citizen_id, passkey_id, user_verified, \
             auth_time, last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )
        .bind(s.id)
        .bind(&s.token_hash)
        .bind(s.citizen_id)
        .bind(s.passkey_id)
        .bind(s.user_verified)
        .bind(s.auth_time)
        .bind(s.last_seen_at)
        .bind(s.expires_at)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Ends a citizen's sign-ins at once: sessions deleted, grants revoked
    /// (so refresh tokens fail and introspection says inactive).
    pub async fn end_access(&mut self, citizen: CitizenId, now: i64) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| {
            sqlx::query("DELETE FROM sessions WHERE citizen_id = $1")
                .bind(citizen.0)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "UPDATE grants SET revoked_at = $1 WHERE citizen_id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(citizen.0)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }
}

/// A session with its citizen.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub session: SessionRow,
    pub citizen: Citizen,
}

impl Store {
    /// The session whose token hashes to `token_hash`, with its citizen.
    pub async fn find_session(&self, token_hash: &str) -> Result<Option<SignedIn>, StoreError> {
        let session: Option<SessionRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, token_hash, citizen_id, passkey_id, user_verified, auth_time, \
             last_seen_at, expires_at FROM sessions WHERE token_hash = $1"
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await)?;
        let Some(session) = session else {
            return Ok(None);
        };
        let citizen = self
            .find_citizen(CitizenId(session.citizen_id))
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("session {} has no citizen", session.id)))?;
        Ok(Some(SignedIn { session, citizen }))
    }

    /// Moves the idle deadline forward.
    pub async fn touch_session(&self, id: Uuid, now: i64) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE sessions SET last_seen_at = $1 WHERE id = $2"
        )
        .bind(now)
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn delete_session(&self, id: Uuid) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "DELETE FROM sessions WHERE id = $1"
        )
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
