//! The registrar desk: verification requests, duplicate cases, proofing
//! records and lifecycle changes. Each change is one transaction together
//! with its audit entry; `false` means the record was no longer in the state
//! the change needs (someone else acted first).

use uuid::Uuid;

use super::audit::append_audit;
use super::staff::scope_cte;
use super::{Store, StoreError, on_pool};
use crate::audit::AuditEvent;
use crate::domain::{CitizenId, CitizenStatus};

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

/// A merge: `revoked` is folded into `survivor`.
#[derive(Debug, Clone)]
pub struct Merge {
    pub case_id: Uuid,
    pub survivor: CitizenId,
    pub revoked: CitizenId,
    /// The register row moving to the survivor, if only the revoked one had it.
    pub register_ref: Option<String>,
    /// The survivor's assurance level after the merge.
    pub assurance_level: i16,
    pub registrar: CitizenId,
    pub at: i64,
}

/// Ends a citizen's sign-ins at once: sessions deleted, grants revoked (so
/// refresh tokens fail and introspection says inactive). Evaluates to
/// `Result<(), StoreError>`.
macro_rules! end_access {
    ($tx:expr, $citizen:expr, $now:expr) => {
        async {
            sqlx::query("DELETE FROM sessions WHERE citizen_id = $1")
                .bind($citizen)
                .execute(&mut *$tx)
                .await?;
            sqlx::query(
                "UPDATE grants SET revoked_at = $1 WHERE citizen_id = $2 AND revoked_at IS NULL",
            )
            .bind($now)
            .bind($citizen)
            .execute(&mut *$tx)
            .await?;
            Ok::<(), StoreError>(())
        }
    };
}

/// Runs `$query`, one UPDATE, in a new transaction; only when it changed
/// exactly one row, appends `$event` and commits. Evaluates to
/// `Result<bool, StoreError>`.
macro_rules! update_one_audited {
    ($pool:expr, $query:expr, $event:expr) => {
        async {
            let mut tx = $pool.begin().await?;
            if $query.execute(&mut *tx).await?.rows_affected() != 1 {
                return Ok(false);
            }
            append_audit!(tx, $event).await?;
            tx.commit().await?;
            Ok::<bool, StoreError>(true)
        }
    };
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
        const SQL: &str = concat!(
            scope_cte!(),
            "SELECT c.national_id, c.given_name, c.family_name, c.birth_date, c.region_code, \
             v.requested_at FROM verification_requests v JOIN citizens c ON c.id = v.citizen_id \
             WHERE v.resolved_at IS NULL AND c.region_code IN (SELECT code FROM scope) \
             ORDER BY v.requested_at LIMIT $2"
        );
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL)
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
        const SQL: &str = concat!(
            scope_cte!(),
            "SELECT d.id, d.given_name, d.family_name, d.birth_date, d.region_code, \
             d.attempted_at, m.national_id AS matched_national_id, \
             x.national_id AS duplicate_national_id \
             FROM enrollment_duplicates d JOIN citizens m ON m.id = d.matched_citizen_id \
             LEFT JOIN citizens x ON x.id = d.duplicate_citizen_id \
             WHERE d.resolved_at IS NULL AND m.region_code IN (SELECT code FROM scope) \
             ORDER BY d.attempted_at LIMIT $2"
        );
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL)
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

    /// Raises an active citizen to level 2 with the proofing record, closing
    /// any open verification request.
    pub async fn verify_citizen(
        &self,
        record: &ProofingRecord,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let raised = sqlx::query(
                "UPDATE citizens SET assurance_level = 2, updated_at = $1 \
                 WHERE id = $2 AND status = 'active'",
            )
            .bind(record.at)
            .bind(record.citizen_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if raised != 1 {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO proofing_records (id, citizen_id, evidence_type, issuing_authority, \
                 document_hash, method, registrar_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(record.id)
            .bind(record.citizen_id)
            .bind(&record.evidence_type)
            .bind(&record.issuing_authority)
            .bind(&record.document_hash)
            .bind(&record.method)
            .bind(record.registrar_id)
            .bind(record.at)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE verification_requests SET resolved_at = $1, outcome = 'verified', \
                 resolved_by = $2 WHERE citizen_id = $3 AND resolved_at IS NULL",
            )
            .bind(record.at)
            .bind(record.registrar_id)
            .bind(record.citizen_id)
            .execute(&mut *tx)
            .await?;
            append_audit!(tx, event).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Closes a citizen's open verification request as rejected.
    pub async fn reject_verification(
        &self,
        citizen: CitizenId,
        registrar: CitizenId,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| update_one_audited!(
            pool,
            sqlx::query(
                "UPDATE verification_requests SET resolved_at = $1, outcome = 'rejected', \
                 resolved_by = $2 WHERE citizen_id = $3 AND resolved_at IS NULL",
            )
            .bind(event.at)
            .bind(registrar.0)
            .bind(citizen.0),
            event
        )
        .await)
    }

    /// Moves a citizen from one of `from` to `to`. Leaving `active` ends
    /// their sessions and revokes their grants in the same transaction.
    pub async fn change_status(
        &self,
        citizen: CitizenId,
        from: &[CitizenStatus],
        to: CitizenStatus,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        let first = from.first().map_or("", |s| s.as_str());
        let second = from.get(1).map_or(first, |s| s.as_str());
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE citizens SET status = $1, updated_at = $2 \
                 WHERE id = $3 AND (status = $4 OR status = $5)",
            )
            .bind(to.as_str())
            .bind(event.at)
            .bind(citizen.0)
            .bind(first)
            .bind(second)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed != 1 {
                return Ok(false);
            }
            if to != CitizenStatus::Active {
                end_access!(tx, citizen.0, event.at).await?;
            }
            append_audit!(tx, event).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Folds one citizen into another: the revoked one's passkeys move to the
    /// survivor (the same person holds them), its sign-ins end, and the case
    /// closes.
    pub async fn merge_citizens(&self, m: &Merge, event: &AuditEvent) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let revoked = sqlx::query(
                "UPDATE citizens SET status = 'revoked', merged_into = $1, register_ref = NULL, \
                 updated_at = $2 WHERE id = $3 AND status IN ('active', 'suspended')",
            )
            .bind(m.survivor.0)
            .bind(m.at)
            .bind(m.revoked.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let closed = sqlx::query(
                "UPDATE enrollment_duplicates SET resolved_at = $1, resolution = 'merged', \
                 resolved_by = $2 WHERE id = $3 AND resolved_at IS NULL",
            )
            .bind(m.at)
            .bind(m.registrar.0)
            .bind(m.case_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if revoked != 1 || closed != 1 {
                return Ok(false);
            }
            let kept = sqlx::query(
                "UPDATE citizens SET assurance_level = $1, \
                 register_ref = COALESCE(register_ref, $2), updated_at = $3 \
                 WHERE id = $4 AND status IN ('active', 'suspended')",
            )
            .bind(m.assurance_level)
            .bind(m.register_ref.as_deref())
            .bind(m.at)
            .bind(m.survivor.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if kept != 1 {
                return Ok(false);
            }
            if let Some(r) = &m.register_ref {
                sqlx::query("UPDATE register_entries SET citizen_id = $1 WHERE register_ref = $2")
                    .bind(m.survivor.0)
                    .bind(r)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("UPDATE passkeys SET citizen_id = $1 WHERE citizen_id = $2")
                .bind(m.survivor.0)
                .bind(m.revoked.0)
                .execute(&mut *tx)
                .await?;
            end_access!(tx, m.revoked.0, m.at).await?;
            append_audit!(tx, event).await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Closes a duplicate case as two different people.
    pub async fn dismiss_duplicate(
        &self,
        case_id: Uuid,
        registrar: CitizenId,
        event: &AuditEvent,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| update_one_audited!(
            pool,
            sqlx::query(
                "UPDATE enrollment_duplicates SET resolved_at = $1, resolution = 'distinct', \
                 resolved_by = $2 WHERE id = $3 AND resolved_at IS NULL",
            )
            .bind(event.at)
            .bind(registrar.0)
            .bind(case_id),
            event
        )
        .await)
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
