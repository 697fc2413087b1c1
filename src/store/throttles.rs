//! Failure counters for guessing throttles: one fixed window per key, shared
//! by every instance because it lives in the database.

use super::{Store, StoreError, on_pool};

impl Store {
    /// Failures recorded for `key` in the window still open at `now`, and
    /// when that window started.
    pub async fn throttle_failures(
        &self,
        key: &str,
        now: i64,
        window: i64,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let row: Option<(i64, i64)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT CAST(failures AS BIGINT), window_start FROM throttles \
             WHERE key = $1 AND window_start > $2"
        )
        .bind(key)
        .bind(now - window)
        .fetch_optional(pool)
        .await)?;
        Ok(row)
    }

    /// Counts one more failure for `key`, opening a new window when the last
    /// one has closed.
    pub async fn record_throttle_failure(
        &self,
        key: &str,
        now: i64,
        window: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO throttles (key, window_start, failures) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN throttles.window_start <= $3 THEN 1 \
                        ELSE throttles.failures + 1 END, \
             window_start = CASE WHEN throttles.window_start <= $3 THEN $2 \
                            ELSE throttles.window_start END"
        )
        .bind(key)
        .bind(now)
        .bind(now - window)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
