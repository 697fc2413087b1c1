//! The population register: batched import inside one transaction, and the
//! activation-code lookups of enrollment.

use std::collections::HashMap;

use sqlx::{Postgres, Sqlite, Transaction};
use uuid::Uuid;

use super::audit::append_audit;
use super::{Store, StoreError, on_pool};
use crate::audit::AuditEvent;
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
}

/// An import in progress: one open transaction, and what it adds to the
/// campaigns' register counts.
pub struct RegisterImportTx {
    tx: ImportTx,
    import: Uuid,
    campaigns: CampaignTally,
}

enum ImportTx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// The campaigns' scopes as the import began (no campaign changes scope
/// while an import runs: both take the same lock), and the rows the import
/// adds to each campaign region.
#[derive(Default)]
struct CampaignTally {
    /// Region code → the campaigns covering it, with their cohort.
    scopes: HashMap<String, Vec<(Uuid, Option<time::Date>)>>,
    added: HashMap<(Uuid, String), i64>,
}

impl CampaignTally {
    fn count(&mut self, rows: &[RegisterBatchRow]) {
        for row in rows {
            for (campaign, born_by) in self.scopes.get(&row.region_code).into_iter().flatten() {
                if born_by.is_none_or(|b| row.birth_date <= b) {
                    *self
                        .added
                        .entry((*campaign, row.region_code.clone()))
                        .or_default() += 1;
                }
            }
        }
    }
}

const SCOPES: &str = "SELECT cr.region_code, cr.campaign_id, c.born_by FROM campaign_regions cr \
     JOIN campaigns c ON c.id = cr.campaign_id";

const ADD_REGISTER_ROWS: &str = "UPDATE campaign_regions SET register_rows = register_rows + $1 \
     WHERE campaign_id = $2 AND region_code = $3";

const INSERT_ONE: &str = "INSERT INTO register_entries (register_ref, given_name, family_name, \
     birth_date, region_code, phone, code_hash, import_id, import_line) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (register_ref) DO NOTHING RETURNING register_ref";

/// PostgreSQL takes a whole batch as arrays in one statement.
const INSERT_BATCH_PG: &str = "INSERT INTO register_entries (register_ref, given_name, \
     family_name, birth_date, region_code, phone, code_hash, import_id, import_line) \
     SELECT r, g, f, b, reg, p, h, $8, l FROM UNNEST($1::text[], $2::text[], $3::text[], \
     $4::date[], $5::text[], $6::text[], $7::text[], $9::bigint[]) AS t(r, g, f, b, reg, p, h, l) \
     ON CONFLICT (register_ref) DO NOTHING RETURNING register_ref";

const HOLDER: &str = "SELECT import_id, import_line FROM register_entries WHERE register_ref = $1";

fn conflict(row: &RegisterBatchRow, holder: Option<(Uuid, i64)>, import: Uuid) -> Conflict {
    Conflict {
        register_ref: row.register_ref.clone(),
        line: row.line,
        earlier_line: holder.filter(|(id, _)| *id == import).map(|(_, l)| l),
    }
}

impl RegisterImportTx {
    /// Inserts a batch; returns the rows whose register_ref was taken.
    pub async fn insert_batch(
        &mut self,
        rows: &[RegisterBatchRow],
    ) -> Result<Vec<Conflict>, StoreError> {
        let mut conflicts = Vec::new();
        // A batch with conflicts fails the whole import, so counting every
        // row is exact for any import that commits.
        self.campaigns.count(rows);
        let import = &self.import;
        match &mut self.tx {
            ImportTx::Sqlite(tx) => {
                for row in rows {
                    let inserted: Option<String> = sqlx::query_scalar(INSERT_ONE)
                        .bind(&row.register_ref)
                        .bind(&row.given_name)
                        .bind(&row.family_name)
                        .bind(row.birth_date)
                        .bind(&row.region_code)
                        .bind(row.phone.as_deref())
                        .bind(&row.code_hash)
                        .bind(*import)
                        .bind(row.line)
                        .fetch_optional(&mut **tx)
                        .await?;
                    if inserted.is_none() {
                        let holder: Option<(Uuid, i64)> = sqlx::query_as(HOLDER)
                            .bind(&row.register_ref)
                            .fetch_optional(&mut **tx)
                            .await?;
                        conflicts.push(conflict(row, holder, *import));
                    }
                }
            }
            ImportTx::Postgres(tx) => {
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
                    .bind(*import)
                    .bind(rows.iter().map(|r| r.line).collect::<Vec<_>>())
                    .fetch_all(&mut **tx)
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
                            .fetch_optional(&mut **tx)
                            .await?;
                        conflicts.push(conflict(row, holder, *import));
                    }
                }
            }
        }
        Ok(conflicts)
    }

    /// Records the import and its audit entry, and commits.
    pub async fn finish(
        self,
        source: &str,
        rows: u64,
        actor: &str,
        now: i64,
        event: &AuditEvent,
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO register_imports (id, source, row_count, imported_by, \
             imported_at) VALUES ($1, $2, $3, $4, $5)";
        let rows = i64::try_from(rows).unwrap_or(i64::MAX);
        let import = self.import;
        let added = self.campaigns.added;
        macro_rules! finish {
            ($tx:ident) => {{
                for ((campaign, region), rows) in &added {
                    sqlx::query(ADD_REGISTER_ROWS)
                        .bind(*rows)
                        .bind(*campaign)
                        .bind(region)
                        .execute(&mut *$tx)
                        .await?;
                }
                sqlx::query(SQL)
                    .bind(import)
                    .bind(source)
                    .bind(rows)
                    .bind(actor)
                    .bind(now)
                    .execute(&mut *$tx)
                    .await?;
                append_audit!($tx, event).await?;
                $tx.commit().await?;
            }};
        }
        match self.tx {
            ImportTx::Sqlite(mut tx) => finish!(tx),
            ImportTx::Postgres(mut tx) => finish!(tx),
        }
        Ok(())
    }

    /// Throws the import away.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self.tx {
            ImportTx::Sqlite(tx) => tx.rollback().await?,
            ImportTx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

impl Store {
    /// Begins an import. It holds the write lock (SQLite) or the campaign
    /// scope lock (PostgreSQL) throughout, so the campaign scopes it counts
    /// for stay as they are until it commits.
    pub async fn begin_register_import(&self, id: Uuid) -> Result<RegisterImportTx, StoreError> {
        let (tx, scopes): (ImportTx, Vec<(String, Uuid, Option<time::Date>)>) = match self {
            Self::Sqlite(pool) => {
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                let scopes = sqlx::query_as(SCOPES).fetch_all(&mut *tx).await?;
                (ImportTx::Sqlite(tx), scopes)
            }
            Self::Postgres(pool) => {
                let mut tx = pool.begin().await?;
                sqlx::query("LOCK TABLE campaign_regions IN SHARE ROW EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await?;
                let scopes = sqlx::query_as(SCOPES).fetch_all(&mut *tx).await?;
                (ImportTx::Postgres(tx), scopes)
            }
        };
        let mut campaigns = CampaignTally::default();
        for (region, campaign, born_by) in scopes {
            campaigns
                .scopes
                .entry(region)
                .or_default()
                .push((campaign, born_by));
        }
        Ok(RegisterImportTx {
            tx,
            import: id,
            campaigns,
        })
    }

    /// Register rows whose activation code hashes to `code_hash` (almost
    /// always one; two 60-bit codes may coincide in a huge register).
    pub async fn register_entries_by_code(
        &self,
        code_hash: &str,
    ) -> Result<Vec<RegisterEntry>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT register_ref, given_name, family_name, birth_date, region_code, citizen_id \
             FROM register_entries WHERE code_hash = $1 LIMIT 4"
        )
        .bind(code_hash)
        .fetch_all(pool)
        .await)?)
    }

    pub async fn find_register_entry(
        &self,
        register_ref: &str,
    ) -> Result<Option<RegisterEntry>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT register_ref, given_name, family_name, birth_date, region_code, citizen_id \
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
