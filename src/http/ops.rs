//! Operational endpoints: liveness, readiness, metrics.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::AppState;
use crate::error::AppError;
use crate::oidc::userinfo::bearer_token;
use crate::telemetry::Metrics;

/// The process is alive.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// How long readiness waits for the database.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// The database answers on the probe's own connection within a second; 503
/// otherwise, so a load balancer stops sending traffic. Requests waiting for
/// the shared pool do not make this fail: overload alone must not take every
/// instance out of its load balancer.
pub async fn readyz(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    if state.store.is_closed() {
        // Shutting down: send traffic elsewhere.
        return Err(not_ready());
    }
    let answered = tokio::time::timeout(READY_TIMEOUT, state.probe.ping()).await;
    match answered {
        Ok(Ok(())) => Ok(HttpResponse::Ok().json(json!({"status": "ready"}))),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "database not reachable");
            Err(not_ready())
        }
        Err(_) => {
            tracing::warn!("database did not answer the readiness probe within a second");
            Err(not_ready())
        }
    }
}

fn not_ready() -> AppError {
    AppError::new(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        "The database cannot be reached.",
    )
    .with_header("Retry-After", "5")
}

/// Prometheus text exposition, for the holder of the metrics token only:
/// what an instance counts is for its operator. Without a token, metrics
/// are off.
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, AppError> {
    let Some(token) = &state.settings.metrics_token else {
        return Err(AppError::not_found(
            "Metrics are off. Set a metrics token (metrics_token) to serve them.",
        ));
    };
    let authorization = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let presented = bearer_token(authorization, None);
    if !presented.is_some_and(|p| token.matches(&p)) {
        return Err(AppError::unauthorized(
            "invalid_token",
            "Send the metrics token as Authorization: Bearer TOKEN.",
        )
        .with_header("WWW-Authenticate", "Bearer realm=\"metrics\""));
    }
    let text = metrics.render(&state.store).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
