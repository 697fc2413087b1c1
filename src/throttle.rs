//! Guessing throttles: after too many failures for a key (a client address,
//! an activation code) within an hour, further attempts get 429 with a
//! `Retry-After` until the window closes.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;

use crate::error::AppError;
use crate::startup::AppState;

/// The longest window any throttle uses: older windows can be swept.
pub const LONGEST_WINDOW: i64 = 3600;

/// A throttle: at most `max` failures per `window` seconds for `key`.
pub struct Throttle {
    pub key: String,
    pub max: i64,
    pub window: i64,
    /// What to tell the person when they are held back.
    pub message: &'static str,
}

impl Throttle {
    /// 429 when the key has used up its failures.
    pub async fn check(&self, state: &AppState) -> Result<(), AppError> {
        let now = state.clock.unix();
        if let Some((failures, start)) = state
            .store
            .throttle_failures(&self.key, now, self.window)
            .await?
            && failures >= self.max
        {
            let retry_after = (start + self.window - now).max(1);
            return Err(AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!(
                    "{} Try again in {} minute(s).",
                    self.message,
                    (retry_after + 59) / 60
                ),
            )
            .with_header("Retry-After", retry_after.to_string()));
        }
        Ok(())
    }

    /// Counts a failure.
    pub async fn fail(&self, state: &AppState) -> Result<(), AppError> {
        state
            .store
            .record_throttle_failure(&self.key, state.clock.unix(), self.window)
            .await?;
        Ok(())
    }
}

/// The client's address: the peer, or behind a trusted reverse proxy the
/// last address it appended to `X-Forwarded-For`.
pub fn client_address(state: &AppState, req: &HttpRequest) -> String {
    if state.settings.behind_proxy
        && let Some(forwarded) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    {
        return forwarded.to_string();
    }
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".to_string())
}
