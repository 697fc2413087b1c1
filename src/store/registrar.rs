//! The registrar desk: verification requests, duplicate cases, proofing
//! records and lifecycle changes. The desk (`registry::registrar`) composes
//! each change and its audit entry into one transaction.

use uuid::Uuid;

use std::sync::LazyLock;

use super::{Store, StoreError, Tx, on_pool};
use crate::domain::{AssuranceLevel, CitizenId, CitizenStatus};

/// A level-1 citizen waiting for in-person verification.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct VerificationItem {
    pub national_id: String,
    pub given_name: String,
    pub family_name: String,
    #[serde(with = "crate::domain::citizen::iso_date")]
    pub birth_date: time::Date,
    pub region_code: String,
    pub requested_at: i64,
}

/// A possible duplicate waiting for a registrar.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct DuplicateItem {
    pub id: Uuid,
    pub given_name: String,
    pub family_name: String,
    #[serde(with = "crate::domain::citizen::iso_date")]
    pub birth_date: time::Date,
    pub region_code: String,
    pub attempted_at: i64,
    /// The citizen already enrolled with these details.
    pub matched_national_id: String,
    /// The second citizen, when one was enrolled from the register.
    pub duplicate_national_id: Option<String>,
}

/// A duplicate case as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DuplicateCase {
    pub id: Uuid,
    pub matched_citizen_id: Uuid,
    pub duplicate_citizen_id: Option<Uuid>,
    pub resolved_at: Option<i64>,
}

/// What a registrar saw when verifying someone in person.
#[derive(Debug, Clone)]
pub struct ProofingRecord {
    pub id: Uuid,
    pub citizen_id: Uuid,
    pub evidence_type: String,
    pub issuing_authority: String,
    pub document_hash: String,
    pub method: String,
    pub registrar_id: Uuid,
    pub at: i64,
}

/// The regions covered by a registrar's roles (`$1`), sub-regions
/// included, as a recursive common table expression named `scope(code)`.
pub(super) const SCOPE_CTE: &str = "WITH RECURSIVE scope(code) AS ( \
       SELECT region_code FROM staff_roles WHERE citizen_id = $1 AND role = 'registrar' \
       UNION SELECT r.code FROM regions r JOIN scope s ON r.parent_code = s.code) ";

static VERIFICATION_QUEUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{SCOPE_CTE} SELECT c.national_id, c.given_name, c.family_name, c.birth_date, \
         c.region_code, v.requested_at FROM verification_requests v \
         JOIN citizens c ON c.id = v.citizen_id \
         WHERE v.resolved_at IS NULL AND c.region_code IN (SELECT code FROM scope) \
         ORDER BY v.requested_at LIMIT $2"
    )
});

static DUPLICATE_QUEUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{SCOPE_CTE} SELECT d.id, d.given_name, d.family_name, d.birth_date, d.region_code, \
         d.attempted_at, m.national_id AS matched_national_id, \
         x.national_id AS duplicate_national_id \
         FROM enrollment_duplicates d JOIN citizens m ON m.id = d.matched_citizen_id \
         LEFT JOIN citizens x ON x.id = d.duplicate_citizen_id \
         WHERE d.resolved_at IS NULL AND m.region_code IN (SELECT code FROM scope) \
         ORDER BY d.attempted_at LIMIT $2"
    )
});

/// Statements of the registrar's changes. Each returns whether it changed
/// the one row it names: `false` means the record was no longer in the
/// state the change needs (someone else acted first).
impl Tx {
    /// Raises an active citizen to level 2.
    pub async fn raise_to_verified(
        &mut self,
        citizen: CitizenId,
        at: i64,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(tx self, |conn| sqlx::query(
            "UPDATE citizens SET assurance_level = 2, updated_at = $1 \
             WHERE id = $2 AND status = 'active'"
        )
        .bind(at)
        .bind(citizen.0)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn insert_proofing_record(&mut self, r: &ProofingRecord) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO proofing_records (id, citizen_id, evidence_type, issuing_authority, \
             document_hash, method, registrar_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )
        .bind(r.id)
        .bind(r.citizen_id)
        .bind(&r.evidence_type)
        .bind(&r.issuing_authority)
        .bind(&r.document_hash)
        .bind(&r.method)
        .bind(r.registrar_id)
        .bind(r.at)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Closes the citizen's open verification request with `outcome`
    /// (`verified` or `rejected`).
    pub async fn resolve_verification_request(
        &mut self,
        citizen: CitizenId,
        registrar: CitizenId,
        outcome: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(tx self, |conn| sqlx::query(
            "UPDATE verification_requests SET resolved_at = $1, outcome = $2, resolved_by = $3 \
             WHERE citizen_id = $4 AND resolved_at IS NULL"
        )
        .bind(at)
        .bind(outcome)
        .bind(registrar.0)
        .bind(citizen.0)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Moves a citizen from one of `from` (one or two statuses) to `to`.
    pub async fn change_citizen_status(
        &mut self,
        citizen: CitizenId,
        from: &[CitizenStatus],
        to: CitizenStatus,
        at: i64,
    ) -> Result<bool, StoreError> {
        let first = from.first().map_or("", |s| s.as_str());
        let second = from.get(1).map_or(first, |s| s.as_str());
        let n = on_pool!(tx self, |conn| sqlx::query(
            "UPDATE citizens SET status = $1, updated_at = $2 \
             WHERE id = $3 AND (status = $4 OR status = $5)"
        )
        .bind(to.as_str())
        .bind(at)
        .bind(citizen.0)
        .bind(first)
        .bind(second)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Revokes a live citizen as merged into `survivor`, dropping its
    /// register link.
    pub async fn revoke_as_merged(
        &mut self,
        revoked: CitizenId,
        survivor: CitizenId,
        at: i64,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(tx self, |conn| sqlx::query(
            "UPDATE citizens SET status = 'revoked', merged_into = $1, register_ref = NULL, \
             updated_at = $2 WHERE id = $3 AND status IN ('active', 'suspended')"
        )
        .bind(survivor.0)
        .bind(at)
        .bind(revoked.0)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Gives the survivor of a merge its level and, if it had none, the
    /// register link.
    pub async fn keep_merge_survivor(
        &mut self,
        survivor: CitizenId,
        level: AssuranceLevel,
        register_ref: Option<&str>,
        at: i64,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(tx self, |conn| sqlx::query(
            "UPDATE citizens SET assurance_level = $1, \
             register_ref = COALESCE(register_ref, $2), updated_at = $3 \
             WHERE id = $4 AND status IN ('active', 'suspended')"
        )
        .bind(level.as_i16())
        .bind(register_ref)
        .bind(at)
        .bind(survivor.0)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Points a register row at another citizen.
    pub async fn relink_register_entry(
        &mut self,
        register_ref: &str,
        citizen: CitizenId,
    ) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "UPDATE register_entries SET citizen_id = $1 WHERE register_ref = $2"
        )
        .bind(citizen.0)
        .bind(register_ref)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Moves one passkey from one citizen to another; false if `from` no
    /// longer holds it.
    pub async fn move_passkey(
        &mut self,
        id: Uuid,
        from: CitizenId,
        to: CitizenId,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(tx self, |conn| sqlx::query(
            "UPDATE passkeys SET citizen_id = $1 WHERE id = $2 AND citizen_id = $3"
        )
        .bind(to.0)
        .bind(id)
        .bind(from.0)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Deletes every passkey of a citizen; returns how many there were.
    pub async fn delete_passkeys_of(&mut self, citizen: CitizenId) -> Result<u64, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query(
            "DELETE FROM passkeys WHERE citizen_id = $1"
        )
        .bind(citizen.0)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// Closes an open duplicate case with `resolution` (`merged` or
    /// `distinct`).
    pub async fn resolve_duplicate_case(
        &mut self,
        case_id: Uuid,
        registrar: CitizenId,
        resolution: &str,
        at: i64,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(tx self, |conn| sqlx::query(
            "UPDATE enrollment_duplicates SET resolved_at = $1, resolution = $2, \
             resolved_by = $3 WHERE id = $4 AND resolved_at IS NULL"
        )
        .bind(at)
        .bind(resolution)
        .bind(registrar.0)
        .bind(case_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}

impl Store {
    /// Records a citizen's request to be verified; false if one is open.
    pub async fn request_verification(
        &self,
        citizen: CitizenId,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| sqlx::query(
            "INSERT INTO verification_requests (id, citizen_id, requested_at) \
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
        )
        .bind(Uuid::new_v4())
        .bind(citizen.0)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(done == 1)
    }

    /// When the citizen's open verification request was made, if any.
    pub async fn open_verification_request(
        &self,
        citizen: CitizenId,
    ) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT requested_at FROM verification_requests \
             WHERE citizen_id = $1 AND resolved_at IS NULL"
        )
        .bind(citizen.0)
        .fetch_optional(pool)
        .await)?)
    }

    /// Open verification requests in the registrar's regions, oldest first.
    pub async fn verification_queue(
        &self,
        registrar: CitizenId,
        limit: i64,
    ) -> Result<Vec<VerificationItem>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            VERIFICATION_QUEUE.as_str()
        )
        .bind(registrar.0)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    /// Open duplicate cases whose enrolled citizen is in the registrar's
    /// regions, oldest first.
    pub async fn duplicate_queue(
        &self,
        registrar: CitizenId,
        limit: i64,
    ) -> Result<Vec<DuplicateItem>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            DUPLICATE_QUEUE.as_str()
        )
        .bind(registrar.0)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }

    pub async fn find_duplicate_case(&self, id: Uuid) -> Result<Option<DuplicateCase>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT id, matched_citizen_id, duplicate_citizen_id, resolved_at \
             FROM enrollment_duplicates WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// The citizen a merged citizen was folded into.
    pub async fn merged_into(&self, citizen: CitizenId) -> Result<Option<Uuid>, StoreError> {
        let r: Option<Option<Uuid>> = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT merged_into FROM citizens WHERE id = $1"
        )
        .bind(citizen.0)
        .fetch_optional(pool)
        .await)?;
        Ok(r.flatten())
    }

    /// A living citizen other than `except` whose proofing records hold the
    /// document `document_hash`.
    pub async fn living_citizen_with_document(
        &self,
        document_hash: &str,
        except: CitizenId,
    ) -> Result<Option<CitizenId>, StoreError> {
        let found: Option<Uuid> = on_pool!(self, |pool| {
            sqlx::query_scalar(
            "SELECT p.citizen_id FROM proofing_records p JOIN citizens c ON c.id = p.citizen_id \
             WHERE p.document_hash = $1 AND p.citizen_id <> $2 \
             AND c.status IN ('active', 'suspended') LIMIT 1"
        )
        .bind(document_hash)
        .bind(except.0)
        .fetch_optional(pool)
        .await
        })?;
        Ok(found.map(CitizenId))
    }

    /// The proofing records of a citizen, newest first.
    pub async fn proofing_records(
        &self,
        citizen: CitizenId,
    ) -> Result<Vec<(String, String, String, i64)>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT evidence_type, issuing_authority, method, at FROM proofing_records \
             WHERE citizen_id = $1 ORDER BY at DESC"
        )
        .bind(citizen.0)
        .fetch_all(pool)
        .await)?)
    }
}
