//! Transactions as values. `Store::begin` (or `begin_write`, for one that
//! reads before it writes) opens a transaction on either backend; the store
//! modules define its statements as `Tx` methods; the services compose them
//! and `commit`. A `Tx` dropped without a commit rolls back.
//!
//! `Store::autocommit` gives the same statements on one pooled connection
//! without a transaction, each committed on its own: for a step that needs
//! one statement, or several that need not be atomic, without the two
//! round trips of `BEGIN` and `COMMIT`.

use sqlx::pool::PoolConnection;
use sqlx::{Database, Postgres, Sqlite, Transaction};

use super::{Pool, Store, StoreError};
use crate::audit::AuditKey;

/// An open transaction (or autocommit connection) on the store's database,
/// with the store's audit key.
pub struct Tx(pub(super) TxInner, pub(super) Option<AuditKey>);

pub(super) enum TxInner {
    Sqlite(Held<Sqlite>),
    Postgres(Held<Postgres>),
}

/// A connection held for a `Tx`.
pub(super) enum Held<DB: Database> {
    Transaction(Transaction<'static, DB>),
    Autocommit(PoolConnection<DB>),
}

impl<DB: Database> Held<DB> {
    /// The connection statements run on.
    pub(super) fn conn(&mut self) -> &mut DB::Connection {
        match self {
            Self::Transaction(tx) => tx,
            Self::Autocommit(conn) => conn,
        }
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Transaction(tx) => tx.commit().await,
            Self::Autocommit(_) => Ok(()),
        }
    }

    async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Self::Transaction(tx) => tx.rollback().await,
            Self::Autocommit(_) => Ok(()),
        }
    }
}

impl Store {
    /// Opens a transaction.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pool {
            Pool::Sqlite(pool) => TxInner::Sqlite(Held::Transaction(pool.begin().await?)),
            Pool::Postgres(pool) => TxInner::Postgres(Held::Transaction(pool.begin().await?)),
        };
        Ok(Tx(inner, self.audit_key.clone()))
    }

    /// Opens a transaction that reads before it writes. SQLite takes the
    /// write lock at BEGIN (`IMMEDIATE`): a deferred transaction that has
    /// read cannot upgrade once another connection has written, and fails at
    /// once ("database is locked") instead of waiting its turn.
    pub async fn begin_write(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pool {
            Pool::Sqlite(pool) => {
                TxInner::Sqlite(Held::Transaction(pool.begin_with("BEGIN IMMEDIATE").await?))
            }
            Pool::Postgres(pool) => TxInner::Postgres(Held::Transaction(pool.begin().await?)),
        };
        Ok(Tx(inner, self.audit_key.clone()))
    }

    /// A pooled connection whose statements each commit on their own.
    pub async fn autocommit(&self) -> Result<Tx, StoreError> {
        let inner = match &self.pool {
            Pool::Sqlite(pool) => TxInner::Sqlite(Held::Autocommit(pool.acquire().await?)),
            Pool::Postgres(pool) => TxInner::Postgres(Held::Autocommit(pool.acquire().await?)),
        };
        Ok(Tx(inner, self.audit_key.clone()))
    }
}

impl Tx {
    /// Makes every statement of the transaction durable.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self.0 {
            TxInner::Sqlite(held) => held.commit().await?,
            TxInner::Postgres(held) => held.commit().await?,
        }
        Ok(())
    }

    /// Throws the transaction away (dropping it does the same, later).
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.0 {
            TxInner::Sqlite(held) => held.rollback().await?,
            TxInner::Postgres(held) => held.rollback().await?,
        }
        Ok(())
    }
}
