//! Self-service enrollment: form, duplicate check, new passkey, citizen.

use serde_json::Value;
use uuid::Uuid;
use webauthn_rs::prelude::PasskeyRegistration;

use super::ceremony::{Kind, Started};
use super::*;
use crate::domain::{
    AssuranceLevel, Citizen, CitizenId, CitizenStatus, NationalId, NewCitizen, dedup_key,
};
use crate::error::AppError;
use crate::registry::enrollment::{Enrolled, enroll};
use crate::store::DuplicateAttempt;

/// What enrollment remembers between start and finish.
#[derive(serde::Serialize, serde::Deserialize)]
struct EnrollmentPayload {
    citizen_id: Uuid,
    given_name: String,
    family_name: String,
    birth_date: time::Date,
    region: String,
    /// The population-register row an activation code named, if any.
    #[serde(default)]
    register_ref: Option<String>,
}

fn duplicate_error() -> AppError {
    AppError::conflict(
        "possible_duplicate",
        "This enrollment cannot be completed online. If you have a letter from the population \
         register, enroll with the activation code it gives you; otherwise visit a registrar \
         office with an identity document.",
    )
}

impl Passkeys {
    /// Starts self-service enrollment after the duplicate check.
    pub async fn start_enrollment(&self, new: NewCitizen) -> Result<Started, AppError> {
        self.refuse_duplicate(&new).await?;
        self.begin_enrollment(new, None).await
    }

    /// Starts enrollment for the register row an activation code named. The
    /// register is authoritative, so a matching self-enrolled citizen does not
    /// stop it: the two become a duplicate case for a registrar to merge.
    pub async fn start_register_enrollment(
        &self,
        new: NewCitizen,
        register_ref: String,
    ) -> Result<Started, AppError> {
        self.begin_enrollment(new, Some(register_ref)).await
    }

    async fn begin_enrollment(
        &self,
        new: NewCitizen,
        register_ref: Option<String>,
    ) -> Result<Started, AppError> {
        let citizen_id = Uuid::new_v4();
        let display = format!("{} {}", new.given_name.as_str(), new.family_name.as_str());
        let (ccr, registration) = self
            .webauthn
            .start_passkey_registration(citizen_id, &display, &display, None)
            .map_err(AppError::internal)?;
        let payload = EnrollmentPayload {
            citizen_id,
            given_name: new.given_name.as_str().to_string(),
            family_name: new.family_name.as_str().to_string(),
            birth_date: new.birth_date,
            region: new.region.as_str().to_string(),
            register_ref,
        };
        self.begin(
            Kind::Enrollment,
            creation_options(ccr)?,
            json(&registration)?,
            json(&payload)?,
            Some(citizen_id),
        )
    }

    /// Refuses (409) an enrollment that matches an existing citizen, and keeps
    /// the attempt for registrar review.
    async fn refuse_duplicate(&self, new: &NewCitizen) -> Result<(), AppError> {
        let key = dedup_key(
            &new.given_name,
            &new.family_name,
            new.birth_date,
            &new.region,
        );
        if let Some(existing) = self.store.find_citizen_by_dedup_key(&key).await? {
            self.record_duplicate(new, existing.id).await?;
            return Err(duplicate_error());
        }
        Ok(())
    }

    async fn record_duplicate(&self, new: &NewCitizen, matched: CitizenId) -> Result<(), AppError> {
        self.store
            .insert_duplicate_attempt(&DuplicateAttempt {
                id: Uuid::new_v4(),
                given_name: new.given_name.as_str().to_string(),
                family_name: new.family_name.as_str().to_string(),
                birth_date: new.birth_date,
                region_code: new.region.as_str().to_string(),
                matched_citizen_id: matched.0,
                attempted_at: self.clock.unix(),
                duplicate_citizen_id: None,
            })
            .await?;
        Ok(())
    }

    /// Finishes enrollment: verifies the new passkey, then creates the citizen,
    /// the passkey and a session in one transaction.
    pub async fn finish_enrollment(
        &self,
        ceremony_id: &str,
        credential: Value,
    ) -> Result<(Citizen, String), AppError> {
        let credential = parse_registration(credential)?;
        let ceremony = self.open(ceremony_id, Kind::Enrollment).await?;
        let registration: PasskeyRegistration = parse_json(&ceremony.state)?;
        let payload: EnrollmentPayload = parse_json(&ceremony.payload)?;
        self.refuse_known_credential(&credential).await?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&credential, &registration)
            .map_err(webauthn_error)?;

        let new = NewCitizen {
            given_name: crate::domain::PersonName::parse(&payload.given_name).map_err(corrupt)?,
            family_name: crate::domain::PersonName::parse(&payload.family_name).map_err(corrupt)?,
            birth_date: payload.birth_date,
            region: crate::domain::RegionCode::parse(&payload.region).map_err(corrupt)?,
            assurance_level: if payload.register_ref.is_some() {
                AssuranceLevel::Verified
            } else {
                AssuranceLevel::SelfAsserted
            },
        };
        let now = self.clock.now();
        let mut citizen = Citizen {
            id: CitizenId(payload.citizen_id),
            national_id: NationalId::generate(),
            status: CitizenStatus::Active,
            assurance_level: new.assurance_level,
            given_name: new.given_name.clone(),
            family_name: new.family_name.clone(),
            birth_date: new.birth_date,
            region: new.region.clone(),
            created_at: now,
            updated_at: now,
        };
        let passkey_row = self.passkey_row(citizen.id.0, &passkey, "Passkey")?;
        let (session_row, token) =
            self.sessions
                .new_session(self.clock.unix(), citizen.id.0, passkey_row.id, true);
        match enroll(
            &self.store,
            &mut citizen,
            &passkey_row,
            &session_row,
            payload.register_ref.as_deref(),
            ceremony.used(),
        )
        .await
        {
            Ok(Enrolled::Done) => Ok((citizen, token)),
            Ok(Enrolled::CeremonyUsed) => Err(AppError::bad_request(
                "unknown_ceremony",
                "This request is unknown or was already used. Start again from the beginning.",
            )),
            Ok(Enrolled::CodeUsed) => Err(AppError::conflict(
                "activation_code_used",
                "This activation code has already been used to enroll. Sign in with your passkey, \
             or visit a registrar office if you did not enroll yourself.",
            )),
            Ok(Enrolled::Duplicate(existing)) => {
                self.record_duplicate(&new, existing).await?;
                Err(duplicate_error())
            }
            Ok(Enrolled::NoFreeNumber) => Err(AppError::internal(anyhow::anyhow!(
                "no free national ID number"
            ))),
            Err(e) if e.is_unique_violation_on("credential_id") => Err(AppError::conflict(
                "credential_already_registered",
                "This passkey is already registered. Sign in with it instead.",
            )),
            Err(e) => Err(e.into()),
        }
    }
}
