//! Identity proofing at the desk (NIST SP 800-63A): the evidence a
//! registrar saw, kept as a proofing record with the document number only as
//! a keyed hash, and verification to level 2. One identity document verifies
//! one living person: a document already on another living citizen's record
//! opens a duplicate case instead.

use serde_json::json;
use uuid::Uuid;

use super::{Desk, changed_meanwhile};
use crate::audit::AuditEvent;
use crate::domain::{AssuranceLevel, Citizen, CitizenId, CitizenStatus};
use crate::error::AppError;
use crate::registry::RegistryKeys;
use crate::staff;
use crate::store::{DuplicateAttempt, ProofingRecord};

/// Kinds of identity evidence a registrar may accept.
pub const EVIDENCE_TYPES: &[&str] = &[
    "passport",
    "national_id_card",
    "birth_certificate",
    "driving_licence",
    "residence_permit",
];

/// How the evidence was checked.
pub const PROOFING_METHODS: &[&str] = &["in_person", "supervised_remote"];

/// What a registrar records when verifying someone.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Evidence {
    pub evidence_type: String,
    pub issuing_authority: String,
    pub document_number: String,
    #[serde(default = "in_person")]
    pub method: String,
}

fn in_person() -> String {
    "in_person".to_string()
}

fn one_of(value: &str, allowed: &[&str], code: &'static str, what: &str) -> Result<(), AppError> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(AppError::bad_request(
            code,
            format!("{what} must be one of: {}.", allowed.join(", ")),
        ))
    }
}

impl Evidence {
    /// The proofing record of this evidence about `citizen`, seen by
    /// `registrar` at `at`; 400 for a field that is not as expected.
    pub fn record(
        &self,
        keys: &RegistryKeys,
        citizen: CitizenId,
        registrar: CitizenId,
        at: i64,
    ) -> Result<ProofingRecord, AppError> {
        one_of(
            &self.evidence_type,
            EVIDENCE_TYPES,
            "invalid_evidence_type",
            "The evidence type",
        )?;
        one_of(
            &self.method,
            PROOFING_METHODS,
            "invalid_method",
            "The method",
        )?;
        let authority = self.issuing_authority.trim();
        if authority.is_empty()
            || authority.chars().count() > 200
            || authority.chars().any(char::is_control)
        {
            return Err(AppError::bad_request(
                "invalid_issuing_authority",
                "Give the authority that issued the document (1 to 200 characters, \
                 no control characters).",
            ));
        }
        let number: String = self
            .document_number
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_uppercase)
            .collect();
        if number.is_empty() || number.chars().count() > 64 {
            return Err(AppError::bad_request(
                "invalid_document_number",
                "Give the document's number (up to 64 letters and digits).",
            ));
        }
        Ok(ProofingRecord {
            id: Uuid::new_v4(),
            citizen_id: citizen.0,
            evidence_type: self.evidence_type.clone(),
            issuing_authority: authority.to_string(),
            document_hash: keys.document_hash(&number),
            method: self.method.clone(),
            registrar_id: registrar.0,
            at,
        })
    }
}

impl Desk<'_> {
    /// Raises a level-1 citizen to level 2 after an in-person check, keeping
    /// the proofing record; `citizen` is raised as well. A document that
    /// already verified another living citizen raises nobody: it opens a
    /// duplicate case naming both (409).
    pub async fn verify(
        &self,
        keys: &RegistryKeys,
        citizen: &mut Citizen,
        evidence: &Evidence,
    ) -> Result<(), AppError> {
        let now = self.now;
        let record = evidence.record(keys, citizen.id, self.staff.citizen().id, now)?;
        if citizen.status != CitizenStatus::Active {
            return Err(AppError::conflict(
                "not_active",
                format!(
                    "This citizen is {}; only an active citizen can be verified.",
                    citizen.status.as_str()
                ),
            ));
        }
        if citizen.assurance_level == AssuranceLevel::Verified {
            return Err(AppError::conflict(
                "already_verified",
                "This citizen is already verified (level 2).",
            ));
        }
        if let Some(holder) = self
            .store
            .living_citizen_with_document(&record.document_hash, citizen.id)
            .await?
        {
            return Err(self.document_in_use(citizen, holder, &record).await?);
        }
        let event = AuditEvent::new(
            self.staff.actor(),
            "citizen.verify",
            staff::audit_name(citizen),
            json!({
                "evidence_type": record.evidence_type,
                "issuing_authority": record.issuing_authority,
                "document_hash": record.document_hash,
                "method": record.method,
                "assurance_level": 2,
            }),
            now,
        );
        let mut tx = self.store.begin().await?;
        if !tx.raise_to_verified(citizen.id, now).await? {
            return Err(changed_meanwhile());
        }
        tx.insert_proofing_record(&record).await?;
        tx.resolve_verification_request(citizen.id, self.staff.citizen().id, "verified", now)
            .await?;
        tx.append_audit(&event).await?;
        tx.commit().await?;
        citizen.assurance_level = AssuranceLevel::Verified;
        Ok(())
    }

    /// Opens a duplicate case for a document already on `holder`'s record,
    /// audited, and returns the 409 the desk shows.
    async fn document_in_use(
        &self,
        citizen: &Citizen,
        holder: CitizenId,
        record: &ProofingRecord,
    ) -> Result<AppError, AppError> {
        let event = AuditEvent::new(
            self.staff.actor(),
            "citizen.verify_refused",
            staff::audit_name(citizen),
            json!({
                "reason": "document_in_use",
                "document_hash": record.document_hash,
            }),
            self.now,
        );
        let mut tx = self.store.begin().await?;
        tx.insert_duplicate_case(&DuplicateAttempt {
            id: Uuid::new_v4(),
            given_name: citizen.given_name.as_str().to_string(),
            family_name: citizen.family_name.as_str().to_string(),
            birth_date: citizen.birth_date,
            region_code: citizen.region.as_str().to_string(),
            matched_citizen_id: holder.0,
            attempted_at: self.now,
            duplicate_citizen_id: Some(citizen.id.0),
        })
        .await?;
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(AppError::conflict(
            "document_in_use",
            "This identity document has already verified another living person's record, so \
             this record was not verified. A duplicate case has been opened for the two records; \
             resolve it in the duplicates queue.",
        ))
    }
}
