//! Possible duplicates: two records that may be one person. A merge keeps
//! one record and revokes the other, with everything that could sign in as
//! it: its passkeys, sessions and grants. A passkey moves to the survivor
//! only when the registrar re-binds it in person, with a proofing record,
//! and a merge never raises the survivor's level of assurance.

use serde_json::json;
use uuid::Uuid;

use super::proofing::Evidence;
use super::{Desk, changed_meanwhile};
use crate::audit::AuditEvent;
use crate::domain::{Citizen, CitizenId, NationalId};
use crate::error::AppError;
use crate::registry::RegistryKeys;
use crate::staff;
use crate::store::DuplicateCase;

/// Passkeys of the revoked record that the person present at the desk
/// showed they hold, and the identity document they showed.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Rebind {
    pub passkeys: Vec<Uuid>,
    pub evidence: Evidence,
}

/// What a merge did.
#[derive(Debug)]
pub struct Merged {
    /// The survivor as it is after the merge.
    pub survivor: Citizen,
    /// Passkeys that moved to the survivor.
    pub rebound: usize,
    /// Passkeys of the revoked record that no longer work.
    pub revoked: u64,
}

impl Desk<'_> {
    /// A duplicate case the registrar may act on, with its citizens; never
    /// one that names the registrar.
    async fn open_case(
        &self,
        case_id: Uuid,
    ) -> Result<(DuplicateCase, Citizen, Option<Citizen>), AppError> {
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
        self.may_act_on(&matched).await?;
        let duplicate = match case.duplicate_citizen_id {
            Some(id) => {
                let c = find(id).await?;
                self.may_act_on(&c).await?;
                Some(c)
            }
            None => None,
        };
        Ok((case, matched, duplicate))
    }

    /// Merges a duplicate case: `survivor` (one of the two national IDs)
    /// stays at its own level; the other is revoked, its sessions and grants
    /// end, and its passkeys are deleted but for those `rebind` names.
    pub async fn merge(
        &self,
        keys: &RegistryKeys,
        case_id: Uuid,
        survivor: &str,
        rebind: Option<&Rebind>,
    ) -> Result<Merged, AppError> {
        let (case, matched, duplicate) = self.open_case(case_id).await?;
        let Some(duplicate) = duplicate else {
            return Err(AppError::conflict(
                "nothing_to_merge",
                "Only one citizen was enrolled in this case (the second enrollment was refused). \
                 Dismiss the case if they are different people.",
            ));
        };
        let survivor_id = NationalId::parse(survivor).ok();
        let (keep, drop) = if survivor_id.as_ref() == Some(&matched.national_id) {
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
        let now = self.now;
        let registrar = self.staff.citizen().id;
        let rebinding = match rebind.filter(|r| !r.passkeys.is_empty()) {
            Some(r) => {
                let theirs = self.store.list_passkeys(drop.id).await?;
                if let Some(stranger) = r
                    .passkeys
                    .iter()
                    .find(|id| !theirs.iter().any(|p| p.id == **id))
                {
                    return Err(AppError::bad_request(
                        "unknown_passkey",
                        format!(
                            "Passkey {stranger} is not one of the revoked record's passkeys; \
                             only those can be re-bound."
                        ),
                    ));
                }
                Some((r, r.evidence.record(keys, keep.id, registrar, now)?))
            }
            None => None,
        };
        let register_ref = self.store.register_ref_of(drop.id).await?;
        let kept_ref = self.store.register_ref_of(keep.id).await?;
        // The register row moves to the survivor if only the dropped one had it.
        let moving_ref = register_ref.filter(|_| kept_ref.is_none());
        let mut tx = self.store.begin().await?;
        if !tx.revoke_as_merged(drop.id, keep.id, now).await?
            || !tx
                .resolve_duplicate_case(case.id, registrar, "merged", now)
                .await?
            || !tx
                .keep_merge_survivor(keep.id, keep.assurance_level, moving_ref.as_deref(), now)
                .await?
        {
            return Err(changed_meanwhile());
        }
        if let Some(r) = &moving_ref {
            tx.relink_register_entry(r, keep.id).await?;
        }
        let mut rebound = 0;
        if let Some((r, record)) = &rebinding {
            tx.insert_proofing_record(record).await?;
            for id in &r.passkeys {
                if tx.move_passkey(*id, drop.id, keep.id).await? {
                    rebound += 1;
                }
            }
        }
        let revoked = tx.delete_passkeys_of(drop.id).await?;
        tx.end_access(drop.id, now).await?;
        tx.append_audit(&AuditEvent::new(
            self.staff.actor(),
            "citizen.merge",
            staff::audit_name(&drop),
            json!({
                "case": case.id,
                "survivor": keep.national_id.as_digits(),
                "passkeys_rebound": rebound,
                "passkeys_revoked": revoked,
                "document_hash": rebinding.as_ref().map(|(_, record)| &record.document_hash),
            }),
            now,
        ))
        .await?;
        tx.commit().await?;
        Ok(Merged {
            survivor: keep,
            rebound,
            revoked,
        })
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
