//! Passkeys, enrollment (citizen + passkey + session in one transaction), and
//! the records kept for registrar review.

use uuid::Uuid;

use super::citizens::{insert_citizen_drawing_ids, insert_citizen_query};
use super::sessions::{SessionRow, insert_session_query};
use super::{Store, StoreError, on_pool};
use crate::domain::{Citizen, CitizenId};

/// A passkey as stored; `passkey` is webauthn-rs's serialised credential.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: Uuid,
    pub citizen_id: Uuid,
    pub credential_id: Vec<u8>,
    pub passkey: String,
    pub name: String,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub sign_count: i64,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

macro_rules! insert_passkey_query {
    ($p:expr) => {
        sqlx::query(
            "INSERT INTO passkeys (id, citizen_id, credential_id, passkey, name, backup_eligible, \
             backup_state, sign_count, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind($p.id)
        .bind($p.citizen_id)
        .bind(&$p.credential_id)
        .bind(&$p.passkey)
        .bind(&$p.name)
        .bind($p.backup_eligible)
        .bind($p.backup_state)
        .bind($p.sign_count)
        .bind($p.created_at)
        .bind($p.last_used_at)
    };
}

/// A possible duplicate noticed at enrollment.
#[derive(Debug, Clone)]
pub struct DuplicateAttempt {
    pub id: Uuid,
    pub given_name: String,
    pub family_name: String,
    pub birth_date: time::Date,
    pub region_code: String,
    pub matched_citizen_id: Uuid,
    pub attempted_at: i64,
}

/// Outcome of an enrollment transaction.
#[derive(Debug, PartialEq, Eq)]
pub enum Enrolled {
    Done,
    /// A citizen with the same duplicate-check key appeared meanwhile.
    Duplicate(CitizenId),
    /// Every drawn national ID number was taken.
    NoFreeNumber,
    /// The register row was claimed meanwhile (its code was used).
    CodeUsed,
}

impl Store {
    /// Creates the citizen, their first passkey and a session, all or nothing.
    /// With `register_ref`, the citizen is linked to that register row, which
    /// must still be unclaimed; a matching citizen does not stop it but opens
    /// a duplicate case naming both.
    pub async fn enroll(
        &self,
        citizen: &mut Citizen,
        passkey: &PasskeyRow,
        session: &SessionRow,
        register_ref: Option<&str>,
    ) -> Result<Enrolled, StoreError> {
        let key = crate::domain::dedup_key(
            &citizen.given_name,
            &citizen.family_name,
            citizen.birth_date,
            &citizen.region,
        );
        let begin = self.write_begin();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_with(begin).await?;
            let existing: Option<Uuid> =
                sqlx::query_scalar("SELECT id FROM citizens WHERE dedup_key = $1 LIMIT 1")
                    .bind(&key)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let (Some(id), None) = (existing, register_ref) {
                return Ok(Enrolled::Duplicate(CitizenId(id)));
            }
            if !insert_citizen_drawing_ids!(tx, citizen).await? {
                return Ok(Enrolled::NoFreeNumber);
            }
            if let Some(register_ref) = register_ref {
                let claimed = sqlx::query(
                    "UPDATE register_entries SET citizen_id = $1, claimed_at = $2 \
                     WHERE register_ref = $3 AND citizen_id IS NULL",
                )
                .bind(citizen.id.0)
                .bind(citizen.created_at.unix_timestamp())
                .bind(register_ref)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if claimed != 1 {
                    return Ok(Enrolled::CodeUsed);
                }
                sqlx::query("UPDATE citizens SET register_ref = $1 WHERE id = $2")
                    .bind(register_ref)
                    .bind(citizen.id.0)
                    .execute(&mut *tx)
                    .await?;
                if let Some(matched) = existing {
                    sqlx::query(
                        "INSERT INTO enrollment_duplicates (id, given_name, family_name, \
                         birth_date, region_code, matched_citizen_id, attempted_at, \
                         duplicate_citizen_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(Uuid::new_v4())
                    .bind(citizen.given_name.as_str())
                    .bind(citizen.family_name.as_str())
                    .bind(citizen.birth_date)
                    .bind(citizen.region.as_str())
                    .bind(matched)
                    .bind(citizen.created_at.unix_timestamp())
                    .bind(citizen.id.0)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            insert_passkey_query!(passkey).execute(&mut *tx).await?;
            insert_session_query!(session).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(Enrolled::Done)
    }

    /// Adds another passkey to an existing citizen.
    pub async fn insert_passkey(&self, passkey: &PasskeyRow) -> Result<(), StoreError> {
        on_pool!(self, |pool| insert_passkey_query!(passkey)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn passkey_exists(&self, credential_id: &[u8]) -> Result<bool, StoreError> {
        let found: Option<i32> = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT 1 FROM passkeys WHERE credential_id = $1"
        )
        .bind(credential_id)
        .fetch_optional(pool)
        .await)?;
        Ok(found.is_some())
    }

    pub async fn find_passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<PasskeyRow>, StoreError> {
        const SQL: &str = "SELECT id, citizen_id, credential_id, passkey, name, backup_eligible, \
             backup_state, sign_count, created_at, last_used_at FROM passkeys \
             WHERE credential_id = $1";
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(credential_id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Whether a passkey is backup-eligible (synced); `None` when it is gone.
    pub async fn passkey_backup_eligible(&self, id: Uuid) -> Result<Option<bool>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT backup_eligible FROM passkeys WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn list_passkeys(&self, citizen: CitizenId) -> Result<Vec<PasskeyRow>, StoreError> {
        const SQL: &str = "SELECT id, citizen_id, credential_id, passkey, name, backup_eligible, \
             backup_state, sign_count, created_at, last_used_at FROM passkeys \
             WHERE citizen_id = $1 ORDER BY created_at, id";
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(citizen.0)
            .fetch_all(pool)
            .await)?)
    }

    pub async fn rename_passkey(
        &self,
        citizen: CitizenId,
        id: Uuid,
        name: &str,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(self, |pool| sqlx::query(
            "UPDATE passkeys SET name = $1 WHERE id = $2 AND citizen_id = $3"
        )
        .bind(name)
        .bind(id)
        .bind(citizen.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Deletes a passkey unless it is the citizen's last one; returns whether
    /// a row was deleted.
    pub async fn delete_passkey_unless_last(
        &self,
        citizen: CitizenId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(self, |pool| sqlx::query(
            "DELETE FROM passkeys WHERE id = $1 AND citizen_id = $2 \
             AND (SELECT COUNT(*) FROM passkeys WHERE citizen_id = $2) > 1"
        )
        .bind(id)
        .bind(citizen.0)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Records a successful sign-in: new counter and flags, and a session.
    pub async fn record_sign_in(
        &self,
        passkey: &PasskeyRow,
        session: &SessionRow,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE passkeys SET passkey = $1, sign_count = $2, backup_state = $3, \
                 last_used_at = $4 WHERE id = $5",
            )
            .bind(&passkey.passkey)
            .bind(passkey.sign_count)
            .bind(passkey.backup_state)
            .bind(passkey.last_used_at)
            .bind(passkey.id)
            .execute(&mut *tx)
            .await?;
            insert_session_query!(session).execute(&mut *tx).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn insert_duplicate_attempt(&self, a: &DuplicateAttempt) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO enrollment_duplicates (id, given_name, family_name, birth_date, \
             region_code, matched_citizen_id, attempted_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(a.id)
        .bind(&a.given_name)
        .bind(&a.family_name)
        .bind(a.birth_date)
        .bind(&a.region_code)
        .bind(a.matched_citizen_id)
        .bind(a.attempted_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Records a signature counter that went backwards.
    pub async fn insert_credential_incident(
        &self,
        passkey: &PasskeyRow,
        presented: i64,
        at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO credential_incidents (id, passkey_id, citizen_id, kind, stored_count, \
             presented_count, at) VALUES ($1, $2, $3, 'counter_regression', $4, $5, $6)"
        )
        .bind(Uuid::new_v4())
        .bind(passkey.id)
        .bind(passkey.citizen_id)
        .bind(passkey.sign_count)
        .bind(presented)
        .bind(at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}
