//! Citizens.

use std::sync::LazyLock;

use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::tx::TxInner;
use super::{Store, StoreError, Tx, on_pool};
use crate::domain::citizen::DEDUP_KEY_VERSION;
use crate::domain::{
    AssuranceLevel, Citizen, CitizenId, CitizenStatus, NationalId, PersonName, RegionCode,
};

/// The columns `CitizenRow` reads.
const CITIZEN_COLUMNS: &str = "id, national_id, status, assurance_level, given_name, \
     family_name, birth_date, region_code, created_at, updated_at";

/// `SELECT <citizen columns> FROM citizens WHERE <condition>`, built once.
fn select_where(condition: &str) -> String {
    format!("SELECT {CITIZEN_COLUMNS} FROM citizens WHERE {condition}")
}

static BY_ID: LazyLock<String> = LazyLock::new(|| select_where("id = $1"));
static BY_NATIONAL_ID: LazyLock<String> = LazyLock::new(|| select_where("national_id = $1"));
static STALE_KEYS: LazyLock<String> =
    LazyLock::new(|| select_where("dedup_version < $1 ORDER BY id LIMIT $2"));
/// The citizen a duplicate check matches: living records first (a record
/// revoked by a merge lives on in its survivor), then the oldest.
const DEDUP_MATCH: &str = "dedup_key = $1 ORDER BY CASE status WHEN 'active' THEN 0 \
     WHEN 'suspended' THEN 1 ELSE 2 END, created_at LIMIT 1";

static BY_DEDUP_KEY: LazyLock<String> = LazyLock::new(|| select_where(DEDUP_MATCH));
static ID_BY_DEDUP_KEY: LazyLock<String> =
    LazyLock::new(|| format!("SELECT id FROM citizens WHERE {DEDUP_MATCH}"));

/// A citizen as stored.
#[derive(sqlx::FromRow)]
pub struct CitizenRow {
    id: Uuid,
    national_id: String,
    status: String,
    assurance_level: i16,
    given_name: String,
    family_name: String,
    birth_date: Date,
    region_code: String,
    created_at: i64,
    updated_at: i64,
}

fn timestamp(unix: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp(unix).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl TryFrom<CitizenRow> for Citizen {
    type Error = StoreError;
    fn try_from(r: CitizenRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("citizen {}: bad {what}", r.id));
        Ok(Citizen {
            id: CitizenId(r.id),
            national_id: NationalId::parse(&r.national_id).map_err(|_| corrupt("national_id"))?,
            status: CitizenStatus::parse(&r.status).ok_or_else(|| corrupt("status"))?,
            assurance_level: AssuranceLevel::from_i16(r.assurance_level)
                .ok_or_else(|| corrupt("assurance_level"))?,
            given_name: PersonName::stored(&r.given_name),
            family_name: PersonName::stored(&r.family_name),
            birth_date: r.birth_date,
            region: RegionCode::parse(&r.region_code).map_err(|_| corrupt("region_code"))?,
            created_at: timestamp(r.created_at)?,
            updated_at: timestamp(r.updated_at)?,
        })
    }
}

impl Tx {
    /// Inserts a citizen unless its national ID number is already taken;
    /// false on such a collision (the unique index decides, so this holds
    /// under concurrency).
    pub async fn insert_citizen(&mut self, c: &Citizen) -> Result<bool, StoreError> {
        let inserted: Option<Uuid> = on_pool!(tx self, |conn| sqlx::query_scalar(
            "INSERT INTO citizens (id, national_id, status, assurance_level, given_name, \
             family_name, birth_date, region_code, created_at, updated_at, dedup_key, \
             dedup_version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (national_id) DO NOTHING RETURNING id"
        )
        .bind(c.id.0)
        .bind(c.national_id.as_digits())
        .bind(c.status.as_str())
        .bind(c.assurance_level.as_i16())
        .bind(c.given_name.as_str())
        .bind(c.family_name.as_str())
        .bind(c.birth_date)
        .bind(c.region.as_str())
        .bind(c.created_at.unix_timestamp())
        .bind(c.updated_at.unix_timestamp())
        .bind(crate::domain::dedup_key(
            &c.given_name,
            &c.family_name,
            c.birth_date,
            &c.region,
        ))
        .bind(DEDUP_KEY_VERSION)
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(inserted.is_some())
    }

    /// Holds the citizen's row until this transaction ends, so changes to
    /// what they own (their passkeys) run one after the other. PostgreSQL
    /// locks the row; SQLite's `begin_write` holds the only write lock.
    pub async fn lock_citizen(&mut self, citizen: CitizenId) -> Result<(), StoreError> {
        if let TxInner::Postgres(held) = &mut self.0 {
            sqlx::query("SELECT id FROM citizens WHERE id = $1 FOR UPDATE")
                .bind(citizen.0)
                .fetch_optional(held.conn())
                .await?;
        }
        Ok(())
    }

    /// Holds the identity `key` until this transaction ends: parallel
    /// enrollments of one person run their duplicate check one after the
    /// other. (The upsert takes the row's lock on PostgreSQL; SQLite's
    /// `begin_write` holds the only write lock already.)
    pub async fn lock_identity(&mut self, key: &str) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO identity_locks (dedup_key) VALUES ($1) \
             ON CONFLICT (dedup_key) DO UPDATE SET dedup_key = excluded.dedup_key"
        )
        .bind(key)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The first citizen whose duplicate-check key is `key`.
    pub async fn citizen_by_dedup_key(
        &mut self,
        key: &str,
    ) -> Result<Option<CitizenId>, StoreError> {
        let id: Option<Uuid> = on_pool!(tx self, |conn| sqlx::query_scalar(
            ID_BY_DEDUP_KEY.as_str()
        )
        .bind(key)
        .fetch_optional(&mut *conn)
        .await)?;
        Ok(id.map(CitizenId))
    }
}

impl Store {
    /// Inserts a citizen unless its national ID number is already taken;
    /// returns false on such a collision.
    pub async fn insert_citizen(&self, c: &Citizen) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let inserted = tx.insert_citizen(c).await?;
        tx.commit().await?;
        Ok(inserted)
    }

    /// The first citizen whose duplicate-check key matches.
    pub async fn find_citizen_by_dedup_key(
        &self,
        key: &str,
    ) -> Result<Option<Citizen>, StoreError> {
        let row: Option<CitizenRow> = on_pool!(self, |pool| sqlx::query_as(BY_DEDUP_KEY.as_str())
            .bind(key)
            .fetch_optional(pool)
            .await)?;
        row.map(Citizen::try_from).transpose()
    }

    /// Changes a citizen's status.
    pub async fn set_citizen_status(
        &self,
        id: CitizenId,
        status: CitizenStatus,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| sqlx::query(
            "UPDATE citizens SET status = $1, updated_at = $2 WHERE id = $3"
        )
        .bind(status.as_str())
        .bind(at.unix_timestamp())
        .bind(id.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }
    pub async fn find_citizen(&self, id: CitizenId) -> Result<Option<Citizen>, StoreError> {
        let row: Option<CitizenRow> = on_pool!(self, |pool| sqlx::query_as(BY_ID.as_str())
            .bind(id.0)
            .fetch_optional(pool)
            .await)?;
        row.map(Citizen::try_from).transpose()
    }

    pub async fn find_citizen_by_national_id(
        &self,
        national_id: &NationalId,
    ) -> Result<Option<Citizen>, StoreError> {
        let row: Option<CitizenRow> =
            on_pool!(self, |pool| sqlx::query_as(BY_NATIONAL_ID.as_str())
                .bind(national_id.as_digits())
                .fetch_optional(pool)
                .await)?;
        row.map(Citizen::try_from).transpose()
    }

    /// Up to `limit` citizens whose duplicate-check key is older than
    /// `DEDUP_KEY_VERSION`.
    pub async fn citizens_with_stale_keys(&self, limit: i64) -> Result<Vec<Citizen>, StoreError> {
        let rows: Vec<CitizenRow> = on_pool!(self, |pool| sqlx::query_as(STALE_KEYS.as_str())
            .bind(DEDUP_KEY_VERSION)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        rows.into_iter().map(Citizen::try_from).collect()
    }

    /// Stores a recomputed duplicate-check key.
    pub async fn set_dedup_key(&self, citizen: CitizenId, key: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE citizens SET dedup_key = $1, dedup_version = $2 WHERE id = $3"
        )
        .bind(key)
        .bind(DEDUP_KEY_VERSION)
        .bind(citizen.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn count_citizens(&self) -> Result<i64, StoreError> {
        let n: i64 = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM citizens"
        )
        .fetch_one(pool)
        .await)?;
        Ok(n)
    }
}
