//! The first thing every request meets: the instance-wide cap, the rate
//! limit of its route class for its client network, and a bounded number of
//! requests in flight. A request that cannot start within the queue
//! deadline is answered 503 at once instead of waiting until its client
//! gives up; a body that does not arrive in time is answered 408.
//! Liveness, readiness and metrics pass straight through, so probes stay
//! fast under any load.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use futures_util::Stream;
use tokio::sync::Semaphore;
use tokio::time::Sleep;

use super::{client_address_of, wants_json};
use crate::config::{OverloadSettings, Settings};
use crate::error::{AppError, PageError};
use crate::limits::{Limited, Limits, RouteClass};
use crate::telemetry::Metrics;

/// The shield's shared state: one per instance, across its workers.
pub struct Shield {
    limits: Arc<Limits>,
    in_flight: Arc<Semaphore>,
    queue_timeout: Duration,
    body_timeout: Duration,
    behind_proxy: bool,
}

impl Shield {
    pub fn new(limits: Arc<Limits>, settings: &Settings) -> Self {
        let OverloadSettings {
            max_in_flight,
            queue_timeout,
            body_timeout,
            ..
        } = settings.overload;
        Self {
            limits,
            in_flight: Arc::new(Semaphore::new(max_in_flight)),
            queue_timeout,
            body_timeout,
            behind_proxy: settings.behind_proxy,
        }
    }

    /// Why a request of `class` from `network` may not start, if it may not.
    async fn admit(
        &self,
        class: RouteClass,
        network: &str,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, Refused> {
        // One network's flood is refused by its own limit first, so that
        // it never spends the instance-wide budget citizens elsewhere need.
        // An app's requests are admitted by their app's limit, which only
        // the handler can read (the client id may be in the body); it
        // charges the instance-wide cap after that (`as_app`).
        self.limits
            .check_class(class, network)
            .map_err(Refused::Class)?;
        if class != RouteClass::AppFacing {
            self.limits.check_global().map_err(Refused::Global)?;
        }
        match tokio::time::timeout(self.queue_timeout, self.in_flight.clone().acquire_owned()).await
        {
            Ok(Ok(permit)) => Ok(permit),
            // Closed never happens (the semaphore is never closed); treat it
            // as overload all the same.
            Ok(Err(_)) | Err(_) => Err(Refused::Queue),
        }
    }
}

/// Why a request was not served.
pub(super) enum Refused {
    /// The instance-wide cap.
    Global(Limited),
    /// The limit of the request's route class for its network.
    Class(Limited),
    /// The limit of the app it claims to be, on its network.
    App(Limited),
    /// No room in flight within the queue deadline.
    Queue,
}

impl Refused {
    fn error(&self) -> AppError {
        match self {
            Self::Global(limited) => AppError::overloaded(*limited),
            Self::Class(limited) => AppError::rate_limited(
                *limited,
                "Too many requests of this kind came from your network.",
            ),
            Self::App(limited) => AppError::rate_limited(
                *limited,
                "Too many requests came from this app on your network.",
            ),
            Self::Queue => AppError::overloaded(Limited {
                retry_after: Duration::from_secs(1),
            }),
        }
    }

    fn metric(&self, class: RouteClass) -> (&'static str, &'static str) {
        match self {
            Self::Global(_) => ("global", "shed"),
            Self::Class(_) | Self::App(_) => (class.label(), "limited"),
            Self::Queue => ("queue", "shed"),
        }
    }

    /// The answer to a refused request of `class` (a page for browsers),
    /// counted in the metrics.
    pub(super) fn respond(&self, req: &HttpRequest, class: RouteClass) -> HttpResponse {
        if let Some(metrics) = req.app_data::<web::Data<Metrics>>() {
            let (label, kind) = self.metric(class);
            metrics.count_refused(label, kind);
        }
        let error = self.error();
        if wants_json(req) {
            error.error_response()
        } else {
            PageError(error).error_response()
        }
    }
}

/// Middleware: see the module documentation.
pub async fn shield(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let class = RouteClass::of(req.path());
    let Some(shield) = req.app_data::<web::Data<Shield>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    if class == RouteClass::Probe {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let network = client_address_of(shield.behind_proxy, req.request());
    let _permit = match shield.admit(class, &network).await {
        Ok(permit) => permit,
        Err(refused) => {
            let response = refused.respond(req.request(), class);
            return Ok(req.into_response(response).map_into_right_body());
        }
    };
    let payload = req.take_payload();
    // A register upload may be large: it must keep arriving, not arrive
    // whole within the deadline.
    let idle_only = req.path() == "/api/v1/admin/register/imports";
    req.set_payload(Payload::from(
        Box::pin(Deadline::new(payload, shield.body_timeout, idle_only))
            as Pin<Box<dyn Stream<Item = Result<web::Bytes, PayloadError>>>>,
    ));
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// A request body that must arrive whole before a deadline, or, when
/// `idle_only`, without a pause as long as it.
struct Deadline {
    inner: Payload,
    within: Duration,
    idle_only: bool,
    sleep: Pin<Box<Sleep>>,
    expired: bool,
}

impl Deadline {
    fn new(inner: Payload, within: Duration, idle_only: bool) -> Self {
        Self {
            inner,
            within,
            idle_only,
            sleep: Box::pin(tokio::time::sleep(within)),
            expired: false,
        }
    }
}

impl Stream for Deadline {
    type Item = Result<web::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            if self.idle_only {
                let next = tokio::time::Instant::now() + self.within;
                self.sleep.as_mut().reset(next);
            }
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired = true;
            return Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                io::ErrorKind::TimedOut,
                BODY_TIMED_OUT,
            )))));
        }
        Poll::Pending
    }
}

/// The message of a body that did not arrive in time.
pub const BODY_TIMED_OUT: &str = "the request body did not arrive in time";

/// 408 when `e` is a body that did not arrive in time.
pub fn body_timeout_error(e: &PayloadError) -> Option<AppError> {
    match e {
        PayloadError::Io(io) if io.kind() == io::ErrorKind::TimedOut => Some(AppError::new(
            actix_web::http::StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The request body did not arrive in time. Check your connection and send it again.",
        )),
        _ => None,
    }
}

/// A response for a request refused before it reached its handler (for
/// tests of the error shape).
#[cfg(test)]
fn refused_response(refused: &Refused) -> actix_web::HttpResponse {
    refused.error().error_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_retry_after() {
        let limited = Limited {
            retry_after: Duration::from_millis(1500),
        };
        for (refused, status, code) in [
            (Refused::Class(limited), 429, "rate_limited"),
            (Refused::Global(limited), 503, "overloaded"),
            (Refused::Queue, 503, "overloaded"),
        ] {
            let response = refused_response(&refused);
            assert_eq!(response.status().as_u16(), status);
            assert!(response.headers().contains_key("retry-after"));
            assert_eq!(refused.error().code, code);
        }
        assert_eq!(limited.retry_after_secs(), 2);
    }
}
