//! Browser sessions: a random 256-bit token, stored only as its SHA-256,
//! with an idle and an absolute timeout. (The cookie that carries the token
//! is the HTTP layer's business: `http::session`.)

use time::Duration;
use uuid::Uuid;

use crate::domain::CitizenStatus;
use crate::error::AppError;
use crate::secrets::{hash_secret, new_secret};
use crate::store::{SessionRow, SignedIn, Store};

/// Idle updates are written at most this often (seconds), to keep sign-in
/// checks from writing on every request.
const TOUCH_EVERY: i64 = 60;

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after its sign-in, however active.
    pub max_age: Duration,
}

impl SessionPolicy {
    /// A session to be stored, signed in at `now`, and its token.
    pub fn new_session(
        &self,
        now: i64,
        citizen_id: Uuid,
        passkey_id: Uuid,
        user_verified: bool,
    ) -> (SessionRow, String) {
        let (token, token_hash) = new_secret();
        let row = SessionRow {
            id: Uuid::new_v4(),
            token_hash,
            citizen_id,
            passkey_id,
            user_verified,
            auth_time: now,
            last_seen_at: now,
            expires_at: now + self.max_age.whole_seconds(),
        };
        (row, token)
    }

    /// The live session `token` names, of an active citizen. Expired
    /// sessions are removed; sessions of citizens who may no longer sign in
    /// are ended.
    pub async fn find(
        &self,
        store: &Store,
        now: i64,
        token: &str,
    ) -> Result<Option<SignedIn>, AppError> {
        let Some(signed_in) = store.find_session(&hash_secret(token)).await? else {
            return Ok(None);
        };
        let session = &signed_in.session;
        if now >= session.expires_at
            || now - session.last_seen_at >= self.idle.whole_seconds()
            || signed_in.citizen.status != CitizenStatus::Active
        {
            store.delete_session(session.id).await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY {
            store.touch_session(session.id, now).await?;
        }
        Ok(Some(signed_in))
    }
}

/// The 401 for a request that needs a session and has none.
pub fn not_signed_in() -> AppError {
    AppError::unauthorized(
        "not_signed_in",
        "You are not signed in, or your session has ended. Sign in with your passkey.",
    )
}
