//! Passkeys, and the records kept for registrar review (duplicate cases,
//! credential incidents).

use uuid::Uuid;

use std::sync::LazyLock;

use super::{Store, StoreError, Tx, on_pool};
use crate::domain::CitizenId;

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
    /// Set when the passkey was disabled for review (a counter regression).
    pub disabled_at: Option<i64>,
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
    /// The second citizen, when both were enrolled (from the register).
    pub duplicate_citizen_id: Option<Uuid>,
}

const PASSKEY_COLUMNS: &str = "SELECT id, citizen_id, credential_id, passkey, name, \
     backup_eligible, backup_state, sign_count, created_at, last_used_at, disabled_at \
     FROM passkeys";

static BY_CREDENTIAL: LazyLock<String> =
    LazyLock::new(|| format!("{PASSKEY_COLUMNS} WHERE credential_id = $1"));
static OF_CITIZEN: LazyLock<String> =
    LazyLock::new(|| format!("{PASSKEY_COLUMNS} WHERE citizen_id = $1 ORDER BY created_at, id"));

impl Tx {
    pub async fn insert_passkey(&mut self, p: &PasskeyRow) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO passkeys (id, citizen_id, credential_id, passkey, name, backup_eligible, \
             backup_state, sign_count, created_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )
        .bind(p.id)
        .bind(p.citizen_id)
        .bind(&p.credential_id)
        .bind(&p.passkey)
        .bind(&p.name)
        .bind(p.backup_eligible)
        .bind(p.backup_state)
        .bind(p.sign_count)
        .bind(p.created_at)
        .bind(p.last_used_at)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Stores what a sign-in changed in a passkey: its credential state,
    /// counter, backup state and last use. The counter only moves forward:
    /// a parallel sign-in that stored a higher one wins.
    pub async fn record_passkey_use(&mut self, p: &PasskeyRow) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "UPDATE passkeys SET passkey = $1, sign_count = $2, backup_state = $3, \
             last_used_at = $4 WHERE id = $5 AND sign_count <= $2"
        )
        .bind(&p.passkey)
        .bind(p.sign_count)
        .bind(p.backup_state)
        .bind(p.last_used_at)
        .bind(p.id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Deletes a passkey unless it is the citizen's last one; returns
    /// whether a row was deleted. Run it holding `lock_citizen`, so two
    /// parallel removals cannot both see two passkeys.
    pub async fn delete_passkey_unless_last(
        &mut self,
        citizen: CitizenId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(tx self, |conn| sqlx::query(
            "DELETE FROM passkeys WHERE id = $1 AND citizen_id = $2 \
             AND (SELECT COUNT(*) FROM passkeys WHERE citizen_id = $2) > 1"
        )
        .bind(id)
        .bind(citizen.0)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Ends every session signed in with a passkey.
    pub async fn delete_sessions_with_passkey(&mut self, passkey: Uuid) -> Result<u64, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query(
            "DELETE FROM sessions WHERE passkey_id = $1"
        )
        .bind(passkey)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// Disables a passkey until a registrar has reviewed it.
    pub async fn disable_passkey(&mut self, id: Uuid, at: i64) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "UPDATE passkeys SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL"
        )
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Enables a disabled passkey of `citizen` again; false if there is none.
    pub async fn enable_passkey(
        &mut self,
        citizen: CitizenId,
        id: Uuid,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(tx self, |conn| sqlx::query(
            "UPDATE passkeys SET disabled_at = NULL \
             WHERE id = $1 AND citizen_id = $2 AND disabled_at IS NOT NULL"
        )
        .bind(id)
        .bind(citizen.0)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Records a signature counter that went backwards.
    pub async fn insert_credential_incident(
        &mut self,
        passkey: &PasskeyRow,
        presented: i64,
        at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO credential_incidents (id, passkey_id, citizen_id, kind, stored_count, \
             presented_count, at) VALUES ($1, $2, $3, 'counter_regression', $4, $5, $6)"
        )
        .bind(Uuid::new_v4())
        .bind(passkey.id)
        .bind(passkey.citizen_id)
        .bind(passkey.sign_count)
        .bind(presented)
        .bind(at)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Opens a duplicate case for registrars. A refused attempt (no second
    /// citizen) matching a person who already has an open case adds nothing.
    pub async fn insert_duplicate_case(&mut self, a: &DuplicateAttempt) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO enrollment_duplicates (id, given_name, family_name, birth_date, \
             region_code, matched_citizen_id, attempted_at, duplicate_citizen_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING"
        )
        .bind(a.id)
        .bind(&a.given_name)
        .bind(&a.family_name)
        .bind(a.birth_date)
        .bind(&a.region_code)
        .bind(a.matched_citizen_id)
        .bind(a.attempted_at)
        .bind(a.duplicate_citizen_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

impl Store {
    /// Adds another passkey to an existing citizen.
    pub async fn insert_passkey(&self, passkey: &PasskeyRow) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.insert_passkey(passkey).await?;
        tx.commit().await
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
        Ok(on_pool!(self, |pool| sqlx::query_as(
            BY_CREDENTIAL.as_str()
        )
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
        Ok(on_pool!(self, |pool| sqlx::query_as(OF_CITIZEN.as_str())
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

    /// Keeps a refused enrollment that matched an existing citizen.
    pub async fn insert_duplicate_attempt(&self, a: &DuplicateAttempt) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.insert_duplicate_case(a).await?;
        tx.commit().await
    }
}
