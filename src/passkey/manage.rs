//! Adding a passkey to a signed-in citizen.

use serde_json::Value;
use webauthn_rs::prelude::PasskeyRegistration;

use super::ceremony::{Kind, Started};
use super::*;
use crate::error::AppError;
use crate::store::{PasskeyRow, SignedIn};

impl Passkeys {
    /// Starts adding a passkey for a signed-in citizen; existing ones are excluded.
    pub async fn start_add_passkey(&self, who: &SignedIn) -> Result<Started, AppError> {
        let existing = self.store.list_passkeys(who.citizen.id).await?;
        let exclude = existing
            .iter()
            .map(|p| p.credential_id.clone().into())
            .collect();
        let display = format!(
            "{} {}",
            who.citizen.given_name.as_str(),
            who.citizen.family_name.as_str()
        );
        let (ccr, registration) = self
            .webauthn
            .start_passkey_registration(who.citizen.id.0, &display, &display, Some(exclude))
            .map_err(AppError::internal)?;
        self.begin(
            Kind::AddPasskey,
            creation_options(ccr)?,
            json(&registration)?,
            String::new(),
            Some(who.citizen.id.0),
        )
        .await
    }

    /// Finishes adding a passkey; the ceremony must belong to the same citizen.
    pub async fn finish_add_passkey(
        &self,
        who: &SignedIn,
        ceremony_id: &str,
        credential: Value,
        name: Option<&str>,
    ) -> Result<PasskeyRow, AppError> {
        let credential = parse_registration(credential)?;
        let row = self.take(ceremony_id, Kind::AddPasskey).await?;
        if row.citizen_id != Some(who.citizen.id.0) {
            return Err(AppError::bad_request(
                "wrong_ceremony",
                "This ceremony was started by someone else. Start again.",
            ));
        }
        let registration: PasskeyRegistration = parse_json(&row.state)?;
        self.refuse_known_credential(&credential).await?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&credential, &registration)
            .map_err(webauthn_error)?;
        let count = self.store.list_passkeys(who.citizen.id).await?.len();
        let default_name = format!("Passkey {}", count + 1);
        let name = name.map(parse_passkey_name).transpose()?;
        let row = self.passkey_row(
            who.citizen.id.0,
            &passkey,
            name.as_deref().unwrap_or(&default_name),
        )?;
        match self.store.insert_passkey(&row).await {
            Ok(()) => Ok(row),
            Err(e) if e.is_unique_violation_on("credential_id") => Err(AppError::conflict(
                "credential_already_registered",
                "This passkey is already registered.",
            )),
            Err(e) => Err(e.into()),
        }
    }
}
