//! The population register: the statements of a batched import (one
//! transaction, composed by `registry::register`), claiming a row at
//! enrollment, and the activation-code lookups.

use uuid::Uuid;

use super::tx::TxInner;
use super::{Store, StoreError, Tx, on_pool};
use crate::domain::CitizenId;

/// One checked row of a register file.
#[derive(Debug, Clone)]
pub struct RegisterBatchRow {
    pub register_ref: String,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: time::Date,
    pub region_code: String,
    pub phone: Option<String>,
    pub code_hash: String,
    /// When the activation code stops working.
    pub code_expires_at: i64,
    pub line: i64,
}

/// A row that was not inserted because its register_ref was taken.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub register_ref: String,
    pub line: i64,
    /// The line of this file that holds the same reference, if that is where
    /// it was taken; `None` when an earlier import holds it.
    pub earlier_line: Option<i64>,
}

/// A register row found by its activation code.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegisterEntry {
    pub register_ref: String,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: time::Date,
    pub region_code: String,
    pub citizen_id: Option<Uuid>,
    /// When the activation code stops working (`None`: imported without).
    pub code_expires_at: Option<i64>,
    /// Wrong dates of birth tried with the code so far.
    pub wrong_birth_dates: i32,
}

const SCOPES: &str = "SELECT cr.region_code, cr.campaign_id, c.born_by FROM campaign_regions cr \
     JOIN campaigns c ON c.id = cr.campaign_id";

const INSERT_ONE: &str = "INSERT INTO register_entries (register_ref, given_name, family_name, \
     birth_date, region_code, phone, code_hash, import_id, import_line, code_expires_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
     ON CONFLICT (register_ref) DO NOTHING RETURNING register_ref";

/// PostgreSQL takes a whole batch as arrays in one statement.
const INSERT_BATCH_PG: &str = "INSERT INTO register_entries (register_ref, given_name, \
     family_name, birth_date, region_code, phone, code_hash, import_id, import_line, \
     code_expires_at) \
     SELECT r, g, f, b, reg, p, h, $8, l, e FROM UNNEST($1::text[], $2::text[], $3::text[], \
     $4::date[], $5::text[], $6::text[], $7::text[], $9::bigint[], $10::bigint[]) \
     AS t(r, g, f, b, reg, p, h, l, e) \
     ON CONFLICT (register_ref) DO NOTHING RETURNING register_ref";

const HOLDER: &str = "SELECT import_id, import_line FROM register_entries WHERE register_ref = $1";

fn conflict(row: &RegisterBatchRow, holder: Option<(Uuid, i64)>, import: Uuid) -> Conflict {
    Conflict {
        register_ref: row.register_ref.clone(),
        line: row.line,
        earlier_line: holder.filter(|(id, _)| *id == import).map(|(_, l)| l),
    }
}

impl Tx {
    /// Holds campaign scopes still while a register import runs (the
    /// import counts its rows into them). PostgreSQL locks the scope table;
    /// on SQLite `begin_write` already holds the only write lock.
    pub async fn lock_campaign_regions(&mut self) -> Result<(), StoreError> {
        if let TxInner::Postgres(held) = &mut self.0 {
            sqlx::query("LOCK TABLE campaign_regions IN SHARE ROW EXCLUSIVE MODE")
                .execute(held.conn())
                .await?;
        }
        Ok(())
    }

    /// Every campaign region: `(region_code, campaign_id, born_by)`.
    pub async fn campaign_scopes(
        &mut self,
    ) -> Result<Vec<(String, Uuid, Option<time::Date>)>, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query_as(SCOPES)
            .fetch_all(&mut *conn)
            .await)?)
    }

    /// Inserts a batch of import `import`; returns the rows whose
    /// register_ref was taken. PostgreSQL takes the batch as arrays in one
    /// statement; SQLite, which has no array binding, row by row.
    pub async fn insert_register_batch(
        &mut self,
        rows: &[RegisterBatchRow],
        import: Uuid,
    ) -> Result<Vec<Conflict>, StoreError> {
        let mut conflicts = Vec::new();
        match &mut self.0 {
            TxInner::Sqlite(held) => {
                let tx = held.conn();
                for row in rows {
                    let inserted: Option<String> = sqlx::query_scalar(INSERT_ONE)
                        .bind(&row.register_ref)
                        .bind(&row.given_name)
                        .bind(&row.family_name)
                        .bind(row.birth_date)
                        .bind(&row.region_code)
                        .bind(row.phone.as_deref())
                        .bind(&row.code_hash)
                        .bind(import)
                        .bind(row.line)
                        .bind(row.code_expires_at)
                        .fetch_optional(&mut *tx)
                        .await?;
                    if inserted.is_none() {
                        let holder: Option<(Uuid, i64)> = sqlx::query_as(HOLDER)
                            .bind(&row.register_ref)
                            .fetch_optional(&mut *tx)
                            .await?;
                        conflicts.push(conflict(row, holder, import));
                    }
                }
            }
            TxInner::Postgres(held) => {
                let tx = held.conn();
                let col =
                    |f: fn(&RegisterBatchRow) -> String| rows.iter().map(f).collect::<Vec<_>>();
                let inserted: Vec<String> = sqlx::query_scalar(INSERT_BATCH_PG)
                    .bind(col(|r| r.register_ref.clone()))
                    .bind(col(|r| r.given_name.clone()))
                    .bind(col(|r| r.family_name.clone()))
                    .bind(rows.iter().map(|r| r.birth_date).collect::<Vec<_>>())
                    .bind(col(|r| r.region_code.clone()))
                    .bind(rows.iter().map(|r| r.phone.clone()).collect::<Vec<_>>())
                    .bind(col(|r| r.code_hash.clone()))
                    .bind(import)
                    .bind(rows.iter().map(|r| r.line).collect::<Vec<_>>())
                    .bind(rows.iter().map(|r| r.code_expires_at).collect::<Vec<_>>())
                    .fetch_all(&mut *tx)
                    .await?;
                if inserted.len() < rows.len() {
                    let inserted: std::collections::HashSet<&str> =
                        inserted.iter().map(String::as_str).collect();
                    let mut seen = std::collections::HashSet::new();
                    for row in rows {
                        // The first occurrence of a reference within the
                        // batch is the one inserted.
                        if inserted.contains(row.register_ref.as_str())
                            && seen.insert(row.register_ref.as_str())
                        {
                            continue;
                        }
                        let holder: Option<(Uuid, i64)> = sqlx::query_as(HOLDER)
                            .bind(&row.register_ref)
                            .fetch_optional(&mut *tx)
                            .await?;
                        conflicts.push(conflict(row, holder, import));
                    }
                }
            }
        }
        Ok(conflicts)
    }

    /// Adds `rows` register rows to a campaign region's target.
    pub async fn add_register_rows(
        &mut self,
        campaign: Uuid,
        region: &str,
        rows: i64,
    ) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "UPDATE campaign_regions SET register_rows = register_rows + $1 \
             WHERE campaign_id = $2 AND region_code = $3"
        )
        .bind(rows)
        .bind(campaign)
        .bind(region)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records a finished import.
    pub async fn insert_register_import(
        &mut self,
        id: Uuid,
        source: &str,
        rows: i64,
        actor: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO register_imports (id, source, row_count, imported_by, imported_at) \
             VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(id)
        .bind(source)
        .bind(rows)
        .bind(actor)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Unlocks a register row's activation code (a registrar's decision)
    /// and forgets its wrong tries; false when the row is not locked.
    pub async fn unlock_register_entry(&mut self, register_ref: &str) -> Result<bool, StoreError> {
        let n = on_pool!(tx self, |conn| sqlx::query(
            "UPDATE register_entries SET locked_at = NULL, wrong_birth_dates = 0 \
             WHERE register_ref = $1 AND locked_at IS NOT NULL"
        )
        .bind(register_ref)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Links an unclaimed register row and `citizen` to each other; false
    /// (nothing changed) when a citizen has claimed the row already.
    pub async fn claim_register_entry(
        &mut self,
        register_ref: &str,
        citizen: CitizenId,
        at: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(tx self, |conn| {
            let claimed = sqlx::query(
                "UPDATE register_entries SET citizen_id = $1, claimed_at = $2 \
                 WHERE register_ref = $3 AND citizen_id IS NULL",
            )
            .bind(citizen.0)
            .bind(at)
            .bind(register_ref)
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if claimed != 1 {
                return Ok(false);
            }
            sqlx::query("UPDATE citizens SET register_ref = $1 WHERE id = $2")
                .bind(register_ref)
                .bind(citizen.0)
                .execute(&mut *conn)
                .await?;
        });
        Ok(true)
    }
}

impl Store {
    /// Tries `birth_date` against the unlocked register rows whose
    /// activation code hashes to `code_hash` (almost always one; two 60-bit
    /// codes may coincide in a huge register), in one statement that counts
    /// and decides: a row whose date differs counts a wrong date, and locks
    /// at `max_wrong`; a locked row is not tried. Returns the rows tried, as
    /// they are afterwards.
    pub async fn try_activation_code(
        &self,
        code_hash: &str,
        birth_date: time::Date,
        now: i64,
        max_wrong: i32,
    ) -> Result<Vec<RegisterEntry>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "UPDATE register_entries SET \
             wrong_birth_dates = wrong_birth_dates + \
                 CASE WHEN birth_date = $2 THEN 0 ELSE 1 END, \
             locked_at = CASE WHEN birth_date <> $2 AND wrong_birth_dates + 1 >= $4 \
                 THEN $3 ELSE locked_at END \
             WHERE code_hash = $1 AND locked_at IS NULL \
             RETURNING register_ref, given_name, family_name, birth_date, region_code, \
             citizen_id, code_expires_at, wrong_birth_dates"
        )
        .bind(code_hash)
        .bind(birth_date)
        .bind(now)
        .bind(max_wrong)
        .fetch_all(pool)
        .await)?)
    }

    /// Whether a register row with this activation code is locked.
    pub async fn activation_code_locked(&self, code_hash: &str) -> Result<bool, StoreError> {
        let found: Option<i32> = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT 1 FROM register_entries WHERE code_hash = $1 AND locked_at IS NOT NULL \
             LIMIT 1"
        )
        .bind(code_hash)
        .fetch_optional(pool)
        .await)?;
        Ok(found.is_some())
    }

    pub async fn find_register_entry(
        &self,
        register_ref: &str,
    ) -> Result<Option<RegisterEntry>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT register_ref, given_name, family_name, birth_date, region_code, \
             citizen_id, code_expires_at, wrong_birth_dates \
             FROM register_entries WHERE register_ref = $1"
        )
        .bind(register_ref)
        .fetch_optional(pool)
        .await)?)
    }

    /// The register row a citizen is linked to, if any.
    pub async fn register_ref_of(&self, citizen: CitizenId) -> Result<Option<String>, StoreError> {
        let r: Option<Option<String>> = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT register_ref FROM citizens WHERE id = $1"
        )
        .bind(citizen.0)
        .fetch_optional(pool)
        .await)?;
        Ok(r.flatten())
    }

    pub async fn count_register_entries(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM register_entries"
        )
        .fetch_one(pool)
        .await)?)
    }
}
