//! What the integration tests share: the fixtures and their databases, the
//! `civitas` binary, and the steps of the passkey, OpenID Connect and
//! registry journeys.

pub mod app;
pub mod cli;
pub mod db;
pub mod oidc;
pub mod passkeys;
pub mod registry;
