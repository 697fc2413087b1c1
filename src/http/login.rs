//! `POST /api/v1/login/start|finish` and `POST /api/v1/logout`.

use actix_web::{HttpResponse, web};

use super::AppState;
use super::enrollment::FinishCeremony;
use super::session::{self, MaybeSignedIn};
use crate::error::AppError;

pub async fn start_login(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let started = state.passkeys.start_login().await?;
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
    let (citizen, token) = state
        .passkeys
        .finish_login(&body.ceremony_id, body.credential)
        .await?;
    Ok(HttpResponse::Ok()
        .cookie(session::cookie(&state.settings, token))
        .insert_header(("Cache-Control", "no-store"))
        .json(SignedIn {
            national_id: citizen.national_id,
        }))
}

/// Ends the session server-side and clears the cookie.
pub async fn logout(
    state: web::Data<AppState>,
    MaybeSignedIn(who): MaybeSignedIn,
) -> Result<HttpResponse, AppError> {
    if let Some(who) = who {
        state.store.delete_session(who.session.id).await?;
    }
    Ok(HttpResponse::NoContent()
        .cookie(session::removal_cookie(&state.settings))
        .finish())
}
