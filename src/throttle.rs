//! Guessing throttles: at most `max` attempts for a key (a client's
//! network) within a window; further attempts get 429 with a `Retry-After`
//! until the window closes. An attempt is counted before it is tried, in
//! one statement that increments and decides, so parallel attempts cannot
//! all slip under the limit; one that succeeds is forgiven afterwards.

use actix_web::http::StatusCode;

use crate::error::AppError;
use crate::store::Store;

/// The longest window any throttle uses: older windows can be swept.
pub const LONGEST_WINDOW: i64 = 3600;

/// A throttle: at most `max` attempts per `window` seconds for `key`.
pub struct Throttle {
    pub key: String,
    pub max: i64,
    pub window: i64,
    /// What to tell the person when they are held back.
    pub message: &'static str,
}

impl Throttle {
    /// Counts an attempt; 429 when it is one too many.
    pub async fn attempt(&self, store: &Store, now: i64) -> Result<(), AppError> {
        let (attempts, start) = store.throttle_attempt(&self.key, now, self.window).await?;
        if attempts > self.max {
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

    /// Takes back an attempt that succeeded.
    pub async fn forgive(&self, store: &Store, now: i64) -> Result<(), AppError> {
        store.throttle_forgive(&self.key, now, self.window).await?;
        Ok(())
    }
}
