//! The enrollment transaction: the citizen with a fresh national ID number,
//! their first passkey and a session, all or nothing, with the mark of the
//! ceremony that enrolled them. The duplicate rule is
//! decided here, inside the transaction that creates the citizen.

use uuid::Uuid;

use super::insert_drawing_numbers;
use crate::domain::{Citizen, CitizenId, dedup_key};
use crate::store::{DuplicateAttempt, PasskeyRow, SessionRow, Store, StoreError, UsedCeremony};

/// Outcome of an enrollment.
#[derive(Debug, PartialEq, Eq)]
pub enum Enrolled {
    Done,
    /// A citizen with the same duplicate-check key appeared meanwhile.
    Duplicate(CitizenId),
    /// Every drawn national ID number was taken.
    NoFreeNumber,
    /// The register row was claimed meanwhile (its code was used).
    CodeUsed,
    /// The ceremony was finished meanwhile (a replay, or a parallel finish).
    CeremonyUsed,
}

/// Creates `citizen` (drawing national ID numbers until one is free), their
/// first passkey and a session. A self-enrollment that matches an existing
/// citizen is refused. With `register_ref` the citizen is linked to that
/// register row, which must still be unclaimed; the register is
/// authoritative, so a matching citizen does not stop it but opens a
/// duplicate case naming both.
pub async fn enroll(
    store: &Store,
    citizen: &mut Citizen,
    passkey: &PasskeyRow,
    session: &SessionRow,
    register_ref: Option<&str>,
    ceremony: &UsedCeremony,
) -> Result<Enrolled, StoreError> {
    let key = dedup_key(
        &citizen.given_name,
        &citizen.family_name,
        citizen.birth_date,
        &citizen.region,
    );
    let mut tx = store.begin_write().await?;
    if !tx.use_ceremony(ceremony).await? {
        return Ok(Enrolled::CeremonyUsed);
    }
    tx.lock_identity(&key).await?;
    let existing = tx.citizen_by_dedup_key(&key).await?;
    if let (Some(id), None) = (existing, register_ref) {
        return Ok(Enrolled::Duplicate(id));
    }
    if !insert_drawing_numbers(&mut tx, citizen).await? {
        return Ok(Enrolled::NoFreeNumber);
    }
    if let Some(register_ref) = register_ref {
        let at = citizen.created_at.unix_timestamp();
        if !tx
            .claim_register_entry(register_ref, citizen.id, at)
            .await?
        {
            return Ok(Enrolled::CodeUsed);
        }
        if let Some(matched) = existing {
            tx.insert_duplicate_case(&DuplicateAttempt {
                id: Uuid::new_v4(),
                given_name: citizen.given_name.as_str().to_string(),
                family_name: citizen.family_name.as_str().to_string(),
                birth_date: citizen.birth_date,
                region_code: citizen.region.as_str().to_string(),
                matched_citizen_id: matched.0,
                attempted_at: at,
                duplicate_citizen_id: Some(citizen.id.0),
            })
            .await?;
        }
    }
    tx.insert_passkey(passkey).await?;
    tx.insert_session(session).await?;
    tx.commit().await?;
    Ok(Enrolled::Done)
}
