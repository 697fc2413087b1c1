//! Protocol errors: printed as their RFC code (`invalid_grant`) and mapped to
//! status and headers in one place.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::error::AppError;
use crate::store::StoreError;

/// An OAuth 2.0 / OpenID Connect error answered by a protocol endpoint.
#[derive(Debug)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
    status: StatusCode,
    cause: Option<Box<AppError>>,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = match error {
            "invalid_client" | "invalid_token" => StatusCode::UNAUTHORIZED,
            "insufficient_scope" => StatusCode::FORBIDDEN,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            "temporarily_unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        Self {
            error,
            description: description.into(),
            status,
            cause: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new("invalid_client", description)
    }

    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new("invalid_token", description)
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.description)
    }
}

impl From<AppError> for OAuthError {
    fn from(e: AppError) -> Self {
        let error = if e.status.is_server_error() {
            "server_error"
        } else {
            "invalid_request"
        };
        let mut out = Self::new(error, e.description.clone());
        if e.status == StatusCode::SERVICE_UNAVAILABLE {
            out = Self::new("temporarily_unavailable", e.description.clone());
        }
        out.cause = Some(Box::new(e));
        out
    }
}

impl From<StoreError> for OAuthError {
    fn from(e: StoreError) -> Self {
        AppError::from(e).into()
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            cause.log();
        }
        let mut builder = HttpResponse::build(self.status);
        builder
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"));
        match self.error {
            "invalid_client" => {
                builder.insert_header(("WWW-Authenticate", "Basic realm=\"civitas\""));
            }
            "invalid_token" | "insufficient_scope" => {
                builder.insert_header((
                    "WWW-Authenticate",
                    format!(
                        "Bearer error=\"{}\", error_description=\"{}\"",
                        self.error,
                        self.description.replace('"', "'")
                    ),
                ));
            }
            _ => {}
        }
        builder.json(serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        }))
    }
}
