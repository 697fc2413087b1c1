//! Passkey ceremonies with webauthn-rs: enrollment, usernameless sign-in, and
//! adding a passkey. Ceremony state lives in the database for five minutes
//! and is taken before verification, so any instance finishes it, once.

mod errors;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use time::Duration;
use uuid::Uuid;
use webauthn_rs::prelude::{
    Credential, DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::{ResidentKeyRequirement, UserVerificationPolicy};

use crate::config::Issuer;
use crate::domain::{
    AssuranceLevel, Citizen, CitizenId, CitizenStatus, NationalId, NewCitizen, dedup_key,
};
use crate::error::AppError;
use crate::session;
use crate::startup::AppState;
use crate::store::{CeremonyRow, DuplicateAttempt, Enrolled, PasskeyRow, SignedIn, Taken};
pub use errors::webauthn_error;

/// How long a ceremony may take.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);

/// The relying party: id = the issuer's host, origin = the issuer's origin.
pub fn relying_party(issuer: &Issuer) -> anyhow::Result<Webauthn> {
    Ok(WebauthnBuilder::new(issuer.host(), issuer.url())?
        .rp_name("Civitas")
        .build()?)
}

/// A started ceremony: its id and the WebAuthn options for the browser.
#[derive(Debug, serde::Serialize)]
pub struct Started {
    pub ceremony_id: String,
    #[serde(rename = "publicKey")]
    pub public_key: Value,
}

/// The flows a ceremony can belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Enrollment,
    Login,
    AddPasskey,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Enrollment => "enrollment",
            Self::Login => "login",
            Self::AddPasskey => "add_passkey",
        }
    }
}

/// What enrollment remembers between start and finish.
#[derive(serde::Serialize, serde::Deserialize)]
struct EnrollmentPayload {
    citizen_id: Uuid,
    given_name: String,
    family_name: String,
    birth_date: time::Date,
    region: String,
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, AppError> {
    serde_json::to_string(value).map_err(AppError::internal)
}

/// A stored ceremony payload that no longer parses: our bug, not the user's.
fn corrupt(e: impl std::fmt::Display) -> AppError {
    AppError::internal(anyhow::anyhow!("stored enrollment payload: {e}"))
}

fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, AppError> {
    serde_json::from_str(text).map_err(AppError::internal)
}

/// Stores ceremony state and returns its id with the browser options.
async fn begin(
    state: &AppState,
    kind: Kind,
    options: Value,
    ceremony_state: String,
    payload: String,
    citizen_id: Option<Uuid>,
) -> Result<Started, AppError> {
    let (ceremony_id, id_hash) = session::new_secret();
    let now = state.clock.unix();
    let row = CeremonyRow {
        kind: kind.as_str().to_string(),
        state: ceremony_state,
        payload,
        citizen_id,
        expires_at: now + CEREMONY_TTL.whole_seconds(),
    };
    state.store.insert_ceremony(&id_hash, &row, now).await?;
    Ok(Started {
        ceremony_id,
        public_key: options,
    })
}

/// Takes the ceremony out of the store: unknown, other-flow and expired
/// ceremonies are refused.
async fn take(state: &AppState, ceremony_id: &str, kind: Kind) -> Result<CeremonyRow, AppError> {
    let row = match state
        .store
        .take_ceremony(&session::hash_secret(ceremony_id), kind.as_str())
        .await?
    {
        Taken::Found(row) => row,
        Taken::OtherKind => {
            return Err(AppError::bad_request(
                "wrong_ceremony",
                "This ceremony belongs to another step. Start again from the beginning.",
            ));
        }
        Taken::Missing => {
            return Err(AppError::bad_request(
                "unknown_ceremony",
                "This request is unknown or was already used. Start again from the beginning.",
            ));
        }
    };
    if state.clock.unix() >= row.expires_at {
        return Err(AppError::bad_request(
            "ceremony_expired",
            "This took longer than five minutes. Start again from the beginning.",
        ));
    }
    Ok(row)
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

fn parse_registration(credential: Value) -> Result<RegisterPublicKeyCredential, AppError> {
    serde_json::from_value(credential).map_err(|e| {
        AppError::bad_request(
            "invalid_credential",
            format!("The passkey response is not a WebAuthn registration: {e}."),
        )
    })
}

fn parse_assertion(credential: Value) -> Result<PublicKeyCredential, AppError> {
    serde_json::from_value(credential).map_err(|e| {
        AppError::bad_request(
            "invalid_credential",
            format!("The passkey response is not a WebAuthn assertion: {e}."),
        )
    })
}

/// A stored passkey row for a verified new credential.
fn passkey_row(
    state: &AppState,
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
        created_at: state.clock.unix(),
        last_used_at: None,
    })
}

/// 409 when the response's credential id is registered already (checked
/// before verification, since webauthn-rs reports an excluded credential as
/// an algorithm change).
async fn refuse_known_credential(
    state: &AppState,
    credential: &RegisterPublicKeyCredential,
) -> Result<(), AppError> {
    if state
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

/// Starts self-service enrollment after the duplicate check.
pub async fn start_enrollment(state: &AppState, new: NewCitizen) -> Result<Started, AppError> {
    refuse_duplicate(state, &new).await?;
    let citizen_id = Uuid::new_v4();
    let display = format!("{} {}", new.given_name.as_str(), new.family_name.as_str());
    let (ccr, registration) = state
        .webauthn
        .start_passkey_registration(citizen_id, &display, &display, None)
        .map_err(AppError::internal)?;
    let payload = EnrollmentPayload {
        citizen_id,
        given_name: new.given_name.as_str().to_string(),
        family_name: new.family_name.as_str().to_string(),
        birth_date: new.birth_date,
        region: new.region.as_str().to_string(),
    };
    begin(
        state,
        Kind::Enrollment,
        creation_options(ccr)?,
        json(&registration)?,
        json(&payload)?,
        Some(citizen_id),
    )
    .await
}

/// Refuses (409) an enrollment that matches an existing citizen, and keeps
/// the attempt for registrar review.
async fn refuse_duplicate(state: &AppState, new: &NewCitizen) -> Result<(), AppError> {
    let key = dedup_key(
        &new.given_name,
        &new.family_name,
        new.birth_date,
        &new.region,
    );
    if let Some(existing) = state.store.find_citizen_by_dedup_key(&key).await? {
        record_duplicate(state, new, existing.id).await?;
        return Err(duplicate_error());
    }
    Ok(())
}

async fn record_duplicate(
    state: &AppState,
    new: &NewCitizen,
    matched: CitizenId,
) -> Result<(), AppError> {
    state
        .store
        .insert_duplicate_attempt(&DuplicateAttempt {
            id: Uuid::new_v4(),
            given_name: new.given_name.as_str().to_string(),
            family_name: new.family_name.as_str().to_string(),
            birth_date: new.birth_date,
            region_code: new.region.as_str().to_string(),
            matched_citizen_id: matched.0,
            attempted_at: state.clock.unix(),
        })
        .await?;
    Ok(())
}

fn duplicate_error() -> AppError {
    AppError::conflict(
        "possible_duplicate",
        "Someone with the same name, birth date and region is already enrolled. \
         Please visit a registrar office with an identity document to resolve this.",
    )
}

/// Finishes enrollment: verifies the new passkey, then creates the citizen,
/// the passkey and a session in one transaction.
pub async fn finish_enrollment(
    state: &AppState,
    ceremony_id: &str,
    credential: Value,
) -> Result<(Citizen, String), AppError> {
    let credential = parse_registration(credential)?;
    let row = take(state, ceremony_id, Kind::Enrollment).await?;
    let registration: PasskeyRegistration = parse_json(&row.state)?;
    let payload: EnrollmentPayload = parse_json(&row.payload)?;
    refuse_known_credential(state, &credential).await?;
    let passkey = state
        .webauthn
        .finish_passkey_registration(&credential, &registration)
        .map_err(webauthn_error)?;

    let new = NewCitizen {
        given_name: crate::domain::PersonName::parse(&payload.given_name).map_err(corrupt)?,
        family_name: crate::domain::PersonName::parse(&payload.family_name).map_err(corrupt)?,
        birth_date: payload.birth_date,
        region: crate::domain::RegionCode::parse(&payload.region).map_err(corrupt)?,
        assurance_level: AssuranceLevel::SelfAsserted,
    };
    let now = state.clock.now();
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
    let passkey_row = passkey_row(state, citizen.id.0, &passkey, "Passkey")?;
    let (session_row, token) = session::new_session(state, citizen.id.0, passkey_row.id, true);
    match state
        .store
        .enroll(&mut citizen, &passkey_row, &session_row)
        .await
    {
        Ok(Enrolled::Done) => Ok((citizen, token)),
        Ok(Enrolled::Duplicate(existing)) => {
            record_duplicate(state, &new, existing).await?;
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

/// Starts a usernameless sign-in (empty allowCredentials).
pub async fn start_login(state: &AppState) -> Result<Started, AppError> {
    let (rcr, authentication) = state
        .webauthn
        .start_discoverable_authentication()
        .map_err(AppError::internal)?;
    let options = serde_json::to_value(rcr.public_key).map_err(AppError::internal)?;
    begin(
        state,
        Kind::Login,
        options,
        json(&authentication)?,
        String::new(),
        None,
    )
    .await
}

/// The signature counter inside an assertion's authenticator data.
fn presented_counter(credential: &PublicKeyCredential) -> i64 {
    let data: &[u8] = credential.response.authenticator_data.as_ref();
    data.get(33..37)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(|b| i64::from(u32::from_be_bytes(b)))
        .unwrap_or(-1)
}

/// Finishes sign-in: identifies the passkey, checks the citizen may sign
/// in, verifies the assertion, and opens a session.
pub async fn finish_login(
    state: &AppState,
    ceremony_id: &str,
    credential: Value,
) -> Result<(Citizen, String), AppError> {
    let credential = parse_assertion(credential)?;
    let row = take(state, ceremony_id, Kind::Login).await?;
    let authentication: DiscoverableAuthentication = parse_json(&row.state)?;
    let (user_handle, credential_id) = state
        .webauthn
        .identify_discoverable_authentication(&credential)
        .map_err(webauthn_error)?;
    let unknown = || {
        AppError::bad_request(
            "unknown_credential",
            "This passkey is not registered with Civitas. Enroll first, or use another passkey.",
        )
    };
    let mut stored = state
        .store
        .find_passkey_by_credential(credential_id)
        .await?
        .ok_or_else(unknown)?;
    if stored.citizen_id != user_handle {
        return Err(unknown());
    }
    let mut passkey: Passkey = parse_json(&stored.passkey)?;
    let result = match state.webauthn.finish_discoverable_authentication(
        &credential,
        authentication,
        &[DiscoverableKey::from(&passkey)],
    ) {
        Ok(result) => result,
        Err(webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise) => {
            state
                .store
                .insert_credential_incident(
                    &stored,
                    presented_counter(&credential),
                    state.clock.unix(),
                )
                .await?;
            return Err(AppError::forbidden(
                "possible_cloned_authenticator",
                "This passkey reported an unexpected signature counter, which can mean it was \
                 copied. It has been flagged for review; sign in with another passkey or visit \
                 a registrar office.",
            ));
        }
        Err(e) => return Err(webauthn_error(e)),
    };
    let citizen = state
        .store
        .find_citizen(CitizenId(stored.citizen_id))
        .await?
        .ok_or_else(unknown)?;
    refuse_inactive(&citizen)?;
    passkey.update_credential(&result);
    stored.passkey = json(&passkey)?;
    stored.sign_count = i64::from(result.counter());
    stored.backup_state = result.backup_state();
    stored.last_used_at = Some(state.clock.unix());
    let (session_row, token) =
        session::new_session(state, stored.citizen_id, stored.id, result.user_verified());
    state.store.record_sign_in(&stored, &session_row).await?;
    Ok((citizen, token))
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

/// Starts adding a passkey for a signed-in citizen; existing ones are excluded.
pub async fn start_add_passkey(state: &AppState, who: &SignedIn) -> Result<Started, AppError> {
    let existing = state.store.list_passkeys(who.citizen.id).await?;
    let exclude = existing
        .iter()
        .map(|p| p.credential_id.clone().into())
        .collect();
    let display = format!(
        "{} {}",
        who.citizen.given_name.as_str(),
        who.citizen.family_name.as_str()
    );
    let (ccr, registration) = state
        .webauthn
        .start_passkey_registration(who.citizen.id.0, &display, &display, Some(exclude))
        .map_err(AppError::internal)?;
    begin(
        state,
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
    state: &AppState,
    who: &SignedIn,
    ceremony_id: &str,
    credential: Value,
    name: Option<&str>,
) -> Result<PasskeyRow, AppError> {
    let credential = parse_registration(credential)?;
    let row = take(state, ceremony_id, Kind::AddPasskey).await?;
    if row.citizen_id != Some(who.citizen.id.0) {
        return Err(AppError::bad_request(
            "wrong_ceremony",
            "This ceremony was started by someone else. Start again.",
        ));
    }
    let registration: PasskeyRegistration = parse_json(&row.state)?;
    refuse_known_credential(state, &credential).await?;
    let passkey = state
        .webauthn
        .finish_passkey_registration(&credential, &registration)
        .map_err(webauthn_error)?;
    let count = state.store.list_passkeys(who.citizen.id).await?.len();
    let default_name = format!("Passkey {}", count + 1);
    let name = name.map(parse_passkey_name).transpose()?;
    let row = passkey_row(
        state,
        who.citizen.id.0,
        &passkey,
        name.as_deref().unwrap_or(&default_name),
    )?;
    match state.store.insert_passkey(&row).await {
        Ok(()) => Ok(row),
        Err(e) if e.is_unique_violation_on("credential_id") => Err(AppError::conflict(
            "credential_already_registered",
            "This passkey is already registered.",
        )),
        Err(e) => Err(e.into()),
    }
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
