//! Signing keys, sealed with the master key.

use super::{Store, StoreError, on_pool};

/// A signing key as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub private_sealed: Vec<u8>,
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub unpublish_at: Option<i64>,
}

impl Store {
    pub async fn insert_signing_key(&self, k: &KeyRow) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_sealed, public_jwk, created_at, \
             retired_at, unpublish_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(&k.private_sealed)
        .bind(&k.public_jwk)
        .bind(k.created_at)
        .bind(k.retired_at)
        .bind(k.unpublish_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Keys still published in JWKS at `now`, newest first.
    pub async fn published_signing_keys(&self, now: i64) -> Result<Vec<KeyRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT kid, alg, private_sealed, public_jwk, created_at, retired_at, unpublish_at \
             FROM signing_keys WHERE unpublish_at IS NULL OR unpublish_at > $1 \
             ORDER BY created_at DESC, kid"
        )
        .bind(now)
        .fetch_all(pool)
        .await)?)
    }

    /// The key `kid`, in any state.
    pub async fn signing_key(&self, kid: &str) -> Result<Option<KeyRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT kid, alg, private_sealed, public_jwk, created_at, retired_at, unpublish_at \
             FROM signing_keys WHERE kid = $1"
        )
        .bind(kid)
        .fetch_optional(pool)
        .await)?)
    }

    /// The newest key of `alg` that is not retired.
    pub async fn active_signing_key(&self, alg: &str) -> Result<Option<KeyRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT kid, alg, private_sealed, public_jwk, created_at, retired_at, unpublish_at \
             FROM signing_keys WHERE alg = $1 AND retired_at IS NULL \
             ORDER BY created_at DESC, kid LIMIT 1"
        )
        .bind(alg)
        .fetch_optional(pool)
        .await)?)
    }

    /// `(alg, kid)` of every key not retired, newest first: read on every
    /// token response, so it leaves the sealed keys in the database.
    pub async fn active_signing_kids(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT alg, kid FROM signing_keys WHERE retired_at IS NULL \
             ORDER BY created_at DESC, kid"
        )
        .fetch_all(pool)
        .await)?)
    }

    /// Retires every key of `alg` but `keep`: no longer used to sign, still
    /// published until `unpublish_at`.
    pub async fn retire_signing_keys(
        &self,
        alg: &str,
        keep: &str,
        at: i64,
        unpublish_at: i64,
    ) -> Result<u64, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query(
            "UPDATE signing_keys SET retired_at = $1, unpublish_at = $2 \
             WHERE alg = $3 AND kid <> $4 AND retired_at IS NULL"
        )
        .bind(at)
        .bind(unpublish_at)
        .bind(alg)
        .bind(keep)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
    }
}
