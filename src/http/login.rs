//! `POST /api/v1/login/start|finish` and `POST /api/v1/logout`.

use actix_web::{HttpRequest, HttpResponse, web};

use super::enrollment::FinishCeremony;
use crate::error::AppError;
use crate::startup::AppState;
use crate::{passkey, session};

pub async fn start_login(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let started = passkey::start_login(&state).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(started))
}

#[derive(serde::Serialize)]
struct SignedIn {
    national_id: crate::domain::NationalId,
}

pub async fn finish_login(
    state: web::Data<AppState>,
    body: web::Json<FinishCeremony>,
) -> Result<HttpResponse, AppError> {
    let body = body.into_inner();
    let (citizen, token) =
        passkey::finish_login(&state, &body.ceremony_id, body.credential).await?;
    Ok(HttpResponse::Ok()
        .cookie(session::cookie(&state, token))
        .insert_header(("Cache-Control", "no-store"))
        .json(SignedIn {
            national_id: citizen.national_id,
        }))
}

/// Ends the session server-side and clears the cookie.
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    if let Some(who) = session::current(&state, &req).await? {
        state.store.delete_session(who.session.id).await?;
    }
    Ok(HttpResponse::NoContent()
        .cookie(session::removal_cookie(&state))
        .finish())
}
