//! The only place with SQL. One `Store` with a SQLite and a PostgreSQL
//! backend; the statements are written once in the `$1` style both dialects
//! accept and are compiled for each backend by `on_pool!`. A statement runs
//! on the pool (a `Store` method) or inside a transaction (a `Tx` method);
//! services compose their transactions from `Tx` calls.

pub(crate) mod audit;
mod campaigns;
mod ceremonies;
mod citizens;
mod clients;
mod counts;
mod keys;
mod oauth;
mod passkeys;
pub mod postgres;
mod regions;
mod register;
mod registrar;
mod sessions;
pub mod sqlite;
mod staff;
mod sweep;
mod throttles;
pub mod tx;

use crate::config::DatabaseSettings;
use sqlx::{PgPool, SqlitePool};

use crate::audit::AuditKey;

pub use audit::{AuditFilter, AuditHead};
pub use campaigns::{
    CampaignRegionRow, CampaignRow, PendingRow, RegionCount, ScopeRegion, day_date, day_number,
};
pub use ceremonies::UsedCeremony;
pub use citizens::CitizenRow;
pub use counts::Table;
pub use keys::KeyRow;
pub use oauth::{AuthRequestRow, CodeRow, ConnectedApp, GrantRow, RefreshRow, SignInRow};
pub use passkeys::{DuplicateAttempt, PasskeyRow};
pub use register::{Conflict, RegisterBatchRow, RegisterEntry};
pub use registrar::{DuplicateCase, DuplicateItem, ProofingRecord, VerificationItem};
pub use sessions::{SessionRow, SignedIn};
pub use staff::{InvitationRow, RoleRow, StaffRow};
pub use tx::Tx;

/// Runs `$body` once per backend: with `$pool` bound to whichever pool
/// `$store` holds (a `&Store`), or (`tx` form) with `$conn` bound to the connection of the
/// transaction `$tx`. The body is type-checked once per backend, so one
/// statement written in the `$1` style serves both.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store.pool() {
            $crate::store::Pool::Sqlite($pool) => $body,
            $crate::store::Pool::Postgres($pool) => $body,
        }
    };
    (tx $tx:expr, |$conn:ident| $body:expr) => {
        match &mut $tx.0 {
            $crate::store::tx::TxInner::Sqlite(held) => {
                let $conn: &mut sqlx::SqliteConnection = held.conn();
                $body
            }
            $crate::store::tx::TxInner::Postgres(held) => {
                let $conn: &mut sqlx::PgConnection = held.conn();
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// The registry's database, and the key its audit chain is written with
/// (given once the master key is known: see `startup::open_database`).
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    audit_key: Option<AuditKey>,
}

/// The connection pool of either backend.
#[derive(Clone, Debug)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("a stored row is not valid: {0}")]
    Corrupt(String),
    #[error("the audit log is written with a key derived from the master key, and none was given")]
    NoAuditKey,
}

impl StoreError {
    /// True when the statement broke a uniqueness rule on `column`.
    pub fn is_unique_violation_on(&self, column: &str) -> bool {
        match self {
            Self::Database(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                e.constraint().is_some_and(|c| c.contains(column)) || e.message().contains(column)
            }
            _ => false,
        }
    }
}

/// Connection-pool numbers for the metrics endpoint.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

impl Store {
    /// Connects to the database the URL names, with the default wait for a
    /// pooled connection.
    pub async fn connect(url: &str, max_connections: Option<u32>) -> anyhow::Result<Self> {
        Self::open(&DatabaseSettings {
            url: url.to_string(),
            max_connections,
            acquire_timeout: std::time::Duration::from_secs(3),
            master_key: None,
            master_key_file: std::path::PathBuf::new(),
        })
        .await
    }

    /// Connects to the database `settings` name (its master key is loaded
    /// by `startup::open_database`).
    pub async fn open(settings: &DatabaseSettings) -> anyhow::Result<Self> {
        let (url, max, wait) = (
            settings.url.as_str(),
            settings.max_connections,
            settings.acquire_timeout,
        );
        let pool = if url.starts_with("sqlite:") {
            Pool::Sqlite(sqlite::connect(url, max, wait).await?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Pool::Postgres(postgres::connect(url, max, wait).await?)
        } else {
            anyhow::bail!(
                "database URL must start with sqlite:// or postgres:// (got {:?})",
                url.split(':').next().unwrap_or_default()
            );
        };
        Ok(Self {
            pool,
            audit_key: None,
        })
    }

    /// The same database, appending to the audit log with `key`.
    pub fn with_audit_key(self, key: AuditKey) -> Self {
        Self {
            audit_key: Some(key),
            ..self
        }
    }

    /// The connection pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Applies pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match &self.pool {
            Pool::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await?,
            Pool::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// Which backend this is, for logs.
    pub fn backend(&self) -> &'static str {
        match &self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }

    /// Succeeds when the database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query("SELECT 1")
            .execute(pool)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    pub fn pool_stats(&self) -> PoolStats {
        on_pool!(self, |pool| PoolStats {
            size: pool.size(),
            idle: pool.num_idle(),
            max: pool.options().get_max_connections(),
        })
    }

    /// Whether `close` was called.
    pub fn is_closed(&self) -> bool {
        on_pool!(self, |pool| pool.is_closed())
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}
