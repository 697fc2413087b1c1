//! Passkey ceremonies with webauthn-rs: enrollment, usernameless sign-in, and
//! adding a passkey. Ceremony state travels with the client, sealed, for
//! five minutes; any instance finishes a ceremony, once (see `ceremony`).

mod ceremony;
mod enrollment;
mod errors;
mod login;
mod manage;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use uuid::Uuid;
use webauthn_rs::prelude::{
    Credential, Passkey, PublicKeyCredential, RegisterPublicKeyCredential, Webauthn,
    WebauthnBuilder,
};
use webauthn_rs_proto::{ResidentKeyRequirement, UserVerificationPolicy};

use crate::clock::Clock;
use crate::config::Issuer;
use crate::domain::{Citizen, CitizenStatus};
use crate::error::AppError;
use crate::limits::Limits;
use crate::secrets::{MasterKey, Sealer};
use crate::session::SessionPolicy;
use crate::store::{PasskeyRow, Store};

pub use ceremony::{CEREMONY_TTL, Started};
pub use errors::webauthn_error;

/// The passkey service: ceremonies with webauthn-rs, and the sessions
/// they open.
pub struct Passkeys {
    store: Store,
    clock: Clock,
    /// The WebAuthn relying party (configuration only; ceremonies are sealed).
    webauthn: Webauthn,
    sessions: SessionPolicy,
    /// Sign-in attempts per citizen.
    limits: Arc<Limits>,
    /// Seals ceremony state that travels with the client.
    ceremonies: Sealer,
    /// The issuer ceremonies are bound to.
    issuer: String,
}

impl Passkeys {
    /// The service for `issuer`: relying-party id = its host, origin = its
    /// origin.
    pub fn new(
        store: Store,
        clock: Clock,
        issuer: &Issuer,
        sessions: SessionPolicy,
        limits: Arc<Limits>,
        master: &MasterKey,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            clock,
            webauthn: relying_party(issuer)?,
            sessions,
            limits,
            ceremonies: Sealer::new(master, "civitas ceremony state v1")?,
            issuer: issuer.as_str().to_string(),
        })
    }

    /// A stored passkey row for a verified new credential.
    fn passkey_row(
        &self,
        citizen_id: Uuid,
        passkey: &Passkey,
        name: &str,
    ) -> Result<PasskeyRow, AppError> {
        let credential = Credential::from(passkey.clone());
        Ok(PasskeyRow {
            id: Uuid::new_v4(),
            citizen_id,
            credential_id: passkey.cred_id().as_ref().to_vec(),
            passkey: json(passkey)?,
            name: name.to_string(),
            backup_eligible: credential.backup_eligible,
            backup_state: credential.backup_state,
            sign_count: i64::from(credential.counter),
            created_at: self.clock.unix(),
            last_used_at: None,
            disabled_at: None,
        })
    }

    /// 409 when the response's credential id is registered already (checked
    /// before verification, since webauthn-rs reports an excluded credential
    /// as an algorithm change).
    async fn refuse_known_credential(
        &self,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<(), AppError> {
        if self
            .store
            .passkey_exists(credential.raw_id.as_ref())
            .await?
        {
            return Err(AppError::conflict(
                "credential_already_registered",
                "This passkey is already registered. Sign in with it instead.",
            ));
        }
        Ok(())
    }
}

/// The WebAuthn relying party for `issuer`: id = its host, origin = its
/// origin.
pub fn relying_party(issuer: &Issuer) -> anyhow::Result<Webauthn> {
    Ok(WebauthnBuilder::new(issuer.host(), issuer.url())?
        .rp_name("Civitas")
        .build()?)
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(AppError::internal)
}

/// A sealed ceremony payload that no longer parses: our bug, not the user's.
fn corrupt(e: impl std::fmt::Display) -> AppError {
    AppError::internal(anyhow::anyhow!("stored enrollment payload: {e}"))
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, AppError> {
    serde_json::from_str(text).map_err(AppError::internal)
}

/// Creation options with a resident key and user verification required
/// (webauthn-rs 0.5 asks for a discouraged resident key by default, which
/// breaks usernameless sign-in in real browsers).
fn creation_options(
    ccr: webauthn_rs::prelude::CreationChallengeResponse,
) -> Result<Value, AppError> {
    let mut options = ccr.public_key;
    let selection = options
        .authenticator_selection
        .get_or_insert_with(Default::default);
    selection.resident_key = Some(ResidentKeyRequirement::Required);
    selection.require_resident_key = true;
    selection.user_verification = UserVerificationPolicy::Required;
    serde_json::to_value(options).map_err(AppError::internal)
}

/// The `credential` of a finished registration, as the browser sent it;
/// 400 when it is not one.
pub fn parse_registration(credential: Value) -> Result<RegisterPublicKeyCredential, AppError> {
    serde_json::from_value(credential).map_err(|e| {
        AppError::bad_request(
            "invalid_credential",
            format!("The passkey response is not a WebAuthn registration: {e}."),
        )
    })
}

/// The `credential` of a finished sign-in, as the browser sent it; 400
/// when it is not one.
pub fn parse_assertion(credential: Value) -> Result<PublicKeyCredential, AppError> {
    serde_json::from_value(credential).map_err(|e| {
        AppError::bad_request(
            "invalid_credential",
            format!("The passkey response is not a WebAuthn assertion: {e}."),
        )
    })
}

/// 403 for citizens who may not sign in.
pub fn refuse_inactive(citizen: &Citizen) -> Result<(), AppError> {
    let (code, text) = match citizen.status {
        CitizenStatus::Active => return Ok(()),
        CitizenStatus::Suspended => (
            "citizen_suspended",
            "This identity is suspended, so it cannot be used to sign in. \
             Please contact a registrar office.",
        ),
        CitizenStatus::Revoked => (
            "citizen_revoked",
            "This identity has been revoked and cannot be used to sign in. \
             Please contact a registrar office.",
        ),
        CitizenStatus::Deceased => (
            "citizen_deceased",
            "This identity is recorded as belonging to a deceased person. \
             If this is a mistake, please contact a registrar office.",
        ),
    };
    Err(AppError::forbidden(code, text))
}

/// A passkey name: 1–60 printable characters.
pub fn parse_passkey_name(input: &str) -> Result<String, AppError> {
    let name = input.trim();
    if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
        return Err(AppError::bad_request(
            "invalid_passkey_name",
            "A passkey name has 1 to 60 characters and no control characters.",
        ));
    }
    Ok(name.to_string())
}

/// Base64url of a credential id, as shown to the citizen's browser.
pub fn credential_id_text(id: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(id)
}
