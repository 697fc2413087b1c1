//! The audit log: appended inside the transaction of the change it records,
//! read by auditors, walked by `civitas audit verify`.

use super::{Store, StoreError, Tx, on_pool};
use crate::audit::{AuditEntry, AuditEvent};

impl Tx {
    /// Appends `event` inside this transaction, keyed with the store's
    /// audit key, and returns its sequence number. Bumping the head row
    /// first takes its row lock, so concurrent appends from any instance are
    /// serialised and each chains to the one committed before it.
    pub async fn append_audit(&mut self, event: &AuditEvent) -> Result<i64, StoreError> {
        let key = self.1.clone().ok_or(StoreError::NoAuditKey)?;
        on_pool!(tx self, |conn| {
            let (seq, prev): (i64, String) = sqlx::query_as(
                "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash",
            )
            .fetch_one(&mut *conn)
            .await?;
            let entry = crate::audit::seal(&key, event, seq, prev);
            sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                .bind(&entry.hash)
                .execute(&mut *conn)
                .await?;
            sqlx::query(
                "INSERT INTO audit_entries (seq, at, actor, action, target, details, prev_hash, \
                 hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(entry.seq)
            .bind(entry.at)
            .bind(&entry.actor)
            .bind(&entry.action)
            .bind(&entry.target)
            .bind(&entry.details)
            .bind(&entry.prev_hash)
            .bind(&entry.hash)
            .execute(&mut *conn)
            .await?;
            Ok(seq)
        })
    }
}

/// The head of the chain.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditHead {
    /// The last sequence number written.
    pub seq: i64,
    /// That entry's hash.
    pub hash: String,
    /// The first entry hashed with the audit key; earlier ones (written
    /// before keying) have plain SHA-256 hashes.
    pub keyed_from: i64,
}

/// Which entries an auditor wants; empty filters match everything.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub from: Option<i64>,
    pub until: Option<i64>,
    /// Only entries before this sequence number (paging backwards).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

impl Store {
    /// Appends one entry on its own (for changes made outside a transaction
    /// of ours, e.g. key rotation).
    pub async fn append_audit(&self, event: &AuditEvent) -> Result<i64, StoreError> {
        let mut tx = self.begin().await?;
        let seq = tx.append_audit(event).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Entries matching `filter`, newest first.
    pub async fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        const SQL: &str = "SELECT seq, at, actor, action, target, details, prev_hash, hash \
             FROM audit_entries \
             WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2) \
             AND ($3 IS NULL OR target = $3) AND ($4 IS NULL OR at >= $4) \
             AND ($5 IS NULL OR at < $5) AND ($6 IS NULL OR seq < $6) \
             ORDER BY seq DESC LIMIT $7";
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(f.actor.as_deref())
            .bind(f.action.as_deref())
            .bind(f.target.as_deref())
            .bind(f.from)
            .bind(f.until)
            .bind(f.before_seq)
            .bind(f.limit)
            .fetch_all(pool)
            .await)?)
    }

    /// Up to `limit` entries after `after_seq`, oldest first (for verifying).
    pub async fn audit_page(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        const SQL: &str = "SELECT seq, at, actor, action, target, details, prev_hash, hash \
             FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2";
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(pool)
            .await)?)
    }

    /// The last sequence number and hash written, and where the keyed part
    /// of the chain starts.
    pub async fn audit_head(&self) -> Result<AuditHead, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT seq, hash, keyed_from FROM audit_head WHERE id = 1"
        )
        .fetch_one(pool)
        .await)?)
    }
}
