//! `POST /api/v1/national-ids/validate`: checks the form of a number (length,
//! first digit, check digit) without looking anyone up, so forms can catch
//! typing mistakes early.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

use crate::domain::NationalId;
use crate::error::AppError;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    national_id: String,
}

#[derive(serde::Serialize)]
struct ValidateResponse {
    national_id: NationalId,
    formatted: String,
}

pub async fn validate_national_id(
    body: web::Json<ValidateRequest>,
) -> Result<HttpResponse, AppError> {
    let id = NationalId::parse(&body.national_id)
        .map_err(|e| AppError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string()))?;
    Ok(HttpResponse::Ok().json(ValidateResponse {
        national_id: id,
        formatted: id.to_string(),
    }))
}
