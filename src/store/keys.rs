//! Signing keys, sealed with a key derived from the master key, and the
//! master key's check value.
//!
//! A key is published (in JWKS) from its creation until `unpublish_at` or
//! its revocation, and signs from `activates_at` until `retired_at`.
//! Rotations and revocations change this schedule one at a time: each
//! locks the row of `signing_key_lock` first.

use std::sync::LazyLock;

use super::{Store, StoreError, Tx, on_pool};

/// A signing key as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub private_sealed: Vec<u8>,
    pub public_jwk: String,
    pub created_at: i64,
    /// When it starts signing.
    pub activates_at: i64,
    /// When it stops signing (a newer key takes over), if scheduled.
    pub retired_at: Option<i64>,
    /// When it leaves JWKS, if scheduled.
    pub unpublish_at: Option<i64>,
    /// When it was revoked: it left JWKS and stopped signing then.
    pub revoked_at: Option<i64>,
    /// How `private_sealed` is sealed (see `secrets::SEAL_VERSION`).
    pub seal_version: i16,
}

/// `SELECT <key columns> FROM signing_keys <rest>`, built once.
fn select(rest: &str) -> String {
    format!(
        "SELECT kid, alg, private_sealed, public_jwk, created_at, activates_at, retired_at, \
         unpublish_at, revoked_at, seal_version FROM signing_keys {rest}"
    )
}

static PUBLISHED: LazyLock<String> = LazyLock::new(|| {
    select(
        "WHERE revoked_at IS NULL AND (unpublish_at IS NULL OR unpublish_at > $1) \
         ORDER BY created_at DESC, kid",
    )
});
static BY_KID: LazyLock<String> = LazyLock::new(|| select("WHERE kid = $1"));
static NEWEST: LazyLock<String> = LazyLock::new(|| select("ORDER BY created_at DESC, kid LIMIT 1"));
static SEALED_BEFORE: LazyLock<String> =
    LazyLock::new(|| select("WHERE seal_version < $1 ORDER BY kid"));
/// Keys of an algorithm that sign now or will: not revoked, not retired.
static LIVE: LazyLock<String> = LazyLock::new(|| {
    select(
        "WHERE alg = $1 AND revoked_at IS NULL AND (retired_at IS NULL OR retired_at > $2) \
         ORDER BY activates_at, created_at, kid",
    )
});

impl Store {
    /// Keys published in JWKS at `now`, newest first.
    pub async fn published_signing_keys(&self, now: i64) -> Result<Vec<KeyRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(PUBLISHED.as_str())
            .bind(now)
            .fetch_all(pool)
            .await)?)
    }

    /// The key `kid`, in any state.
    pub async fn signing_key(&self, kid: &str) -> Result<Option<KeyRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(BY_KID.as_str())
            .bind(kid)
            .fetch_optional(pool)
            .await)?)
    }

    /// The newest key of any algorithm and state.
    pub async fn newest_signing_key(&self) -> Result<Option<KeyRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(NEWEST.as_str())
            .fetch_optional(pool)
            .await)?)
    }

    /// Keys sealed before seal `version`.
    pub async fn signing_keys_sealed_before(
        &self,
        version: i16,
    ) -> Result<Vec<KeyRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            SEALED_BEFORE.as_str()
        )
        .bind(version)
        .fetch_all(pool)
        .await)?)
    }

    /// `(alg, kid)` of the keys that sign at `now`, the newest first: read
    /// on every token response, so it leaves the sealed keys in the
    /// database.
    pub async fn signing_kids(&self, now: i64) -> Result<Vec<(String, String)>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT alg, kid FROM signing_keys WHERE revoked_at IS NULL \
             AND activates_at <= $1 AND (retired_at IS NULL OR retired_at > $1) \
             ORDER BY activates_at DESC, created_at DESC, kid"
        )
        .bind(now)
        .fetch_all(pool)
        .await)?)
    }

    /// The algorithms that have a key signing at `now` or later.
    pub async fn live_signing_algs(&self, now: i64) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT DISTINCT alg FROM signing_keys WHERE revoked_at IS NULL \
             AND (retired_at IS NULL OR retired_at > $1)"
        )
        .bind(now)
        .fetch_all(pool)
        .await)?)
    }

    /// The master key's check value, once a process has written it.
    pub async fn master_key_check(&self) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT check_value FROM master_key_checks WHERE id = 1"
        )
        .fetch_optional(pool)
        .await)?)
    }

    /// Writes the master key's check value unless one is there already.
    pub async fn insert_master_key_check(&self, value: &str, now: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query(
            "INSERT INTO master_key_checks (id, check_value, created_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO NOTHING"
        )
        .bind(value)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?)
    }
}

impl Tx {
    /// Takes the signing-key lock: rotations and revocations on any
    /// instance or command line wait for the one holding it.
    pub async fn lock_signing_keys(&mut self) -> Result<u64, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query(
            "UPDATE signing_key_lock SET changes = changes + 1 WHERE id = 1"
        )
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    pub async fn insert_signing_key(&mut self, k: &KeyRow) -> Result<u64, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_sealed, public_jwk, created_at, \
             activates_at, retired_at, unpublish_at, revoked_at, seal_version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(&k.private_sealed)
        .bind(&k.public_jwk)
        .bind(k.created_at)
        .bind(k.activates_at)
        .bind(k.retired_at)
        .bind(k.unpublish_at)
        .bind(k.revoked_at)
        .bind(k.seal_version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// The key `kid`, in any state.
    pub async fn signing_key(&mut self, kid: &str) -> Result<Option<KeyRow>, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query_as(BY_KID.as_str())
            .bind(kid)
            .fetch_optional(&mut *conn)
            .await)?)
    }

    /// Keys of `alg` that sign at `now` or will, in the order they sign.
    pub async fn live_signing_keys(
        &mut self,
        alg: &str,
        now: i64,
    ) -> Result<Vec<KeyRow>, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query_as(LIVE.as_str())
            .bind(alg)
            .bind(now)
            .fetch_all(&mut *conn)
            .await)?)
    }

    /// Sets when a key signs and when it leaves JWKS.
    pub async fn schedule_signing_key(
        &mut self,
        kid: &str,
        activates_at: i64,
        retired_at: Option<i64>,
        unpublish_at: Option<i64>,
    ) -> Result<u64, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query(
            "UPDATE signing_keys SET activates_at = $1, retired_at = $2, unpublish_at = $3 \
             WHERE kid = $4"
        )
        .bind(activates_at)
        .bind(retired_at)
        .bind(unpublish_at)
        .bind(kid)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// Revokes a key: it stops signing and leaves JWKS at `now`.
    pub async fn revoke_signing_key(&mut self, kid: &str, now: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query(
            "UPDATE signing_keys SET revoked_at = $1, unpublish_at = $1, \
             retired_at = CASE WHEN retired_at IS NULL OR retired_at > $1 THEN $1 \
             ELSE retired_at END \
             WHERE kid = $2 AND revoked_at IS NULL"
        )
        .bind(now)
        .bind(kid)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// Replaces a key's sealed private key if it is still sealed as
    /// `from_version` (another process may have resealed it first).
    pub async fn reseal_signing_key(
        &mut self,
        kid: &str,
        from_version: i16,
        sealed: &[u8],
        version: i16,
    ) -> Result<u64, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query(
            "UPDATE signing_keys SET private_sealed = $1, seal_version = $2 \
             WHERE kid = $3 AND seal_version = $4"
        )
        .bind(sealed)
        .bind(version)
        .bind(kid)
        .bind(from_version)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?)
    }
}
