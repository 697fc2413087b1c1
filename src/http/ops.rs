//! Operational endpoints: liveness, readiness, metrics.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::AppState;
use crate::error::AppError;
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

/// Prometheus text exposition.
pub async fn metrics(
    state: web::Data<AppState>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse, AppError> {
    let text = metrics.render(&state.store).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}
