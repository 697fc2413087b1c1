//! The registrar desk: verifying people in person, resolving possible
//! duplicates, and the identity lifecycle (suspend, reinstate, revoke,
//! record death). A registrar acts only on citizens of their regions, and
//! every action is audited in the transaction that makes it.

use serde_json::json;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::domain::{AssuranceLevel, Citizen, CitizenId, CitizenStatus, NationalId};
use crate::error::AppError;
use crate::registry::RegistryKeys;
use crate::staff::{self, Staff};
use crate::store::{ProofingRecord, Store, StoreError};

/// A lifecycle change a registrar can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Suspend,
    Reinstate,
    Revoke,
    RecordDeath,
}

impl Lifecycle {
    /// The statuses the change starts from. Revocation and death are final.
    pub fn from(&self) -> &'static [CitizenStatus] {
        use CitizenStatus::*;
        match self {
            Self::Suspend => &[Active],
            Self::Reinstate => &[Suspended],
            Self::Revoke | Self::RecordDeath => &[Active, Suspended],
        }
    }

    pub fn to(&self) -> CitizenStatus {
        match self {
            Self::Suspend => CitizenStatus::Suspended,
            Self::Reinstate => CitizenStatus::Active,
            Self::Revoke => CitizenStatus::Revoked,
            Self::RecordDeath => CitizenStatus::Deceased,
        }
    }

    pub fn action(&self) -> &'static str {
        match self {
            Self::Suspend => "citizen.suspend",
            Self::Reinstate => "citizen.reinstate",
            Self::Revoke => "citizen.revoke",
            Self::RecordDeath => "citizen.record_death",
        }
    }

    fn verb(&self) -> &'static str {
        match self {
            Self::Suspend => "suspended",
            Self::Reinstate => "reinstated",
            Self::Revoke => "revoked",
            Self::RecordDeath => "recorded as deceased",
        }
    }
}

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
#[derive(Debug, serde::Deserialize)]
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

/// A required free-text reason: 1 to 500 characters.
pub fn parse_reason(reason: Option<&str>) -> Result<String, AppError> {
    let reason = reason.unwrap_or_default().trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::bad_request(
            "reason_required",
            "Give the reason for this action (1 to 500 characters); it goes into the audit log.",
        ));
    }
    Ok(reason.to_string())
}

fn changed_meanwhile() -> AppError {
    AppError::conflict(
        "changed_meanwhile",
        "This record changed while you were working on it. Reload it and try again.",
    )
}

/// Moves a citizen from one of `from` to `to`, audited as `event`, in one
/// transaction; leaving `active` ends every sign-in at once. False when the
/// citizen was in none of `from`.
pub async fn apply_status_change(
    store: &Store,
    citizen: CitizenId,
    from: &[CitizenStatus],
    to: CitizenStatus,
    event: &AuditEvent,
) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    if !tx
        .change_citizen_status(citizen, from, to, event.at)
        .await?
    {
        return Ok(false);
    }
    if to != CitizenStatus::Active {
        tx.end_access(citizen, event.at).await?;
    }
    tx.append_audit(event).await?;
    tx.commit().await?;
    Ok(true)
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

/// A registrar at the desk: every action is theirs, checked against their
/// regions, and audited at `now` in the transaction that makes it.
pub struct Desk<'a> {
    pub store: &'a Store,
    pub staff: &'a Staff,
    pub now: i64,
}

impl Desk<'_> {
    /// The citizen with `national_id`, if the registrar may act on them.
    pub async fn citizen_in_scope(&self, national_id: &str) -> Result<Citizen, AppError> {
        let id = NationalId::parse(national_id).map_err(|e| {
            AppError::bad_request(
                "invalid_national_id",
                format!("{national_id:?} is not a national ID number: {e}."),
            )
        })?;
        let citizen = self
            .store
            .find_citizen_by_national_id(&id)
            .await?
            .ok_or_else(|| AppError::not_found(format!("No citizen has the national ID {id}.")))?;
        staff::check_region(self.store, self.staff, &citizen.region).await?;
        Ok(citizen)
    }

    /// Applies a lifecycle change, and to `citizen` as well.
    pub async fn change_status(
        &self,
        citizen: &mut Citizen,
        change: Lifecycle,
        details: serde_json::Value,
    ) -> Result<(), AppError> {
        if !change.from().contains(&citizen.status) {
            return Err(AppError::conflict(
                "invalid_transition",
                format!(
                    "This citizen is {}; a citizen who is {} cannot be {}.",
                    citizen.status.as_str(),
                    citizen.status.as_str(),
                    change.verb()
                ),
            ));
        }
        let event = AuditEvent::new(
            self.staff.actor(),
            change.action(),
            staff::audit_name(citizen),
            details,
            self.now,
        );
        if !apply_status_change(self.store, citizen.id, change.from(), change.to(), &event).await? {
            return Err(changed_meanwhile());
        }
        citizen.status = change.to();
        Ok(())
    }

    /// Raises a level-1 citizen to level 2 after an in-person check, keeping the
    /// proofing record (the document number only as a keyed hash); `citizen` is
    /// raised as well.
    pub async fn verify(
        &self,
        keys: &RegistryKeys,
        citizen: &mut Citizen,
        evidence: &Evidence,
    ) -> Result<(), AppError> {
        one_of(
            &evidence.evidence_type,
            EVIDENCE_TYPES,
            "invalid_evidence_type",
            "The evidence type",
        )?;
        one_of(
            &evidence.method,
            PROOFING_METHODS,
            "invalid_method",
            "The method",
        )?;
        let authority = evidence.issuing_authority.trim();
        if authority.is_empty() || authority.chars().count() > 200 {
            return Err(AppError::bad_request(
                "invalid_issuing_authority",
                "Give the authority that issued the document (1 to 200 characters).",
            ));
        }
        let number: String = evidence
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
        let now = self.now;
        let record = ProofingRecord {
            id: Uuid::new_v4(),
            citizen_id: citizen.id.0,
            evidence_type: evidence.evidence_type.clone(),
            issuing_authority: authority.to_string(),
            document_hash: keys.document_hash(&number),
            method: evidence.method.clone(),
            registrar_id: self.staff.citizen().id.0,
            at: now,
        };
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

    /// Closes a citizen's verification request without raising their level.
    pub async fn reject(&self, citizen: &Citizen, reason: String) -> Result<(), AppError> {
        let event = AuditEvent::new(
            self.staff.actor(),
            "citizen.verification_rejected",
            staff::audit_name(citizen),
            json!({ "reason": reason }),
            self.now,
        );
        let mut tx = self.store.begin().await?;
        if !tx
            .resolve_verification_request(citizen.id, self.staff.citizen().id, "rejected", event.at)
            .await?
        {
            return Err(AppError::conflict(
                "no_open_request",
                "This citizen has no open verification request.",
            ));
        }
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A duplicate case the registrar may act on, with its citizens.
    async fn open_case(
        &self,
        case_id: Uuid,
    ) -> Result<(crate::store::DuplicateCase, Citizen, Option<Citizen>), AppError> {
        let case = self
            .store
            .find_duplicate_case(case_id)
            .await?
            .ok_or_else(|| AppError::not_found("There is no such duplicate case."))?;
        if case.resolved_at.is_some() {
            return Err(AppError::conflict(
                "case_closed",
                "This duplicate case has already been resolved.",
            ));
        }
        let find = |id: Uuid| async move {
            self.store
                .find_citizen(CitizenId(id))
                .await?
                .ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("case {case_id} names citizen {id}"))
                })
        };
        let matched = find(case.matched_citizen_id).await?;
        staff::check_region(self.store, self.staff, &matched.region).await?;
        let duplicate = match case.duplicate_citizen_id {
            Some(id) => {
                let c = find(id).await?;
                staff::check_region(self.store, self.staff, &c.region).await?;
                Some(c)
            }
            None => None,
        };
        Ok((case, matched, duplicate))
    }

    /// Merges a duplicate case: `survivor` (one of the two national IDs) stays,
    /// the other is revoked and its passkeys move over. Returns the survivor as
    /// it is after the merge.
    pub async fn merge(&self, case_id: Uuid, survivor: &str) -> Result<Citizen, AppError> {
        let (case, matched, duplicate) = self.open_case(case_id).await?;
        let Some(duplicate) = duplicate else {
            return Err(AppError::conflict(
                "nothing_to_merge",
                "Only one citizen was enrolled in this case (the second enrollment was refused). \
                 Dismiss the case if they are different people.",
            ));
        };
        let survivor_id = NationalId::parse(survivor).ok();
        let (mut keep, drop) = if survivor_id.as_ref() == Some(&matched.national_id) {
            (matched, duplicate)
        } else if survivor_id.as_ref() == Some(&duplicate.national_id) {
            (duplicate, matched)
        } else {
            return Err(AppError::bad_request(
                "invalid_survivor",
                format!(
                    "The surviving national ID must be one of the two in this case: {} or {}.",
                    matched.national_id, duplicate.national_id
                ),
            ));
        };
        let register_ref = self.store.register_ref_of(drop.id).await?;
        let kept_ref = self.store.register_ref_of(keep.id).await?;
        // The register row moves to the survivor if only the dropped one had it.
        let moving_ref = register_ref.filter(|_| kept_ref.is_none());
        let level = keep.assurance_level.max(drop.assurance_level);
        let now = self.now;
        let event = AuditEvent::new(
            self.staff.actor(),
            "citizen.merge",
            staff::audit_name(&drop),
            json!({ "case": case.id, "survivor": keep.national_id.as_digits() }),
            now,
        );
        let registrar = self.staff.citizen().id;
        let mut tx = self.store.begin().await?;
        if !tx.revoke_as_merged(drop.id, keep.id, now).await?
            || !tx
                .resolve_duplicate_case(case.id, registrar, "merged", now)
                .await?
            || !tx
                .keep_merge_survivor(keep.id, level, moving_ref.as_deref(), now)
                .await?
        {
            return Err(changed_meanwhile());
        }
        if let Some(r) = &moving_ref {
            tx.relink_register_entry(r, keep.id).await?;
        }
        // The same person holds both records' passkeys.
        tx.move_passkeys(drop.id, keep.id).await?;
        tx.end_access(drop.id, now).await?;
        tx.append_audit(&event).await?;
        tx.commit().await?;
        keep.assurance_level = level;
        Ok(keep)
    }

    /// Closes a duplicate case as two different people.
    pub async fn dismiss(&self, case_id: Uuid, reason: String) -> Result<(), AppError> {
        let (case, matched, _) = self.open_case(case_id).await?;
        let event = AuditEvent::new(
            self.staff.actor(),
            "duplicate.dismiss",
            staff::audit_name(&matched),
            json!({ "case": case.id, "reason": reason }),
            self.now,
        );
        let mut tx = self.store.begin().await?;
        if !tx
            .resolve_duplicate_case(case.id, self.staff.citizen().id, "distinct", event.at)
            .await?
        {
            return Err(changed_meanwhile());
        }
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }
}
