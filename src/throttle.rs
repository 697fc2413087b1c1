//! Guessing throttles: after too many failures for a key (a client address,
//! an activation code) within an hour, further attempts get 429 with a
//! `Retry-After` until the window closes.

use actix_web::http::StatusCode;

use crate::error::AppError;
use crate::store::Store;

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
    pub async fn check(&self, store: &Store, now: i64) -> Result<(), AppError> {
        if let Some((failures, start)) =
            store.throttle_failures(&self.key, now, self.window).await?
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
    pub async fn fail(&self, store: &Store, now: i64) -> Result<(), AppError> {
        store
            .record_throttle_failure(&self.key, now, self.window)
            .await?;
        Ok(())
    }
}
