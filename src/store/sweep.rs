//! Removing rows nobody can use any more: marks of finished ceremonies and
//! authorization requests past their expiry, sessions past their absolute
//! lifetime, and throttle windows that have closed.

use super::{Store, StoreError, on_pool};

impl Store {
    /// Deletes what expired before `now`, and throttle windows older than
    /// `throttle_window` seconds; returns how many rows went.
    pub async fn sweep_expired(&self, now: i64, throttle_window: i64) -> Result<u64, StoreError> {
        let steps = [
            ("DELETE FROM used_ceremonies WHERE expires_at < $1", now),
            (
                "DELETE FROM authorization_requests WHERE expires_at < $1",
                now,
            ),
            ("DELETE FROM sessions WHERE expires_at <= $1", now),
            (
                "DELETE FROM throttles WHERE window_start <= $1",
                now - throttle_window,
            ),
        ];
        let mut removed = 0;
        for (sql, before) in steps {
            removed += on_pool!(self, |pool| sqlx::query(sql)
                .bind(before)
                .execute(pool)
                .await
                .map(|r| r.rows_affected()))?;
        }
        Ok(removed)
    }
}
