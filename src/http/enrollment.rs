//! `POST /api/v1/enrollment/start|finish`: self-service enrollment.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::{AppState, client_address, session};
use crate::domain::{AssuranceLevel, NewCitizen, PersonName, RegionCode, parse_birth_date};
use crate::error::AppError;
use crate::{passkey, registry};

/// Self-service enrollment sends the four details; enrollment with an
/// activation code sends the code and the date of birth.
#[derive(serde::Deserialize)]
pub struct StartEnrollment {
    given_name: Option<String>,
    family_name: Option<String>,
    birth_date: Option<String>,
    region: Option<String>,
    activation_code: Option<String>,
}

/// A field the request must carry.
fn required<'a>(value: &'a Option<String>, name: &str) -> Result<&'a str, AppError> {
    value.as_deref().ok_or_else(|| {
        AppError::bad_request(
            "invalid_request",
            format!("The JSON body is not as expected: missing field `{name}`."),
        )
    })
}

/// Parses the enrollment form; each field has its own error code.
async fn parse_form(state: &AppState, form: &StartEnrollment) -> Result<NewCitizen, AppError> {
    let region_field = required(&form.region, "region")?;
    let given_name = PersonName::parse(required(&form.given_name, "given_name")?)
        .map_err(|e| AppError::bad_request("invalid_given_name", format!("Given name {e}.")))?;
    let family_name = PersonName::parse(required(&form.family_name, "family_name")?)
        .map_err(|e| AppError::bad_request("invalid_family_name", format!("Family name {e}.")))?;
    let birth_date = parse_birth_date(
        required(&form.birth_date, "birth_date")?,
        state.clock.now().date(),
    )
    .map_err(|e| AppError::bad_request("invalid_birth_date", format!("Birth date {e}.")))?;
    let unknown_region = || {
        AppError::bad_request(
            "unknown_region",
            format!("There is no region with the code {region_field:?}. Choose one from the list."),
        )
    };
    let region = RegionCode::parse(region_field).map_err(|_| unknown_region())?;
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

/// The register's record, shown for the resident to confirm.
#[derive(serde::Serialize)]
struct RegisterRecord {
    given_name: String,
    family_name: String,
    #[serde(with = "crate::domain::citizen::iso_date")]
    birth_date: time::Date,
    region: String,
    region_name: String,
}

#[derive(serde::Serialize)]
struct StartedFromRegister {
    #[serde(flatten)]
    started: passkey::Started,
    record: RegisterRecord,
}

pub async fn start_enrollment(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<StartEnrollment>,
) -> Result<HttpResponse, AppError> {
    let mut response = HttpResponse::Ok();
    response.insert_header(("Cache-Control", "no-store"));
    let Some(code) = body
        .activation_code
        .as_deref()
        .filter(|c| !c.trim().is_empty())
    else {
        let new = parse_form(&state, &body).await?;
        return Ok(response.json(state.passkeys.start_enrollment(new).await?));
    };
    let address = client_address(&state.settings, &req);
    let birth_date = required(&body.birth_date, "birth_date")?;
    let entry = registry::claim::find(
        &state.store,
        &state.registry_keys,
        state.clock.now(),
        &address,
        code,
        birth_date,
    )
    .await?;
    let corrupt = |e: &str| AppError::internal(anyhow::anyhow!("register row: {e}"));
    let region = RegionCode::parse(&entry.region_code).map_err(|e| corrupt(&e))?;
    let region_name = state
        .store
        .region_name(&region)
        .await?
        .unwrap_or_else(|| region.to_string());
    let new = NewCitizen {
        given_name: PersonName::parse(&entry.given_name).map_err(corrupt)?,
        family_name: PersonName::parse(&entry.family_name).map_err(corrupt)?,
        birth_date: entry.birth_date,
        region,
        assurance_level: AssuranceLevel::Verified,
    };
    let record = RegisterRecord {
        given_name: entry.given_name,
        family_name: entry.family_name,
        birth_date: entry.birth_date,
        region: entry.region_code,
        region_name,
    };
    let started = state
        .passkeys
        .start_register_enrollment(new, entry.register_ref)
        .await?;
    Ok(response.json(StartedFromRegister { started, record }))
}

/// The body of the passkey finish endpoints (enrollment, sign-in, adding
/// a passkey): the sealed ceremony and the browser's credential.
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
    let (citizen, token) = state
        .passkeys
        .finish_enrollment(&body.ceremony_id, body.credential)
        .await?;
    Ok(HttpResponse::Created()
        .cookie(session::cookie(&state.settings, token))
        .insert_header(("Cache-Control", "no-store"))
        .json(Enrolled {
            national_id: citizen.national_id,
            status: citizen.status,
            assurance_level: citizen.assurance_level,
        }))
}
