//! `POST /api/v1/enrollment/start|finish`: self-service enrollment.

use actix_web::{HttpResponse, web};
use serde_json::Value;

use crate::domain::{AssuranceLevel, NewCitizen, PersonName, RegionCode, parse_birth_date};
use crate::error::AppError;
use crate::startup::AppState;
use crate::{passkey, session};

#[derive(serde::Deserialize)]
pub struct StartEnrollment {
    given_name: String,
    family_name: String,
    birth_date: String,
    region: String,
}

/// Parses the enrollment form; each field has its own error code.
async fn parse_form(state: &AppState, form: &StartEnrollment) -> Result<NewCitizen, AppError> {
    let given_name = PersonName::parse(&form.given_name)
        .map_err(|e| AppError::bad_request("invalid_given_name", format!("Given name {e}.")))?;
    let family_name = PersonName::parse(&form.family_name)
        .map_err(|e| AppError::bad_request("invalid_family_name", format!("Family name {e}.")))?;
    let birth_date = parse_birth_date(&form.birth_date, state.clock.now().date())
        .map_err(|e| AppError::bad_request("invalid_birth_date", format!("Birth date {e}.")))?;
    let unknown_region = || {
        AppError::bad_request(
            "unknown_region",
            format!(
                "There is no region with the code {:?}. Choose one from the list.",
                form.region
            ),
        )
    };
    let region = RegionCode::parse(&form.region).map_err(|_| unknown_region())?;
    if !state.store.region_exists(&region).await? {
        return Err(unknown_region());
    }
    Ok(NewCitizen {
        given_name,
        family_name,
        birth_date,
        region,
        assurance_level: AssuranceLevel::SelfAsserted,
    })
}

pub async fn start_enrollment(
    state: web::Data<AppState>,
    body: web::Json<StartEnrollment>,
) -> Result<HttpResponse, AppError> {
    let new = parse_form(&state, &body).await?;
    let started = passkey::start_enrollment(&state, new).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(started))
}

#[derive(serde::Deserialize)]
pub struct FinishCeremony {
    pub ceremony_id: String,
    pub credential: Value,
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(serde::Serialize)]
struct Enrolled {
    national_id: crate::domain::NationalId,
    status: crate::domain::CitizenStatus,
    assurance_level: AssuranceLevel,
}

pub async fn finish_enrollment(
    state: web::Data<AppState>,
    body: web::Json<FinishCeremony>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let (citizen, token) =
        passkey::finish_enrollment(&state, &body.ceremony_id, body.credential).await?;
    Ok(HttpResponse::Created()
        .cookie(session::cookie(&state, token))
        .insert_header(("Cache-Control", "no-store"))
        .json(Enrolled {
            national_id: citizen.national_id,
            status: citizen.status,
            assurance_level: citizen.assurance_level,
        }))
}
