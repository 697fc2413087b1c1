//! One error type for pages and JSON APIs, mapped to responses in one place.
//! A bad input is a 4xx with a code and a message a person can act on; a 500
//! means a bug, and its cause is logged, never shown.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::limits::Limited;
use crate::store::StoreError;

/// An error answered to the client.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    /// Stable machine-readable code, e.g. `invalid_request`.
    pub code: &'static str,
    /// What to fix, in words a person understands.
    pub description: String,
    /// The internal cause, logged but never shown.
    cause: Option<anyhow::Error>,
    /// Extra headers (e.g. `Retry-After`).
    headers: Vec<(&'static str, String)>,
}

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            cause: None,
            headers: Vec::new(),
        }
    }

    pub fn bad_request(code: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    pub fn forbidden(code: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, description)
    }

    pub fn conflict(code: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, description)
    }

    pub fn unauthorized(code: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, description)
    }

    /// A failure that is our fault: logged with its cause, shown as a 500.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Something went wrong on our side. Please try again in a moment.",
            )
        }
    }

    /// The database cannot be reached, or gives no connection in time: the
    /// client may retry shortly.
    pub fn unavailable(cause: impl Into<anyhow::Error>) -> Self {
        Self {
            cause: Some(cause.into()),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "The service is busy or its database cannot be reached. Please try again in a \
                 moment.",
            )
        }
        .with_header("Retry-After", "1")
    }

    /// 429: a rate limit refused the request.
    pub fn rate_limited(limited: Limited, description: &str) -> Self {
        let secs = limited.retry_after_secs();
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("{description} Try again in {secs} second(s)."),
        )
        .with_header("Retry-After", secs.to_string())
    }

    /// 503: this instance has more to do than it can start in time.
    pub fn overloaded(limited: Limited) -> Self {
        let secs = limited.retry_after_secs();
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "Civitas is receiving more requests than it can serve right now. Try again in \
                 {secs} second(s)."
            ),
        )
        .with_header("Retry-After", secs.to_string())
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    /// Logs the internal cause, if any (never shown to the client).
    pub fn log(&self) {
        if let Some(cause) = &self.cause {
            tracing::error!(
                code = self.code,
                error = format!("{cause:#}"),
                "request failed"
            );
        }
    }

    fn builder(&self) -> actix_web::HttpResponseBuilder {
        self.log();
        let mut builder = HttpResponse::build(self.status);
        for (name, value) in &self.headers {
            builder.insert_header((*name, value.as_str()));
        }
        builder.insert_header(("Cache-Control", "no-store"));
        builder
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed,
            ) => Self::unavailable(e),
            _ => Self::internal(e),
        }
    }
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

/// JSON APIs answer `{"error", "error_description"}`.
impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.builder().json(ErrorBody {
            error: self.code,
            error_description: &self.description,
        })
    }
}

/// The same error, answered as an HTML page.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl From<AppError> for PageError {
    fn from(e: AppError) -> Self {
        Self(e)
    }
}

impl From<StoreError> for PageError {
    fn from(e: StoreError) -> Self {
        Self(e.into())
    }
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    status: u16,
    code: &'a str,
    description: &'a str,
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.0.status
    }

    fn error_response(&self) -> HttpResponse {
        let page = ErrorPage {
            title: self.0.status.canonical_reason().unwrap_or("Error"),
            status: self.0.status.as_u16(),
            code: self.0.code,
            description: &self.0.description,
        };
        match page.render() {
            Ok(html) => self
                .0
                .builder()
                .content_type("text/html; charset=utf-8")
                .body(html),
            Err(e) => {
                tracing::error!(error = %e, "cannot render error page");
                HttpResponse::InternalServerError().finish()
            }
        }
    }
}
