//! Protocol errors: each is one `ErrorCode` (printed as its RFC code, e.g.
//! `invalid_grant`) with a description; the code decides the status and
//! headers, in one place.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::error::AppError;
use crate::store::StoreError;

/// The error codes of OAuth 2.0 (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1)
/// and OpenID Connect Core (§3.1.2.6) that Civitas answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    InvalidToken,
    InsufficientScope,
    LoginRequired,
    ConsentRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    /// OpenID Connect EAP ACR Values: the requested `acr` cannot be met.
    UnmetAuthenticationRequirements,
    ServerError,
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The code as the specifications spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::UnmetAuthenticationRequirements => "unmet_authentication_requirements",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The status a direct (non-redirected) answer carries.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth 2.0 / OpenID Connect error answered by a protocol endpoint.
#[derive(Debug)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: String,
    cause: Option<Box<AppError>>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            cause: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl From<AppError> for OAuthError {
    fn from(e: AppError) -> Self {
        let code = if e.status == StatusCode::SERVICE_UNAVAILABLE {
            ErrorCode::TemporarilyUnavailable
        } else if e.status.is_server_error() {
            ErrorCode::ServerError
        } else {
            ErrorCode::InvalidRequest
        };
        let mut out = Self::new(code, e.description.clone());
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
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(cause) = &self.cause {
            cause.log();
        }
        let mut builder = HttpResponse::build(self.code.status());
        builder
            .insert_header(("Cache-Control", "no-store"))
            .insert_header(("Pragma", "no-cache"));
        match self.code {
            ErrorCode::InvalidClient => {
                builder.insert_header(("WWW-Authenticate", "Basic realm=\"civitas\""));
            }
            ErrorCode::InvalidToken | ErrorCode::InsufficientScope => {
                builder.insert_header((
                    "WWW-Authenticate",
                    format!(
                        "Bearer error=\"{}\", error_description=\"{}\"",
                        self.code,
                        self.description.replace('"', "'")
                    ),
                ));
            }
            _ => {}
        }
        builder.json(serde_json::json!({
            "error": self.code.as_str(),
            "error_description": self.description,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_statuses() {
        let cases = [
            (ErrorCode::InvalidRequest, 400),
            (ErrorCode::InvalidClient, 401),
            (ErrorCode::InvalidGrant, 400),
            (ErrorCode::UnsupportedGrantType, 400),
            (ErrorCode::InvalidScope, 400),
            (ErrorCode::InvalidToken, 401),
            (ErrorCode::InsufficientScope, 403),
            (ErrorCode::ServerError, 500),
            (ErrorCode::TemporarilyUnavailable, 503),
        ];
        for (code, status) in cases {
            assert_eq!(code.status().as_u16(), status, "{code}");
        }
    }

    #[test]
    fn app_errors_become_protocol_errors() {
        let unavailable: OAuthError =
            AppError::unavailable(anyhow::anyhow!("database down")).into();
        assert_eq!(unavailable.code, ErrorCode::TemporarilyUnavailable);
        let internal: OAuthError = AppError::internal(anyhow::anyhow!("bug")).into();
        assert_eq!(internal.code, ErrorCode::ServerError);
        let bad: OAuthError = AppError::bad_request("x", "no").into();
        assert_eq!(bad.code, ErrorCode::InvalidRequest);
    }
}
