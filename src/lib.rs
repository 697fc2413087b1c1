//! Civitas: a sovereign digital identity registry and OpenID Provider.

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
