//! Civitas: a sovereign digital identity registry and OpenID Provider.

// A panic in a request or a background task is a bug: fallible steps return
// errors (tests may unwrap, see clippy.toml).
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod audit;
pub mod campaign;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod domain;
pub mod encoding;
pub mod error;
pub mod http;
pub mod limits;
pub mod oidc;
pub mod passkey;
pub mod registry;
pub mod secrets;
pub mod session;
pub mod staff;
pub mod startup;
pub mod store;
pub mod sweeper;
pub mod telemetry;
pub mod throttle;
