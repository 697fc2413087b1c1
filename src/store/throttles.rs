//! Attempt counters for guessing throttles: one fixed window per key,
//! shared by every instance because it lives in the database.

use super::{Store, StoreError, on_pool};

impl Store {
    /// Counts one more attempt for `key`, opening a new window when the last
    /// one has closed; returns the attempts in the window (this one
    /// included) and when it started. One statement: parallel attempts each
    /// see their own count.
    pub async fn throttle_attempt(
        &self,
        key: &str,
        now: i64,
        window: i64,
    ) -> Result<(i64, i64), StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "INSERT INTO throttles (key, window_start, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN throttles.window_start <= $3 THEN 1 \
                        ELSE throttles.failures + 1 END, \
             window_start = CASE WHEN throttles.window_start <= $3 THEN $2 \
                            ELSE throttles.window_start END \
             RETURNING CAST(failures AS BIGINT), window_start"
        )
        .bind(key)
        .bind(now)
        .bind(now - window)
        .fetch_one(pool)
        .await)?)
    }

    /// Takes one attempt back from `key`'s open window.
    pub async fn throttle_forgive(
        &self,
        key: &str,
        now: i64,
        window: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE throttles SET failures = failures - 1 \
             WHERE key = $1 AND window_start > $2 AND failures > 0"
        )
        .bind(key)
        .bind(now - window)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
