//! Signing keys, sealed with a key derived from the master key, and the
//! master key's check value.

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
    pub retired_at: Option<i64>,
    pub unpublish_at: Option<i64>,
    /// How `private_sealed` is sealed (see `secrets::SEAL_VERSION`).
    pub seal_version: i16,
}

/// `SELECT <key columns> FROM signing_keys <rest>`, built once.
fn select(rest: &str) -> String {
    format!(
        "SELECT kid, alg, private_sealed, public_jwk, created_at, retired_at, unpublish_at, \
         seal_version FROM signing_keys {rest}"
    )
}

static PUBLISHED: LazyLock<String> = LazyLock::new(|| {
    select("WHERE unpublish_at IS NULL OR unpublish_at > $1 ORDER BY created_at DESC, kid")
});
static BY_KID: LazyLock<String> = LazyLock::new(|| select("WHERE kid = $1"));
static ACTIVE: LazyLock<String> = LazyLock::new(|| {
    select("WHERE alg = $1 AND retired_at IS NULL ORDER BY created_at DESC, kid LIMIT 1")
});
static NEWEST: LazyLock<String> = LazyLock::new(|| select("ORDER BY created_at DESC, kid LIMIT 1"));
static SEALED_BEFORE: LazyLock<String> =
    LazyLock::new(|| select("WHERE seal_version < $1 ORDER BY kid"));

impl Store {
    pub async fn insert_signing_key(&self, k: &KeyRow) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_sealed, public_jwk, created_at, \
             retired_at, unpublish_at, seal_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )
        .bind(&k.kid)
        .bind(&k.alg)
        .bind(&k.private_sealed)
        .bind(&k.public_jwk)
        .bind(k.created_at)
        .bind(k.retired_at)
        .bind(k.unpublish_at)
        .bind(k.seal_version)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Keys still published in JWKS at `now`, newest first.
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

    /// The newest key of `alg` that is not retired.
    pub async fn active_signing_key(&self, alg: &str) -> Result<Option<KeyRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(ACTIVE.as_str())
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
