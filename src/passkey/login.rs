//! Usernameless sign-in with a discoverable passkey.

use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PublicKeyCredential,
};

use super::ceremony::{Kind, Started, use_ceremony};
use super::*;
use crate::domain::{Citizen, CitizenId};
use crate::error::AppError;

/// The signature counter inside an assertion's authenticator data.
fn presented_counter(credential: &PublicKeyCredential) -> i64 {
    let data: &[u8] = credential.response.authenticator_data.as_ref();
    data.get(33..37)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(|b| i64::from(u32::from_be_bytes(b)))
        .unwrap_or(-1)
}

impl Passkeys {
    /// Starts a usernameless sign-in (empty allowCredentials).
    pub async fn start_login(&self) -> Result<Started, AppError> {
        let (rcr, authentication) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(AppError::internal)?;
        let options = serde_json::to_value(rcr.public_key).map_err(AppError::internal)?;
        self.begin(
            Kind::Login,
            options,
            json(&authentication)?,
            String::new(),
            None,
        )
    }

    /// Finishes sign-in: identifies the passkey, checks the citizen may sign
    /// in, verifies the assertion, and opens a session.
    pub async fn finish_login(
        &self,
        ceremony_id: &str,
        credential: Value,
    ) -> Result<(Citizen, String), AppError> {
        let credential = parse_assertion(credential)?;
        let ceremony = self.open(ceremony_id, Kind::Login).await?;
        let authentication: DiscoverableAuthentication = parse_json(&ceremony.state)?;
        let (user_handle, credential_id) = self
            .webauthn
            .identify_discoverable_authentication(&credential)
            .map_err(webauthn_error)?;
        let unknown = || {
            AppError::bad_request(
                "unknown_credential",
                "This passkey is not registered with Civitas. Enroll first, or use another passkey.",
            )
        };
        let mut stored = self
            .store
            .find_passkey_by_credential(credential_id)
            .await?
            .ok_or_else(unknown)?;
        // A passkey keeps the user handle of the citizen it was made for;
        // one re-bound at a merge belongs to the survivor, however many
        // merges away.
        if stored.citizen_id != user_handle
            && !self
                .merged_into_survivor(CitizenId(user_handle), CitizenId(stored.citizen_id))
                .await?
        {
            return Err(unknown());
        }
        // Checked before the signature: a copied passkey tried again and
        // again, or a flood of assertions for one citizen, stops here.
        self.limits
            .check_sign_in(stored.citizen_id)
            .map_err(|limited| {
                AppError::rate_limited(
                    limited,
                    "Too many sign-in attempts were made with this identity.",
                )
            })?;
        if stored.disabled_at.is_some() {
            return Err(AppError::forbidden(
                "passkey_disabled",
                "This passkey is disabled because it once reported an unexpected signature \
                 counter, which can mean it was copied. Sign in with another passkey, or visit \
                 a registrar office to have it reviewed.",
            ));
        }
        let mut passkey: Passkey = parse_json(&stored.passkey)?;
        let result = match self.webauthn.finish_discoverable_authentication(
            &credential,
            authentication,
            &[DiscoverableKey::from(&passkey)],
        ) {
            Ok(result) => result,
            Err(webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise) => {
                // Recorded and disabled together: a copy must not keep
                // working while a registrar has not looked at it.
                let mut tx = self.store.begin().await?;
                tx.insert_credential_incident(
                    &stored,
                    presented_counter(&credential),
                    self.clock.unix(),
                )
                .await?;
                tx.disable_passkey(stored.id, self.clock.unix()).await?;
                tx.commit().await?;
                return Err(AppError::forbidden(
                    "possible_cloned_authenticator",
                    "This passkey reported an unexpected signature counter, which can mean it was \
                 copied. It has been disabled until a registrar reviews it; sign in with another \
                 passkey or visit a registrar office.",
                ));
            }
            Err(e) => return Err(webauthn_error(e)),
        };
        let citizen = self
            .store
            .find_citizen(CitizenId(stored.citizen_id))
            .await?
            .ok_or_else(unknown)?;
        refuse_inactive(&citizen)?;
        passkey.update_credential(&result);
        stored.passkey = json(&passkey)?;
        stored.sign_count = i64::from(result.counter());
        stored.backup_state = result.backup_state();
        stored.last_used_at = Some(self.clock.unix());
        let (session_row, token) = self.sessions.new_session(
            self.clock.unix(),
            stored.citizen_id,
            stored.id,
            result.user_verified(),
        );
        let mut tx = self.store.begin().await?;
        use_ceremony(&mut tx, ceremony.used()).await?;
        tx.record_passkey_use(&stored).await?;
        tx.insert_session(&session_row).await?;
        tx.commit().await?;
        Ok((citizen, token))
    }

    /// Whether `merged` was folded, through one merge or a chain of them,
    /// into `survivor`.
    async fn merged_into_survivor(
        &self,
        merged: CitizenId,
        survivor: CitizenId,
    ) -> Result<bool, AppError> {
        // A chain longer than this is a loop, which merges cannot make.
        const MAX_HOPS: usize = 16;
        let mut at = merged;
        for _ in 0..MAX_HOPS {
            match self.store.merged_into(at).await? {
                Some(next) if CitizenId(next) == survivor => return Ok(true),
                Some(next) => at = CitizenId(next),
                None => return Ok(false),
            }
        }
        Ok(false)
    }
}
