//! `GET /api/v1/me` and the citizen's passkeys.

use actix_web::{HttpResponse, web};
use time::OffsetDateTime;
use uuid::Uuid;

use super::AppState;
use super::enrollment::FinishCeremony;
use crate::domain::{AssuranceLevel, CitizenStatus, NationalId};
use crate::error::AppError;
use crate::passkey;
use crate::store::{PasskeyRow, SignedIn};

#[derive(serde::Serialize)]
struct Me {
    national_id: NationalId,
    national_id_masked: String,
    given_name: String,
    family_name: String,
    #[serde(with = "crate::domain::citizen::iso_date")]
    birth_date: time::Date,
    region: String,
    status: CitizenStatus,
    assurance_level: AssuranceLevel,
}

pub async fn me(who: SignedIn) -> Result<HttpResponse, AppError> {
    let c = who.citizen;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Me {
            national_id: c.national_id,
            national_id_masked: c.national_id.masked(),
            given_name: c.given_name.as_str().to_string(),
            family_name: c.family_name.as_str().to_string(),
            birth_date: c.birth_date,
            region: c.region.as_str().to_string(),
            status: c.status,
            assurance_level: c.assurance_level,
        }))
}

/// A passkey as the citizen sees it.
#[derive(serde::Serialize)]
pub struct PasskeyView {
    pub id: Uuid,
    pub name: String,
    pub credential_id: String,
    pub backup_eligible: bool,
    pub backup_state: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<&PasskeyRow> for PasskeyView {
    fn from(p: &PasskeyRow) -> Self {
        let at =
            |t: i64| OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Self {
            id: p.id,
            name: p.name.clone(),
            credential_id: passkey::credential_id_text(&p.credential_id),
            backup_eligible: p.backup_eligible,
            backup_state: p.backup_state,
            created_at: at(p.created_at),
            last_used_at: p.last_used_at.map(at),
        }
    }
}

#[derive(serde::Serialize)]
struct PasskeyList {
    passkeys: Vec<PasskeyView>,
}

pub async fn list_passkeys(
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let passkeys = state.store.list_passkeys(who.citizen.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(PasskeyList {
            passkeys: passkeys.iter().map(PasskeyView::from).collect(),
        }))
}

pub async fn start_add_passkey(
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let started = state.passkeys.start_add_passkey(&who).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(started))
}

pub async fn finish_add_passkey(
    state: web::Data<AppState>,
    body: web::Json<FinishCeremony>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let row = state
        .passkeys
        .finish_add_passkey(
            &who,
            &body.ceremony_id,
            body.credential,
            body.name.as_deref(),
        )
        .await?;
    Ok(HttpResponse::Created().json(PasskeyView::from(&row)))
}

#[derive(serde::Deserialize)]
pub struct Rename {
    name: String,
}

fn passkey_not_found() -> AppError {
    AppError::not_found("You have no passkey with this id.")
}

fn parse_id(id: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(id).map_err(|_| passkey_not_found())
}

pub async fn rename_passkey(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Rename>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&id)?;
    let name = passkey::parse_passkey_name(&body.name)?;
    if !state
        .store
        .rename_passkey(who.citizen.id, id, &name)
        .await?
    {
        return Err(passkey_not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

pub async fn delete_passkey(
    state: web::Data<AppState>,
    id: web::Path<String>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&id)?;
    state.passkeys.remove(&who, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(serde::Serialize)]
struct AppView {
    client_id: String,
    name: String,
    scope: String,
    #[serde(with = "time::serde::rfc3339")]
    granted_at: OffsetDateTime,
}

#[derive(serde::Serialize)]
struct SignInView {
    client_id: String,
    name: String,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    claims: serde_json::Value,
}

#[derive(serde::Serialize)]
struct Apps {
    apps: Vec<AppView>,
    sign_ins: Vec<SignInView>,
}

fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Connected apps and recent sign-ins to apps.
pub async fn list_apps(
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let apps = state.store.connected_apps(who.citizen.id.0).await?;
    let sign_ins = state.store.recent_sign_ins(who.citizen.id.0, 20).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(Apps {
            apps: apps
                .into_iter()
                .map(|a| AppView {
                    client_id: a.client_id,
                    name: a.client_name,
                    scope: a.scope,
                    granted_at: at(a.granted_at),
                })
                .collect(),
            sign_ins: sign_ins
                .into_iter()
                .map(|s| SignInView {
                    client_id: s.client_id,
                    name: s.client_name,
                    at: at(s.at),
                    claims: serde_json::from_str(&s.claims).unwrap_or_default(),
                })
                .collect(),
        }))
}

/// Withdraws consent: the app's grants are revoked at once.
pub async fn withdraw_app(
    state: web::Data<AppState>,
    client_id: web::Path<String>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    if client_id.chars().any(char::is_control) {
        return Err(AppError::bad_request(
            "invalid_client_id",
            "This is not an app's client_id: it contains a control character.",
        ));
    }
    state
        .provider
        .withdraw_consent(who.citizen.id, &client_id)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/me/verification`: a level-1 citizen asks a registrar of
/// their region to verify them in person.
pub async fn request_verification(
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let c = who.citizen;
    if c.assurance_level == AssuranceLevel::Verified {
        return Err(AppError::conflict(
            "already_verified",
            "Your identity is already verified (level 2).",
        ));
    }
    if !state
        .store
        .request_verification(c.id, state.clock.unix())
        .await?
    {
        return Err(AppError::conflict(
            "already_requested",
            "You have already asked to be verified. Visit a registrar office in your region \
             with an identity document.",
        ));
    }
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "requested_at": state.clock.unix() })))
}
