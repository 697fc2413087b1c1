//! Adding a passkey to a signed-in citizen.

use serde_json::Value;
use webauthn_rs::prelude::PasskeyRegistration;

use super::ceremony::{Kind, Started, use_ceremony};
use super::*;
use crate::error::AppError;
use crate::store::{PasskeyRow, SignedIn};

/// How recent a user-verified sign-in must be to add a passkey (seconds).
pub const ADD_PASSKEY_WITHIN: i64 = 5 * 60;

impl Passkeys {
    /// 403 unless the session's passkey sign-in verified the user (PIN,
    /// fingerprint or face) within the last five minutes: a stolen session
    /// alone cannot plant a passkey of its own.
    fn require_fresh_verification(&self, who: &SignedIn) -> Result<(), AppError> {
        let age = self.clock.unix() - who.session.auth_time;
        if !who.session.user_verified || age > ADD_PASSKEY_WITHIN {
            return Err(AppError::forbidden(
                "reauthentication_required",
                "Adding a passkey needs a sign-in with your passkey, confirmed with your PIN, \
                 fingerprint or face, within the last 5 minutes. Sign in again, then add it.",
            ));
        }
        Ok(())
    }

    /// Removes one of the citizen's passkeys, never the last, and ends every
    /// session signed in with it.
    pub async fn remove(&self, who: &SignedIn, id: uuid::Uuid) -> Result<(), AppError> {
        let citizen = who.citizen.id;
        let mut tx = self.store.begin_write().await?;
        tx.lock_citizen(citizen).await?;
        if tx.delete_passkey_unless_last(citizen, id).await? {
            tx.delete_sessions_with_passkey(id).await?;
            tx.commit().await?;
            return Ok(());
        }
        tx.rollback().await?;
        let mine = self.store.list_passkeys(citizen).await?;
        if mine.iter().any(|p| p.id == id) {
            Err(AppError::conflict(
                "last_passkey",
                "This is your only passkey. Add another passkey before removing this one, \
                 or you could not sign in any more.",
            ))
        } else {
            Err(AppError::not_found("You have no passkey with this id."))
        }
    }

    /// Starts adding a passkey for a signed-in citizen; existing ones are excluded.
    pub async fn start_add_passkey(&self, who: &SignedIn) -> Result<Started, AppError> {
        self.require_fresh_verification(who)?;
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
        let ceremony = self.open(ceremony_id, Kind::AddPasskey).await?;
        if ceremony.citizen_id != Some(who.citizen.id.0) {
            return Err(AppError::bad_request(
                "wrong_ceremony",
                "This ceremony was started by someone else. Start again.",
            ));
        }
        self.require_fresh_verification(who)?;
        let registration: PasskeyRegistration = parse_json(&ceremony.state)?;
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
        let mut tx = self.store.begin().await?;
        use_ceremony(&mut tx, ceremony.used()).await?;
        match tx.insert_passkey(&row).await {
            Ok(()) => {}
            Err(e) if e.is_unique_violation_on("credential_id") => {
                return Err(AppError::conflict(
                    "credential_already_registered",
                    "This passkey is already registered.",
                ));
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok(row)
    }
}
