//! Cross-site request protection: a state-changing request that carries a
//! session cookie must come from our own origin.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};

use super::AppState;
use super::session::cookie_name;
use crate::error::AppError;

pub async fn check_origin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let signed_in = state
        .as_ref()
        .is_some_and(|s| req.cookie(cookie_name(&s.settings)).is_some());
    if !safe && signed_in {
        let expected = state.map(|s| s.settings.issuer.as_str().to_string());
        let origin = req
            .headers()
            .get(actix_web::http::header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        if expected.is_none() || origin != expected.as_deref() {
            let error = AppError::forbidden(
                "origin_mismatch",
                "This request did not come from the Civitas website, so it was refused.",
            );
            let response = error.error_response();
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}
