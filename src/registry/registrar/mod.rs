//! The registrar desk: verifying people in person, resolving possible
//! duplicates, and the identity lifecycle (suspend, reinstate, revoke,
//! record death). A registrar acts only on citizens of their regions, and
//! every action is audited in the transaction that makes it.

mod duplicates;
mod proofing;

use serde_json::json;

use crate::audit::AuditEvent;
use crate::domain::{Citizen, CitizenId, CitizenStatus, NationalId};
use crate::error::AppError;
use crate::staff::{self, Staff};
use crate::store::{Store, StoreError};

pub use duplicates::{Merged, Rebind};
pub use proofing::{EVIDENCE_TYPES, Evidence, PROOFING_METHODS};

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

pub(super) fn changed_meanwhile() -> AppError {
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
        self.may_act_on(&citizen).await?;
        Ok(citizen)
    }

    /// Records that the registrar looked the citizen's record up: reads of
    /// personal data are audited like changes.
    pub async fn record_lookup(&self, citizen: &Citizen) -> Result<(), AppError> {
        self.store
            .append_audit(&AuditEvent::new(
                self.staff.actor(),
                "citizen.lookup",
                staff::audit_name(citizen),
                json!({}),
                self.now,
            ))
            .await?;
        Ok(())
    }

    /// 403 unless `citizen` is in the registrar's regions and is not the
    /// registrar: nobody verifies, merges or changes their own record.
    async fn may_act_on(&self, citizen: &Citizen) -> Result<(), AppError> {
        if citizen.id == self.staff.citizen().id {
            return Err(AppError::forbidden(
                "own_record",
                "This is your own record. Another registrar must act on it.",
            ));
        }
        staff::check_region(self.store, self.staff, &citizen.region).await
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

    /// Unlocks the activation code of a register row in the registrar's
    /// regions after too many wrong dates of birth (the resident showed an
    /// identity document at the desk).
    pub async fn unlock_code(&self, register_ref: &str, reason: String) -> Result<(), AppError> {
        if !crate::registry::register::is_register_ref(register_ref) {
            return Err(AppError::bad_request(
                "invalid_register_ref",
                "A register reference has 1 to 64 letters, digits, '-', '_', '/' or '.'.",
            ));
        }
        let entry = self
            .store
            .find_register_entry(register_ref)
            .await?
            .ok_or_else(|| AppError::not_found("There is no register row with this reference."))?;
        let region = crate::domain::RegionCode::parse(&entry.region_code)
            .map_err(|e| AppError::internal(anyhow::anyhow!("register row region: {e}")))?;
        staff::check_region(self.store, self.staff, &region).await?;
        let event = AuditEvent::new(
            self.staff.actor(),
            "register.unlock_code",
            format!("register:{register_ref}"),
            json!({ "reason": reason, "wrong_birth_dates": entry.wrong_birth_dates }),
            self.now,
        );
        let mut tx = self.store.begin().await?;
        if !tx.unlock_register_entry(register_ref).await? {
            return Err(AppError::conflict(
                "not_locked",
                "This register row's activation code is not locked.",
            ));
        }
        tx.append_audit(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Enables a passkey of `citizen` disabled after a counter regression,
    /// once the registrar has reviewed it with the citizen.
    pub async fn enable_passkey(
        &self,
        citizen: &Citizen,
        passkey: uuid::Uuid,
        reason: String,
    ) -> Result<(), AppError> {
        let mut tx = self.store.begin().await?;
        if !tx.enable_passkey(citizen.id, passkey).await? {
            return Err(AppError::not_found(
                "This citizen has no disabled passkey with this id.",
            ));
        }
        tx.append_audit(&AuditEvent::new(
            self.staff.actor(),
            "passkey.enable",
            staff::audit_name(citizen),
            json!({ "passkey": passkey, "reason": reason }),
            self.now,
        ))
        .await?;
        tx.commit().await?;
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
}
