//! Browser sessions: a random 256-bit token in an HttpOnly cookie, stored
//! only as its SHA-256, with an idle and an absolute timeout.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use uuid::Uuid;

use crate::domain::CitizenStatus;
use crate::error::AppError;
use crate::secrets::{hash_secret, new_secret};
use crate::startup::AppState;
use crate::store::{SessionRow, SignedIn};

pub const COOKIE: &str = "civitas_session";

/// Idle updates are written at most this often (seconds), to keep sign-in
/// checks from writing on every request.
const TOUCH_EVERY: i64 = 60;

/// A session to be stored, and the token for the cookie.
pub fn new_session(
    state: &AppState,
    citizen_id: Uuid,
    passkey_id: Uuid,
    user_verified: bool,
) -> (SessionRow, String) {
    let now = state.clock.unix();
    let (token, token_hash) = new_secret();
    let row = SessionRow {
        id: Uuid::new_v4(),
        token_hash,
        citizen_id,
        passkey_id,
        user_verified,
        auth_time: now,
        last_seen_at: now,
        expires_at: now + state.settings.session_max_age.whole_seconds(),
    };
    (row, token)
}

/// The cookie carrying a new session token.
pub fn cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(COOKIE, token)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.issuer.is_https())
        .max_age(CookieDuration::seconds(
            state.settings.session_max_age.whole_seconds(),
        ))
        .finish()
}

/// A cookie that removes the session cookie.
pub fn removal_cookie(state: &AppState) -> Cookie<'static> {
    let mut c = Cookie::build(COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.settings.issuer.is_https())
        .finish();
    c.make_removal();
    c
}

/// The signed-in citizen, if the request carries a live session of an active
/// citizen. Expired sessions are removed; sessions of citizens who may no
/// longer sign in are ended.
pub async fn current(state: &AppState, req: &HttpRequest) -> Result<Option<SignedIn>, AppError> {
    let Some(cookie) = req.cookie(COOKIE) else {
        return Ok(None);
    };
    let Some(signed_in) = state
        .store
        .find_session(&hash_secret(cookie.value()))
        .await?
    else {
        return Ok(None);
    };
    let now = state.clock.unix();
    let session = &signed_in.session;
    let idle_limit = state.settings.session_idle.whole_seconds();
    if now >= session.expires_at
        || now - session.last_seen_at >= idle_limit
        || signed_in.citizen.status != CitizenStatus::Active
    {
        state.store.delete_session(session.id).await?;
        return Ok(None);
    }
    if now - session.last_seen_at >= TOUCH_EVERY {
        state.store.touch_session(session.id, now).await?;
    }
    Ok(Some(signed_in))
}

/// Like `current`, but a 401 when nobody is signed in.
pub async fn require(state: &AppState, req: &HttpRequest) -> Result<SignedIn, AppError> {
    current(state, req).await?.ok_or_else(not_signed_in)
}

/// The 401 for a request that needs a session and has none.
pub fn not_signed_in() -> AppError {
    AppError::unauthorized(
        "not_signed_in",
        "You are not signed in, or your session has ended. Sign in with your passkey.",
    )
}
