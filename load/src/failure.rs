//! A failed step, with a short kind for grouping ("http 500 POST /token",
//! "timeout POST /token", "bad id token") and the detail for the first one.

use std::fmt;

/// Why an operation failed.
#[derive(Debug)]
pub struct Failure {
    /// Stable and low-cardinality: errors are counted by it.
    pub kind: String,
    /// What happened, shown once per kind.
    pub detail: String,
}

impl Failure {
    pub fn new(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            detail: detail.into(),
        }
    }

    /// A transport error during `step` ("POST /token").
    pub fn transport(step: &str, e: &reqwest::Error) -> Self {
        let what = if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else if e.is_decode() || e.is_body() {
            "bad body"
        } else {
            "transport"
        };
        Self::new(format!("{what} {step}"), e.to_string())
    }

    /// An unexpected HTTP status during `step`.
    pub fn status(step: &str, status: reqwest::StatusCode, body: &str) -> Self {
        let body: String = body.chars().take(300).collect();
        Self::new(format!("http {} {step}", status.as_u16()), body)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

impl std::error::Error for Failure {}

/// Turns any error into a failure of `kind`.
pub trait Context<T> {
    fn kind(self, kind: &str) -> Result<T, Failure>;
}

impl<T, E: fmt::Display> Context<T> for Result<T, E> {
    fn kind(self, kind: &str) -> Result<T, Failure> {
        self.map_err(|e| Failure::new(kind, e.to_string()))
    }
}

impl<T> Context<T> for Option<T> {
    fn kind(self, kind: &str) -> Result<T, Failure> {
        self.ok_or_else(|| Failure::new(kind, "missing"))
    }
}
